// Thread-local error message and the exception guard every extern "C" entry point runs inside.
#pragma once
#include <exception>
#include <string>

namespace cgdcm {

std::string &last_error();

/// Records `message` for cgdcm_last_error() and returns `status`.
int fail(int status, const std::string &message);

/// Runs `body`, turning any C++ exception (GDCM throws std::exception and std::string) into a
/// negative status with a message; never lets one cross the C boundary.
template <typename F> int guard(F &&body) noexcept {
    try {
        return body();
    } catch (const std::exception &e) {
        return fail(-2, std::string("GDCM: ") + e.what());
    } catch (const std::string &s) {
        return fail(-2, "GDCM: " + s);
    } catch (...) {
        return fail(-2, "GDCM: unknown exception");
    }
}

}  // namespace cgdcm
