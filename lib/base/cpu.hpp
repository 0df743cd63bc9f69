// lib/base/cpu.hpp — what this CPU and OS can run, read once (CPUID and XCR0).
//
// Internal. An instruction set counts only when the CPU has it AND the OS saves
// its registers on a context switch (XCR0): AVX state for AVX2, opmask and ZMM
// state for AVX-512.
#pragma once

namespace zws::detail {

struct cpu_features {
  bool sse2 = false;
  bool ssse3 = false;
  bool sse41 = false;
  bool avx2 = false;      // AVX2 with OS support for YMM state
  bool bmi2 = false;
  bool avx512 = false;    // AVX-512 F+BW+VL+DQ with OS support for ZMM and opmask state
  bool sha = false;       // SHA-NI
};

// Read once on first use; thread-safe.
const cpu_features& cpu() noexcept;

}  // namespace zws::detail
