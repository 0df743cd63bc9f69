// zws/simd.hpp — the data kernels: masking and UTF-8 validation.
//
// Each kernel exists once per instruction set (scalar, SSE2, AVX2, AVX-512). The
// best one this CPU and OS support is chosen once, on first use; the environment
// variable ZWS_FORCE_ISA=scalar|sse2|avx2|avx512 forces another (an ISA the CPU
// lacks falls back to the best available). No kernel reads or writes outside the
// spans it is given. The sse2 tier's UTF-8 kernel uses SSSE3 (pshufb) when the
// CPU has it and otherwise checks only for ASCII in vectors.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace zws {

enum class isa : std::uint8_t { scalar = 0, sse2 = 1, avx2 = 2, avx512 = 3 };

// "scalar", "sse2", "avx2", "avx512".
std::string_view isa_name(isa i) noexcept;

// The instruction set the dispatched kernels use.
isa active_isa() noexcept;

// Whether this CPU and OS can run kernels of instruction set `i`.
bool isa_supported(isa i) noexcept;

// A masking key as it appears on the wire: byte j of the payload is XORed with
// key[(phase + j) % 4].
struct mask_key {
  std::uint8_t bytes[4];
};

// XORs `data` in place with `key`, starting at key phase `phase` (0..3).
// Returns the phase for the byte after the last one, so a payload split across
// several reads can be unmasked piece by piece.
std::size_t mask(std::span<std::uint8_t> data, mask_key key, std::size_t phase = 0) noexcept;

// The same, writing src ^ key into dst (dst.size() must be >= src.size();
// dst and src may be the same memory but must not otherwise overlap).
std::size_t mask_copy(std::span<std::uint8_t> dst, std::span<const std::uint8_t> src, mask_key key,
                      std::size_t phase = 0) noexcept;

namespace detail {
// What mask and mask_copy do: inline below short_mask bytes (small messages,
// every control frame), where 8 bytes at a time cost less than the call into a
// vector kernel; the dispatched kernel from there on.
inline constexpr std::size_t short_mask = 64;
std::size_t mask_dispatched(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, mask_key key,
                            std::size_t phase) noexcept;
inline std::size_t mask_span(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, mask_key key,
                              std::size_t phase) noexcept {
  if (n >= short_mask) return mask_dispatched(dst, src, n, key, phase);
  std::uint8_t k[4];
  for (std::size_t i = 0; i < 4; ++i) k[i] = key.bytes[(phase + i) & 3];
  std::uint32_t k4;
  __builtin_memcpy(&k4, k, 4);
  const std::uint64_t k8 = std::uint64_t{k4} << 32 | k4;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t v;
    __builtin_memcpy(&v, src + i, 8);
    v ^= k8;
    __builtin_memcpy(dst + i, &v, 8);
  }
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ k[i & 3]);
  return (phase + n) & 3;
}
}  // namespace detail

inline std::size_t mask(std::span<std::uint8_t> data, mask_key key, std::size_t phase) noexcept {
  return detail::mask_span(data.data(), data.data(), data.size(), key, phase);
}
inline std::size_t mask_copy(std::span<std::uint8_t> dst, std::span<const std::uint8_t> src, mask_key key,
                             std::size_t phase) noexcept {
  return detail::mask_span(dst.data(), src.data(), src.size(), key, phase);
}

// True when `bytes` is entirely valid UTF-8 (RFC 3629: no overlongs, no
// surrogates, nothing above U+10FFFF, nothing truncated at the end).
bool utf8_valid(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace zws
