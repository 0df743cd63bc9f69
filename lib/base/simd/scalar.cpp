// lib/base/simd/scalar.cpp — the portable kernels, and the reference every other
// kernel is tested against. Baseline flags only; 64-bit words where it is free.
#include <cstddef>
#include <cstdint>

#include "base/simd/kernels.hpp"

namespace zws::detail {
namespace {

std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t w;
  __builtin_memcpy(&w, p, sizeof w);
  return w;
}

void store64(std::uint8_t* p, std::uint64_t w) noexcept { __builtin_memcpy(p, &w, sizeof w); }

std::size_t mask_scalar(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                        std::size_t phase) {
  phase &= 3;
  // Rotate so that the low byte is the key byte for src[0]; the words below are
  // little-endian loads, so byte j of a word meets byte j % 4 of the rotated key.
  const std::uint32_t k = phase ? (key >> (8 * phase)) | (key << (32 - 8 * phase)) : key;
  const std::uint64_t k64 = (std::uint64_t(k) << 32) | k;
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) store64(dst + i, load64(src + i) ^ k64);
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ (k >> (8 * (i & 3))));
  return (phase + n) & 3;
}

constexpr std::uint64_t high_bits = 0x8080808080808080ull;

// Length of the sequence led by `b` and the allowed range of its second byte
// (RFC 3629 table: this is what excludes overlongs, surrogates and > U+10FFFF).
// Length 0 means `b` cannot lead a sequence.
struct lead_info {
  std::uint8_t len, lo, hi;
};

lead_info lead(std::uint8_t b) noexcept {
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

// Length of the valid sequence with its non-ASCII lead at p[0], or 0 when the
// `avail` bytes there do not start one.
std::size_t sequence_length(const std::uint8_t* p, std::size_t avail) noexcept {
  const lead_info l = lead(p[0]);
  if (l.len == 0 || avail < l.len) return 0;
  if (p[1] < l.lo || p[1] > l.hi) return 0;
  for (std::size_t k = 2; k < l.len; ++k)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return l.len;
}

bool utf8_valid_scalar(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      while (i + 8 <= n && (load64(p + i) & high_bits) == 0) i += 8;
      while (i < n && p[i] < 0x80) ++i;
      continue;
    }
    const std::size_t len = sequence_length(p + i, n - i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

}  // namespace

std::size_t utf8_scalar_span(const std::uint8_t* p, std::size_t n, std::size_t want) noexcept {
  std::size_t i = 0;
  while (i < want) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const std::size_t len = sequence_length(p + i, n - i);
    if (len == 0) return 0;
    i += len;
  }
  return i;
}

const kernels scalar_kernels = {mask_scalar, utf8_valid_scalar};

}  // namespace zws::detail
