// lib/simd/sse2.cpp — the SSE tier (the file is compiled with -msse2 only).
//
// Masking needs nothing beyond SSE2. The UTF-8 lookup algorithm (see avx2.cpp)
// needs pshufb, which is SSSE3, so this file holds two tables: sse2_kernels,
// whose UTF-8 kernel checks 64-byte blocks for ASCII in vectors and validates
// the rest with the scalar code, and ssse3_kernels, whose UTF-8 kernel is the
// 16-byte lookup kernel. Only the functions of the latter are compiled for
// SSSE3 (a target attribute on each, nothing else in the file), and dispatch
// uses that table for isa::sse2 only when cpu().ssse3.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "base/simd/kernels.hpp"

#define ZWS_SSSE3 __attribute__((target("ssse3")))

namespace zws::detail {
namespace {

std::uint32_t rotate_key(std::uint32_t key, std::size_t phase) noexcept {
  return phase ? (key >> (8 * phase)) | (key << (32 - 8 * phase)) : key;
}

__m128i load(const std::uint8_t* p) noexcept { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
void store(std::uint8_t* p, __m128i v) noexcept { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }

// Fewer than 16 bytes; `k` is the key rotated for dst[0].
void mask_short(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t k) noexcept {
  std::size_t i = 0;
  if (n >= 8) {
    std::uint64_t w;
    __builtin_memcpy(&w, src, 8);
    w ^= (std::uint64_t(k) << 32) | k;
    __builtin_memcpy(dst, &w, 8);
    i = 8;
  }
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ (k >> (8 * (i & 3))));
}

std::size_t mask_sse2(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                      std::size_t phase) {
  phase &= 3;
  std::uint32_t k = rotate_key(key, phase);
  std::size_t i = 0;
  // Stores that split cache lines cost twice: align dst first (see avx2.cpp).
  if (n >= 256) {
    i = -reinterpret_cast<std::uintptr_t>(dst) & 15;
    mask_short(dst, src, i, k);
    k = rotate_key(key, (phase + i) & 3);
  }
  const __m128i kv = _mm_set1_epi32(static_cast<int>(k));
  for (; i + 64 <= n; i += 64) {
    const __m128i a = load(src + i), b = load(src + i + 16), c = load(src + i + 32), d = load(src + i + 48);
    store(dst + i, _mm_xor_si128(a, kv));
    store(dst + i + 16, _mm_xor_si128(b, kv));
    store(dst + i + 32, _mm_xor_si128(c, kv));
    store(dst + i + 48, _mm_xor_si128(d, kv));
  }
  for (; i + 16 <= n; i += 16) store(dst + i, _mm_xor_si128(load(src + i), kv));
  mask_short(dst + i, src + i, n - i, k);
  return (phase + n) & 3;
}

bool ascii64(const std::uint8_t* p) noexcept {
  const __m128i any = _mm_or_si128(_mm_or_si128(load(p), load(p + 16)), _mm_or_si128(load(p + 32), load(p + 48)));
  return _mm_movemask_epi8(any) == 0;
}

bool utf8_valid_sse2(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    if (i + 64 <= n && ascii64(p + i)) {
      i += 64;
      continue;
    }
    // Whole code points until past this block, so the next one starts on a boundary.
    const std::size_t want = n - i < 64 ? n - i : 64;
    const std::size_t used = utf8_scalar_span(p + i, n - i, want);
    if (used == 0) return false;
    i += used;
  }
  return true;
}

// --- SSSE3: the lookup kernel on 16-byte vectors ----------------------------

ZWS_SSSE3 __m128i high_nibbles(__m128i v) noexcept { return _mm_and_si128(_mm_srli_epi16(v, 4), _mm_set1_epi8(0x0F)); }

// Nonzero bytes where `in` (with `prev` the 16 bytes before it) breaks a rule.
ZWS_SSSE3 __m128i block_errors(__m128i in, __m128i prev) noexcept {
  const __m128i prev1 = _mm_alignr_epi8(in, prev, 15);
  const __m128i special = _mm_and_si128(
      _mm_and_si128(_mm_shuffle_epi8(load(utf8_lookup::prev_high), high_nibbles(prev1)),
                    _mm_shuffle_epi8(load(utf8_lookup::prev_low), _mm_and_si128(prev1, _mm_set1_epi8(0x0F)))),
      _mm_shuffle_epi8(load(utf8_lookup::cur_high), high_nibbles(in)));
  const __m128i third = _mm_subs_epu8(_mm_alignr_epi8(in, prev, 14), _mm_set1_epi8(char(0xE0 - 0x80)));
  const __m128i fourth = _mm_subs_epu8(_mm_alignr_epi8(in, prev, 13), _mm_set1_epi8(char(0xF0 - 0x80)));
  const __m128i must_be_cont = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8(char(0x80)));
  return _mm_xor_si128(must_be_cont, special);
}

struct ssse3_checker {
  __m128i error = _mm_setzero_si128();
  __m128i prev = _mm_setzero_si128();
  __m128i prev_open = _mm_setzero_si128();

  ZWS_SSSE3 void check64(const std::uint8_t* p) noexcept {
    const __m128i a = load(p), b = load(p + 16), c = load(p + 32), d = load(p + 48);
    if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(c, d))) == 0) {
      error = _mm_or_si128(error, prev_open);
      prev_open = _mm_setzero_si128();
    } else {
      error = _mm_or_si128(error, _mm_or_si128(block_errors(a, prev), block_errors(b, a)));
      error = _mm_or_si128(error, _mm_or_si128(block_errors(c, b), block_errors(d, c)));
      // A lead among the last 3 bytes that needs more bytes than are left.
      const __m128i max = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, char(0xF0 - 1),
                                        char(0xE0 - 1), char(0xC0 - 1));
      prev_open = _mm_subs_epu8(d, max);
    }
    prev = d;
  }
};

ZWS_SSSE3 bool utf8_valid_ssse3(const std::uint8_t* p, std::size_t n) {
  ssse3_checker c;
  std::size_t i = 0;
  for (; i + 64 <= n; i += 64) c.check64(p + i);
  // The rest in a zero-padded block; a zero after an open sequence is an error.
  std::uint8_t last[64] = {};
  __builtin_memcpy(last, p + i, n - i);
  c.check64(last);
  return _mm_movemask_epi8(_mm_cmpeq_epi8(c.error, _mm_setzero_si128())) == 0xFFFF;
}

}  // namespace

const kernels sse2_kernels = {mask_sse2, utf8_valid_sse2};
const kernels ssse3_kernels = {mask_sse2, utf8_valid_ssse3};

}  // namespace zws::detail
