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

struct Descriptor {
    int fd;
    ~Descriptor() {
        if (fd >= 0) close(fd);
    }
};

}  // namespace

namespace cgdcm {

int read_file(const char *path, Bytes &bytes) {
    Descriptor file{open(path, O_RDONLY | O_CLOEXEC)};
    if (file.fd < 0) return fail(CGDCM_ERR_IO, std::string("cannot open file (") + std::strerror(errno) + ")");
    struct stat st{};
    if (fstat(file.fd, &st) != 0) return fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(errno) + ")");
    if (S_ISDIR(st.st_mode)) return fail(CGDCM_ERR_IO, "cannot read file (it is a directory)");
    if (st.st_size < 0) return fail(CGDCM_ERR_IO, "cannot read file");
    const size_t size = static_cast<size_t>(st.st_size);
    take_spare(bytes, size);
    size_t done = 0;
    while (done < size) {
        const ssize_t n = read(file.fd, &bytes[done], size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail(CGDCM_ERR_IO, std::string("cannot read file (") + std::strerror(errno) + ")");
        if (n == 0) return fail(CGDCM_ERR_IO, "cannot read file (it became shorter while being read: " + std::to_string(done) + " of " + std::to_string(size) + " bytes)");
        done += static_cast<size_t>(n);
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
