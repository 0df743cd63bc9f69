// lib/base/simd/sha_ni.cpp — SHA-1 compression with the SHA extensions.
//
// Layout: the working variables live in one register with A in lane 3 and D in
// lane 0, because that is what SHA1RNDS4 expects; E lives in lane 3 of a second
// register and is only ever materialised by SHA1NEXTE, which derives the E of
// the next four rounds from the A of the four rounds before (after four rounds
// E = rotl30(A_then)) and adds the next four message words to it at once.
//
// The message schedule is kept as four vectors of four words, W[4i..4i+3] with
// the first word in lane 3; for i >= 4,
//   Wv[i] = SHA1MSG2(SHA1MSG1(Wv[i-4], Wv[i-3]) ^ Wv[i-2], Wv[i-1]).
#include "base/simd/sha_ni.hpp"

#include <immintrin.h>

namespace zws::detail {
namespace {

struct lanes {
  __m128i abcd;        // working variables, A in lane 3
  __m128i prev_abcd;   // abcd at the start of the previous four rounds
  __m128i e_w0;        // E + W[0..3]: the first group's input
  __m128i w[4];        // Wv[i-4 .. i-1], indexed by i % 4
};

// Rounds 20*F .. 20*F + 19: five groups of four, all using round function F
// (SHA1RNDS4 takes it as an immediate, hence the template).
template <int F>
inline void twenty_rounds(lanes& s) noexcept {
  // Unrolled so that every index below is a constant and the vectors stay in registers.
#pragma GCC unroll 5
  for (int g = 0; g < 5; ++g) {
    const int i = 5 * F + g;
    if (i >= 4) {
      __m128i& w = s.w[i & 3];
      w = _mm_sha1msg1_epu32(w, s.w[(i + 1) & 3]);
      w = _mm_xor_si128(w, s.w[(i + 2) & 3]);
      w = _mm_sha1msg2_epu32(w, s.w[(i + 3) & 3]);
    }
    const __m128i wk = i == 0 ? s.e_w0 : _mm_sha1nexte_epu32(s.prev_abcd, s.w[i & 3]);
    s.prev_abcd = s.abcd;
    s.abcd = _mm_sha1rnds4_epu32(s.abcd, wk, F);
  }
}

}  // namespace

void sha1_compress_shani(std::uint32_t state[5], const std::uint8_t* blocks, std::size_t nblocks) noexcept {
  // Reverses all 16 bytes: big-endian words, first word into lane 3.
  const __m128i bswap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m128i abcd = _mm_shuffle_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(state)), 0x1B);
  __m128i e = _mm_set_epi32(static_cast<int>(state[4]), 0, 0, 0);

  for (; nblocks != 0; --nblocks, blocks += 64) {
    lanes s;
#pragma GCC unroll 4
    for (int k = 0; k < 4; ++k)
      s.w[k] = _mm_shuffle_epi8(_mm_loadu_si128(reinterpret_cast<const __m128i*>(blocks + std::size_t{16} * std::size_t(k))), bswap);
    s.abcd = abcd;
    s.prev_abcd = abcd;
    s.e_w0 = _mm_add_epi32(e, s.w[0]);
    twenty_rounds<0>(s);
    twenty_rounds<1>(s);
    twenty_rounds<2>(s);
    twenty_rounds<3>(s);
    // E after 80 rounds is rotl30(A at the start of the last group), plus the saved E.
    e = _mm_sha1nexte_epu32(s.prev_abcd, e);
    abcd = _mm_add_epi32(s.abcd, abcd);
  }

  _mm_storeu_si128(reinterpret_cast<__m128i*>(state), _mm_shuffle_epi32(abcd, 0x1B));
  state[4] = static_cast<std::uint32_t>(_mm_extract_epi32(e, 3));
}

}  // namespace zws::detail
