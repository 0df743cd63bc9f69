// lib/sha1.hpp — SHA-1 (FIPS 180-4), for Sec-WebSocket-Accept only.
//
// Internal. Two compression kernels: portable scalar and SHA-NI
// (lib/simd/sha_ni.cpp), chosen once at run time; ZWS_FORCE_ISA=scalar forces
// the scalar one.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace zws::detail {

using sha1_digest = std::array<std::uint8_t, 20>;

class sha1 {
 public:
  sha1() noexcept;
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

}  // namespace zws::detail
