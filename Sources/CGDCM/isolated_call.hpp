// A decode step run in a short-lived child process, for codecs that can abort the process on
// corrupt input (an assert() left on in a distribution build), so that the host survives.
#pragma once
#include <cstddef>
#include <functional>

namespace cgdcm {

/// Runs `work(out)` in a child process made by fork(), which writes `size` bytes into a shared
/// mapping (kept by the calling thread for its next call, up to 256 MiB and within keep_bytes);
/// on success they are copied to `out`. `work` returns a CGDCM status (0 = success) and
/// sets `last_error()` on failure; a C++ exception it throws is caught in the child. The child
/// runs only `work` (no Swift code, no atexit handlers: it ends with _exit) and gets `seconds`
/// to finish, after which it is killed. A child that dies (assert, signal) or times out becomes
/// a `CGDCM_ERR_DECODE` naming `what` and the signal. Returns `work`'s status or that error.
int run_isolated(const char *what, void *out, size_t size, unsigned seconds, const std::function<int(void *)> &work);

}  // namespace cgdcm
