#include "base/base64.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "guarded.hpp"

namespace {

using zws::detail::base64_decode;
using zws::detail::base64_encode;
using zws::detail::base64_encoded_size;

std::string encode(std::string_view plain) {
  zws::test::guarded in(plain);
  std::string out(base64_encoded_size(plain.size()), '?');
  EXPECT_EQ(base64_encode(in.bytes(), out.data()), out.size());
  return out;
}

// Decodes from guarded memory into an exactly sized buffer; nullopt on rejection.
std::optional<std::string> decode(std::string_view text) {
  zws::test::guarded in(text);
  std::vector<std::uint8_t> out(text.size() / 4 * 3);
  const std::ptrdiff_t n = base64_decode(in.str(), out);
  if (n < 0) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(out.data()), static_cast<std::size_t>(n));
}

// RFC 4648 §10.
const std::pair<const char*, const char*> rfc4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

TEST(Base64, EncodesRfc4648Vectors) {
  for (const auto& [plain, text] : rfc4648) EXPECT_EQ(encode(plain), text) << plain;
}

TEST(Base64, DecodesRfc4648Vectors) {
  for (const auto& [plain, text] : rfc4648) EXPECT_EQ(decode(text), std::optional<std::string>(plain)) << text;
}

TEST(Base64, EncodedSize) {
  EXPECT_EQ(base64_encoded_size(0), 0u);
  EXPECT_EQ(base64_encoded_size(1), 4u);
  EXPECT_EQ(base64_encoded_size(3), 4u);
  EXPECT_EQ(base64_encoded_size(16), 24u);
  EXPECT_EQ(base64_encoded_size(20), 28u);
}

TEST(Base64, RejectsBadAlphabet) {
  // URL-safe alphabet, whitespace, line breaks, NUL, high bytes.
  const std::string_view bads[] = {"Zm9v!A==", "Zm-v", "Zm_v", "Zm9 ", " Zm9", "Zm9vYg==\r\n", "Zm9v\nYmFy",
                                   std::string_view("Zm\0v", 4), "Zm9\x80", "Zm9\xff"};
  for (std::string_view bad : bads) {
    EXPECT_EQ(decode(bad), std::nullopt) << bad;
  }
  // Every byte that is not in the alphabet, in every position of a quantum.
  for (int c = 0; c < 256; ++c) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    for (int pos = 0; pos < 4; ++pos) {
      std::string s = "QUJD";
      s[static_cast<std::size_t>(pos)] = static_cast<char>(c);
      if (ok) {
        EXPECT_TRUE(decode(s).has_value()) << c;
      } else {
        EXPECT_EQ(decode(s), std::nullopt) << "byte " << c << " at " << pos;
      }
    }
  }
}

TEST(Base64, RejectsBadPadding) {
  for (const char* bad : {"=", "==", "===", "====", "Z===", "Zg=", "Zg=a", "Z=g=", "=Zg=", "Zm=v", "Zg==Zg==",
                          "Zm8=Zm9v", "Zg==="}) {
    EXPECT_EQ(decode(bad), std::nullopt) << bad;
  }
}

TEST(Base64, RejectsBadLength) {
  for (const char* bad : {"Z", "Zm", "Zm9", "Zm9vY", "Zm9vYm", "Zm9vYmF", "Zm9vYg", "Zm9vYg="}) {
    EXPECT_EQ(decode(bad), std::nullopt) << bad;
  }
}

TEST(Base64, RejectsNonZeroTrailingBits) {
  // "Zg==" is 'f'; Zh..Zv set bits below the byte. "Zm8=" is "fo"; Zm9= sets the low bits.
  for (const char* bad : {"Zh==", "Zv==", "Z/==", "Zm9=", "Zm/=", "AB==", "AAB="}) {
    EXPECT_EQ(decode(bad), std::nullopt) << bad;
  }
  EXPECT_EQ(decode("AA=="), std::optional<std::string>(std::string(1, '\0')));
  EXPECT_EQ(decode("AAA="), std::optional<std::string>(std::string(2, '\0')));
}

TEST(Base64, RejectsOutputTooSmall) {
  std::uint8_t out[16];
  EXPECT_EQ(base64_decode("Zm9vYmFy", std::span<std::uint8_t>(out, 5)), -1);
  EXPECT_EQ(base64_decode("Zm9vYmFy", std::span<std::uint8_t>(out, 6)), 6);
  EXPECT_EQ(base64_decode("Zm9vYmE=", std::span<std::uint8_t>(out, 5)), 5);
  EXPECT_EQ(base64_decode("Zm9vYmE=", std::span<std::uint8_t>(out, 4)), -1);
  EXPECT_EQ(base64_decode("", std::span<std::uint8_t>(out, 0)), 0);
}

// A Sec-WebSocket-Key must decode to exactly 16 bytes (RFC 6455 §4.1).
TEST(Base64, WebSocketKeyDecodesToSixteenBytes) {
  zws::test::guarded key("dGhlIHNhbXBsZSBub25jZQ==");
  std::uint8_t out[16];
  ASSERT_EQ(base64_decode(key.str(), out), 16);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(out), 16), "the sample nonce");
  // One byte more does not fit: a 17-byte key is refused when the buffer holds 16.
  std::uint8_t big[17];
  const std::ptrdiff_t n17 = base64_decode("dGhlIHNhbXBsZSBub25jZTE=", big);
  EXPECT_EQ(n17, 17);
  EXPECT_EQ(base64_decode("dGhlIHNhbXBsZSBub25jZTE=", out), -1);
}

TEST(Base64, RoundTripsRandomData) {
  std::mt19937 rng(3);
  for (std::size_t len = 0; len <= 300; ++len) {
    std::vector<std::uint8_t> plain(len);
    for (auto& b : plain) b = static_cast<std::uint8_t>(rng());
    zws::test::guarded in(plain);
    std::string text(base64_encoded_size(len), '?');
    ASSERT_EQ(base64_encode(in.bytes(), text.data()), text.size());
    zws::test::guarded g(text);
    std::vector<std::uint8_t> back(len);
    ASSERT_EQ(base64_decode(g.str(), back), static_cast<std::ptrdiff_t>(len));
    ASSERT_EQ(back, plain) << "length " << len;
  }
}

}  // namespace
