#include "file_bytes.hpp"

#include "cgdcm.h"
#include "kept_memory.hpp"
#include "shim_error.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr size_t kKeep = size_t{64} << 20;

/// This thread's spare buffer. Its size is kept at its capacity, so that handing it a smaller
/// file's bytes (resize down, then read) never writes a fill. `kept` is what keep_bytes granted
/// for it.
struct Spare {
    cgdcm::Bytes bytes;
    size_t kept = 0;
    void clear() {
        cgdcm::Bytes().swap(bytes);
        cgdcm::unkeep_bytes(kept);
        kept = 0;
    }
    ~Spare() { clear(); }
};
thread_local Spare spare;

}  // namespace

namespace cgdcm {

int OpenFile::open(const char *path) {
    // O_NONBLOCK: opening a FIFO does not wait for a writer (the FIFO is then refused as not a
    // regular file). The flag is cleared again below for the reads.
    fd = ::open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return fail(CGDCM_ERR_IO, std::string("cannot open file (") + std::strerror(errno) + ")");
    struct stat st{};
    if (fstat(fd, &st) != 0) return fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(errno) + ")");
    if (S_ISDIR(st.st_mode)) return fail(CGDCM_ERR_IO, "cannot read file (it is a directory)");
    if (!S_ISREG(st.st_mode) || st.st_size < 0) return fail(CGDCM_ERR_IO, "cannot read file (not a regular file)");
    // Reads then block as usual, whatever a network or FUSE file system makes of the flag.
    const int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        return fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(errno) + ")");
    }
    size = static_cast<size_t>(st.st_size);
    return CGDCM_OK;
}

size_t OpenFile::read_up_to(char *into, size_t count) {
    size_t done = 0;
    error = 0;
    while (done < count) {
        const ssize_t n = ::read(fd, into + done, count - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) error = errno;
        if (n <= 0) break;
        done += static_cast<size_t>(n);
    }
    return done;
}

OpenFile::~OpenFile() {
    if (fd >= 0) close(fd);
}

int read_file(const char *path, Bytes &bytes) {
    OpenFile file;
    int rc = file.open(path);
    if (rc != CGDCM_OK) return rc;
    take_spare(bytes, file.size);
    const size_t done = file.read_up_to(&bytes[0], file.size);
    if (file.error) return fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(file.error) + ")");
    if (done < file.size) {
        return fail(CGDCM_ERR_IO, "cannot read file (it became shorter while being read: " + std::to_string(done) + " of " +
                                      std::to_string(file.size) + " bytes)");
    }
    return CGDCM_OK;
}

void take_spare(Bytes &bytes, size_t size) {
    Bytes().swap(bytes);
    if (spare.kept >= size) {  // resized down below: no write
        bytes.swap(spare.bytes);
        spare.clear();
    }
    bytes.resize(size);
}

void recycle(Bytes &bytes) {
    const size_t capacity = bytes.capacity();
    if (capacity <= kKeep && capacity > spare.kept) {
        spare.clear();
        if (keep_bytes(capacity)) {
            bytes.resize(capacity);
            spare.bytes.swap(bytes);
            spare.kept = capacity;
        }
    }
    Bytes().swap(bytes);
}

}  // namespace cgdcm
