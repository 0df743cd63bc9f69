// lib/simd/avx2.cpp — AVX2 kernels (compiled with -mavx2; run only when cpu().avx2).
//
// UTF-8 uses the lookup algorithm of Keiser and Lemire ("Validating UTF-8 in less
// than one instruction per byte", 2021): three 16-entry tables, indexed by the
// high and low nibble of the previous byte and the high nibble of the current
// one, are ANDed so that a bit survives only for a forbidden pair of bytes; the
// byte two and three positions back tells where a continuation is required.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace zws::detail {
namespace {

std::uint32_t rotate_key(std::uint32_t key, std::size_t phase) noexcept {
  return phase ? (key >> (8 * phase)) | (key << (32 - 8 * phase)) : key;
}

std::size_t mask_avx2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                      std::size_t phase) {
  phase &= 3;
  const std::uint32_t k = rotate_key(key, phase);
  const __m256i kv = _mm256_set1_epi32(static_cast<int>(k));
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    const __m256i b = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 32));
    const __m256i c = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 64));
    const __m256i d = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i + 96));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a, kv));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 32), _mm256_xor_si256(b, kv));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 64), _mm256_xor_si256(c, kv));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i + 96), _mm256_xor_si256(d, kv));
  }
  for (; i + 32 <= n; i += 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + i));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + i), _mm256_xor_si256(a, kv));
  }
  // The tail, under 32 bytes, in shrinking steps that keep i a multiple of 4 so
  // the rotated key still lines up.
  if (i + 16 <= n) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, _mm256_castsi256_si128(kv)));
    i += 16;
  }
  if (i + 8 <= n) {
    std::uint64_t w;
    __builtin_memcpy(&w, src + i, 8);
    w ^= (std::uint64_t(k) << 32) | k;
    __builtin_memcpy(dst + i, &w, 8);
    i += 8;
  }
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ (k >> (8 * (i & 3))));
  return (phase + n) & 3;
}

// Error bits of the lookup tables: each names a forbidden (previous, current) pair.
constexpr std::uint8_t too_short = 1 << 0;   // lead, then a non-continuation
constexpr std::uint8_t too_long = 1 << 1;    // ASCII, then a continuation
constexpr std::uint8_t overlong_3 = 1 << 2;  // E0, then 80..9F
constexpr std::uint8_t too_large = 1 << 3;   // F4, then 90..BF; F5..FF, then 90..BF
constexpr std::uint8_t surrogate = 1 << 4;   // ED, then A0..BF
constexpr std::uint8_t overlong_2 = 1 << 5;  // C0 or C1, then a continuation
constexpr std::uint8_t too_large_1000 = 1 << 6;  // F5..FF, then 80..8F
constexpr std::uint8_t overlong_4 = 1 << 6;      // F0, then 80..8F (same bit: F_ lead, then 8_)
constexpr std::uint8_t two_conts = 1 << 7;   // continuation, then continuation (legal only
                                             // where a 3- or 4-byte lead requires it)
constexpr std::uint8_t carry = too_short | too_long | two_conts;

#define ZWS_TABLE16(...) _mm256_setr_epi8(__VA_ARGS__, __VA_ARGS__)

__m256i lookup(__m256i table, __m256i nibbles) noexcept { return _mm256_shuffle_epi8(table, nibbles); }

__m256i high_nibbles(__m256i v) noexcept { return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F)); }

// The input shifted right by N bytes, the N bytes before it taken from `prev`.
template <int N>
__m256i prev_bytes(__m256i in, __m256i prev) noexcept {
  return _mm256_alignr_epi8(in, _mm256_permute2x128_si256(prev, in, 0x21), 16 - N);
}

// Nonzero bytes where `in` (with `prev` the 32 bytes before it) breaks a rule.
__m256i block_errors(__m256i in, __m256i prev) noexcept {
  const __m256i prev1 = prev_bytes<1>(in, prev);
  const __m256i byte_1_high = lookup(
      ZWS_TABLE16(too_long, too_long, too_long, too_long, too_long, too_long, too_long, too_long, two_conts,
                  two_conts, two_conts, two_conts, too_short | overlong_2, too_short,
                  too_short | overlong_3 | surrogate, too_short | too_large | too_large_1000 | overlong_4),
      high_nibbles(prev1));
  const __m256i byte_1_low = lookup(
      ZWS_TABLE16(carry | overlong_3 | overlong_2 | overlong_4, carry | overlong_2, carry, carry, carry | too_large,
                  carry | too_large | too_large_1000, carry | too_large | too_large_1000,
                  carry | too_large | too_large_1000, carry | too_large | too_large_1000,
                  carry | too_large | too_large_1000, carry | too_large | too_large_1000,
                  carry | too_large | too_large_1000, carry | too_large | too_large_1000,
                  carry | too_large | too_large_1000 | surrogate, carry | too_large | too_large_1000,
                  carry | too_large | too_large_1000),
      _mm256_and_si256(prev1, _mm256_set1_epi8(0x0F)));
  const __m256i byte_2_high = lookup(
      ZWS_TABLE16(too_short, too_short, too_short, too_short, too_short, too_short, too_short, too_short,
                  too_long | overlong_2 | two_conts | overlong_3 | too_large_1000 | overlong_4,
                  too_long | overlong_2 | two_conts | overlong_3 | too_large,
                  too_long | overlong_2 | two_conts | surrogate | too_large,
                  too_long | overlong_2 | two_conts | surrogate | too_large, too_short, too_short, too_short,
                  too_short),
      high_nibbles(in));
  const __m256i special = _mm256_and_si256(_mm256_and_si256(byte_1_high, byte_1_low), byte_2_high);
  // A byte two after a lead >= E0, or three after one >= F0, must be a
  // continuation following a continuation: exactly where `two_conts` is set.
  const __m256i third = _mm256_subs_epu8(prev_bytes<2>(in, prev), _mm256_set1_epi8(char(0xE0 - 0x80)));
  const __m256i fourth = _mm256_subs_epu8(prev_bytes<3>(in, prev), _mm256_set1_epi8(char(0xF0 - 0x80)));
  const __m256i must_be_cont = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(char(0x80)));
  return _mm256_xor_si256(must_be_cont, special);
}

// Nonzero when the block ends inside a sequence (a lead among its last 3 bytes
// that needs more bytes than are left).
__m256i open_at_end(__m256i in) noexcept {
  const __m256i max = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, char(0xF0 - 1), char(0xE0 - 1),
                                       char(0xC0 - 1));
  return _mm256_subs_epu8(in, max);
}

struct utf8_checker {
  __m256i error = _mm256_setzero_si256();
  __m256i prev = _mm256_setzero_si256();
  __m256i prev_open = _mm256_setzero_si256();

  void check64(__m256i a, __m256i b) noexcept {
    if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) {
      // ASCII: fine unless the previous block left a sequence open.
      error = _mm256_or_si256(error, prev_open);
      prev_open = _mm256_setzero_si256();
    } else {
      error = _mm256_or_si256(error, block_errors(a, prev));
      error = _mm256_or_si256(error, block_errors(b, a));
      prev_open = open_at_end(b);
    }
    prev = b;
  }
};

bool utf8_valid_avx2(const std::uint8_t* p, std::size_t n) {
  utf8_checker c;
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) {
    c.check64(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)),
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
  }
  // The rest (possibly nothing) in a zero-padded block: a zero after an open
  // sequence is an error, so this also catches input that ends mid-sequence.
  alignas(32) std::uint8_t last[64] = {};
  __builtin_memcpy(last, p + i, n - i);
  c.check64(_mm256_load_si256(reinterpret_cast<const __m256i*>(last)),
            _mm256_load_si256(reinterpret_cast<const __m256i*>(last + 32)));
  return _mm256_testz_si256(c.error, c.error) != 0;
}

}  // namespace

const kernels avx2_kernels = {mask_avx2, utf8_valid_avx2};

}  // namespace zws::detail
