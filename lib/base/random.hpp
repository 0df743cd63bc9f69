// lib/base/random.hpp — random bytes for client masking keys and handshake keys.
//
// Internal. Bytes come from getrandom(2) through a per-thread buffer of a few
// KiB, so masking costs one syscall per ~1000 frames, not one per frame.
#pragma once

#include <cstddef>
#include <cstdint>

namespace zws::detail {

// Fills `out` with `n` random bytes. Never fails: if getrandom is unavailable
// the bytes come from /dev/urandom.
void random_bytes(void* out, std::size_t n) noexcept;

}  // namespace zws::detail
