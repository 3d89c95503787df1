// OpenJPH's messages and errors, shared by the HTJ2K decoder and encoder.
#pragma once
#include "shim_error.hpp"

#include <exception>
#include <string>

namespace cgdcm {

/// OpenJPH's message of the last error in this thread.
std::string &ojph_message();

/// OpenJPH reports through process-wide handlers that print to stdout (info, warnings) or stderr
/// and then throw std::runtime_error("ojph error") (errors). OpenJPH 0.9's configure_error()
/// and its siblings assign the new handler into the default object by value, which keeps the
/// default's behaviour, so the streams are redirected instead: warnings and info are dropped,
/// and an error's text goes, unbuffered (written by the thread that raised it), into that
/// thread's `ojph_message()`; the exception that follows is caught by `htj2k_run`.
void route_ojph_messages();

/// Runs `body`, turning OpenJPH's errors (its message, else the exception's) into `status` with
/// the message "HTJ2K: <why>".
template <typename F> int htj2k_run(F &&body, int status) {
    return guard([&]() -> int {
        route_ojph_messages();
        ojph_message().clear();
        try {
            return body();
        } catch (const std::exception &e) {
            std::string why = ojph_message().empty() ? e.what() : ojph_message();
            while (!why.empty() && (why.back() == '\n' || why.back() == ' ')) why.pop_back();
            return fail(status, "HTJ2K: " + why);
        }
    });
}

}  // namespace cgdcm
