// lib/simd/avx512.cpp — AVX-512 kernels (F+BW+VL+DQ; run only when cpu().avx512).
//
// Same algorithms as avx2.cpp on 64-byte vectors (the UTF-8 lookup tables are
// in kernels.hpp). UTF-8 tails use masked loads, which suppress faults on the
// masked-off bytes, so nothing outside the buffer is read; masking stores its
// head and tail in exact sizes instead (mask_short says why).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "kernels.hpp"

namespace zws::detail {
namespace {

std::uint32_t rotate_key(std::uint32_t key, std::size_t phase) noexcept {
  return phase ? (key >> (8 * phase)) | (key << (32 - 8 * phase)) : key;
}

__mmask64 first_bytes(std::size_t n) noexcept { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }

// dst[0, n) = src[0, n) ^ key, n < 64 (`k` is the key rotated for dst[0]), in
// stores of exactly 32, 16, 8 and 4 bytes, then byte by byte: each step keeps
// the offset a multiple of 4 until the last bytes, so `k` stays lined up. Not a
// masked store: a load soon after it from the same 64 bytes (the next frame's
// header, the main loop's first vector in place) cannot take its data from a
// masked store and waits for it to reach the cache; masking 1 KiB payloads one
// after another in a receive buffer took 17 ns a frame with masked head and
// tail, 10 ns with these (scratch benchmark on this machine, 2026-11-26).
inline __attribute__((always_inline)) void mask_short(std::uint8_t* dst, const std::uint8_t* src, std::size_t n,
                                                    std::uint32_t k) noexcept {
  std::size_t i = 0;
  if (n >= 32) {
    const __m256i a = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_xor_si256(a, _mm256_set1_epi32(static_cast<int>(k))));
    i = 32;
  }
  if (i + 16 <= n) {
    const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), _mm_xor_si128(a, _mm_set1_epi32(static_cast<int>(k))));
    i += 16;
  }
  if (i + 8 <= n) {
    std::uint64_t w;
    __builtin_memcpy(&w, src + i, 8);
    w ^= (std::uint64_t(k) << 32) | k;
    __builtin_memcpy(dst + i, &w, 8);
    i += 8;
  }
  if (i + 4 <= n) {
    std::uint32_t w;
    __builtin_memcpy(&w, src + i, 4);
    w ^= k;
    __builtin_memcpy(dst + i, &w, 4);
    i += 4;
  }
  for (; i < n; ++i) dst[i] = static_cast<std::uint8_t>(src[i] ^ (k >> (8 * (i & 3))));
}

std::size_t mask_avx512(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                        std::size_t phase) {
  phase &= 3;
  std::uint32_t k = rotate_key(key, phase);
  std::size_t i = 0;
  // Payloads sit right after a frame header, so they are rarely aligned; a store
  // that splits a cache line costs twice, so larger buffers first mask up to the
  // next 64-byte boundary of dst.
  if (n >= 128) {
    i = -reinterpret_cast<std::uintptr_t>(dst) & 63;
    mask_short(dst, src, i, k);
    k = rotate_key(key, (phase + i) & 3);
  }
  const __m512i kv = _mm512_set1_epi32(static_cast<int>(k));
  for (; i + 256 <= n; i += 256) {
    const __m512i a = _mm512_loadu_si512(src + i);
    const __m512i b = _mm512_loadu_si512(src + i + 64);
    const __m512i c = _mm512_loadu_si512(src + i + 128);
    const __m512i d = _mm512_loadu_si512(src + i + 192);
    _mm512_storeu_si512(dst + i, _mm512_xor_si512(a, kv));
    _mm512_storeu_si512(dst + i + 64, _mm512_xor_si512(b, kv));
    _mm512_storeu_si512(dst + i + 128, _mm512_xor_si512(c, kv));
    _mm512_storeu_si512(dst + i + 192, _mm512_xor_si512(d, kv));
  }
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), kv));
  mask_short(dst + i, src + i, n - i, k);
  return (phase + n) & 3;
}

// A 16-entry table repeated in each 128-bit lane (vpshufb looks up within a lane).
// (The zero-masking form only because GCC 12 warns about the plain one's
// deliberately undefined source operand.)
__m512i table16(const std::uint8_t (&t)[16]) noexcept {
  return _mm512_maskz_broadcast_i32x4(0xFFFF, _mm_loadu_si128(reinterpret_cast<const __m128i*>(t)));
}

struct utf8_checker {
  const __m512i t1h = table16(utf8_lookup::prev_high);
  const __m512i t1l = table16(utf8_lookup::prev_low);
  const __m512i t2h = table16(utf8_lookup::cur_high);
  const __m512i low4 = _mm512_set1_epi8(0x0F);
  const __m512i shift_index = _mm512_setr_epi64(6, 7, 8, 9, 10, 11, 12, 13);
  __m512i error = _mm512_setzero_si512();
  __m512i prev = _mm512_setzero_si512();
  __m512i prev_open = _mm512_setzero_si512();

  __m512i high_nibbles(__m512i v) const noexcept { return _mm512_and_si512(_mm512_srli_epi16(v, 4), low4); }

  // Nonzero bytes where `in` (with `before` the 64 bytes preceding it) breaks a rule.
  __m512i block_errors(__m512i in, __m512i before) const noexcept {
    // [last 16 bytes of before, first 48 of in]: lane k of it precedes lane k of in.
    const __m512i lanes_before = _mm512_permutex2var_epi64(before, shift_index, in);
    const __m512i prev1 = _mm512_alignr_epi8(in, lanes_before, 15);
    const __m512i prev2 = _mm512_alignr_epi8(in, lanes_before, 14);
    const __m512i prev3 = _mm512_alignr_epi8(in, lanes_before, 13);
    const __m512i special = _mm512_ternarylogic_epi64(_mm512_shuffle_epi8(t1h, high_nibbles(prev1)),
                                                      _mm512_shuffle_epi8(t1l, _mm512_and_si512(prev1, low4)),
                                                      _mm512_shuffle_epi8(t2h, high_nibbles(in)), 0x80);
    const __m512i third = _mm512_subs_epu8(prev2, _mm512_set1_epi8(char(0xE0 - 0x80)));
    const __m512i fourth = _mm512_subs_epu8(prev3, _mm512_set1_epi8(char(0xF0 - 0x80)));
    const __m512i must_be_cont = _mm512_and_si512(_mm512_or_si512(third, fourth), _mm512_set1_epi8(char(0x80)));
    return _mm512_xor_si512(must_be_cont, special);
  }

  // Nonzero when the block ends with a lead that needs more bytes than are left.
  static __m512i open_at_end(__m512i in) noexcept {
    const __m512i max =
        _mm512_mask_blend_epi8(__mmask64{7} << 61, _mm512_set1_epi8(-1),
                               _mm512_set_epi64(std::int64_t(0xBFDFEF0000000000ull), 0, 0, 0, 0, 0, 0, 0));
    return _mm512_subs_epu8(in, max);
  }

  void check(__m512i in) noexcept {
    if (_mm512_movepi8_mask(in) == 0) {
      error = _mm512_or_si512(error, prev_open);
      prev_open = _mm512_setzero_si512();
    } else {
      error = _mm512_or_si512(error, block_errors(in, prev));
      prev_open = open_at_end(in);
    }
    prev = in;
  }

  void check128(__m512i a, __m512i b) noexcept {
    if (_mm512_movepi8_mask(_mm512_or_si512(a, b)) == 0) {
      error = _mm512_or_si512(error, prev_open);
      prev_open = _mm512_setzero_si512();
    } else {
      error = _mm512_ternarylogic_epi64(error, block_errors(a, prev), block_errors(b, a), 0xFE);
      prev_open = open_at_end(b);
    }
    prev = b;
  }
};

bool utf8_valid_avx512(const std::uint8_t* p, std::size_t n) {
  utf8_checker c;
  std::size_t i = 0;
  for (; i + 128 <= n; i += 128) c.check128(_mm512_loadu_si512(p + i), _mm512_loadu_si512(p + i + 64));
  if (i + 64 <= n) {
    c.check(_mm512_loadu_si512(p + i));
    i += 64;
  }
  // The rest, zero-filled to a block (possibly all zero): a zero after an open
  // sequence is an error, so this also rejects input that ends mid-sequence.
  c.check(_mm512_maskz_loadu_epi8(first_bytes(n - i), p + i));
  return _mm512_test_epi8_mask(c.error, c.error) == 0;
}

}  // namespace

const kernels avx512_kernels = {mask_avx512, utf8_valid_avx512};

}  // namespace zws::detail
