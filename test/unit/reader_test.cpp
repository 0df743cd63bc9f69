#include "zws/reader.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "guarded.hpp"

namespace {

using zws::error;
using zws::event_kind;
using zws::opcode;
using zws::role;
using zws::test::guarded;
using bytes = std::vector<std::uint8_t>;

// ---- building frames (independently of zws::writer and zws::mask) ----------

struct frame_spec {
  std::uint8_t op = 2;
  std::string payload;
  bool fin = true;
  bool masked = true;
  std::uint8_t rsv = 0;
};

std::uint32_t key_seed = 0x9E3779B9u;

bytes build(const frame_spec& f) {
  zws::frame_header h;
  h.fin = f.fin;
  h.rsv = f.rsv;
  h.op = f.op;
  h.masked = f.masked;
  key_seed = key_seed * 1664525u + 1013904223u;  // a different key for every frame
  std::memcpy(h.key.bytes, &key_seed, 4);
  h.payload_length = f.payload.size();
  std::uint8_t head[zws::max_frame_header];
  const std::size_t n = zws::encode_header(h, head);
  bytes out(head, head + n);
  for (std::size_t i = 0; i < f.payload.size(); ++i) {
    const auto c = static_cast<std::uint8_t>(f.payload[i]);
    out.push_back(f.masked ? static_cast<std::uint8_t>(c ^ h.key.bytes[i % 4]) : c);
  }
  return out;
}

// A frame as a client sends it (masked), read by a server, and the reverse.
bytes cf(std::uint8_t op, std::string payload, bool fin = true) { return build({op, std::move(payload), fin, true}); }
bytes sf(std::uint8_t op, std::string payload, bool fin = true) { return build({op, std::move(payload), fin, false}); }

bytes cat(std::initializer_list<bytes> parts) {
  bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string close_body(std::uint16_t code, std::string_view reason = {}) {
  std::string s;
  s += static_cast<char>(code >> 8);
  s += static_cast<char>(code & 0xFF);
  s += reason;
  return s;
}

// ---- running the reader ------------------------------------------------------

struct rec {
  event_kind kind;
  opcode op;
  std::uint16_t code;
  error err;
  std::string data;
  bool operator==(const rec&) const = default;
};

std::ostream& operator<<(std::ostream& os, const rec& r) {
  return os << "{kind " << int(r.kind) << " op " << int(r.op) << " code " << r.code << " err "
            << zws::describe(r.err) << " data[" << r.data.size() << "]}";
}

rec record(const zws::event& e) {
  rec r{e.kind, opcode::binary, 0, error::none, std::string(e.text())};
  if (e.kind == event_kind::message) r.op = e.op;
  if (e.kind == event_kind::close) r.code = e.code;
  if (e.kind == event_kind::error) r.err = e.err;
  return r;
}

bool ends(event_kind k) { return k == event_kind::error || k == event_kind::close; }

// Feeds `chunks` the way a connection does: unconsumed bytes are kept, the next
// chunk appended, and next() called until it needs more. Every call sees its
// input right against a PROT_NONE page. Checks the need_more contract on the way.
std::vector<rec> feed(role r, const std::vector<std::span<const std::uint8_t>>& chunks,
                      const zws::reader_limits& limits) {
  zws::reader rd(r, limits);
  std::vector<rec> out;
  bytes pending;
  // Streaming: pieces are joined into the message they make, and checked.
  std::string joined;
  bool joining = false;
  for (const auto& chunk : chunks) {
    pending.insert(pending.end(), chunk.begin(), chunk.end());
    guarded g(pending);
    std::size_t off = 0;
    for (;;) {
      const auto in = g.bytes().subspan(off);
      const auto res = rd.next(in);
      if (res.ev.kind == event_kind::need_more) {
        EXPECT_EQ(res.consumed, 0u);
        EXPECT_TRUE(res.ev.need == 0 || res.ev.need > in.size()) << res.ev.need << " " << in.size();
        break;
      }
      EXPECT_LE(res.consumed, in.size());
      off += res.consumed;
      if (res.ev.kind == event_kind::piece) {
        EXPECT_TRUE(limits.streaming);
        EXPECT_EQ(res.ev.first, !joining);
        joined += res.ev.text();
        joining = !res.ev.last;
        if (res.ev.last) out.push_back({event_kind::message, res.ev.op, 0, error::none, std::exchange(joined, {})});
        continue;
      }
      // Whether a frame's header alone is consumed depends on the chunking.
      if (limits.streaming && res.ev.kind == event_kind::none) continue;
      out.push_back(record(res.ev));
      if (ends(res.ev.kind)) {
        EXPECT_TRUE(rd.finished());
        // A finished reader keeps saying so.
        const auto again = rd.next(g.bytes().subspan(off));
        EXPECT_EQ(again.consumed, 0u);
        EXPECT_EQ(again.ev.kind, res.ev.kind);
        EXPECT_EQ(again.ev.err, res.ev.err);
        EXPECT_EQ(again.ev.code, res.ev.code);
        return out;
      }
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(off));
  }
  return out;
}

// Runs `input` whole, byte by byte, and split at every offset (for large inputs:
// at a sample of offsets), expects the same events each way, and returns them.
std::vector<rec> run(role r, const bytes& input, const zws::reader_limits& limits = zws::default_reader_limits) {
  const std::span<const std::uint8_t> all(input);
  const auto whole = feed(r, {all}, limits);
  const bool small = input.size() <= 2048;
  if (small) {
    std::vector<std::span<const std::uint8_t>> bytewise;
    for (std::size_t i = 0; i < input.size(); ++i) bytewise.push_back(all.subspan(i, 1));
    EXPECT_EQ(feed(r, bytewise, limits), whole) << "byte by byte";
  }
  std::vector<std::size_t> cuts;
  if (small) {
    for (std::size_t i = 0; i <= input.size(); ++i) cuts.push_back(i);
  } else {
    std::mt19937 rng(static_cast<std::uint32_t>(input.size()));
    for (int i = 0; i < 6; ++i) cuts.push_back(rng() % (input.size() + 1));
    cuts.push_back(1);
    cuts.push_back(input.size() - 1);
  }
  for (std::size_t cut : cuts) {
    EXPECT_EQ(feed(r, {all.first(cut), all.subspan(cut)}, limits), whole) << "split at " << cut;
  }
  return whole;
}

rec msg(opcode op, std::string data) { return {event_kind::message, op, 0, error::none, std::move(data)}; }
rec ping(std::string data) { return {event_kind::ping, opcode::binary, 0, error::none, std::move(data)}; }
rec pong(std::string data) { return {event_kind::pong, opcode::binary, 0, error::none, std::move(data)}; }
rec none() { return {event_kind::none, opcode::binary, 0, error::none, {}}; }
rec closed(std::uint16_t code, std::string reason = {}) {
  return {event_kind::close, opcode::binary, code, error::none, std::move(reason)};
}
rec err(error e) { return {event_kind::error, opcode::binary, 0, e, {}}; }

using V = std::vector<rec>;

// ---- valid traffic -------------------------------------------------------------

TEST(Reader, ReadsTextAndBinaryMessages) {
  EXPECT_EQ(run(role::server, cat({cf(1, "hello"), cf(2, std::string("\0\xFF\x01", 3))})),
            (V{msg(opcode::text, "hello"), msg(opcode::binary, std::string("\0\xFF\x01", 3))}));
  EXPECT_EQ(run(role::client, cat({sf(1, "hello"), sf(2, "bin")})),
            (V{msg(opcode::text, "hello"), msg(opcode::binary, "bin")}));
}

TEST(Reader, EmptyFrames) {
  EXPECT_EQ(run(role::server, cat({cf(1, ""), cf(2, ""), cf(9, ""), cf(10, ""), cf(8, "")})),
            (V{msg(opcode::text, ""), msg(opcode::binary, ""), ping(""), pong(""), closed(1005)}));
  EXPECT_EQ(run(role::client, cat({sf(1, ""), sf(2, ""), sf(9, ""), sf(10, ""), sf(8, "")})),
            (V{msg(opcode::text, ""), msg(opcode::binary, ""), ping(""), pong(""), closed(1005)}));
}

TEST(Reader, EmptyFragmentsMakeAnEmptyMessage) {
  EXPECT_EQ(run(role::server, cat({cf(1, "", false), cf(0, "", false), cf(0, "")})),
            (V{none(), none(), msg(opcode::text, "")}));
}

TEST(Reader, LengthsAtEncodingBoundaries) {
  for (std::size_t len : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 65537u}) {
    std::string payload(len, '\0');
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>('a' + i % 26);
    EXPECT_EQ(run(role::server, cf(2, payload)), (V{msg(opcode::binary, payload)})) << len;
    EXPECT_EQ(run(role::client, sf(1, payload)), (V{msg(opcode::text, payload)})) << len;
  }
}

TEST(Reader, ControlFrameOf125BytesIsAccepted) {
  const std::string p(125, 'p');
  EXPECT_EQ(run(role::server, cat({cf(9, p), cf(10, p), cf(8, close_body(1000, std::string(123, 'r')))})),
            (V{ping(p), pong(p), closed(1000, std::string(123, 'r'))}));
}

TEST(Reader, CloseCarriesCodeAndReason) {
  EXPECT_EQ(run(role::server, cf(8, close_body(1001, "going \xC3\xA9"))), (V{closed(1001, "going \xC3\xA9")}));
  EXPECT_EQ(run(role::client, sf(8, close_body(4999))), (V{closed(4999)}));
}

TEST(Reader, AcceptsValidCloseCodes) {
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999,
                             4000, 4999}) {
    EXPECT_EQ(run(role::server, cf(8, close_body(code, "r"))), (V{closed(code, "r")})) << code;
  }
}

TEST(Reader, NothingAfterCloseIsRead) {
  EXPECT_EQ(run(role::server, cat({cf(8, close_body(1000)), cf(1, "late")})), (V{closed(1000)}));
}

TEST(Reader, ReassemblesFragmentedMessage) {
  EXPECT_EQ(run(role::server, cat({cf(1, "Hel", false), cf(0, "lo, ", false), cf(0, "world")})),
            (V{none(), none(), msg(opcode::text, "Hello, world")}));
  EXPECT_EQ(run(role::client, cat({sf(2, "ab", false), sf(0, "cd"), sf(2, "next")})),
            (V{none(), msg(opcode::binary, "abcd"), msg(opcode::binary, "next")}));
}

TEST(Reader, InterleavesPingInsideFragmentedMessage) {
  EXPECT_EQ(run(role::server, cat({cf(1, "frag", false), cf(9, "p1"), cf(0, "ment", false), cf(10, "p2"),
                                   cf(8, close_body(1000, "x")), cf(0, "never")})),
            (V{none(), ping("p1"), none(), pong("p2"), closed(1000, "x")}));
  EXPECT_EQ(run(role::client, cat({sf(2, "a", false), sf(9, "p"), sf(0, "b")})),
            (V{none(), ping("p"), msg(opcode::binary, "ab")}));
}

TEST(Reader, AcceptsCodePointSplitAcrossFragments) {
  // U+1F600 (F0 9F 98 80) cut after each of its first three bytes, and U+20AC across three frames.
  for (std::size_t cut = 1; cut < 4; ++cut) {
    const std::string smiley = "\xF0\x9F\x98\x80";
    EXPECT_EQ(run(role::server, cat({cf(1, "a" + smiley.substr(0, cut), false), cf(0, smiley.substr(cut) + "b")})),
              (V{none(), msg(opcode::text, "a" + smiley + "b")}))
        << cut;
  }
  EXPECT_EQ(run(role::server, cat({cf(1, "\xE2", false), cf(0, "\x82", false), cf(0, "\xAC")})),
            (V{none(), none(), msg(opcode::text, "\xE2\x82\xAC")}));
}

TEST(Reader, UnfragmentedMessageIsAViewIntoInput) {
  for (role r : {role::server, role::client}) {
    const bytes wire = cat({r == role::server ? cf(1, "first") : sf(1, "first"),
                            r == role::server ? cf(2, std::string(300, 'z')) : sf(2, std::string(300, 'z'))});
    guarded g(wire);
    zws::reader rd(r);
    auto res = rd.next(g.bytes());
    ASSERT_EQ(res.ev.kind, event_kind::message);
    EXPECT_EQ(res.ev.data.data(), g.data() + (r == role::server ? 6 : 2));
    EXPECT_EQ(res.ev.text(), "first");
    const std::size_t first = res.consumed;
    res = rd.next(g.bytes().subspan(first));
    ASSERT_EQ(res.ev.kind, event_kind::message);
    EXPECT_EQ(res.ev.data.data(), g.data() + first + (r == role::server ? 8 : 4));
    EXPECT_EQ(res.ev.data.size(), 300u);
    EXPECT_EQ(first + res.consumed, wire.size());
  }
}

TEST(Reader, ControlPayloadIsAViewIntoInput) {
  guarded g(cat({cf(9, "ping!"), cf(8, close_body(1000, "why"))}));
  zws::reader rd(role::server);
  auto res = rd.next(g.bytes());
  ASSERT_EQ(res.ev.kind, event_kind::ping);
  EXPECT_EQ(res.ev.data.data(), g.data() + 6);
  res = rd.next(g.bytes().subspan(res.consumed));
  ASSERT_EQ(res.ev.kind, event_kind::close);
  EXPECT_EQ(res.ev.data.data(), g.data() + 11 + 6 + 2);
  EXPECT_EQ(res.ev.text(), "why");
}

TEST(Reader, NeedMoreReportsFrameSize) {
  const bytes wire = cf(2, std::string(70000, 'q'));  // 14-byte header
  zws::reader rd(role::server);
  for (std::size_t n = 0; n < 14; ++n) {
    guarded g(std::span<const std::uint8_t>(wire.data(), n));
    const auto res = rd.next(g.bytes());
    EXPECT_EQ(res.ev.kind, event_kind::need_more);
    EXPECT_EQ(res.ev.need, 0u) << n;
  }
  for (std::size_t n : {std::size_t{14}, std::size_t{15}, wire.size() - 1}) {
    guarded g(std::span<const std::uint8_t>(wire.data(), n));
    const auto res = rd.next(g.bytes());
    EXPECT_EQ(res.ev.kind, event_kind::need_more);
    EXPECT_EQ(res.ev.need, wire.size()) << n;
  }
  guarded g(wire);
  const auto res = rd.next(g.bytes());
  EXPECT_EQ(res.ev.kind, event_kind::message);
  EXPECT_EQ(res.consumed, wire.size());
}

TEST(Reader, AcceptsNonMinimalLengthEncoding) {
  // RFC 6455 asks senders for the minimal encoding; a receiver loses nothing by accepting others.
  bytes wire = {0x82, 0x7E, 0x00, 0x03, 'a', 'b', 'c'};
  EXPECT_EQ(run(role::client, wire), (V{msg(opcode::binary, "abc")}));
}

TEST(Reader, SixteenMiBMessagePassesDefaults) {
  std::string payload(std::size_t{16} << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); i += 4096) payload[i] = static_cast<char>(i >> 12);
  const auto events = run(role::server, cf(2, payload));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kind, event_kind::message);
  EXPECT_TRUE(events[0].data == payload);
}

TEST(Reader, FourMiBIn64ByteFragmentsPassesDefaults) {
  const std::size_t total = std::size_t{4} << 20;
  std::string expect;
  bytes wire;
  for (std::size_t off = 0; off < total; off += 64) {
    std::string piece(64, static_cast<char>('A' + (off / 64) % 26));
    expect += piece;
    const bytes f = cf(off == 0 ? 1 : 0, piece, off + 64 == total);
    wire.insert(wire.end(), f.begin(), f.end());
  }
  // Whole and at a few cuts (byte by byte would be quadratic at this size).
  const auto events = run(role::server, wire);
  ASSERT_EQ(events.size(), total / 64);
  EXPECT_EQ(events.back().kind, event_kind::message);
  EXPECT_TRUE(events.back().data == expect);
}

TEST(Reader, ReassemblyMemoryIsReturnedAfterTheMessage) {
  zws::reader rd(role::client);
  guarded g(cat({sf(2, std::string(1000, 'x'), false), sf(0, "y"), sf(9, "")}));
  auto res = rd.next(g.bytes());
  ASSERT_EQ(res.ev.kind, event_kind::none);
  std::size_t off = res.consumed;
  res = rd.next(g.bytes().subspan(off));
  ASSERT_EQ(res.ev.kind, event_kind::message);
  EXPECT_EQ(res.ev.data.size(), 1001u);
  EXPECT_GE(rd.memory_held(), 1001u);
  off += res.consumed;
  res = rd.next(g.bytes().subspan(off));
  ASSERT_EQ(res.ev.kind, event_kind::ping);
  EXPECT_FALSE(rd.in_message());
  EXPECT_EQ(rd.memory_held(), 0u);
}

TEST(Reader, StaysSmall) {
  // A reader lives in every connection.
  EXPECT_LE(sizeof(zws::reader), 40u);
}

// ---- text checked as it arrives ----------------------------------------------------

TEST(Reader, TextSplitAnywhereInsideAFrameIsValidatedCorrectly) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "a\xF0\x9F\x98\x80" "b\xE2\x82\xAC\xC3\xBC";  // ASCII, 4-, 3- and 2-byte code points
  EXPECT_EQ(run(role::server, cf(1, text)), (V{msg(opcode::text, text)}));
  EXPECT_EQ(run(role::client, sf(1, text)), (V{msg(opcode::text, text)}));
  EXPECT_EQ(run(role::server, cat({cf(1, text.substr(0, 101), false), cf(0, text.substr(101))})),
            (V{none(), msg(opcode::text, text)}));
}

// Fail fast: the 10th byte of a 1 MiB text frame is invalid; the reader refuses
// it as soon as that byte has arrived, long before the frame is whole.
TEST(Reader, RefusesInvalidUtf8InAFrameStillArriving) {
  std::string text(std::size_t{1} << 20, 't');
  text[9] = '\xFF';
  for (role r : {role::server, role::client}) {
    const bytes wire = r == role::server ? cf(1, text) : sf(1, text);
    zws::reader rd(r);
    const std::ptrdiff_t hs = r == role::server ? 14 : 10;
    bytes first(wire.begin(), wire.begin() + hs + 9);  // the header and 9 valid bytes
    auto res = rd.next(first);
    EXPECT_EQ(res.ev.kind, event_kind::need_more);
    bytes more(wire.begin(), wire.begin() + hs + 1024);
    res = rd.next(more);
    EXPECT_EQ(res.ev.kind, event_kind::error);
    EXPECT_EQ(res.ev.err, error::invalid_utf8);
  }
  // The same inside the continuation of a fragmented text message.
  zws::reader rd(role::server);
  bytes wire = cat({cf(1, "ok", false), cf(0, text)});
  auto res = rd.next(wire);
  ASSERT_EQ(res.ev.kind, event_kind::none);
  bytes rest(wire.begin() + static_cast<std::ptrdiff_t>(res.consumed), wire.begin() + static_cast<std::ptrdiff_t>(res.consumed) + 14 + 100);
  res = rd.next(rest);
  EXPECT_EQ(res.ev.kind, event_kind::error);
  EXPECT_EQ(res.ev.err, error::invalid_utf8);
}

// ---- streaming ---------------------------------------------------------------------

zws::reader_limits streaming_limits(std::uint64_t max = zws::default_reader_limits.max_message_size) {
  zws::reader_limits l;
  l.streaming = true;
  l.max_message_size = max;
  return l;
}

V without_none(V v) {
  std::erase_if(v, [](const rec& r) { return r.kind == event_kind::none; });
  return v;
}

TEST(Reader, StreamingYieldsTheSameMessagesInPieces) {
  const zws::reader_limits limits = streaming_limits();
  const std::string smiley = "\xF0\x9F\x98\x80";
  const std::vector<bytes> inputs = {
      cat({cf(1, "hello"), cf(2, std::string(300, 'z')), cf(1, "")}),
      cat({cf(1, "Hel", false), cf(0, "lo, ", false), cf(0, "world")}),
      cat({cf(1, "frag", false), cf(9, "p1"), cf(0, "", false), cf(10, "p2"), cf(0, "ment"), cf(8, close_body(1000))}),
      cat({cf(1, "a" + smiley.substr(0, 2), false), cf(0, smiley.substr(2) + "b")}),
      cat({cf(2, std::string(70000, 'q')), cf(1, "after")}),
  };
  for (const bytes& in : inputs) EXPECT_EQ(run(role::server, in, limits), without_none(run(role::server, in)));
  const bytes client_side = cat({sf(2, "ab", false), sf(9, "p"), sf(0, "cd"), sf(1, smiley)});
  EXPECT_EQ(run(role::client, client_side, limits), without_none(run(role::client, client_side)));
}

TEST(Reader, StreamingHoldsNoMessageWhateverItsSize) {
  const zws::reader_limits limits = streaming_limits();
  std::string payload(std::size_t{1} << 20, '\0');
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  const bytes wire = cf(2, payload);
  zws::reader rd(role::server, limits);
  std::string got;
  std::size_t off = 0, pieces = 0;
  bytes pending;
  for (std::size_t at = 0; at < wire.size(); at += 4096) {
    pending.insert(pending.end(), wire.begin() + static_cast<std::ptrdiff_t>(at),
                   wire.begin() + static_cast<std::ptrdiff_t>(std::min(at + 4096, wire.size())));
    for (;;) {
      auto res = rd.next(std::span(pending).subspan(off));
      if (res.ev.kind == event_kind::need_more) break;
      off += res.consumed;
      if (res.ev.kind != event_kind::piece) continue;
      EXPECT_LE(res.ev.data.size(), 4096u);
      EXPECT_LE(rd.memory_held(), 128u);
      got += res.ev.text();
      ++pieces;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(off));
    off = 0;
  }
  EXPECT_EQ(got, payload);
  EXPECT_GE(pieces, 256u);
  EXPECT_EQ(rd.memory_held(), 0u);
}

TEST(Reader, StreamingLimitCountsTheWholeMessage) {
  const zws::reader_limits limits = streaming_limits(1000);
  // The second fragment's header takes the message past the limit: refused
  // before any of its payload, after the first fragment was delivered.
  zws::reader rd(role::server, limits);
  bytes wire = cat({cf(2, std::string(600, 'a'), false), cf(0, std::string(600, 'b'))});
  auto res = rd.next(wire);
  ASSERT_EQ(res.ev.kind, event_kind::piece);
  EXPECT_EQ(res.ev.data.size(), 600u);
  EXPECT_TRUE(res.ev.first);
  EXPECT_FALSE(res.ev.last);
  res = rd.next(std::span(wire).subspan(res.consumed));
  EXPECT_EQ(res.ev.kind, event_kind::error);
  EXPECT_EQ(res.ev.err, error::message_too_big);
  // Past 4 GiB: nothing is buffered, so the limit may be that large.
  const zws::reader_limits huge = streaming_limits(std::uint64_t{8} << 30);  // outlives the reader
  zws::reader big(role::server, huge);
  zws::frame_header h;
  h.op = 2;
  h.masked = true;
  h.payload_length = std::uint64_t{5} << 30;
  std::uint8_t head[zws::max_frame_header];
  bytes frame(head, head + zws::encode_header(h, head));
  frame.resize(frame.size() + 100, 0);
  res = big.next(frame);
  EXPECT_EQ(res.ev.kind, event_kind::piece);
  EXPECT_EQ(res.ev.data.size(), 100u);
}

TEST(Reader, StreamingRefusesInvalidUtf8InTheFirstBadPiece) {
  const zws::reader_limits limits = streaming_limits();
  EXPECT_EQ(run(role::server, cat({cf(1, "fine", false), cf(0, "bad \xC0\x80 text")}), limits),
            (V{err(error::invalid_utf8)}));
  EXPECT_EQ(run(role::server, cf(1, "open \xE2\x82"), limits), (V{err(error::invalid_utf8)}));
}

// ---- every rule, one test each ---------------------------------------------------

TEST(Reader, RejectsReservedBits) {
  for (std::uint8_t rsv : {1, 2, 4, 7}) {
    EXPECT_EQ(run(role::server, build({1, "x", true, true, rsv})), (V{err(error::reserved_bits)})) << int(rsv);
    EXPECT_EQ(run(role::client, build({9, "", true, false, rsv})), (V{err(error::reserved_bits)})) << int(rsv);
  }
}

// ---- permessage-deflate (RSV1) ------------------------------------------------

// Runs `input` through a reader with the extension negotiated, whole and byte by
// byte: pieces are joined into messages (compressed ones marked "z:"), so both
// chunkings must give the same records.
V feed_deflate(const bytes& input, const zws::reader_limits& limits, std::size_t step) {
  zws::reader rd(role::server, limits);
  rd.set_deflate(true);
  V out;
  bytes pending;
  std::string joined;
  for (std::size_t at = 0; at < input.size(); at += step) {
    pending.insert(pending.end(), input.begin() + static_cast<std::ptrdiff_t>(at),
                   input.begin() + static_cast<std::ptrdiff_t>(std::min(input.size(), at + step)));
    guarded g(pending);
    std::size_t off = 0;
    for (;;) {
      const auto res = rd.next(g.bytes().subspan(off));
      off += res.consumed;
      if (res.ev.kind == event_kind::need_more) break;
      if (res.ev.kind == event_kind::none) continue;
      if (res.ev.kind == event_kind::piece) {
        EXPECT_TRUE(res.ev.compressed || limits.streaming);
        if (res.ev.first) joined = res.ev.compressed ? "z:" : "";
        joined += res.ev.text();
        if (res.ev.last) out.push_back(msg(res.ev.op, std::exchange(joined, {})));
        continue;
      }
      out.push_back(record(res.ev));
      if (ends(res.ev.kind)) return out;
    }
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(off));
  }
  return out;
}

V run_deflate(const bytes& input, const zws::reader_limits& limits = zws::default_reader_limits) {
  const V whole = feed_deflate(input, limits, input.size() == 0 ? 1 : input.size());
  EXPECT_EQ(feed_deflate(input, limits, 1), whole) << "byte by byte";
  return whole;
}

TEST(ReaderDeflate, Rsv1MarksACompressedMessageOnlyWhenNegotiated) {
  // Compressed bytes are not UTF-8 and are not checked as such: the inflater checks the text.
  const std::string deflated = "\xF2\x48\xCD\xC9\xC9\x07\x00";
  const bytes in = cat({build({1, deflated, true, true, 4}), cf(1, "plain"), build({2, "\xFF", true, true, 4})});
  EXPECT_EQ(run_deflate(in), (V{msg(opcode::text, "z:" + deflated), msg(opcode::text, "plain"), msg(opcode::binary, "z:\xFF")}));
  EXPECT_EQ(run(role::server, build({1, deflated, true, true, 4})), (V{err(error::reserved_bits)}));
}

TEST(ReaderDeflate, CompressedFragmentsIncludingEmptyOnesAreOneMessage) {
  const bytes in = cat({build({1, "ab", false, true, 4}), cf(0, "", false), cf(9, "p"), cf(0, "cd", false), cf(0, "")});
  EXPECT_EQ(run_deflate(in), (V{ping("p"), msg(opcode::text, "z:abcd")}));
  zws::reader_limits streaming = zws::default_reader_limits;
  streaming.streaming = true;
  EXPECT_EQ(run_deflate(in, streaming), (V{ping("p"), msg(opcode::text, "z:abcd")}));
}

TEST(ReaderDeflate, Rsv1ElsewhereIsAProtocolError) {
  EXPECT_EQ(run_deflate(cat({cf(1, "a", false), build({0, "b", true, true, 4})})), (V{err(error::reserved_bits)}));
  EXPECT_EQ(run_deflate(cat({build({1, "a", false, true, 4}), build({0, "b", true, true, 4})})),
            (V{err(error::reserved_bits)}));
  for (std::uint8_t op : {8, 9, 10}) EXPECT_EQ(run_deflate(build({op, "", true, true, 4})), (V{err(error::reserved_bits)}));
  for (std::uint8_t rsv : {1, 2, 5, 6}) EXPECT_EQ(run_deflate(build({2, "x", true, true, rsv})), (V{err(error::reserved_bits)}));
}

TEST(ReaderDeflate, CompressedMessagesMeetTheLimits) {
  zws::reader_limits limits = zws::default_reader_limits;
  limits.max_fragments = 3;
  limits.max_message_size = 1000;
  // Up to the limit plus the slack for stored blocks (1/16 and 1 KiB) is fine.
  EXPECT_EQ(run_deflate(build({2, std::string(2086, 'x'), true, true, 4}), limits),
            (V{msg(opcode::binary, "z:" + std::string(2086, 'x'))}));
  EXPECT_EQ(run_deflate(build({2, std::string(2087, 'x'), true, true, 4}), limits), (V{err(error::message_too_big)}));
  EXPECT_EQ(run_deflate(cat({build({2, "", false, true, 4}), cf(0, "", false), cf(0, "", false), cf(0, "")}), limits),
            (V{err(error::too_many_fragments)}));
}

TEST(Reader, RejectsUnknownOpcode) {
  for (std::uint8_t op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    EXPECT_EQ(run(role::server, cf(op, "x")), (V{err(error::unknown_opcode)})) << int(op);
    EXPECT_EQ(run(role::client, sf(op, "")), (V{err(error::unknown_opcode)})) << int(op);
  }
}

TEST(Reader, RejectsFragmentedPing) {
  EXPECT_EQ(run(role::server, cf(9, "p", false)), (V{err(error::fragmented_control)}));
  EXPECT_EQ(run(role::server, cf(10, "p", false)), (V{err(error::fragmented_control)}));
  EXPECT_EQ(run(role::client, sf(8, "", false)), (V{err(error::fragmented_control)}));
}

TEST(Reader, RejectsControlFrameOver125) {
  for (std::uint8_t op : {8, 9, 10}) {
    for (std::size_t len : {126u, 127u, 65536u}) {
      std::string p(len, 'c');
      if (op == 8) p = close_body(1000, std::string(len - 2, 'r'));
      EXPECT_EQ(run(role::server, cf(op, p)), (V{err(error::control_too_long)})) << int(op) << " " << len;
    }
  }
}

TEST(Reader, ControlFrameOver125IsRejectedFromTwoBytes) {
  const bytes wire = cf(9, std::string(126, 'c'));
  guarded g(std::span<const std::uint8_t>(wire.data(), 2));
  zws::reader rd(role::server);
  EXPECT_EQ(rd.next(g.bytes()).ev.err, error::control_too_long);
}

TEST(Reader, RejectsUnmaskedClientFrame) {
  EXPECT_EQ(run(role::server, sf(1, "hi")), (V{err(error::unmasked_client_frame)}));
  EXPECT_EQ(run(role::server, cat({cf(9, ""), sf(9, "")})), (V{ping(""), err(error::unmasked_client_frame)}));
}

TEST(Reader, RejectsMaskedServerFrame) {
  EXPECT_EQ(run(role::client, cf(1, "hi")), (V{err(error::masked_server_frame)}));
  EXPECT_EQ(run(role::client, cf(8, close_body(1000))), (V{err(error::masked_server_frame)}));
}

TEST(Reader, RejectsLengthMsb) {
  bytes client = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 5, 1, 2, 3, 4};
  EXPECT_EQ(run(role::server, client), (V{err(error::length_msb_set)}));
  bytes server = {0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
  EXPECT_EQ(run(role::client, server), (V{err(error::length_msb_set)}));
}

TEST(Reader, RejectsContinuationWithoutStart) {
  EXPECT_EQ(run(role::server, cf(0, "x")), (V{err(error::unexpected_continuation)}));
  EXPECT_EQ(run(role::server, cat({cf(1, "a", false), cf(0, "b"), cf(0, "c")})),
            (V{none(), msg(opcode::text, "ab"), err(error::unexpected_continuation)}));
}

TEST(Reader, RejectsNewMessageInsideFragmented) {
  EXPECT_EQ(run(role::server, cat({cf(1, "a", false), cf(1, "b")})), (V{none(), err(error::expected_continuation)}));
  EXPECT_EQ(run(role::client, cat({sf(2, "a", false), sf(9, ""), sf(2, "b", false)})),
            (V{none(), ping(""), err(error::expected_continuation)}));
}

TEST(Reader, RejectsOneByteClosePayload) {
  EXPECT_EQ(run(role::server, cf(8, "\x03")), (V{err(error::close_payload_one_byte)}));
}

TEST(Reader, RejectsInvalidCloseCodes) {
  for (std::uint16_t code : {0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535}) {
    EXPECT_EQ(run(role::server, cf(8, close_body(code))), (V{err(error::invalid_close_code)})) << code;
    EXPECT_EQ(run(role::client, sf(8, close_body(code, "r"))), (V{err(error::invalid_close_code)})) << code;
  }
}

TEST(Reader, RejectsInvalidUtf8Text) {
  for (std::string bad : {"\xFF", "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "a\xE2\x82", "\x80"}) {
    EXPECT_EQ(run(role::server, cf(1, bad)), (V{err(error::invalid_utf8)}));
    EXPECT_EQ(zws::close_code_of(error::invalid_utf8), 1007);
  }
  // Binary messages carry any bytes.
  EXPECT_EQ(run(role::server, cf(2, "\xFF")), (V{msg(opcode::binary, "\xFF")}));
}

TEST(Reader, RejectsInvalidUtf8InFragmentBeforeTheMessageEnds) {
  // Fail fast: the second fragment is refused although FIN has not come.
  EXPECT_EQ(run(role::server, cat({cf(1, "ok", false), cf(0, "\xC0\xAF", false), cf(0, "z")})),
            (V{none(), err(error::invalid_utf8)}));
}

TEST(Reader, RejectsCodePointLeftOpenAtFin) {
  EXPECT_EQ(run(role::server, cat({cf(1, "ok", false), cf(0, "\xE2\x82")})), (V{none(), err(error::invalid_utf8)}));
}

TEST(Reader, RejectsInvalidUtf8CloseReason) {
  EXPECT_EQ(run(role::server, cf(8, close_body(1000, "bad \xFF"))), (V{err(error::invalid_utf8)}));
  EXPECT_EQ(run(role::client, sf(8, close_body(1000, "\xE2\x82"))), (V{err(error::invalid_utf8)}));
}

TEST(Reader, RejectsMessageTooBigBeforeBuffering) {
  zws::reader_limits limits;
  limits.max_message_size = 1000;
  // The header alone is enough: no payload byte is present.
  bytes head = cf(2, std::string(1001, 'x'));
  head.resize(8);
  EXPECT_EQ(run(role::server, head, limits), (V{err(error::message_too_big)}));
  EXPECT_EQ(run(role::server, cf(2, std::string(1000, 'x')), limits), (V{msg(opcode::binary, std::string(1000, 'x'))}));
  // Defaults: a header announcing 16 MiB + 1 is refused at once.
  bytes big = {0x82, 0xFF, 0, 0, 0, 0, 0x01, 0, 0, 0x01, 1, 2, 3, 4};
  EXPECT_EQ(run(role::server, big), (V{err(error::message_too_big)}));
  EXPECT_EQ(zws::close_code_of(error::message_too_big), 1009);
}

// Whole small frames take the reader's fast path: the same rules hold there.
TEST(Reader, WholeSmallFramesMeetEveryRuleOfTheGeneralPath) {
  zws::reader_limits limits;
  limits.max_message_size = 10;
  EXPECT_EQ(run(role::server, cf(2, std::string(11, 'x')), limits), (V{err(error::message_too_big)}));
  EXPECT_EQ(run(role::server, cf(1, std::string(10, 'x')), limits), (V{msg(opcode::text, std::string(10, 'x'))}));
  EXPECT_EQ(run(role::server, cf(1, "\xC0\xAF")), (V{err(error::invalid_utf8)}));
  EXPECT_EQ(run(role::server, sf(2, "abc")), (V{err(error::unmasked_client_frame)}));
  EXPECT_EQ(run(role::client, cf(2, "abc")), (V{err(error::masked_server_frame)}));
  EXPECT_EQ(run(role::client, build({2, "abc", true, false, 1})), (V{err(error::reserved_bits)}));
  EXPECT_EQ(run(role::server, cat({cf(1, "a", false), cf(2, "b")})), (V{none(), err(error::expected_continuation)}));
  // Short (inline) and long (kernel) unmasking agree on every length around the switch.
  for (std::size_t n = 0; n < 140; ++n) {
    std::string p(n, '\0');
    for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<char>(i * 37 + 11);
    ASSERT_EQ(run(role::server, cf(2, p)), (V{msg(opcode::binary, p)})) << n;
    ASSERT_EQ(run(role::client, sf(2, p)), (V{msg(opcode::binary, p)})) << n;
  }
}

TEST(Reader, MessageSizeCountsReassembledBytes) {
  zws::reader_limits limits;
  limits.max_message_size = 10;
  EXPECT_EQ(run(role::server, cat({cf(1, "12345", false), cf(0, "67890", false), cf(0, "")}), limits),
            (V{none(), none(), msg(opcode::text, "1234567890")}));
  EXPECT_EQ(run(role::server, cat({cf(1, "12345", false), cf(0, "67890", false), cf(0, "x")}), limits),
            (V{none(), none(), err(error::message_too_big)}));
}

TEST(Reader, RejectsTooManyFragments) {
  zws::reader_limits limits;
  limits.max_fragments = 3;
  EXPECT_EQ(run(role::server, cat({cf(2, "a", false), cf(0, "b", false), cf(0, "c")}), limits),
            (V{none(), none(), msg(opcode::binary, "abc")}));
  EXPECT_EQ(run(role::server, cat({cf(2, "a", false), cf(0, "b", false), cf(0, "c", false), cf(0, "d")}), limits),
            (V{none(), none(), none(), err(error::too_many_fragments)}));
  // Control frames in between do not count.
  EXPECT_EQ(run(role::server, cat({cf(2, "a", false), cf(9, ""), cf(9, ""), cf(0, "b", false), cf(0, "c")}), limits),
            (V{none(), ping(""), ping(""), none(), msg(opcode::binary, "abc")}));
}

TEST(Reader, ErrorsStopTheStream) {
  EXPECT_EQ(run(role::server, cat({cf(1, "a"), cf(3, ""), cf(1, "b")})), (V{msg(opcode::text, "a"), err(error::unknown_opcode)}));
}

TEST(Reader, RandomKeysAndSizesUnmaskCorrectly) {
  std::mt19937 rng(7);
  for (int round = 0; round < 40; ++round) {
    bytes wire;
    V expect;
    for (int i = 0; i < 5; ++i) {
      std::string p(rng() % 300, '\0');
      for (auto& c : p) c = static_cast<char>(rng());
      const bytes f = cf(2, p);
      wire.insert(wire.end(), f.begin(), f.end());
      expect.push_back(msg(opcode::binary, p));
    }
    ASSERT_EQ(run(role::server, wire), expect) << round;
  }
}

}  // namespace
