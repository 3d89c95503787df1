// What threads keep from one call to the next (spare file buffers, the mappings shared with
// decoder processes, the renders' frame memory), under one cap for the whole process.
#pragma once
#include <cstddef>

namespace cgdcm {

/// Asks to keep `bytes` more after the current call; true when granted, that is when everything
/// kept by all threads together stays within 512 MiB. A host with many threads then does not
/// hold one spare buffer per thread without bound; past the cap, buffers are freed after use.
bool keep_bytes(size_t bytes);

/// Gives back `bytes` granted by keep_bytes.
void unkeep_bytes(size_t bytes);

}  // namespace cgdcm
