// lib/simd/avx2.cpp — AVX2 kernels (compiled with -mavx2; run only when cpu().avx2).
//
// UTF-8 uses the lookup algorithm of Keiser and Lemire (tables and rules in
// kernels.hpp): the three nibble lookups are ANDed so that a bit survives only
// for a forbidden pair of bytes, and the bytes two and three positions back tell
// where a continuation after a continuation is required. 64 bytes at a time,
// with a branch that skips all-ASCII blocks.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "base/simd/kernels.hpp"

// The helpers below take and return vectors; a call that is not inlined costs
// more than the work, so inlining is not left to the heuristics.
#define ZWS_INLINE inline __attribute__((always_inline))

namespace zws::detail {
namespace {

std::uint32_t rotate_key(std::uint32_t key, std::size_t phase) noexcept {
  return phase ? (key >> (8 * phase)) | (key << (32 - 8 * phase)) : key;
}

// Fewer than 32 bytes; `k` is the key rotated for dst[0]. Each step keeps the
// offset a multiple of 4 until the last bytes, so `k` stays lined up.
ZWS_INLINE void mask_short(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t k) noexcept {
  std::size_t i = 0;
  if (n >= 16) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_xor_si128(a, _mm_set1_epi32(static_cast<int>(k))));
    i = 16;
  }
  if (i + 8 <= n) {
    std::uint64_t w;
    __builtin_memcpy(&w, src + i, 8);
    w ^= (std::uint64_t(k) << 32) | k;
    __builtin_memcpy(dst + i, &w, 8);
    i += 8;
  }
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ (k >> (8 * (i & 3))));
}

ZWS_INLINE __m256i key_vector(std::uint32_t key, std::size_t phase) noexcept {
  return _mm256_set1_epi32(static_cast<int>(rotate_key(key, phase & 3)));
}

// From 32 bytes on, the first and the last 32 bytes are masked as one vector
// each (loaded before anything is stored, so in place works) and the aligned
// blocks between them by the loop: whoever reads the payload next starts and
// ends with vector loads that one earlier store each can serve (avx512.cpp
// says why that matters).
std::size_t mask_avx2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                      std::size_t phase) {
  phase &= 3;
  if (n < 32) {
    mask_short(dst, src, n, rotate_key(key, phase));
    return (phase + n) & 3;
  }
  const std::size_t last = n - 32;
  const __m256i head =
      _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)), key_vector(key, phase));
  const __m256i tail =
      _mm256_xor_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(src + last)), key_vector(key, phase + last));
  // Stores that split cache lines cost twice: the loop stores at dst's 32-byte boundaries.
  std::size_t i = -reinterpret_cast<std::uintptr_t>(dst) & 31;
  const __m256i kv = key_vector(key, phase + i);
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
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), head);
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + last), tail);
  return (phase + n) & 3;
}

ZWS_INLINE __m256i table16(const std::uint8_t (&t)[16]) noexcept {
  return _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

ZWS_INLINE __m256i high_nibbles(__m256i v) noexcept {
  return _mm256_and_si256(_mm256_srli_epi16(v, 4), _mm256_set1_epi8(0x0F));
}

// The input shifted right by N bytes, the N bytes before it taken from `prev`.
template <int N>
ZWS_INLINE __m256i prev_bytes(__m256i in, __m256i prev) noexcept {
  return _mm256_alignr_epi8(in, _mm256_permute2x128_si256(prev, in, 0x21), 16 - N);
}

// Nonzero bytes where `in` (with `prev` the 32 bytes before it) breaks a rule.
ZWS_INLINE __m256i block_errors(__m256i in, __m256i prev) noexcept {
  const __m256i prev1 = prev_bytes<1>(in, prev);
  const __m256i special = _mm256_and_si256(
      _mm256_and_si256(
          _mm256_shuffle_epi8(table16(utf8_lookup::prev_high), high_nibbles(prev1)),
          _mm256_shuffle_epi8(table16(utf8_lookup::prev_low), _mm256_and_si256(prev1, _mm256_set1_epi8(0x0F)))),
      _mm256_shuffle_epi8(table16(utf8_lookup::cur_high), high_nibbles(in)));
  // A byte two after a lead >= E0, or three after one >= F0, must be a
  // continuation following a continuation: exactly where `two_conts` is set.
  const __m256i third = _mm256_subs_epu8(prev_bytes<2>(in, prev), _mm256_set1_epi8(char(0xE0 - 0x80)));
  const __m256i fourth = _mm256_subs_epu8(prev_bytes<3>(in, prev), _mm256_set1_epi8(char(0xF0 - 0x80)));
  const __m256i must_be_cont = _mm256_and_si256(_mm256_or_si256(third, fourth), _mm256_set1_epi8(char(0x80)));
  return _mm256_xor_si256(must_be_cont, special);
}

// Nonzero when the block ends inside a sequence (a lead among its last 3 bytes
// that needs more bytes than are left).
ZWS_INLINE __m256i open_at_end(__m256i in) noexcept {
  const __m256i max = _mm256_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, char(0xF0 - 1), char(0xE0 - 1),
                                       char(0xC0 - 1));
  return _mm256_subs_epu8(in, max);
}

ZWS_INLINE __m256i load(const std::uint8_t* p) noexcept {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

struct utf8_checker {
  __m256i error = _mm256_setzero_si256();
  __m256i prev = _mm256_setzero_si256();
  __m256i prev_open = _mm256_setzero_si256();

  // An all-ASCII block is fine unless the block before left a sequence open.
  ZWS_INLINE void ascii(__m256i last) noexcept {
    error = _mm256_or_si256(error, prev_open);
    prev_open = _mm256_setzero_si256();
    prev = last;
  }

  ZWS_INLINE void check_pair(__m256i a, __m256i b) noexcept {
    error = _mm256_or_si256(error, _mm256_or_si256(block_errors(a, prev), block_errors(b, a)));
    prev_open = open_at_end(b);
    prev = b;
  }

  ZWS_INLINE void check64(const std::uint8_t* p) noexcept {
    const __m256i a = load(p), b = load(p + 32);
    if (_mm256_movemask_epi8(_mm256_or_si256(a, b)) == 0) return ascii(b);
    check_pair(a, b);
  }

  // Two 64-byte halves, with one ASCII test for both (most text is mostly ASCII).
  ZWS_INLINE void check128(const std::uint8_t* p) noexcept {
    const __m256i a = load(p), b = load(p + 32), c = load(p + 64), d = load(p + 96);
    if (_mm256_movemask_epi8(_mm256_or_si256(_mm256_or_si256(a, b), _mm256_or_si256(c, d))) == 0) return ascii(d);
    check_pair(a, b);
    check_pair(c, d);
  }
};

bool utf8_valid_avx2(const std::uint8_t* p, std::size_t n) {
  utf8_checker c;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) c.check128(p + i);
  if (i + 64 <= n) {
    c.check64(p + i);
    i += 64;
  }
  // The rest (possibly nothing) in a zero-padded block: a zero after an open
  // sequence is an error, so this also catches input that ends mid-sequence.
  std::uint8_t last[64] = {};
  __builtin_memcpy(last, p + i, n - i);
  c.check64(last);
  return _mm256_testz_si256(c.error, c.error) != 0;
}

}  // namespace

const kernels avx2_kernels = {mask_avx2, utf8_valid_avx2};

}  // namespace zws::detail
