#pragma once
#include <cstdint>
#include <streambuf>
#include <string>
#include <string_view>

#include "file_bytes.hpp"

namespace cgdcm {

/// When `bytes` is a PS3.10 file whose meta lacks Transfer Syntax UID (0002,0010), inserts that
/// element with the syntax inferred from the data set (explicit/implicit VR, and the first
/// fragment's codec for encapsulated Pixel Data), sets `uid` and returns true.
bool repair_missing_transfer_syntax(Bytes &bytes, std::string &uid);

/// When the meta's Transfer Syntax UID (0002,0010) is a High-Throughput JPEG 2000 one (PS3.5
/// A.4.11), which GDCM 3.0 does not know, overwrites its value in `bytes` with a syntax GDCM
/// knows that encodes the data set the same way (Explicit VR Little Endian, encapsulated Pixel
/// Data, PS3.5 A.4) and has a UID of the same length (MPEG2 MP@ML, 1.2.840.10008.1.2.4.100), so
/// GDCM parses the file; sets `uid` to the original (unpadded) and returns true.
bool stand_in_transfer_syntax(Bytes &bytes, std::string &uid);

/// Why GDCM could not parse `bytes`, as a shim failure (cgdcm::fail): CGDCM_ERR_UNSUPPORTED
/// naming the transfer syntax when the meta's (0002,0010) is one GDCM does not know (JPEG XL
/// among them), else the generic CGDCM_ERR_PARSE.
int parse_failure(std::string_view bytes);

/// Checks that every element, item and fragment of the file lies within it, so that GDCM (whose
/// Debian build aborts on some malformed input) only parses structurally complete files. Sets
/// `why` and returns false otherwise.
bool check_structure(std::string_view bytes, std::string &why);

/// What a header-only walk notes: Rows, Columns, Patient's Sex and Age (top level).
struct Header {
    uint16_t rows = 0, columns = 0;
    std::string sex, age;
    bool has_sex = false, has_age = false;
};

/// Reads `Header` from a prefix of a file's bytes, walking top-level elements up to Pixel Data;
/// false (with `why` when `complete`) when the prefix does not reach them.
bool read_header(std::string_view prefix, bool complete, Header &out, std::string &why);

/// True when `bytes` cannot be a DICOM file: no "DICM" prefix after the 128-byte preamble
/// (PS3.10 7.1), and they do not begin a raw data set either, whose first tag is in an even group
/// up to 0008 (PS3.5 7.1: elements in ascending tag order; every composite IOD has the group
/// 0008 SOP Common attributes). Only the first 132 bytes are looked at.
bool not_dicom(std::string_view bytes);

/// The message for such a file.
extern const char *const not_dicom_message;

/// A read-only stream buffer over memory the caller keeps alive (no copy).
class MemoryBuffer : public std::streambuf {
  public:
    MemoryBuffer(const char *data, size_t size) {
        char *p = const_cast<char *>(data);
        setg(p, p, p + size);
    }

  protected:
    pos_type seekoff(off_type off, std::ios_base::seekdir dir, std::ios_base::openmode) override {
        char *target = (dir == std::ios_base::beg ? eback() : dir == std::ios_base::cur ? gptr() : egptr()) + off;
        if (target < eback() || target > egptr()) return pos_type(off_type(-1));
        setg(eback(), target, egptr());
        return pos_type(target - eback());
    }
    pos_type seekpos(pos_type pos, std::ios_base::openmode which) override {
        return seekoff(off_type(pos), std::ios_base::beg, which);
    }
};

}  // namespace cgdcm
