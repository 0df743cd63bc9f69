// Tests lib/base/utf8.cpp: the streaming validator and utf8_error_offset.
#include "zws/utf8.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

std::span<const std::uint8_t> bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

const std::string text =
    "plain ascii, then caf\xC3\xA9, \xE4\xB8\xAD\xE6\x96\x87, \xF0\x9F\x98\x80 and \xF4\x8F\xBF\xBF "
    "and \xEF\xBF\xBF and \xED\x9F\xBF, with more ascii after it to pass a 64-byte block edge";

// Each case: input, offset utf8_error_offset must report.
struct bad_case {
  std::string s;
  std::size_t offset;
};
const std::vector<bad_case> bad_cases = {
    {"\x80", 0},
    {"ab\xBF", 2},
    {"\xC0\x80", 0},
    {"\xC1\xBF", 0},
    {"x\xE0\x80\x80", 2},
    {"\xE0\x9F\xBF", 1},
    {"\xF0\x80\x80\x80", 1},
    {"\xF0\x8F\xBF\xBF", 1},
    {"\xED\xA0\x80", 1},
    {"\xF4\x90\x80\x80", 1},
    {"\xF5\x80\x80\x80", 0},
    {"\xFF", 0},
    {"\xC2\x41", 1},
    {"\xE1\x80\x41", 2},
    {"\xF1\x80\x80\x41", 3},
    {"\xC2\x80\x80", 2},
    {"ok\xC2", 2},
    {"ok\xE1\x80", 2},
    {"ok\xF1\x80\x80", 2},
};

TEST(Utf8Validator, ErrorOffsetOfKnownCases) {
  EXPECT_EQ(zws::utf8_error_offset(bytes(text)), text.size());
  EXPECT_EQ(zws::utf8_error_offset(bytes("")), 0u);
  for (const auto& c : bad_cases)
    EXPECT_EQ(zws::utf8_error_offset(bytes(c.s)), c.offset) << testing::PrintToString(c.s);
}

TEST(Utf8Validator, AcceptsValidTextWholeAndByteByByte) {
  zws::utf8_validator v;
  EXPECT_TRUE(v.finish());
  EXPECT_TRUE(v.write(bytes(text)));
  EXPECT_TRUE(v.finish());
  v.reset();
  for (char c : text) ASSERT_TRUE(v.write(bytes(std::string_view(&c, 1))));
  EXPECT_TRUE(v.finish());
}

TEST(Utf8Validator, AcceptsValidTextSplitAtEveryOffsetPair) {
  for (std::size_t i = 0; i <= text.size(); ++i)
    for (std::size_t j = i; j <= text.size(); ++j) {
      zws::utf8_validator v;
      const std::string_view t = text;
      ASSERT_TRUE(v.write(bytes(t.substr(0, i))));
      ASSERT_TRUE(v.write(bytes(t.substr(i, j - i)))) << i << " " << j;
      ASSERT_TRUE(v.write(bytes(t.substr(j)))) << i << " " << j;
      ASSERT_TRUE(v.finish());
    }
}

// Fed byte by byte, the validator must fail exactly at the byte utf8_error_offset
// names (fail fast), or, for input cut short, only at finish().
TEST(Utf8Validator, FailsAtTheFirstBadByte) {
  for (const auto& c : bad_cases) {
    zws::utf8_validator v;
    std::size_t failed_at = c.s.size();
    for (std::size_t i = 0; i < c.s.size(); ++i)
      if (!v.write(bytes(std::string_view(c.s).substr(i, 1)))) {
        failed_at = i;
        break;
      }
    const bool truncated = failed_at == c.s.size();
    if (truncated) {
      EXPECT_FALSE(v.finish()) << testing::PrintToString(c.s);
    } else {
      EXPECT_EQ(failed_at, c.offset) << testing::PrintToString(c.s);
      EXPECT_FALSE(v.write(bytes("ok"))) << "must stay failed until reset";
      EXPECT_FALSE(v.finish());
    }
    v.reset();
    EXPECT_TRUE(v.write(bytes("ok")));
    EXPECT_TRUE(v.finish());
  }
}

TEST(Utf8Validator, RejectsInvalidTextSplitAnywhere) {
  for (const auto& c : bad_cases) {
    // The bad bytes inside valid text, and at its very end.
    const std::string inside = text + c.s + text.substr(0, 70);
    const std::string at_end = text + c.s;
    for (const std::string& in : {inside, at_end}) {
      for (std::size_t i = 0; i <= in.size(); ++i) {
        zws::utf8_validator v;
        const bool ok = v.write(bytes(std::string_view(in).substr(0, i))) &&
                        v.write(bytes(std::string_view(in).substr(i))) && v.finish();
        ASSERT_FALSE(ok) << testing::PrintToString(c.s) << " split at " << i;
      }
    }
  }
}

TEST(Utf8Validator, FinishIsFalseWhileACodePointIsOpen) {
  for (std::string_view open : {"\xC3", "\xE4\xB8", "\xF0\x9F\x98", "\xF0", "\xE4"}) {
    zws::utf8_validator v;
    EXPECT_TRUE(v.write(bytes("abc")));
    EXPECT_TRUE(v.write(bytes(open)));
    EXPECT_FALSE(v.finish());
    EXPECT_FALSE(v.finish()) << "finish() must not change the state";
  }
}

TEST(Utf8Validator, RandomSplitsAgreeWithErrorOffset) {
  std::mt19937 rng(21);
  for (int round = 0; round < 3000; ++round) {
    std::string s = text.substr(rng() % text.size());
    s += text.substr(0, rng() % text.size());
    if (round % 2) s[rng() % s.size()] = static_cast<char>(rng());
    if (round % 3 == 0) s.resize(rng() % (s.size() + 1));
    const std::size_t err = zws::utf8_error_offset(bytes(s));
    zws::utf8_validator v;
    bool ok = true;
    std::size_t at = 0;
    while (at < s.size() && ok) {
      const std::size_t len = std::min<std::size_t>(rng() % 9, s.size() - at);
      ok = v.write(bytes(std::string_view(s).substr(at, len)));
      at += len;
    }
    ASSERT_EQ(ok && v.finish(), err == s.size()) << testing::PrintToString(s);
    // Failing fast: the prefix up to the bad byte is still accepted as a prefix.
    zws::utf8_validator p;
    EXPECT_TRUE(p.write(bytes(std::string_view(s).substr(0, err))));
  }
}

}  // namespace
