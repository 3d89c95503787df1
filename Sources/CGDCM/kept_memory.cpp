#include "kept_memory.hpp"

#include "cgdcm.h"

#include <atomic>

namespace {

constexpr size_t kCap = size_t{512} << 20;
std::atomic<size_t> kept{0};

}  // namespace

namespace cgdcm {

bool keep_bytes(size_t bytes) {
    size_t now = kept.load(std::memory_order_relaxed);
    do {
        if (bytes > kCap - now) return false;
    } while (!kept.compare_exchange_weak(now, now + bytes, std::memory_order_relaxed));
    return true;
}

void unkeep_bytes(size_t bytes) { kept.fetch_sub(bytes, std::memory_order_relaxed); }

}  // namespace cgdcm

extern "C" int cgdcm_keep_bytes(size_t bytes) { return cgdcm::keep_bytes(bytes) ? 1 : 0; }

extern "C" void cgdcm_unkeep_bytes(size_t bytes) { cgdcm::unkeep_bytes(bytes); }
