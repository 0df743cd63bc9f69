#include "zws/frame.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "guarded.hpp"

namespace {

using zws::frame_header;
using zws::test::guarded;

std::vector<std::uint8_t> encode(const frame_header& h) {
  std::uint8_t out[zws::max_frame_header];
  const std::size_t n = zws::encode_header(h, out);
  return {out, out + n};
}

frame_header header(std::uint8_t op, std::uint64_t len, bool masked, bool fin = true, std::uint8_t rsv = 0) {
  frame_header h;
  h.fin = fin;
  h.rsv = rsv;
  h.op = op;
  h.masked = masked;
  h.key = {{0xA1, 0xB2, 0xC3, 0xD4}};
  h.payload_length = len;
  return h;
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

TEST(Frame, HeaderSizeAtLengthBoundaries) {
  EXPECT_EQ(zws::header_size(0, false), 2u);
  EXPECT_EQ(zws::header_size(125, false), 2u);
  EXPECT_EQ(zws::header_size(126, false), 4u);
  EXPECT_EQ(zws::header_size(65535, false), 4u);
  EXPECT_EQ(zws::header_size(65536, false), 10u);
  EXPECT_EQ(zws::header_size(65536, true), 14u);
  EXPECT_EQ(zws::header_size(125, true), 6u);
}

TEST(Frame, EncodesRfcExamples) {
  // RFC 6455 §5.7: a single-frame unmasked text message "Hello" starts 0x81 0x05;
  // a 256-byte binary message 0x82 0x7E 0x01 0x00; a 64 KiB one 0x82 0x7F ... 0x01 0x00 0x00.
  EXPECT_EQ(encode(header(1, 5, false)), (std::vector<std::uint8_t>{0x81, 0x05}));
  EXPECT_EQ(encode(header(2, 256, false)), (std::vector<std::uint8_t>{0x82, 0x7E, 0x01, 0x00}));
  EXPECT_EQ(encode(header(2, 65536, false)),
            (std::vector<std::uint8_t>{0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00}));
  EXPECT_EQ(encode(header(1, 5, true)), (std::vector<std::uint8_t>{0x81, 0x85, 0xA1, 0xB2, 0xC3, 0xD4}));
  EXPECT_EQ(encode(header(0, 0, false, false, 0x5)), (std::vector<std::uint8_t>{0x50, 0x00}));
}

TEST(Frame, DecodesWhatItEncodesAtEveryLengthBoundary) {
  const std::uint64_t lengths[] = {0, 1, 125, 126, 127, 65535, 65536, 0xFFFFFFFFull, 0x7FFFFFFFFFFFFFFFull};
  for (std::uint64_t len : lengths) {
    for (bool masked : {false, true}) {
      for (bool fin : {false, true}) {
        const frame_header in = header(9, len, masked, fin, 0x2);
        const auto wire = encode(in);
        ASSERT_EQ(wire.size(), zws::header_size(len, masked));
        // Every strict prefix is "need more"; the whole header decodes, read against a guard page.
        for (std::size_t n = 0; n < wire.size(); ++n) {
          guarded g(std::span<const std::uint8_t>(wire.data(), n));
          frame_header out;
          EXPECT_EQ(zws::decode_header(g.bytes(), out), 0u) << len << " prefix " << n;
        }
        guarded g(wire);
        frame_header out;
        ASSERT_EQ(zws::decode_header(g.bytes(), out), wire.size());
        EXPECT_EQ(out.fin, fin);
        EXPECT_EQ(out.rsv, 0x2);
        EXPECT_EQ(out.op, 9);
        EXPECT_EQ(out.masked, masked);
        EXPECT_EQ(out.payload_length, len);
        EXPECT_EQ(out.header_size, wire.size());
        if (masked) {
          EXPECT_EQ(std::memcmp(out.key.bytes, in.key.bytes, 4), 0);
        }
      }
    }
  }
}

TEST(Frame, DecodeReportsLengthMsbUnchecked) {
  const std::uint8_t wire[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 1};
  guarded g(wire);
  frame_header h;
  ASSERT_EQ(zws::decode_header(g.bytes(), h), 10u);
  EXPECT_EQ(h.payload_length, 0x8000000000000001ull);
}

TEST(Frame, DecodeKeepsNonMinimalLength) {
  // A 16-bit length of 5 is legal to receive (minimal encoding binds senders).
  const std::uint8_t wire[] = {0x82, 0x7E, 0x00, 0x05};
  guarded g(wire);
  frame_header h;
  ASSERT_EQ(zws::decode_header(g.bytes(), h), 4u);
  EXPECT_EQ(h.payload_length, 5u);
}

TEST(Frame, ClassifiesOpcodes) {
  for (int op = 0; op < 16; ++op) {
    const bool known = op <= 2 || (op >= 8 && op <= 10);
    EXPECT_EQ(zws::is_known_opcode(static_cast<std::uint8_t>(op)), known) << op;
  }
  EXPECT_TRUE(zws::is_control(zws::opcode::close));
  EXPECT_TRUE(zws::is_control(zws::opcode::ping));
  EXPECT_TRUE(zws::is_control(zws::opcode::pong));
  EXPECT_FALSE(zws::is_control(zws::opcode::text));
  EXPECT_FALSE(zws::is_control(zws::opcode::binary));
  EXPECT_FALSE(zws::is_control(zws::opcode::continuation));
}

TEST(Frame, ValidCloseCodesOnTheWire) {
  for (std::uint32_t c = 0; c <= 0xFFFF; ++c) {
    const bool valid = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
    ASSERT_EQ(zws::is_valid_close_code(static_cast<std::uint16_t>(c)), valid) << c;
  }
  for (std::uint16_t c : {1004, 1005, 1006, 1015, 999, 0, 1016, 2999, 5000, 65535}) {
    EXPECT_FALSE(zws::is_valid_close_code(c)) << c;
  }
}

TEST(Frame, ClosePayloadRoundTrip) {
  std::uint8_t out[zws::max_control_payload];
  const std::size_t n = zws::encode_close_payload(out, 1001, "bye");
  ASSERT_EQ(n, 5u);
  EXPECT_EQ(out[0], 0x03);
  EXPECT_EQ(out[1], 0xE9);
  guarded g(std::span<const std::uint8_t>(out, n));
  const auto c = zws::decode_close_payload(g.bytes());
  EXPECT_EQ(c.err, zws::error::none);
  EXPECT_EQ(c.code, 1001);
  EXPECT_EQ(c.reason, "bye");
}

TEST(Frame, NoStatusEncodesEmptyPayload) {
  std::uint8_t out[zws::max_control_payload];
  EXPECT_EQ(zws::encode_close_payload(out, zws::close_code::no_status, "ignored"), 0u);
  const auto c = zws::decode_close_payload({});
  EXPECT_EQ(c.err, zws::error::none);
  EXPECT_EQ(c.code, zws::close_code::no_status);
  EXPECT_TRUE(c.reason.empty());
}

TEST(Frame, CloseReasonTruncatedAtUtf8Boundary) {
  std::uint8_t out[zws::max_control_payload];
  // 122 ASCII bytes then a 4-byte code point: it cannot fit in 123, so it is dropped whole.
  std::string reason(122, 'a');
  reason += "\xF0\x9F\x98\x80";
  std::size_t n = zws::encode_close_payload(out, 1000, reason);
  EXPECT_EQ(n, 2u + 122u);
  // Exactly 123 bytes fit.
  reason = std::string(119, 'b') + "\xF0\x9F\x98\x80";
  n = zws::encode_close_payload(out, 1000, reason);
  EXPECT_EQ(n, 125u);
  // Every cut of a long multi-byte reason stays valid UTF-8.
  for (std::size_t pad = 0; pad < 4; ++pad) {
    std::string r(pad, 'x');
    while (r.size() < 300) r += "\xE2\x82\xAC\xC3\xA9\xF0\x9F\x98\x80";
    n = zws::encode_close_payload(out, 4000, r);
    ASSERT_LE(n, 125u);
    ASSERT_GE(n, 122u);
    guarded g(std::span<const std::uint8_t>(out, n));
    EXPECT_EQ(zws::decode_close_payload(g.bytes()).err, zws::error::none) << pad;
  }
}

TEST(Frame, Utf8TruncateKeepsShortStrings) {
  EXPECT_EQ(zws::utf8_truncate("abc", 3), "abc");
  EXPECT_EQ(zws::utf8_truncate("abc", 2), "ab");
  EXPECT_EQ(zws::utf8_truncate("a\xC3\xA9", 2), "a");
  EXPECT_EQ(zws::utf8_truncate("", 0), "");
}

TEST(Frame, DecodeClosePayloadErrors) {
  const std::uint8_t one[] = {0x03};
  guarded g1(one);
  EXPECT_EQ(zws::decode_close_payload(g1.bytes()).err, zws::error::close_payload_one_byte);
  const std::uint8_t bad_code[] = {0x03, 0xEC};  // 1004
  guarded g2(bad_code);
  EXPECT_EQ(zws::decode_close_payload(g2.bytes()).err, zws::error::invalid_close_code);
  const std::uint8_t bad_utf8[] = {0x03, 0xE8, 'o', 0xC0, 0xAF};
  guarded g3(bad_utf8);
  EXPECT_EQ(zws::decode_close_payload(g3.bytes()).err, zws::error::invalid_utf8);
  guarded g4(bytes_of(std::string("\x0B\xB8", 2)));  // 3000, no reason
  const auto c = zws::decode_close_payload(g4.bytes());
  EXPECT_EQ(c.err, zws::error::none);
  EXPECT_EQ(c.code, 3000);
}

}  // namespace
