// Tests lib/base/simd/*: the mask kernel of every instruction set this CPU has,
// against a byte loop and against the scalar kernel.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "guarded.hpp"
#include "base/simd/kernels.hpp"
#include "zws/simd.hpp"

namespace {

using zws::isa;
using zws::detail::kernels;

constexpr std::uint8_t canary = 0xA5;
constexpr std::size_t pad = 64;

// The definition, one byte at a time.
std::size_t mask_bytes(std::uint8_t* dst, const std::uint8_t* src, std::size_t n, const std::uint8_t key[4],
                       std::size_t phase) {
  for (std::size_t i = 0; i < n; ++i) dst[i] = src[i] ^ key[(phase + i) % 4];
  return (phase + n) % 4;
}

std::uint32_t key_word(const std::uint8_t key[4]) {
  return key[0] | std::uint32_t(key[1]) << 8 | std::uint32_t(key[2]) << 16 | std::uint32_t(key[3]) << 24;
}

std::vector<std::uint8_t> random_bytes(std::mt19937& rng, std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (auto& b : v) b = static_cast<std::uint8_t>(rng());
  return v;
}

const std::uint8_t key_bytes[4] = {0x37, 0xFA, 0x21, 0x3D};

// The kernels of each instruction set this CPU has; "sse2_plain" is the SSE2
// table without SSSE3 (dispatch uses it only on CPUs without SSSE3, so it is
// tested here directly; every x86-64 CPU can run it).
const kernels* table_named(std::string_view name) {
  if (name == "sse2_plain") return &zws::detail::sse2_kernels;
  for (isa i : {isa::scalar, isa::sse2, isa::avx2, isa::avx512})
    if (zws::isa_name(i) == name) return zws::detail::kernels_for(i);
  return nullptr;
}

class Mask : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    k_ = table_named(GetParam());
    if (k_ == nullptr) GTEST_SKIP() << "no " << GetParam() << " kernels on this CPU";
  }

  // Masks n bytes of `src` (at src_align inside a padded buffer) into a padded dst
  // buffer at dst_align, or in place when in_place; checks against the scalar
  // kernel and that the padding around dst is untouched.
  void check(const std::vector<std::uint8_t>& src, std::size_t src_align, std::size_t dst_align,
             std::size_t phase, bool in_place) {
    const std::size_t n = src.size();
    std::vector<std::uint8_t> want(n);
    const std::size_t want_phase = zws::detail::scalar_kernels.mask(want.data(), src.data(), n, key_, phase);
    std::vector<std::uint8_t> sbuf(n + 2 * pad, canary), dbuf(n + 2 * pad, canary);
    std::copy(src.begin(), src.end(), sbuf.begin() + static_cast<std::ptrdiff_t>(src_align));
    std::uint8_t* s = sbuf.data() + src_align;
    std::uint8_t* d = in_place ? s : dbuf.data() + dst_align;
    std::vector<std::uint8_t>& out = in_place ? sbuf : dbuf;
    const std::size_t off = in_place ? src_align : dst_align;
    ASSERT_EQ(k_->mask(d, s, n, key_, phase), want_phase);
    ASSERT_TRUE(std::equal(want.begin(), want.end(), d))
        << "n=" << n << " src_align=" << src_align << " dst_align=" << dst_align << " phase=" << phase
        << " in_place=" << in_place;
    for (std::size_t i = 0; i < off; ++i) ASSERT_EQ(out[i], canary) << "wrote before dst, n=" << n;
    for (std::size_t i = off + n; i < out.size(); ++i) ASSERT_EQ(out[i], canary) << "wrote past dst, n=" << n;
    if (!in_place) {
      ASSERT_TRUE(std::equal(src.begin(), src.end(), s)) << "src modified";
    }
  }

  const kernels* k_ = nullptr;
  std::uint32_t key_ = key_word(key_bytes);
};

TEST_P(Mask, Rfc6455Example) {
  // RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d.
  std::uint8_t data[] = {'H', 'e', 'l', 'l', 'o'};
  const std::uint8_t expect[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
  EXPECT_EQ(zws::mask(data, {{0x37, 0xfa, 0x21, 0x3d}}), 1u);
  EXPECT_EQ(std::memcmp(data, expect, sizeof data), 0);
  EXPECT_EQ(zws::mask(data, {{0x37, 0xfa, 0x21, 0x3d}}), 1u);
  EXPECT_EQ(std::string(data, data + 5), "Hello");
  EXPECT_EQ(k_->mask(data, data, 5, key_word(key_bytes), 0), 1u);
  EXPECT_EQ(std::memcmp(data, expect, sizeof data), 0);
}

TEST_P(Mask, MatchesByteLoop) {
  std::mt19937 rng(1);
  for (std::size_t n = 0; n <= 300; ++n) {
    const auto src = random_bytes(rng, n);
    for (std::size_t phase = 0; phase < 4; ++phase) {
      std::vector<std::uint8_t> want(n), got(n);
      const std::size_t want_phase = mask_bytes(want.data(), src.data(), n, key_bytes, phase);
      EXPECT_EQ(k_->mask(got.data(), src.data(), n, key_word(key_bytes), phase), want_phase);
      ASSERT_EQ(got, want) << "n=" << n << " phase=" << phase;
    }
  }
}

TEST_P(Mask, PublicFunctionsResumeAcrossPieces) {
  std::mt19937 rng(2);
  const auto src = random_bytes(rng, 1000);
  std::vector<std::uint8_t> want(src.size());
  mask_bytes(want.data(), src.data(), src.size(), key_bytes, 0);
  const zws::mask_key key{{key_bytes[0], key_bytes[1], key_bytes[2], key_bytes[3]}};
  for (std::size_t cut : {0u, 1u, 3u, 17u, 64u, 333u, 999u, 1000u}) {
    std::vector<std::uint8_t> in_place = src, copied(src.size());
    std::size_t phase = zws::mask(std::span(in_place).first(cut), key, 0);
    EXPECT_EQ(phase, cut % 4);
    zws::mask(std::span(in_place).subspan(cut), key, phase);
    EXPECT_EQ(in_place, want) << "cut " << cut;
    phase = zws::mask_copy(copied, std::span(src).first(cut), key, 0);
    zws::mask_copy(std::span(copied).subspan(cut), std::span(src).subspan(cut), key, phase);
    EXPECT_EQ(copied, want) << "cut " << cut;
  }
}

TEST_P(Mask, CopyWritesOnlySrcSizeBytesOfALargerDst) {
  std::mt19937 rng(8);
  const auto src = random_bytes(rng, 77);
  std::vector<std::uint8_t> want(src.size()), dst(200, canary);
  mask_bytes(want.data(), src.data(), src.size(), key_bytes, 3);
  const zws::mask_key key{{key_bytes[0], key_bytes[1], key_bytes[2], key_bytes[3]}};
  EXPECT_EQ(zws::mask_copy(dst, src, key, 3), (3 + src.size()) % 4);
  EXPECT_TRUE(std::equal(want.begin(), want.end(), dst.begin()));
  for (std::size_t i = src.size(); i < dst.size(); ++i) ASSERT_EQ(dst[i], canary) << i;
}

TEST_P(Mask, AllLengthsPhasesAndAlignments) {
  std::mt19937 rng(3);
  for (std::size_t n = 0; n <= 300; ++n) {
    const auto src = random_bytes(rng, n);
    for (std::size_t phase = 0; phase < 4; ++phase) {
      for (std::size_t a = 0; a < 64; ++a) {
        check(src, a, 0, phase, true);
        check(src, a, (a * 7 + n) % 64, phase, false);
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST_P(Mask, EverySrcDstAlignmentPair) {
  std::mt19937 rng(4);
  for (std::size_t n : {1u, 15u, 31u, 63u, 64u, 65u, 129u, 255u, 300u}) {
    const auto src = random_bytes(rng, n);
    for (std::size_t sa = 0; sa < 64; ++sa)
      for (std::size_t da = 0; da < 64; ++da) {
        check(src, sa, da, (sa + da) % 4, false);
        if (HasFatalFailure()) return;
      }
  }
}

TEST_P(Mask, LargeRandomLengths) {
  std::mt19937 rng(5);
  for (int round = 0; round < 24; ++round) {
    const std::size_t n = rng() % (1u << 20) + 1;
    const auto src = random_bytes(rng, n);
    key_ = static_cast<std::uint32_t>(rng());
    check(src, rng() % 64, rng() % 64, rng() % 4, round % 2 == 0);
    if (HasFatalFailure()) return;
  }
}

TEST_P(Mask, ResumesAcrossRandomPieces) {
  std::mt19937 rng(6);
  const auto src = random_bytes(rng, 100000);
  std::vector<std::uint8_t> want(src.size()), got(src.size());
  zws::detail::scalar_kernels.mask(want.data(), src.data(), src.size(), key_, 2);
  std::size_t phase = 2;
  for (std::size_t at = 0; at < src.size();) {
    const std::size_t len = std::min<std::size_t>(rng() % 700, src.size() - at);
    phase = k_->mask(got.data() + at, src.data() + at, len, key_, phase);
    at += len;
  }
  EXPECT_EQ(phase, (2 + src.size()) % 4);
  EXPECT_EQ(got, want);
}

// Source and destination end right at a PROT_NONE page, and (separately) start
// right after one, so a read or write of one byte outside crashes.
TEST_P(Mask, StaysInsideGuardPages) {
  std::mt19937 rng(7);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t map_size = 3 * page;
  auto* m = static_cast<std::uint8_t*>(
      mmap(nullptr, map_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_EQ(mprotect(m, page, PROT_NONE), 0);
  std::uint8_t* front = m + page;  // bytes here are preceded by the guard page
  for (std::size_t n = 0; n <= 300; ++n) {
    const auto src = random_bytes(rng, n);
    std::vector<std::uint8_t> want(n);
    for (std::size_t phase = 0; phase < 4; ++phase) {
      const std::size_t want_phase = zws::detail::scalar_kernels.mask(want.data(), src.data(), n, key_, phase);
      zws::test::guarded in{src}, out{std::vector<std::uint8_t>(n)};
      EXPECT_EQ(k_->mask(out.data(), in.data(), n, key_, phase), want_phase);
      EXPECT_TRUE(std::equal(want.begin(), want.end(), out.data()));
      EXPECT_EQ(k_->mask(in.data(), in.data(), n, key_, phase), want_phase);
      EXPECT_TRUE(std::equal(want.begin(), want.end(), in.data()));
      std::copy(src.begin(), src.end(), front);
      EXPECT_EQ(k_->mask(front, front, n, key_, phase), want_phase);
      EXPECT_TRUE(std::equal(want.begin(), want.end(), front));
    }
  }
  munmap(m, map_size);
}

std::string param_name(const ::testing::TestParamInfo<const char*>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Isa, Mask, ::testing::Values("scalar", "sse2", "sse2_plain", "avx2", "avx512"),
                         param_name);

}  // namespace

namespace {

// zws::mask and zws::mask_copy take payloads under detail::short_mask bytes
// inline, longer ones through the kernels: both ways, every phase and
// alignment, in place and copying, against the byte loop.
TEST(MaskPublic, ShortInlinePathAndKernelPathAgreeWithTheByteLoop) {
  std::mt19937 rng(5);
  const zws::mask_key key{{key_bytes[0], key_bytes[1], key_bytes[2], key_bytes[3]}};
  for (std::size_t n = 0; n <= zws::detail::short_mask + 20; ++n) {
    const auto src = random_bytes(rng, n + 8);
    for (std::size_t align = 0; align < 8; ++align) {
      for (std::size_t phase = 0; phase < 4; ++phase) {
        std::vector<std::uint8_t> want(n), copied(n + 1, canary);
        const std::size_t want_phase = mask_bytes(want.data(), src.data() + align, n, key_bytes, phase);
        EXPECT_EQ(zws::mask_copy(std::span(copied).first(n), std::span(src).subspan(align, n), key, phase), want_phase);
        ASSERT_TRUE(std::equal(want.begin(), want.end(), copied.begin())) << "n=" << n << " phase=" << phase;
        ASSERT_EQ(copied[n], canary) << "wrote past dst, n=" << n;
        std::vector<std::uint8_t> in_place = src;
        EXPECT_EQ(zws::mask(std::span(in_place).subspan(align, n), key, phase), want_phase);
        ASSERT_TRUE(std::equal(want.begin(), want.end(), in_place.begin() + static_cast<std::ptrdiff_t>(align)))
            << "in place, n=" << n << " align=" << align << " phase=" << phase;
      }
    }
  }
}

}  // namespace
