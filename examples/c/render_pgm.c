/* Prints a DICOM file's image attributes and writes it as an 8-bit PGM, 512 px on the longest
 * side, with the file's own window:  render_pgm IMAGE.dcm OUT.pgm */
#include <stdio.h>
#include <stdlib.h>

#include "vindr.h"

static int fail(const char *what) {
    fprintf(stderr, "%s: %s\n", what, vdr_last_error());
    return 1;
}

int main(int argc, char **argv) {
    vdr_dicom *dcm = NULL;
    vdr_render_options *opts = NULL;
    int64_t rows = 0, cols = 0, bits = 0;
    int32_t h = 0, w = 0;
    char *ts = NULL, *pi = NULL;
    uint8_t *img;
    FILE *out;

    if (argc != 3) {
        fprintf(stderr, "usage: %s IMAGE.dcm OUT.pgm\n", argv[0]);
        return 2;
    }
    if (vdr_dicom_open(argv[1], &dcm) != VDR_OK) return fail("open");
    vdr_dicom_get_int(dcm, VDR_ATTR_ROWS, &rows);
    vdr_dicom_get_int(dcm, VDR_ATTR_COLUMNS, &cols);
    vdr_dicom_get_int(dcm, VDR_ATTR_BITS_STORED, &bits);
    /* Returned text is the caller's, released with vdr_string_destroy. */
    if (vdr_dicom_get_string(dcm, VDR_ATTR_TRANSFER_SYNTAX_UID, &ts) != VDR_OK) return fail("transfer syntax");
    if (vdr_dicom_get_string(dcm, VDR_ATTR_PHOTOMETRIC_INTERPRETATION, &pi) != VDR_OK) return fail("photometric");
    printf("%s: %lldx%lld, %lld bits stored, %s, transfer syntax %s\n", argv[1], (long long)rows, (long long)cols,
           (long long)bits, pi, ts);
    vdr_string_destroy(ts);
    vdr_string_destroy(pi);

    if (vdr_render_options_create(&opts) != VDR_OK) return fail("options");
    if (vdr_render_options_set_size(opts, VDR_SIZE_LONGEST_SIDE, 0, 512) != VDR_OK) return fail("size");
    if (vdr_dicom_render_size(dcm, opts, &h, &w) != VDR_OK) return fail("render size");
    img = malloc((size_t)h * (size_t)w);
    if (!img || vdr_dicom_render(dcm, opts, img, (size_t)h * (size_t)w, (size_t)w, NULL) != VDR_OK) return fail("render");
    out = fopen(argv[2], "wb");
    if (!out) return 1;
    fprintf(out, "P5\n%d %d\n255\n", w, h);
    fwrite(img, 1, (size_t)h * (size_t)w, out);
    fclose(out);
    printf("wrote %s (%dx%d)\n", argv[2], w, h);
    free(img);
    vdr_render_options_destroy(opts);
    vdr_dicom_destroy(dcm);
    return 0;
}
