// Tests lib/base/simd/dispatch.cpp: the choice of kernels and ZWS_FORCE_ISA.
//
// The choice is made once per process, so each forced choice is checked in a
// re-executed child (death-test "threadsafe" style), which starts with fresh
// state and inherits the environment set here.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "base/simd/kernels.hpp"
#include "zws/simd.hpp"

namespace {

using zws::isa;

constexpr isa all_isas[] = {isa::scalar, isa::sse2, isa::avx2, isa::avx512};

isa best_supported() {
  isa best = isa::scalar;
  for (isa i : all_isas)
    if (zws::isa_supported(i)) best = i;
  return best;
}

// Exits 0 when the process dispatched to `want` and the public functions work.
[[noreturn]] void check_active(isa want) {
  std::uint8_t data[5] = {'H', 'e', 'l', 'l', 'o'};
  const bool masked = zws::mask(data, {{0x37, 0xfa, 0x21, 0x3d}}) == 1 && data[0] == 0x7f && data[4] == 0x58;
  const bool utf8 = zws::utf8_valid(data) == false && zws::utf8_valid({data, 0}) == true;
  const bool same_table = &zws::detail::active_kernels() == zws::detail::kernels_for(want);
  std::exit(zws::active_isa() == want && masked && utf8 && same_table ? 0 : 1);
}

class SimdDispatch : public ::testing::Test {
 protected:
  void SetUp() override { GTEST_FLAG_SET(death_test_style, "threadsafe"); }
  void TearDown() override { unsetenv("ZWS_FORCE_ISA"); }
};

TEST_F(SimdDispatch, Names) {
  EXPECT_EQ(zws::isa_name(isa::scalar), "scalar");
  EXPECT_EQ(zws::isa_name(isa::sse2), "sse2");
  EXPECT_EQ(zws::isa_name(isa::avx2), "avx2");
  EXPECT_EQ(zws::isa_name(isa::avx512), "avx512");
}

TEST_F(SimdDispatch, SupportMatchesKernelTables) {
  EXPECT_TRUE(zws::isa_supported(isa::scalar));
  for (isa i : all_isas) EXPECT_EQ(zws::isa_supported(i), zws::detail::kernels_for(i) != nullptr);
  // SSE2 is part of x86-64, and a CPU with AVX2 has everything below it.
  EXPECT_TRUE(zws::isa_supported(isa::sse2));
  if (zws::isa_supported(isa::avx512)) {
    EXPECT_TRUE(zws::isa_supported(isa::avx2));
  }
}

TEST_F(SimdDispatch, DefaultIsTheBestSupported) {
  unsetenv("ZWS_FORCE_ISA");
  EXPECT_EXIT(check_active(best_supported()), ::testing::ExitedWithCode(0), "");
}

TEST_F(SimdDispatch, ForcedIsaIsUsed) {
  for (isa i : all_isas) {
    if (!zws::isa_supported(i)) continue;
    setenv("ZWS_FORCE_ISA", std::string(zws::isa_name(i)).c_str(), 1);
    EXPECT_EXIT(check_active(i), ::testing::ExitedWithCode(0), "") << zws::isa_name(i);
  }
}

TEST_F(SimdDispatch, UnknownOrUnsupportedForceFallsBackToBest) {
  for (const char* forced : {"", "avx1024", "AVX2"}) {
    setenv("ZWS_FORCE_ISA", forced, 1);
    EXPECT_EXIT(check_active(best_supported()), ::testing::ExitedWithCode(0), "") << forced;
  }
  for (isa i : all_isas) {
    if (zws::isa_supported(i)) continue;
    setenv("ZWS_FORCE_ISA", std::string(zws::isa_name(i)).c_str(), 1);
    EXPECT_EXIT(check_active(best_supported()), ::testing::ExitedWithCode(0), "") << zws::isa_name(i);
  }
}

// Many threads making the first call at once all end up with the same table.
[[noreturn]] void first_calls_from_threads() {
  std::vector<std::thread> threads;
  std::vector<int> ok(8, 0);
  for (std::size_t t = 0; t < ok.size(); ++t)
    threads.emplace_back([&ok, t] {
      std::uint8_t data[100] = {};
      const bool valid = zws::utf8_valid(data);
      zws::mask(data, {{1, 2, 3, 4}});
      ok[t] = valid && data[0] == 1 && data[99] == 4 && zws::isa_supported(zws::active_isa());
    });
  for (auto& th : threads) th.join();
  for (int v : ok)
    if (!v) std::exit(1);
  std::exit(&zws::detail::active_kernels() == zws::detail::kernels_for(zws::active_isa()) ? 0 : 1);
}

TEST_F(SimdDispatch, ConcurrentFirstCallsAgree) {
  EXPECT_EXIT(first_calls_from_threads(), ::testing::ExitedWithCode(0), "");
}

TEST_F(SimdDispatch, HotPathUsesTheChosenTable) {
  std::uint8_t b[1] = {'x'};
  zws::utf8_valid(b);
  EXPECT_EQ(&zws::detail::active_kernels(), zws::detail::kernels_for(zws::active_isa()));
}

}  // namespace
