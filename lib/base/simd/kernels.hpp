// lib/base/simd/kernels.hpp — the table of data kernels, one instance per instruction set.
//
// Internal. Each lib/simd/<isa>.cpp fills one `kernels` table and is compiled with
// its own -m flags; dispatch.cpp picks a table once. This header is included by
// those files, so it may include nothing but <cstddef> and <cstdint> (STYLE rule 5:
// an inline function compiled with AVX flags could leak into baseline code).
#pragma once

#include <cstddef>
#include <cstdint>

namespace zws {
enum class isa : std::uint8_t;  // defined in zws/simd.hpp
}

namespace zws::detail {

// The three 16-entry tables of the UTF-8 lookup algorithm (Keiser and Lemire,
// "Validating UTF-8 in less than one instruction per byte", 2021), shared by the
// SIMD kernels. Each bit names a forbidden pair (previous byte, current byte);
// the tables are indexed by the previous byte's high and low nibble and the
// current byte's high nibble, and ANDed, so a bit survives only when all three
// nibbles match its rule. Constant data only: no code is shared between ISAs.
namespace utf8_lookup {
inline constexpr std::uint8_t too_short = 1 << 0;       // lead, then a non-continuation
inline constexpr std::uint8_t too_long = 1 << 1;        // ASCII, then a continuation
inline constexpr std::uint8_t overlong_3 = 1 << 2;      // E0, then 80..9F
inline constexpr std::uint8_t too_large = 1 << 3;       // F4..FF, then 90..BF
inline constexpr std::uint8_t surrogate = 1 << 4;       // ED, then A0..BF
inline constexpr std::uint8_t overlong_2 = 1 << 5;      // C0 or C1, then a continuation
inline constexpr std::uint8_t too_large_1000 = 1 << 6;  // F5..FF, then 80..8F
inline constexpr std::uint8_t overlong_4 = 1 << 6;      // F0, then 80..8F (same bit: F_, then 8_)
inline constexpr std::uint8_t two_conts = 1 << 7;       // continuation, then continuation: legal only
                                                        // where a 3- or 4-byte lead requires it
inline constexpr std::uint8_t carry = too_short | too_long | two_conts;  // rules decided by high nibbles

inline constexpr std::uint8_t prev_high[16] = {
    too_long, too_long, too_long, too_long, too_long, too_long, too_long, too_long,  // 0_______
    two_conts, two_conts, two_conts, two_conts,                                      // 10______
    too_short | overlong_2,                                                          // 1100____
    too_short,                                                                       // 1101____
    too_short | overlong_3 | surrogate,                                              // 1110____
    too_short | too_large | too_large_1000 | overlong_4,                             // 1111____
};
inline constexpr std::uint8_t prev_low[16] = {
    carry | overlong_3 | overlong_2 | overlong_4,  // ____0000
    carry | overlong_2,                            // ____0001
    carry,
    carry,
    carry | too_large,  // ____0100
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000 | surrogate,  // ____1101
    carry | too_large | too_large_1000,
    carry | too_large | too_large_1000,
};
inline constexpr std::uint8_t cur_high[16] = {
    too_short, too_short, too_short, too_short, too_short, too_short, too_short, too_short,  // 0_______
    too_long | overlong_2 | two_conts | overlong_3 | too_large_1000 | overlong_4,          // 1000____
    too_long | overlong_2 | two_conts | overlong_3 | too_large,                            // 1001____
    too_long | overlong_2 | two_conts | surrogate | too_large,                             // 1010____
    too_long | overlong_2 | two_conts | surrogate | too_large,                             // 1011____
    too_short, too_short, too_short, too_short,                                            // 11______
};
}  // namespace utf8_lookup

struct kernels {
  // Writes src[i] ^ key_byte[(phase + i) % 4] to dst[i] for i in [0, n) and returns
  // (phase + n) % 4. `key` holds the key in wire order, byte 0 in the low 8 bits
  // (a little-endian load of the 4 wire bytes). dst == src (in place) is allowed,
  // any other overlap is not. Touches no byte outside [src, src+n) and [dst, dst+n).
  std::size_t (*mask)(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, std::uint32_t key,
                      std::size_t phase);
  // True when [p, p+n) is complete, valid UTF-8 (RFC 3629). Reads nothing outside it.
  bool (*utf8_valid)(const std::uint8_t* p, std::size_t n);
};

// scalar_kernels runs everywhere and is the reference the others are tested
// against. sse2_kernels needs SSE2 only; ssse3_kernels (also in sse2.cpp) is the
// same tier with the pshufb-based UTF-8 kernel, used for isa::sse2 when the CPU
// has SSSE3.
extern const kernels scalar_kernels;
extern const kernels sse2_kernels;
extern const kernels ssse3_kernels;
extern const kernels avx2_kernels;
extern const kernels avx512_kernels;

// For kernels that check only for ASCII in vectors (sse2_kernels): validates
// whole code points from p[0] until at least `want` bytes (1 <= want <= n) are
// consumed, and returns how many were; 0 when p[0..n) is invalid there. Defined
// in scalar.cpp, so it is baseline code whoever calls it.
std::size_t utf8_scalar_span(const std::uint8_t* p, std::size_t n, std::size_t want) noexcept;

// The table dispatch uses for instruction set `i` on this CPU, or nullptr when the
// CPU or OS cannot run it. For tests and benchmarks.
const kernels* kernels_for(isa i) noexcept;

// The table the public functions use (chosen once: best supported, or ZWS_FORCE_ISA).
const kernels& active_kernels() noexcept;

}  // namespace zws::detail
