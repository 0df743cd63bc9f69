// lib/sha1.hpp — SHA-1 (FIPS 180-4), for Sec-WebSocket-Accept only.
//
// Internal. Two compression kernels: portable scalar and SHA-NI
// (lib/simd/sha_ni.cpp), chosen once, on first use, from cpu(); the environment
// variable ZWS_FORCE_ISA=scalar forces the scalar one. Nothing here allocates.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/simd/sha_ni.hpp"

namespace zws::detail {

using sha1_digest = std::array<std::uint8_t, 20>;

// Incremental hashing: update() any number of times with any split of the
// input, then finish() once. Equal to sha1_of() of the concatenation.
class sha1 {
 public:
  sha1() noexcept;
  // Hashes `bytes` (not retained; may be empty).
  void update(std::span<const std::uint8_t> bytes) noexcept;
  void update(std::string_view s) noexcept;
  // Pads, finishes and returns the digest. The object must not be used afterwards
  // except by assigning a fresh sha1{}.
  sha1_digest finish() noexcept;

 private:
  std::uint32_t state_[5];
  std::uint64_t length_ = 0;  // bytes hashed
  std::uint8_t block_[64];
  std::size_t nblock_ = 0;
};

sha1_digest sha1_of(std::span<const std::uint8_t> bytes) noexcept;
sha1_digest sha1_of(std::string_view s) noexcept;

// "shani" or "scalar": the compression kernel in use.
std::string_view sha1_kernel_name() noexcept;

// The kernels themselves, for tests and benchmarks that compare them. A kernel
// hashes `nblocks` 64-byte blocks into `state` (A..E, host order).
using sha1_compress_fn = void (*)(std::uint32_t state[5], const std::uint8_t* blocks, std::size_t nblocks) noexcept;
void sha1_compress_scalar(std::uint32_t state[5], const std::uint8_t* blocks, std::size_t nblocks) noexcept;
// sha1_compress_shani (simd/sha_ni.hpp) needs this to be true.
bool sha1_shani_supported() noexcept;
// One-shot SHA-1 through the given kernel rather than the chosen one.
sha1_digest sha1_of(std::span<const std::uint8_t> bytes, sha1_compress_fn kernel) noexcept;

}  // namespace zws::detail
