#pragma once
#include <cstdint>
#include <streambuf>
#include <string>

namespace cgdcm {

/// When `bytes` is a PS3.10 file whose meta lacks Transfer Syntax UID (0002,0010), inserts that
/// element with the syntax inferred from the data set (explicit/implicit VR, and the first
/// fragment's codec for encapsulated Pixel Data), sets `uid` and returns true.
bool repair_missing_transfer_syntax(std::string &bytes, std::string &uid);

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
