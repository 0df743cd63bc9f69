#include "base/sha1.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "base/base64.hpp"
#include "guarded.hpp"

namespace {

using zws::detail::sha1_digest;

std::string hex(const sha1_digest& d) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : d) s += {digits[b >> 4], digits[b & 15]};
  return s;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct vector_case {
  std::string input;
  const char* digest;
};

const std::vector<vector_case>& fips_vectors() {
  static const std::vector<vector_case> v = {
      {"", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
      {"abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
      {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", "84983e441c3bd26ebaae4aa1f95129e5e54670f1"},
      {std::string(1000000, 'a'), "34aa973cd4c4daa4f61eeb2bdbad27316534016f"},
      // 896-bit message of FIPS 180-2 (and its NIST example): two blocks with a padding block.
      {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmno"
       "ijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
       "a49b2446a02c645bf419f995b67091253a04a259"},
  };
  return v;
}

TEST(Sha1, FipsVectorsOneShot) {
  for (const auto& c : fips_vectors()) {
    zws::test::guarded g(c.input);
    EXPECT_EQ(hex(zws::detail::sha1_of(g.str())), c.digest) << "length " << c.input.size();
  }
}

TEST(Sha1, FipsVectorsEveryKernel) {
  for (const auto& c : fips_vectors()) {
    EXPECT_EQ(hex(zws::detail::sha1_of(bytes_of(c.input), zws::detail::sha1_compress_scalar)), c.digest);
    if (zws::detail::sha1_shani_supported()) {
      EXPECT_EQ(hex(zws::detail::sha1_of(bytes_of(c.input), zws::detail::sha1_compress_shani)), c.digest);
    }
  }
}

TEST(Sha1, MillionAFedInUnevenPieces) {
  zws::detail::sha1 h;
  const std::string chunk(997, 'a');
  std::size_t left = 1000000;
  for (std::size_t step = 1; left != 0; step = step * 7 % 997 + 1) {
    const std::size_t n = std::min(step, left);
    h.update(std::string_view(chunk).substr(0, n));
    left -= n;
  }
  EXPECT_EQ(hex(h.finish()), "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
}

TEST(Sha1, IncrementalSplitAtEveryOffsetEqualsOneShot) {
  std::mt19937 rng(1);
  for (std::size_t len : {0u, 1u, 55u, 56u, 63u, 64u, 65u, 119u, 120u, 128u, 200u, 300u}) {
    std::string input(len, '\0');
    for (char& ch : input) ch = static_cast<char>(rng());
    const sha1_digest expect = zws::detail::sha1_of(input);
    for (std::size_t a = 0; a <= len; ++a) {
      zws::detail::sha1 h;
      h.update(std::string_view(input).substr(0, a));
      h.update(std::string_view(input).substr(a));
      ASSERT_EQ(h.finish(), expect) << "len " << len << " split " << a;
    }
    // Three pieces, every pair of split points, for the short ones.
    if (len > 130) continue;
    for (std::size_t a = 0; a <= len; ++a)
      for (std::size_t b = a; b <= len; ++b) {
        zws::detail::sha1 h;
        h.update(std::string_view(input).substr(0, a));
        h.update(std::string_view(input).substr(a, b - a));
        h.update(std::string_view(input).substr(b));
        ASSERT_EQ(h.finish(), expect) << "len " << len << " splits " << a << "," << b;
      }
  }
}

TEST(Sha1, ByteByByteEqualsOneShot) {
  std::string input;
  for (int i = 0; i < 1000; ++i) input += static_cast<char>(i * 31);
  zws::detail::sha1 h;
  for (char c : input) h.update(std::string_view(&c, 1));
  EXPECT_EQ(h.finish(), zws::detail::sha1_of(input));
}

TEST(Sha1, FreshObjectAfterFinish) {
  zws::detail::sha1 h;
  h.update(std::string_view("something else"));
  (void)h.finish();
  h = zws::detail::sha1{};
  h.update(std::string_view("abc"));
  EXPECT_EQ(hex(h.finish()), "a9993e364706816aba3e25717850c26c9cd0d89d");
}

TEST(Sha1, KernelsAgreeOnRandomInputs) {
  if (!zws::detail::sha1_shani_supported()) GTEST_SKIP() << "no SHA-NI on this CPU";
  std::mt19937 rng(42);
  for (std::size_t len = 0; len <= 1000; ++len) {
    std::vector<std::uint8_t> input(len);
    for (auto& b : input) b = static_cast<std::uint8_t>(rng());
    zws::test::guarded g(input);
    ASSERT_EQ(zws::detail::sha1_of(g.bytes(), zws::detail::sha1_compress_scalar),
              zws::detail::sha1_of(g.bytes(), zws::detail::sha1_compress_shani))
        << "length " << len;
  }
}

TEST(Sha1, KernelsAgreeBlockByBlockAtEveryAlignment) {
  if (!zws::detail::sha1_shani_supported()) GTEST_SKIP() << "no SHA-NI on this CPU";
  std::mt19937 rng(7);
  std::vector<std::uint8_t> buf(64 * 8 + 64);
  for (auto& b : buf) b = static_cast<std::uint8_t>(rng());
  for (std::size_t align = 0; align < 64; ++align)
    for (std::size_t nblocks = 0; nblocks <= 8; ++nblocks) {
      std::uint32_t s1[5] = {1, 2, 3, 4, 5}, s2[5] = {1, 2, 3, 4, 5};
      zws::detail::sha1_compress_scalar(s1, buf.data() + align, nblocks);
      zws::detail::sha1_compress_shani(s2, buf.data() + align, nblocks);
      for (int i = 0; i < 5; ++i) ASSERT_EQ(s1[i], s2[i]) << "align " << align << " blocks " << nblocks;
    }
}

TEST(Sha1, KernelNameIsKnown) {
  const std::string_view name = zws::detail::sha1_kernel_name();
  EXPECT_TRUE(name == "shani" || name == "scalar") << name;
}

// RFC 6455 §1.3: the server's Sec-WebSocket-Accept for the sample key.
TEST(Sha1, Rfc6455SampleAcceptKey) {
  const auto d = zws::detail::sha1_of("dGhlIHNhbXBsZSBub25jZQ==258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
  char out[zws::detail::base64_encoded_size(20)];
  const std::size_t n = zws::detail::base64_encode(d, out);
  EXPECT_EQ(std::string_view(out, n), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

}  // namespace
