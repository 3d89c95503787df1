#include "cgdcm.h"
#include "shim_error.hpp"

namespace cgdcm {

std::string &last_error() {
    thread_local std::string message;
    return message;
}

int fail(int status, const std::string &message) {
    last_error() = message;
    return status;
}

}  // namespace cgdcm

extern "C" const char *cgdcm_last_error(void) { return cgdcm::last_error().c_str(); }
