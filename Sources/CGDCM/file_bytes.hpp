// A file's bytes, read into a buffer the calling thread reuses from one file to the next.
#pragma once
#include <cstddef>
#include <new>
#include <string>

namespace cgdcm {

/// Allocates on 64-byte boundaries. The kernel copies a file into memory several times slower
/// when the destination is not so aligned (measured 5.4 ms against 1.6 ms for 13 MB from the page
/// cache here, at 16 bytes past a boundary, where malloc puts large blocks).
template <typename T> struct LineAligned {
    using value_type = T;
    static constexpr std::align_val_t alignment{64};
    LineAligned() = default;
    template <typename U> LineAligned(const LineAligned<U> &) {}
    T *allocate(size_t n) { return static_cast<T *>(::operator new(n * sizeof(T), alignment)); }
    void deallocate(T *p, size_t) { ::operator delete(p, alignment); }
    friend bool operator==(LineAligned, LineAligned) { return true; }
    friend bool operator!=(LineAligned, LineAligned) { return false; }
};

/// A whole file's bytes.
using Bytes = std::basic_string<char, std::char_traits<char>, LineAligned<char>>;

/// A file opened for reading: a regular file (a directory, FIFO or device is refused with a
/// shim failure that says so; a FIFO without a writer does not block), its size when opened.
struct OpenFile {
    int fd = -1;
    size_t size = 0;
    int error = 0;  // errno of read_up_to's failed read, 0 when it reached the end or `count`
    int open(const char *path);
    /// Reads up to `count` bytes from the current offset; fewer at the end of the file or on error.
    size_t read_up_to(char *into, size_t count);
    ~OpenFile();
};

/// Reads the whole file at `path` into `bytes` (CGDCM_OK, else a shim failure naming what went
/// wrong). Takes this thread's spare buffer when it has one: then the bytes land in pages that
/// are already mapped, with no zero fill, instead of a fresh allocation whose page faults and
/// kernel zeroing cost more than the read itself.
int read_file(const char *path, Bytes &bytes);

/// Sizes `bytes` to `size` bytes for the caller to overwrite: this thread's spare buffer when it
/// is large enough (no fill), else a fresh one.
void take_spare(Bytes &bytes, size_t size);

/// Keeps `bytes`'s buffer as this thread's spare for its next read_file, when it is at most
/// 64 MiB, larger than the spare it has, and within what all threads may keep (keep_bytes);
/// `bytes` is left empty either way. The spare is freed when the thread ends.
void recycle(Bytes &bytes);

}  // namespace cgdcm
