#include "isolated_call.hpp"

#include "cgdcm.h"
#include "kept_memory.hpp"
#include "shim_error.hpp"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <new>
#include <string>

#include <poll.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

/// What the child reports through the shared mapping, in front of the output bytes.
struct Report {
    std::atomic<int> state;  // 0: running, 1: finished
    int status;
    char message[1024];
};
constexpr size_t kHeader = 4096, kPage = 4096;
static_assert(sizeof(Report) <= kHeader, "the report fits its page");

/// The mapping this thread shares with its decoder processes (the report, then the output),
/// kept from one frame to the next up to kKeep bytes, within what all threads may keep
/// (keep_bytes): its pages are then allocated and zeroed once, not per frame. Unmapped when the
/// thread ends.
constexpr size_t kKeep = size_t{256} << 20;
struct SharedRegion {
    void *base = nullptr;
    size_t size = 0;
    bool kept = false;  // granted by keep_bytes
    void release() {
        if (base) munmap(base, size);
        if (kept) cgdcm::unkeep_bytes(size);
        base = nullptr;
        size = 0;
        kept = false;
    }
    ~SharedRegion() { release(); }
};
thread_local SharedRegion region;

}  // namespace

// Present only when a sanitizer runtime is linked in (fuzzing and sanitizer builds).
extern "C" void __sanitizer_set_death_callback(void (*callback)(void)) __attribute__((weak));

namespace {

[[noreturn]] void child_main(Report *report, void *out, int stderr_fd, const std::function<int(void *)> &work) {
    // The host's crash handlers (Python's faulthandler, a trainer's backtrace printer) would
    // report the child's abort as the host's own crash; the codec's messages go to `stderr_fd`.
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE}) signal(sig, SIG_DFL);
    // Likewise a sanitizer's death callback: libFuzzer's would save the input as a crash of the
    // host, though the host only sees a DecodeError.
    if (__sanitizer_set_death_callback) __sanitizer_set_death_callback(nullptr);
    if (stderr_fd >= 0) dup2(stderr_fd, STDERR_FILENO);
    int status;
    try {
        status = work(out);
    } catch (const std::exception &e) {
        status = cgdcm::fail(CGDCM_ERR_DECODE, e.what());
    } catch (...) {
        status = cgdcm::fail(CGDCM_ERR_DECODE, "unknown exception");
    }
    report->status = status;
    if (status != 0) {
        std::strncpy(report->message, cgdcm::last_error().c_str(), sizeof(report->message) - 1);
        report->message[sizeof(report->message) - 1] = 0;
    }
    report->state.store(1, std::memory_order_release);
    _exit(0);
}

/// Waits for `pid` at most `seconds`; returns true when it ended (its wait status in `wstatus`,
/// or -1 when someone else reaped it, e.g. a host that ignores SIGCHLD).
bool wait_child(pid_t pid, unsigned seconds, int *wstatus) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    struct Descriptor {  // closed on every return: one leaked per frame would fill the host's fd table
        int fd;
        ~Descriptor() { if (fd >= 0) close(fd); }
    } pidfd{static_cast<int>(syscall(SYS_pidfd_open, pid, 0))};
    long sleep_ns = 50'000;
    for (;;) {
        pid_t r = waitpid(pid, wstatus, WNOHANG);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) {
            *wstatus = -1;
            return true;
        }
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0) break;
        if (pidfd.fd >= 0) {
            pollfd p{pidfd.fd, POLLIN, 0};
            poll(&p, 1, static_cast<int>(left));  // readable once the child ended
        } else {  // no pidfd (kernel < 5.3 or a seccomp filter): back off up to 10 ms
            timespec ts{0, sleep_ns};
            nanosleep(&ts, nullptr);
            sleep_ns = sleep_ns * 2 > 10'000'000 ? 10'000'000 : sleep_ns * 2;
        }
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, wstatus, 0) < 0 && errno == EINTR) {}
    return false;
}

/// The last non-empty line the child wrote to stderr (an assertion's text), at most 300 bytes.
std::string last_line(int fd) {
    if (fd < 0) return {};
    char buf[4096];
    const off_t end = lseek(fd, 0, SEEK_END);
    const off_t from = end > static_cast<off_t>(sizeof(buf)) ? end - static_cast<off_t>(sizeof(buf)) : 0;
    const ssize_t n = pread(fd, buf, sizeof(buf), from);
    if (n <= 0) return {};
    std::string text(buf, static_cast<size_t>(n));
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    const size_t nl = text.rfind('\n');
    if (nl != std::string::npos) text.erase(0, nl + 1);
    if (text.size() > 300) text.erase(0, text.size() - 300);
    return text;
}

}  // namespace

namespace cgdcm {

int run_isolated(const char *what, void *out, size_t size, unsigned seconds, const std::function<int(void *)> &work) {
    if (size > SIZE_MAX - kHeader - kPage) return fail(CGDCM_ERR_ARGUMENT, std::string(what) + ": output too large");
    const size_t mapped = (kHeader + size + kPage - 1) / kPage * kPage;
    if (region.size < mapped) {
        region.release();
        void *p = mmap(nullptr, mapped, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) return fail(CGDCM_ERR_DECODE, std::string(what) + ": cannot map " + std::to_string(mapped) + " bytes for the decoder process (" + std::strerror(errno) + ")");
        region.base = p;
        region.size = mapped;
        region.kept = mapped <= kKeep && cgdcm::keep_bytes(mapped);
    }
    void *shared = region.base;
    struct Keep {  // a mapping not granted is not kept for the next frame
        ~Keep() { if (!region.kept) region.release(); }
    } keep;
    auto *report = new (shared) Report{};
    void *child_out = static_cast<char *>(shared) + kHeader;

    const int stderr_fd = memfd_create("vindr-decoder-stderr", MFD_CLOEXEC);
    const pid_t pid = fork();
    if (pid == 0) child_main(report, child_out, stderr_fd, work);
    if (pid < 0) {
        const int e = errno;
        if (stderr_fd >= 0) close(stderr_fd);
        return fail(CGDCM_ERR_DECODE, std::string(what) + ": cannot start the decoder process (" + std::strerror(e) + ")");
    }
    int wstatus = 0;
    const bool ended = wait_child(pid, seconds, &wstatus);
    int status;
    if (report->state.load(std::memory_order_acquire) == 1) {
        status = report->status;
        if (status == 0) std::memcpy(out, child_out, size);
        else fail(status, report->message);
    } else if (!ended) {
        status = fail(CGDCM_ERR_DECODE, std::string(what) + ": the decoder did not finish within " + std::to_string(seconds) + " s and was stopped");
    } else if (wstatus != -1 && WIFSIGNALED(wstatus)) {
        const int sig = WTERMSIG(wstatus);
        const char *name = sigabbrev_np(sig);
        const std::string said = last_line(stderr_fd);
        status = fail(CGDCM_ERR_DECODE, std::string(what) + ": the decoder stopped on corrupt data (signal " + std::to_string(sig) +
                                            (name ? std::string(" SIG") + name : std::string()) + (said.empty() ? "" : ": " + said) + ")");
    } else {
        status = fail(CGDCM_ERR_DECODE, std::string(what) + ": the decoder process ended without a result");
    }
    if (stderr_fd >= 0) close(stderr_fd);
    return status;
}

}  // namespace cgdcm
