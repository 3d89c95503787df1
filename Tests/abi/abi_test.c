/* C client of libvindr through include/vindr.h: opens a DICOM file, reads attributes, decodes,
 * renders with a row stride, maps a box, and checks the error conventions. Prints key=value
 * lines that the Python test compares with pydicom. Exit status 0 only when every check holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vindr.h"

static int failures = 0;
#define CHECK(cond)                                                   \
    do {                                                              \
        if (!(cond)) {                                                \
            fprintf(stderr, "CHECK failed line %d: %s\n", __LINE__, #cond); \
            failures++;                                               \
        }                                                             \
    } while (0)

int main(int argc, char **argv) {
    vdr_dicom *dcm = NULL;
    vdr_render_options *opts = NULL;
    int64_t rows = 0, cols = 0, type = 0;
    int32_t h = 0, w = 0;
    double t[4], box[4] = {10, 20, 110, 220}, mapped[4];
    char *ts = NULL;
    uint16_t *stored;
    uint8_t *img;
    size_t stride;
    unsigned long long sum = 0;
    int32_t y, x;

    if (argc != 2) return 2;
    printf("version=%d header_version=%d\n", vdr_version_number(), VDR_VERSION_NUMBER);
    CHECK(vdr_version_number() == VDR_VERSION_NUMBER);

    /* Errors: status, message, outputs untouched. */
    CHECK(vdr_dicom_open("/nonexistent.dcm", &dcm) == VDR_ERR_IO);
    CHECK(dcm == NULL);
    CHECK(strstr(vdr_last_error(), "/nonexistent.dcm") != NULL);
    CHECK(vdr_dicom_open(NULL, &dcm) == VDR_ERR_ARGUMENT);
    CHECK(vdr_dicom_get_int(NULL, VDR_ATTR_ROWS, &rows) == VDR_ERR_ARGUMENT);
    CHECK(strcmp(vdr_status_string(VDR_ERR_DECODE), "decode error") == 0);
    vdr_dicom_destroy(NULL);
    vdr_render_options_destroy(NULL);

    CHECK(vdr_dicom_open(argv[1], &dcm) == VDR_OK);
    CHECK(vdr_dicom_get_int(dcm, VDR_ATTR_ROWS, &rows) == VDR_OK);
    CHECK(vdr_dicom_get_int(dcm, VDR_ATTR_COLUMNS, &cols) == VDR_OK);
    CHECK(vdr_dicom_get_int(dcm, VDR_ATTR_SAMPLE_TYPE, &type) == VDR_OK);
    CHECK(vdr_dicom_get_int(dcm, 9999, &rows) == VDR_ERR_ARGUMENT);
    CHECK(vdr_dicom_get_string(dcm, VDR_ATTR_TRANSFER_SYNTAX_UID, &ts) == VDR_OK);
    printf("rows=%lld columns=%lld ts=%s\n", (long long)rows, (long long)cols, ts);
    vdr_string_destroy(ts);
    vdr_string_destroy(NULL);

    /* Stored values into a caller buffer; a short buffer is refused. */
    CHECK(type == VDR_DTYPE_UINT16);
    stored = malloc((size_t)(rows * cols) * 2);
    CHECK(vdr_dicom_decode(dcm, 0, stored, 10, (size_t)cols * 2) == VDR_ERR_BUFFER_TOO_SMALL);
    CHECK(vdr_dicom_decode(dcm, 0, stored, (size_t)-1, (size_t)cols * 2) == VDR_ERR_ARGUMENT); /* a negative size */
    CHECK(vdr_dicom_decode(dcm, 0, stored, (size_t)(rows * cols * 2), (size_t)cols * 2) == VDR_OK);
    for (y = 0; y < rows * cols; y++) sum += stored[y];
    printf("stored_sum=%llu\n", sum);

    /* Render 512 longest side, letterboxed into 512x512 with a padded row stride. */
    CHECK(vdr_render_options_create(&opts) == VDR_OK);
    CHECK(vdr_render_options_set_size(opts, VDR_SIZE_EXACT, 512, 512) == VDR_OK);
    CHECK(vdr_render_options_set_aspect(opts, VDR_ASPECT_LETTERBOX, 0.0) == VDR_OK);
    CHECK(vdr_render_options_set_window(opts, VDR_WINDOW_EXPLICIT, 2048, 0.5, VDR_VOI_LINEAR, 0) == VDR_ERR_ARGUMENT);
    CHECK(vdr_render_options_set_int(opts, VDR_OPT_THREADS, 2) == VDR_OK);
    CHECK(vdr_render_options_set_int(opts, VDR_OPT_DECODE, 2) == VDR_ERR_ARGUMENT);
    CHECK(vdr_render_options_set_int(opts, VDR_OPT_DECODE, VDR_DECODE_EXACT) == VDR_OK); /* the default */
    CHECK(vdr_dicom_render_size(dcm, opts, &h, &w) == VDR_OK);
    stride = (size_t)w + 64;
    img = malloc(stride * (size_t)h);
    memset(img, 7, stride * (size_t)h);
    CHECK(vdr_dicom_render(dcm, opts, img, stride * (size_t)h, stride, t) == VDR_OK);
    sum = 0;
    for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) sum += img[y * stride + x];
    CHECK(img[stride - 1] == 7); /* padding bytes of the stride untouched */
    printf("render_h=%d render_w=%d render_sum=%llu\n", h, w, sum);
    printf("transform=%.9g,%.9g,%.9g,%.9g\n", t[0], t[1], t[2], t[3]);
    CHECK(vdr_transform_boxes(t, box, 1, 0, mapped) == VDR_OK);
    printf("box=%.6f,%.6f,%.6f,%.6f\n", mapped[0], mapped[1], mapped[2], mapped[3]);

    vdr_render_options_destroy(opts);
    vdr_dicom_destroy(dcm);
    free(stored);
    free(img);
    printf("failures=%d\n", failures);
    return failures ? 1 : 0;
}
