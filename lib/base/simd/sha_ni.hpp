// lib/base/simd/sha_ni.hpp — the SHA-NI SHA-1 compression kernel.
//
// Internal, and deliberately tiny: lib/simd/sha_ni.cpp is compiled with
// -msha -msse4.1 -mssse3, so nothing it includes may define inline functions
// that baseline code could end up calling (STYLE.md rule 5).
#pragma once

#include <cstddef>
#include <cstdint>

namespace zws::detail {

// Hashes `nblocks` consecutive 64-byte blocks starting at `blocks` into `state`
// (A..E, host order). Reads exactly 64 * nblocks bytes, unaligned is fine.
// Only call it when cpu() reports sha, sse41 and ssse3.
void sha1_compress_shani(std::uint32_t state[5], const std::uint8_t* blocks, std::size_t nblocks) noexcept;

}  // namespace zws::detail
