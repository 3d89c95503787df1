/* Pure-C interface over GDCM (DICOM parsing, JPEG-family codecs), OpenJPEG (JPEG 2000) and
 * OpenJPH (High-Throughput JPEG 2000).
 * Every function catches every C++ exception; failures return a negative status and leave a
 * message readable with cgdcm_last_error() (thread-local). Pointers returned through `const
 * void **` are borrowed from the handle and stay valid until cgdcm_close(). */
#ifndef CGDCM_H
#define CGDCM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cgdcm_file cgdcm_file;

/* Status values of this shim (mapped to the SDK's public codes by VinDrDICOM). */
#define CGDCM_OK 0
#define CGDCM_ABSENT 1          /* the attribute is not in the data set */
#define CGDCM_ERR_IO -1         /* cannot open or read the file */
#define CGDCM_ERR_PARSE -2      /* not DICOM, truncated, or malformed */
#define CGDCM_ERR_DECODE -3     /* the codec failed */
#define CGDCM_ERR_ARGUMENT -4   /* bad index, size, or null pointer */
#define CGDCM_ERR_UNSUPPORTED -5

/** Thread-local message of the last failure in this thread ("" if none). */
const char *cgdcm_last_error(void);

/** Silences GDCM's own std::cerr warnings and errors (idempotent). */
void cgdcm_quiet(void);

/** Parses a DICOM file (meta + data set; pixel data kept, not decoded). */
int cgdcm_open_path(const char *path, cgdcm_file **out);
/** Same, from memory: the bytes are copied into the handle. */
int cgdcm_open_memory(const void *data, size_t size, cgdcm_file **out);
void cgdcm_close(cgdcm_file *file);

/** Rows and Columns of the file at `path`, reading only its header (up to Pixel Data). */
int cgdcm_image_size(const char *path, uint32_t *rows, uint32_t *columns);

/** Header attributes for dataset statistics (paper Table 2), reading only the header. */
typedef struct cgdcm_header {
    uint32_t rows, columns;
    int has_sex, has_age;  /* 1 when (0010,0040) / (0010,1010) is present (possibly empty) */
    char sex[17], age[17]; /* their values, trailing spaces removed, truncated to 16 bytes */
} cgdcm_header;
int cgdcm_read_header(const char *path, cgdcm_header *out);

/** CGDCM_OK when the file at `path` may be DICOM; CGDCM_ERR_PARSE with "not a DICOM file (no DICM
 * prefix at byte 128)" when its first bytes show it is not (cgdcm::not_dicom). */
int cgdcm_probe_path(const char *path);

/** What threads keep from one call to the next, under one cap of 512 MiB for the process
 * (kept_memory.hpp): 1 when `bytes` more may be kept (and are now counted), else 0. */
int cgdcm_keep_bytes(size_t bytes);
/** Gives back `bytes` that cgdcm_keep_bytes granted. */
void cgdcm_unkeep_bytes(size_t bytes);

/** Transfer syntax UID of the data set (as read, or inferred by GDCM when the meta lacks it);
 * `inferred` is set to 1 when (0002,0010) is absent from the file meta. */
int cgdcm_transfer_syntax(cgdcm_file *file, char *buf, size_t cap, int *inferred);

/** Value of a top-level attribute as text (binary VRs rendered, multiple values joined by '\').
 * Returns CGDCM_ABSENT when missing. `*len` receives the full length; text is truncated to
 * cap-1 and NUL-terminated. */
int cgdcm_string(cgdcm_file *file, uint16_t group, uint16_t element, char *buf, size_t cap, size_t *len);

/** Number of items in the top-level sequence (0 when absent). */
int cgdcm_sequence_count(cgdcm_file *file, uint16_t group, uint16_t element, size_t *count);
/** Text value of an attribute inside item `item` of a top-level sequence. */
int cgdcm_sequence_string(cgdcm_file *file, uint16_t sgroup, uint16_t selement, size_t item,
                          uint16_t group, uint16_t element, char *buf, size_t cap, size_t *len);
/** Raw 16-bit words of an attribute inside a sequence item (LUT Data, PS3.3 C.11.1/C.11.2).
 * `*count` receives the number of words available; at most `cap` are written. */
int cgdcm_sequence_words(cgdcm_file *file, uint16_t sgroup, uint16_t selement, size_t item,
                         uint16_t group, uint16_t element, uint16_t *out, size_t cap, size_t *count);

/* Pixel Data (7FE0,0010) layout. */
#define CGDCM_PIXELS_ABSENT 0
#define CGDCM_PIXELS_NATIVE 1
#define CGDCM_PIXELS_ENCAPSULATED 2
/** kind: one of CGDCM_PIXELS_*; `fragments`: number of fragments when encapsulated;
 * `offsets`: number of Basic Offset Table entries. */
int cgdcm_pixel_layout(cgdcm_file *file, int *kind, size_t *fragments, size_t *offsets);
/** Borrowed native pixel bytes (as GDCM read them: little-endian words). */
int cgdcm_native_pixels(cgdcm_file *file, const void **data, size_t *size);
/** Borrowed bytes of fragment `index` of encapsulated pixel data. */
int cgdcm_fragment(cgdcm_file *file, size_t index, const void **data, size_t *size);
/** Basic Offset Table entry `index`. */
int cgdcm_offset(cgdcm_file *file, size_t index, uint32_t *offset);

/* Codecs for cgdcm_decode_jpeg. */
#define CGDCM_CODEC_JPEG 1    /* ITU-T T.81: baseline, extended, lossless (PS3.5 A.4.1, A.4.2) */
#define CGDCM_CODEC_JPEG_LS 2 /* ISO 14495-1 (PS3.5 A.4.3) */

/** Decodes one frame's JPEG or JPEG-LS stream with GDCM's codec for it (and only that codec:
 * GDCM's image-level fallbacks would spawn external programs). The output is rows*columns
 * samples of bits_allocated/8 bytes; `expected` is that size. */
int cgdcm_decode_jpeg(const void *data, size_t size, int codec, uint32_t rows, uint32_t columns,
                      uint16_t bits_allocated, uint16_t bits_stored, uint16_t pixel_representation,
                      const char *photometric, void *out, size_t expected);

/** The first SOF marker segment of a JPEG stream (ITU-T T.81 B.2.2), without decoding: `marker`
 * (0xC0..0xCF), sample precision, X (width), Y (height) and component count. */
int cgdcm_jpeg_header(const void *data, size_t size, int *marker, uint32_t *precision, uint32_t *width,
                      uint32_t *height, uint32_t *components);

/** The frame header of a JPEG-LS stream (ISO 14495-1 C.2.2), read by CharLS without decoding. */
int cgdcm_jpegls_header(const void *data, size_t size, uint32_t *width, uint32_t *height, uint32_t *components,
                        uint32_t *bits_per_sample);

/** Decodes one frame's JPEG-LS stream with CharLS straight into `out` (rows*columns samples of
 * bytes_per_sample bytes, `expected` bytes in all); fails when the stream's size, component count
 * or precision does not fit. */
int cgdcm_jpegls_decode(const void *data, size_t size, uint32_t rows, uint32_t columns, int bytes_per_sample,
                        void *out, size_t expected);

/** JPEG 2000 (J2K codestream or JP2 file) header at resolution reduction `reduce` (0 = full):
 * size of the decoded image, component count, precision, signedness, and the number of
 * resolution levels the stream holds. */
int cgdcm_j2k_header(const void *data, size_t size, int reduce, uint32_t *width, uint32_t *height,
                     uint32_t *components, uint32_t *precision, int *is_signed, uint32_t *resolutions);
/** Decodes the first component with OpenJPEG at `reduce` using `threads` threads into `out`,
 * width*height samples of `bytes_per_sample` (1 or 2) bytes, truncating each value to that width
 * (two's complement). */
int cgdcm_j2k_decode(const void *data, size_t size, int reduce, int threads,
                     void *out, size_t width, size_t height, int bytes_per_sample);

/** High-Throughput JPEG 2000 codestream (ISO 15444-15, PS3.5 A.4.11) header at resolution
 * reduction `reduce`, as cgdcm_j2k_header; fails on layouts OpenJPH cannot decode safely. */
int cgdcm_htj2k_header(const void *data, size_t size, int reduce, uint32_t *width, uint32_t *height,
                       uint32_t *components, uint32_t *precision, int *is_signed, uint32_t *resolutions);
/** Bytes OpenJPH allocates for the stream's tiles before decoding (an upper bound, on top of the
 * output and line buffers): a few bytes of header may declare 65535 tiles. */
int cgdcm_htj2k_working_size(const void *data, size_t size, uint64_t *bytes);
/** Decodes an HTJ2K codestream with OpenJPH at `reduce` into `out`, width*height samples of
 * `bytes_per_sample` (1 or 2) bytes: values clamped to the stream's range, then truncated to that
 * width (two's complement). The decoding runs in a child process (fork), since OpenJPH's block
 * decoders assert on corrupt code-block bytes: an abort there is a CGDCM_ERR_DECODE. */
int cgdcm_htj2k_decode(const void *data, size_t size, int reduce, void *out, size_t width, size_t height,
                       int bytes_per_sample);

/** Encodes one monochrome frame losslessly as an HTJ2K codestream (ISO/IEC 15444-15; for
 * transfer syntax 1.2.840.10008.1.2.4.201, PS3.5 A.4.11) with OpenJPH: reversible 5/3 wavelet,
 * one tile, RPCL, 64x64 code-blocks, up to 5 decomposition levels. `samples`: width*height
 * little-endian samples of `bytes_per_sample` (1 or 2) bytes, `size` bytes in all, holding
 * stored values of `bits` bits (sign-extended two's complement when `is_signed`); a value
 * outside that range is an error. On success `*out` receives a malloc'ed codestream of
 * `*out_size` bytes (release with free()). Runs in this process (no untrusted input). */
int cgdcm_htj2k_encode(const void *samples, size_t size, size_t width, size_t height, int bytes_per_sample, uint32_t bits,
                       int is_signed, void **out, size_t *out_size);

#ifdef __cplusplus
}
#endif
#endif
