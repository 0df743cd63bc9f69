// lib/simd/kernels.hpp — the table of data kernels, one instance per instruction set.
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

// The table dispatch uses for instruction set `i` on this CPU, or nullptr when the
// CPU or OS cannot run it. For tests and benchmarks.
const kernels* kernels_for(isa i) noexcept;

// The table the public functions use (chosen once: best supported, or ZWS_FORCE_ISA).
const kernels& active_kernels() noexcept;

}  // namespace zws::detail
