#pragma once
#include <cstdint>
#include <streambuf>
#include <string>

#include <gdcm-3.0/gdcmFileMetaInformation.h>

namespace cgdcm {

/// When `bytes` is a PS3.10 file whose meta lacks Transfer Syntax UID (0002,0010), inserts that
/// element with the syntax inferred from the data set (explicit/implicit VR, and the first
/// fragment's codec for encapsulated Pixel Data), sets `uid` and returns true.
bool repair_missing_transfer_syntax(std::string &bytes, std::string &uid);

/// When (0002,0010) names a syntax GDCM does not know (HTJ2K, or any newer one), replaces it in
/// `bytes` by a stand-in that GDCM reads the same way: every such syntax encodes the data set in
/// Explicit VR Little Endian (PS3.5 A.4 for encapsulated Pixel Data), so the stand-in is JPEG
/// 2000 Lossless when Pixel Data is encapsulated and Explicit VR Little Endian otherwise. Sets
/// `uid` to the file's own UID and returns true.
bool stand_in_transfer_syntax(std::string &bytes, std::string &uid);

/// Puts the file's own (0002,0010) `uid` back into the meta GDCM read with a stand-in.
void restore_transfer_syntax(gdcm::FileMetaInformation &meta, const std::string &uid);

/// The HTJ2K syntaxes (PS3.6 Table A-1: 1.2.840.10008.1.2.4.201, .202, .203).
bool is_htj2k(const std::string &uid);

/// The failure of a file GDCM cannot read: a parse error, or, when the file's syntax `stood_in`
/// for one GDCM does not know and this SDK does not decode, an unsupported syntax naming it.
int unreadable(const std::string &stood_in, const std::string &why);

/// Checks that every element, item and fragment of the file lies within it, so that GDCM (whose
/// Debian build aborts on some malformed input) only parses structurally complete files. Sets
/// `why` and returns false otherwise.
bool check_structure(const std::string &bytes, std::string &why);

/// Rows and Columns of a file from a prefix of its bytes, walking top-level elements up to Pixel
/// Data; false (with `why` when `complete`) when the prefix does not reach them.
bool image_size(const std::string &prefix, bool complete, uint16_t &rows, uint16_t &columns, std::string &why);

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
