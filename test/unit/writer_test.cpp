#include "zws/writer.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "guarded.hpp"
#include "zws/reader.hpp"

namespace {

using zws::event_kind;
using zws::opcode;
using zws::role;
using zws::test::guarded;

std::vector<std::uint8_t> contents(const zws::buffer& b) { return {b.data(), b.data() + b.size()}; }

struct got {
  event_kind kind;
  opcode op;
  std::uint16_t code;
  std::string data;
};

// Reads every frame in `wire` with a reader of role `r`; the bytes sit against a guard page.
std::vector<got> read_all(role r, const std::vector<std::uint8_t>& wire) {
  guarded g(wire);
  zws::reader rd(r);
  std::vector<got> out;
  std::size_t off = 0;
  for (;;) {
    const auto res = rd.next(g.bytes().subspan(off));
    if (res.ev.kind == event_kind::need_more) {
      EXPECT_EQ(off, wire.size()) << "trailing bytes";
      break;
    }
    out.push_back({res.ev.kind, res.ev.op, res.ev.code, std::string(res.ev.text())});
    EXPECT_NE(res.ev.kind, event_kind::error) << zws::describe(res.ev.err);
    if (res.ev.kind == event_kind::error || res.ev.kind == event_kind::close) break;
    off += res.consumed;
  }
  return out;
}

TEST(Writer, ServerFrameIsUnmasked) {
  zws::buffer out;
  ASSERT_TRUE(zws::write_frame(out, opcode::text, std::string_view("Hello")));
  EXPECT_EQ(contents(out), (std::vector<std::uint8_t>{0x81, 0x05, 'H', 'e', 'l', 'l', 'o'}));
}

TEST(Writer, ClientFrameIsMaskedWithTheGivenKey) {
  // RFC 6455 §5.7: masked "Hello" with key 37 fa 21 3d.
  zws::buffer out;
  const zws::mask_key key = {{0x37, 0xfa, 0x21, 0x3d}};
  ASSERT_TRUE(zws::write_frame(out, opcode::text, std::string_view("Hello"), &key));
  EXPECT_EQ(contents(out),
            (std::vector<std::uint8_t>{0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(Writer, RefusesInvalidControlFrames) {
  zws::buffer out;
  EXPECT_FALSE(zws::write_frame(out, opcode::ping, std::string(126, 'x')));
  EXPECT_FALSE(zws::write_frame(out, opcode::close, std::string_view(""), nullptr, false));
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(zws::write_frame(out, opcode::ping, std::string(125, 'x')));
  EXPECT_EQ(out.size(), 127u);
}

TEST(Writer, WriteCloseRoundTrip) {
  const zws::mask_key key = {{1, 2, 3, 4}};
  for (const zws::mask_key* k : {static_cast<const zws::mask_key*>(nullptr), &key}) {
    zws::buffer out;
    zws::write_close(out, 1000, "done", k);
    const auto events = read_all(k ? role::server : role::client, contents(out));
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].kind, event_kind::close);
    EXPECT_EQ(events[0].code, 1000);
    EXPECT_EQ(events[0].data, "done");
  }
}

TEST(Writer, WriteCloseCutsLongReasonAtUtf8Boundary) {
  std::string reason;
  while (reason.size() < 200) reason += "\xE2\x82\xAC";  // 3-byte euro signs
  zws::buffer out;
  zws::write_close(out, 1001, reason);
  const auto events = read_all(role::client, contents(out));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, event_kind::close);
  EXPECT_EQ(events[0].data.size(), 123u);
  EXPECT_EQ(events[0].data, reason.substr(0, 123));
}

TEST(Writer, WriteCloseWithNoStatusIsEmpty) {
  zws::buffer out;
  zws::write_close(out, zws::close_code::no_status, "ignored");
  EXPECT_EQ(contents(out), (std::vector<std::uint8_t>{0x88, 0x00}));
}

TEST(Writer, FrameHeadForWritev) {
  const auto head = zws::make_frame_head(opcode::binary, 65536);
  EXPECT_EQ(head.size, 10u);
  EXPECT_EQ(std::vector<std::uint8_t>(head.span().begin(), head.span().end()),
            (std::vector<std::uint8_t>{0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0}));
  const zws::mask_key key = {{9, 8, 7, 6}};
  const zws::frame_head masked(opcode::continuation, 3, &key, false);
  EXPECT_EQ(std::vector<std::uint8_t>(masked.span().begin(), masked.span().end()),
            (std::vector<std::uint8_t>{0x00, 0x83, 9, 8, 7, 6}));
}

TEST(Writer, FrameHeadPlusPayloadEqualsWriteFrame) {
  for (std::size_t len : {0u, 125u, 126u, 65535u, 65536u}) {
    const std::string payload(len, 'w');
    zws::buffer whole;
    zws::write_frame(whole, opcode::binary, payload);
    const auto head = zws::make_frame_head(opcode::binary, len);
    std::vector<std::uint8_t> gathered(head.span().begin(), head.span().end());
    gathered.insert(gathered.end(), payload.begin(), payload.end());
    EXPECT_EQ(contents(whole), gathered) << len;
  }
}

TEST(Writer, RoundTripsRandomMessagesBothRoles) {
  std::mt19937 rng(42);
  for (role sender : {role::server, role::client}) {
    zws::buffer out;
    std::vector<got> expect;
    for (int i = 0; i < 200; ++i) {
      // Mostly small, sometimes around the length-encoding boundaries, sometimes large.
      const std::size_t sizes[] = {rng() % 130, 120 + rng() % 20, 65530 + rng() % 12, rng() % 200000};
      const std::size_t len = sizes[rng() % 4];
      std::string payload(len, '\0');
      for (auto& c : payload) c = static_cast<char>('a' + rng() % 26);
      const zws::mask_key key = {{static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                                  static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())}};
      const opcode op = (i % 2) ? opcode::text : opcode::binary;
      if (i % 7 == 0) {
        // A fragmented message in three frames, a ping between the second and third.
        const std::size_t a = len / 3, b = len / 2;
        const std::string_view p(payload);
        zws::write_frame(out, op, p.substr(0, a), sender == role::client ? &key : nullptr, false);
        zws::write_frame(out, opcode::continuation, p.substr(a, b - a), sender == role::client ? &key : nullptr,
                         false);
        zws::write_frame(out, opcode::ping, std::string_view("pi"), sender == role::client ? &key : nullptr);
        zws::write_frame(out, opcode::continuation, p.substr(b), sender == role::client ? &key : nullptr);
        expect.push_back({event_kind::none, op, 0, ""});
        expect.push_back({event_kind::none, op, 0, ""});
        expect.push_back({event_kind::ping, op, 0, "pi"});
      } else {
        zws::write_frame(out, op, payload, sender == role::client ? &key : nullptr);
      }
      expect.push_back({event_kind::message, op, 0, payload});
    }
    // The receiving end plays the other role.
    const auto events = read_all(sender == role::server ? role::client : role::server, contents(out));
    ASSERT_EQ(events.size(), expect.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      ASSERT_EQ(events[i].kind, expect[i].kind) << i;
      if (events[i].kind == event_kind::message) {
        ASSERT_EQ(events[i].op, expect[i].op) << i;
      }
      ASSERT_EQ(events[i].data, expect[i].data) << i;
    }
  }
}

TEST(Writer, MaskedPayloadDiffersAndSourceIsUntouched) {
  const std::string payload = "unchanged source";
  const zws::mask_key key = {{0xFF, 0x00, 0xAA, 0x55}};
  zws::buffer out;
  zws::write_frame(out, opcode::binary, payload, &key);
  EXPECT_EQ(payload, "unchanged source");
  EXPECT_NE(std::memcmp(out.data() + 6, payload.data(), payload.size()), 0);
}

}  // namespace
