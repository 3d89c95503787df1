#include "file_bytes.hpp"

#include "cgdcm.h"
#include "shim_error.hpp"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

constexpr size_t kKeep = size_t{64} << 20;

/// This thread's spare buffer. Its size is kept at its capacity, so that handing it a smaller
/// file's bytes (resize down, then read) never writes a fill.
thread_local cgdcm::Bytes spare;

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
    if (spare.capacity() >= size) bytes.swap(spare);  // resized down below: no write
    bytes.resize(size);
}

void recycle(Bytes &bytes) {
    if (bytes.capacity() <= kKeep && bytes.capacity() > spare.capacity()) {
        bytes.resize(bytes.capacity());
        spare.swap(bytes);
    }
    bytes.clear();
    bytes.shrink_to_fit();
}

}  // namespace cgdcm
