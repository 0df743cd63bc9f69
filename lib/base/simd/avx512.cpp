// lib/simd/avx512.cpp — AVX-512 kernels (F+BW+VL+DQ; run only when cpu().avx512).
//
// Same algorithms as avx2.cpp on 64-byte vectors (the UTF-8 lookup tables are
// in kernels.hpp). UTF-8 tails use masked loads, which suppress faults on the
// masked-off bytes, so nothing outside the buffer is read. Masking stores a
// payload's first and last 64 bytes as whole vectors (mask_avx512 says why);
// only below 64 bytes, off the library's path, does it use a masked store.
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "base/simd/kernels.hpp"

namespace zws::detail {
namespace {

std::uint32_t rotate_key(std::uint32_t key, std::size_t phase) noexcept {
  return phase ? (key >> (8 * phase)) | (key << (32 - 8 * phase)) : key;
}

__mmask64 first_bytes(std::size_t n) noexcept { return n >= 64 ? ~__mmask64{0} : (__mmask64{1} << n) - 1; }

// dst[0, n) = src[0, n) ^ kv for n < 64, with one masked load and store. Only
// direct users of the kernel table get here: zws::mask handles payloads this
// short inline (simd.hpp), so the stall after a masked store (see below) never
// meets a payload on its way through the library.
void mask_short(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, __m512i kv) noexcept {
  const __mmask64 m = first_bytes(n);
  _mm512_mask_storeu_epi8(dst, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src), kv));
}

__m512i key_vector(std::uint32_t key, std::size_t phase) noexcept {
  return _mm512_set1_epi32(static_cast<int>(rotate_key(key, phase & 3)));
}

// From 64 bytes on, the first and the last 64 bytes are masked as one
// (unaligned) vector each, and the aligned blocks between them by the loop; the
// overlaps get the same bytes twice. Both edge vectors are loaded before
// anything is stored, so this works in place too. Whole vectors at the edges
// matter more than alignment there: whoever reads the payload next (the echo's
// copy, a UTF-8 check) starts with a vector load at its first byte and ends
// with one at its last 64, and a load covered by exactly one earlier store
// takes its data from that store, while a load spanning several smaller ones
// waits until they reach the cache. In zws-echo on 1 KiB messages that wait
// was 70% of the echo copy's time when the edges were stored piecewise.
std::size_t mask_avx512(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                        std::size_t phase) {
  phase &= 3;
  if (n < 64) {
    mask_short(dst, src, n, key_vector(key, phase));
    return (phase + n) & 3;
  }
  const std::size_t last = n - 64;
  const __m512i head = _mm512_xor_si512(_mm512_loadu_si512(src), key_vector(key, phase));
  const __m512i tail = _mm512_xor_si512(_mm512_loadu_si512(src + last), key_vector(key, phase + last));
  // Stores that split cache lines cost twice: the loop stores at dst's 64-byte boundaries.
  std::size_t i = -reinterpret_cast<std::uintptr_t>(dst) & 63;
  const __m512i kv = key_vector(key, phase + i);
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
  _mm512_storeu_si512(dst, head);
  _mm512_storeu_si512(dst + last, tail);
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
