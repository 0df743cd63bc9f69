// Tests lib/base/simd/*: the UTF-8 kernel of every instruction set this CPU has,
// against an independent decoding reference and against the scalar kernel.
#include <sys/mman.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdint>
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

// The definition: decode each sequence and check its value (RFC 3629 section 3).
bool reference_valid(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint32_t b = static_cast<std::uint8_t>(s[i]);
    std::size_t len;
    std::uint32_t cp, min;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      len = 2, cp = b & 0x1F, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
      len = 3, cp = b & 0x0F, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
      len = 4, cp = b & 0x07, min = 0x10000;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const std::uint8_t c = static_cast<std::uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = cp << 6 | (c & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

bool run(const kernels* k, std::string_view s) {
  return k->utf8_valid(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

const std::vector<std::string> valid_seqs = {
    "A", "\x7F", std::string(1, '\0'), "\xC2\x80", "\xC3\xA9", "\xDF\xBF", "\xE0\xA0\x80", "\xE1\x80\x80",
    "\xE4\xB8\xAD", "\xEC\xBF\xBF", "\xED\x80\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
    "\xF0\x90\x80\x80", "\xF0\x9F\x98\x80", "\xF1\x80\x80\x80", "\xF3\xBF\xBF\xBF", "\xF4\x80\x80\x80",
    "\xF4\x8F\xBF\xBF",
};

const std::vector<std::string> invalid_seqs = {
    "\x80", "\xBF", "\x80\x80", "\xC0\x80", "\xC1\xBF", "\xC0\xAF", "\xE0\x80\x80", "\xE0\x9F\xBF",
    "\xF0\x80\x80\x80", "\xF0\x8F\xBF\xBF", "\xED\xA0\x80", "\xED\xBF\xBF", "\xED\xAF\xBF\xED\xB0\x80",
    "\xF4\x90\x80\x80", "\xF4\xBF\xBF\xBF", "\xF5\x80\x80\x80", "\xF7\xBF\xBF\xBF", "\xF8\x88\x80\x80\x80",
    "\xFC\x84\x80\x80\x80\x80", "\xFE", "\xFF", "\xC2\x41", "\xC2\xC2\x80", "\xE1\x41\x80", "\xE1\x80\x41",
    "\xE1\xC0\x80", "\xF1\x80\x80\x41", "\xF1\x41\x80\x80", "\xF1\x80\x41\x80", "\xC2\x80\x80",
    "\xE1\x80\x80\x80", "\xF1\x80\x80\x80\x80", "\xF1\x80\x80\xF1", "\xE1\x80\xE1\x80\x80",
};

// Every valid multi-byte sequence cut short, as it would be at the end of a buffer.
std::vector<std::string> truncated_seqs() {
  std::vector<std::string> out;
  for (const auto& s : valid_seqs)
    for (std::size_t k = 1; k < s.size(); ++k) out.push_back(s.substr(0, k));
  return out;
}

// Whole code points of `unit` repeated up to at most `len` bytes.
std::string background(std::string_view unit, std::size_t len) {
  std::string s;
  while (s.size() + unit.size() <= len) s += unit;
  return s;
}

const std::string_view units[] = {"a", "\xC3\xA9", "\xE4\xB8\xAD", "\xF0\x9F\x98\x80",
                                  "a\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"};
const std::size_t lengths[] = {0, 1, 15, 16, 17, 31, 32, 33, 47, 48, 63, 64, 65, 95, 96, 127, 128, 129, 191, 200};

// The kernels of each instruction set this CPU has; "sse2_plain" is the SSE2
// table without SSSE3 (dispatch uses it only on CPUs without SSSE3, so it is
// tested here directly; every x86-64 CPU can run it).
const kernels* table_named(std::string_view name) {
  if (name == "sse2_plain") return &zws::detail::sse2_kernels;
  for (isa i : {isa::scalar, isa::sse2, isa::avx2, isa::avx512})
    if (zws::isa_name(i) == name) return zws::detail::kernels_for(i);
  return nullptr;
}

class Utf8Kernel : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    k_ = table_named(GetParam());
    if (k_ == nullptr) GTEST_SKIP() << "no " << GetParam() << " kernels on this CPU";
  }

  // Inserts `seq` at every byte offset of every background: the kernel must
  // agree with the scalar one everywhere, and give `expect` where the offset is
  // a code point boundary of the background.
  void sweep(const std::vector<std::string>& seqs, bool expect) {
    for (std::string_view unit : units)
      for (std::size_t len : lengths) {
        const std::string bg = background(unit, len);
        for (const auto& seq : seqs)
          for (std::size_t at = 0; at <= bg.size(); ++at) {
            const std::string s = bg.substr(0, at) + seq + bg.substr(at);
            const bool got = run(k_, s);
            ASSERT_EQ(got, run(&zws::detail::scalar_kernels, s)) << "at " << at << " of " << bg.size();
            const bool boundary = at == bg.size() || (static_cast<std::uint8_t>(bg[at]) & 0xC0) != 0x80;
            if (boundary) {
              ASSERT_EQ(got, expect) << "at " << at << " of " << bg.size();
            }
          }
      }
  }

  const kernels* k_ = nullptr;
};

TEST_P(Utf8Kernel, KnownSequencesAlone) {
  for (const auto& s : valid_seqs) EXPECT_TRUE(run(k_, s)) << testing::PrintToString(s);
  for (const auto& s : invalid_seqs) EXPECT_FALSE(run(k_, s)) << testing::PrintToString(s);
  for (const auto& s : truncated_seqs()) EXPECT_FALSE(run(k_, s)) << testing::PrintToString(s);
  EXPECT_TRUE(run(k_, ""));
}

TEST_P(Utf8Kernel, ReferenceAgreesWithKnownSequences) {
  for (const auto& s : valid_seqs) EXPECT_TRUE(reference_valid(s));
  for (const auto& s : invalid_seqs) EXPECT_FALSE(reference_valid(s));
}

TEST_P(Utf8Kernel, ValidSequencesAtEveryOffset) { sweep(valid_seqs, true); }
TEST_P(Utf8Kernel, InvalidSequencesAtEveryOffset) { sweep(invalid_seqs, false); }
TEST_P(Utf8Kernel, TruncatedSequencesAtEveryOffset) { sweep(truncated_seqs(), false); }

// All 1- and 2-byte strings, and every 3- and 4-byte string starting with a lead
// byte (later bytes from a set covering each class), placed across a block edge.
TEST_P(Utf8Kernel, ExhaustiveShortStrings) {
  const std::uint8_t tails[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xE0, 0xF0, 0xFF};
  for (std::size_t pre : {0u, 14u, 30u, 62u}) {
    const std::string lead_in(pre, 'x');
    for (unsigned a = 0; a < 256; ++a) {
      std::string s = lead_in + char(a);
      ASSERT_EQ(run(k_, s), reference_valid(s)) << a;
      for (unsigned b = 0; b < 256; ++b) {
        std::string s2 = s + char(b);
        ASSERT_EQ(run(k_, s2), reference_valid(s2)) << a << " " << b;
        if (a < 0xC0) continue;
        for (std::uint8_t c : tails) {
          std::string s3 = s2 + char(c);
          ASSERT_EQ(run(k_, s3), reference_valid(s3)) << a << " " << b << " " << int(c);
          if (a < 0xF0) continue;
          for (std::uint8_t d : tails) {
            std::string s4 = s3 + char(d) + "tail";
            ASSERT_EQ(run(k_, s4), reference_valid(s4));
          }
        }
      }
    }
  }
}

std::string random_text(std::mt19937& rng, std::size_t len) {
  std::string s;
  while (s.size() < len) {
    const std::string_view unit = units[rng() % std::size(units)];
    const std::size_t repeat = rng() % 8 + 1;
    for (std::size_t r = 0; r < repeat; ++r) s += unit;
  }
  return s;
}

TEST_P(Utf8Kernel, RandomBytesMatchReference) {
  std::mt19937 rng(11);
  for (int round = 0; round < 20000; ++round) {
    std::string s(rng() % 100, '\0');
    for (auto& c : s) c = static_cast<char>(rng() % 4 == 0 ? rng() : rng() % 128);
    ASSERT_EQ(run(k_, s), reference_valid(s)) << testing::PrintToString(s);
  }
}

TEST_P(Utf8Kernel, CorruptedTextMatchesReference) {
  std::mt19937 rng(12);
  for (int round = 0; round < 3000; ++round) {
    std::string s = random_text(rng, rng() % 2000);
    const int flips = static_cast<int>(rng() % 3);
    for (int f = 0; f < flips && !s.empty(); ++f) s[rng() % s.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0 && !s.empty()) s.resize(rng() % s.size());
    ASSERT_EQ(run(k_, s), reference_valid(s)) << "round " << round;
  }
}

TEST_P(Utf8Kernel, LargeTexts) {
  std::mt19937 rng(13);
  for (int round = 0; round < 6; ++round) {
    std::string s = random_text(rng, rng() % (1u << 20) + 1000);
    ASSERT_TRUE(run(k_, s));
    const std::size_t at = round % 2 ? s.size() - 1 - rng() % 100 : rng() % s.size();
    s[at] = static_cast<char>(0xFF);
    ASSERT_FALSE(run(k_, s)) << at;
    std::string ascii(s.size(), 'q');
    ASSERT_TRUE(run(k_, ascii));
    ascii[at] = static_cast<char>(0x80);
    ASSERT_FALSE(run(k_, ascii)) << at;
  }
}

// Inputs end right at a PROT_NONE page, or start right after one.
TEST_P(Utf8Kernel, StaysInsideGuardPages) {
  std::mt19937 rng(14);
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  auto* m = static_cast<std::uint8_t*>(
      mmap(nullptr, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_EQ(mprotect(m, page, PROT_NONE), 0);
  const std::string text = random_text(rng, 400);
  for (std::size_t n = 0; n <= 300; ++n) {
    for (const std::string& s : {text.substr(0, n), std::string(n, 'z'), std::string(n, 'z') + "\xE4\xB8"}) {
      const bool want = reference_valid(s);
      zws::test::guarded g(s);
      EXPECT_EQ(k_->utf8_valid(g.data(), g.size()), want) << n;
      std::copy(s.begin(), s.end(), m + page);
      EXPECT_EQ(k_->utf8_valid(m + page, s.size()), want) << n;
    }
  }
  munmap(m, 2 * page);
}

std::string param_name(const ::testing::TestParamInfo<const char*>& info) { return info.param; }

INSTANTIATE_TEST_SUITE_P(Isa, Utf8Kernel, ::testing::Values("scalar", "sse2", "sse2_plain", "avx2", "avx512"),
                         param_name);

TEST_P(Utf8Kernel, PublicFunctionUsesActiveKernel) {
  const std::string s = "h\xC3\xA9llo \xE4\xB8\xAD \xF0\x9F\x98\x80";
  EXPECT_TRUE(zws::utf8_valid({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}));
  EXPECT_FALSE(zws::utf8_valid({reinterpret_cast<const std::uint8_t*>(s.data()), s.size() - 1}));
  EXPECT_TRUE(zws::isa_supported(zws::active_isa()));
  EXPECT_TRUE(zws::isa_supported(isa::scalar));
}

}  // namespace
