#include "base/cpu.hpp"

#include <cpuid.h>
#include <cstdint>

namespace zws::detail {
namespace {

std::uint64_t read_xcr0() noexcept {
  std::uint32_t lo = 0, hi = 0;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (std::uint64_t(hi) << 32) | lo;
}

cpu_features detect() noexcept {
  cpu_features f;
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.sse2 = d & bit_SSE2;
  f.ssse3 = c & bit_SSSE3;
  f.sse41 = c & bit_SSE4_1;
  const bool osxsave = c & bit_OSXSAVE;
  const bool avx = c & bit_AVX;
  const std::uint64_t xcr0 = osxsave ? read_xcr0() : 0;
  const bool ymm_state = (xcr0 & 0x6) == 0x6;      // SSE and AVX state
  const bool zmm_state = (xcr0 & 0xE6) == 0xE6;    // plus opmask, ZMM_Hi256, Hi16_ZMM
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  f.bmi2 = b & bit_BMI2;
  f.sha = b & bit_SHA;
  f.avx2 = avx && ymm_state && (b & bit_AVX2) && (b & bit_BMI) && f.bmi2;
  f.avx512 = f.avx2 && zmm_state && (b & bit_AVX512F) && (b & bit_AVX512BW) && (b & bit_AVX512VL) &&
             (b & bit_AVX512DQ);
  return f;
}

}  // namespace

const cpu_features& cpu() noexcept {
  static const cpu_features features = detect();
  return features;
}

}  // namespace zws::detail
