/* Pure-C interface for rewriting a DICOM data set (de-identification, PS3.15 Annex E).
 * The shim only performs edits; which attributes to keep, blank or replace is decided by the
 * caller (VinDrDICOM's profiles). Pixel Data is never decoded: its element is written back with
 * the bytes (or fragments) it was read with, unless cgdcm_edit_set_native_pixels replaces it. Same status values and cgdcm_last_error() as cgdcm.h. */
#ifndef CGDCM_DEID_H
#define CGDCM_DEID_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct cgdcm_edit cgdcm_edit;

/** Reads and parses the PS3.10 file at `path` after the structural pre-check. Native
 * little-endian Pixel Data at the end of the file is not parsed: it is written back verbatim. */
int cgdcm_edit_open_path(const char *path, cgdcm_edit **out);
void cgdcm_edit_close(cgdcm_edit *edit);

/** Number of top-level data set elements (file meta excluded). */
int cgdcm_edit_count(cgdcm_edit *edit, size_t *count);
/** Tag (group << 16 | element) and two-letter VR of top-level element `index` (tag order). */
int cgdcm_edit_element(cgdcm_edit *edit, size_t index, uint32_t *tag, char vr[3]);
/** Value of a top-level or file meta (group 0002) attribute as text; CGDCM_ABSENT when missing.
 * `*len` receives the full length; text is truncated to cap-1 and NUL-terminated. */
int cgdcm_edit_string(cgdcm_edit *edit, uint32_t tag, char *buf, size_t cap, size_t *len);

/** Removes a top-level data set attribute (no-op when absent). */
int cgdcm_edit_remove(cgdcm_edit *edit, uint32_t tag);
/** Removes a file meta (group 0002) attribute (no-op when absent). */
int cgdcm_edit_remove_meta(cgdcm_edit *edit, uint32_t tag);
/** Sets a top-level or file meta attribute to a text value with the given VR (padded to even
 * length as PS3.5 6.2 requires: NUL for UI, space otherwise). An empty value gives a zero-length
 * element (PS3.15 Annex E action Z). */
int cgdcm_edit_set(cgdcm_edit *edit, uint32_t tag, const char *vr, const char *value);
/** Sets a top-level code sequence (PS3.3 8.8) of `count` items from `count` triples
 * (code value, coding scheme designator, code meaning) in `codes` (3 * count strings). */
int cgdcm_edit_set_codes(cgdcm_edit *edit, uint32_t tag, const char *const *codes, size_t count);

/** Replaces Pixel Data (7FE0,0010) with `length` bytes of native samples (VR OW when
 * `word_sized`, else OB; padded to even length) and sets the data set's transfer syntax to
 * `transfer_syntax`, which must be Implicit VR Little Endian (1.2.840.10008.1.2) for a file read
 * as implicit VR, else Explicit VR Little Endian (1.2.840.10008.1.2.1). The caller decodes the
 * frames; this is the only edit that does not keep the Pixel Data bytes as read. */
int cgdcm_edit_set_native_pixels(cgdcm_edit *edit, const uint8_t *bytes, size_t length, int word_sized,
                                 const char *transfer_syntax);

/** Converts a data set read as Implicit VR Little Endian to Explicit VR Little Endian (VRs from
 * the data dictionary, UN for unknown private elements; PS3.5 7.1.2); no-op for an explicit one.
 * Explicit VR Big Endian (retired) is refused. Needed before an implicit file is given
 * encapsulated or Explicit VR Little Endian Pixel Data. */
int cgdcm_edit_make_explicit(cgdcm_edit *edit);

/** Replaces Pixel Data (7FE0,0010) with encapsulated Pixel Data (PS3.5 A.4): VR OB, undefined
 * length, a Basic Offset Table item holding the offset of each of the `count` fragments (one
 * fragment per frame; offsets from the first byte after the table item to each fragment's item
 * tag), then one item per fragment padded to even length with a trailing NUL, then the sequence
 * delimiter. Removes the Extended Offset Table (7FE0,0001)/(7FE0,0002) and sets (0002,0010) to
 * `transfer_syntax`. The data set must be explicit VR (cgdcm_edit_make_explicit). */
int cgdcm_edit_set_encapsulated_pixels(cgdcm_edit *edit, const uint8_t *const *fragments, const size_t *lengths, size_t count,
                                       const char *transfer_syntax);

/** Writes the edited file (file meta group length recomputed) to `path`, creating or truncating
 * it. The caller is responsible for atomicity (write a temporary path, then rename). */
int cgdcm_edit_write(cgdcm_edit *edit, const char *path);

#ifdef __cplusplus
}
#endif
#endif
