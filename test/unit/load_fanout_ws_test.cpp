// Tests tools/load/fanout_ws.hpp without sockets: fan_ws_stream (the upgrade
// response; the server's frames cut from the stream, whole, byte by byte and
// split at every offset; pings answered; every rule still enforced) and
// frame_format's two-piece append (a publisher's frame).
#include "../../tools/load/fanout_ws.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using zws_load::fan_ws_status;
using zws_load::fan_ws_stream;

constexpr std::size_t record_size = 40;

std::string record(std::uint32_t publisher, zws_load::u64 seq) {
  std::string r(record_size, 'f');
  zws_load::fan_stamp(r.data(), publisher, seq, 1234);
  return r;
}

void append(zws::buffer& b, std::string_view s) { b.append(s); }

// A server frame of raw opcode `op` (any of the 16) and `payload`, FIN as given, unmasked.
void server_frame(std::string& wire, std::uint8_t op, std::string_view payload, bool fin = true) {
  zws::frame_header h;
  h.op = op;
  h.fin = fin;
  h.payload_length = payload.size();
  std::uint8_t head[zws::max_frame_header];
  wire.append(reinterpret_cast<const char*>(head), zws::encode_header(h, head));
  wire.append(payload);
}

// A fan_ws_stream and what the worker keeps around it.
struct client {
  zws_load::frame_format fmt{zws::opcode::binary, record_size};
  zws::reader_limits limits;
  zws_load::random_pool rng;
  fan_ws_stream s{fmt, limits};
  zws::buffer out;            // what the stream has the client send
  zws::buffer in;             // received, not yet consumed (the worker's c.in)
  std::vector<std::string> messages;

  // The server's 101 answer to the request the stream wrote.
  std::string accept() {
    out.clear();
    s.write_request(out, "127.0.0.1:9", "/room", rng);
    out.clear();
    zws::buffer b;
    zws::write_upgrade_response(b, zws::as_view(s.key()));
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }

  // Feeds `bytes` as the worker does: behind what is left, again after the upgrade.
  fan_ws_status feed(std::string_view bytes) {
    append(in, bytes);
    for (;;) {
      const zws_load::fan_ws_result r = s.feed(in.bytes(), out, rng, [&](const std::uint8_t* d, std::size_t n) {
        messages.emplace_back(reinterpret_cast<const char*>(d), n);
      });
      in.consume(r.consumed);
      if (r.status != fan_ws_status::opened) return r.status;
    }
  }
};

// The upgrade response, then records in every shape a server may send them.
// Appends each record, in order, to `records`.
std::string sample_stream(const std::string& head, std::vector<std::string>& records) {
  std::string wire = head;
  for (std::uint32_t k = 0; k < 3; ++k) {  // the expected header: the fast path
    records.push_back(record(k % 2, k));
    server_frame(wire, 2, records.back());
  }
  server_frame(wire, 9, "are you there");  // a ping between records
  records.push_back(record(0, 3));         // fragmented: through the reader
  server_frame(wire, 2, std::string_view(records.back()).substr(0, 7), false);
  server_frame(wire, 10, "unsolicited");   // a pong inside the fragmented message
  server_frame(wire, 0, std::string_view(records.back()).substr(7));
  records.push_back(record(1, 4) + "xy");  // another length: to fan_check as it is
  server_frame(wire, 2, records.back());
  records.push_back(record(1, 5));
  server_frame(wire, 2, records.back());
  return wire;
}

TEST(FanWsStream, CutsRecordsWholeByteByByteAndSplitAtEveryOffset) {
  client whole;
  std::vector<std::string> want;
  const std::string wire = sample_stream(whole.accept(), want);
  ASSERT_EQ(whole.feed(wire), fan_ws_status::more);
  EXPECT_EQ(whole.messages, want);
  EXPECT_EQ(whole.in.size(), 0u);
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    client c;
    std::vector<std::string> records;
    const std::string w = sample_stream(c.accept(), records);  // the same but for the accept key
    ASSERT_EQ(w.size(), wire.size());
    EXPECT_EQ(c.feed(std::string_view(w).substr(0, split)), fan_ws_status::more) << split;
    EXPECT_EQ(c.feed(std::string_view(w).substr(split)), fan_ws_status::more) << split;
    EXPECT_EQ(c.messages, want) << "split at " << split;
    EXPECT_EQ(c.in.size(), 0u);
  }
  client bytewise;
  for (char ch : sample_stream(bytewise.accept(), want)) ASSERT_EQ(bytewise.feed({&ch, 1}), fan_ws_status::more);
  EXPECT_EQ(bytewise.messages, whole.messages);
}

TEST(FanWsStream, AnswersAPingWithAMaskedPong) {
  client c;
  std::string wire = c.accept();
  server_frame(wire, 2, record(0, 0));
  server_frame(wire, 9, "ping payload");
  ASSERT_EQ(c.feed(wire), fan_ws_status::more);
  EXPECT_EQ(c.messages.size(), 1u);
  // The server's reader requires masking: a masked pong with the ping's payload.
  zws::reader server(zws::role::server);
  const zws::read_result r = server.next(c.out.bytes());
  ASSERT_EQ(r.ev.kind, zws::event_kind::pong);
  EXPECT_EQ(r.ev.text(), "ping payload");
  EXPECT_EQ(r.consumed, c.out.size());
}

TEST(FanWsStream, RefusesAMaskedServerFrame) {
  client c;
  std::string wire = c.accept();
  zws::buffer masked;
  const zws::mask_key key{{1, 2, 3, 4}};
  zws::write_frame(masked, zws::opcode::binary, record(0, 0), &key);
  wire.append(reinterpret_cast<const char*>(masked.data()), masked.size());
  EXPECT_EQ(c.feed(wire), fan_ws_status::failed);
  EXPECT_TRUE(c.messages.empty());
}

TEST(FanWsStream, RefusesAReservedOpcode) {
  client c;
  std::string wire = c.accept();
  server_frame(wire, 2, record(0, 0));
  server_frame(wire, 3, record(0, 1));
  EXPECT_EQ(c.feed(wire), fan_ws_status::failed);
  EXPECT_EQ(c.messages.size(), 1u);
}

TEST(FanWsStream, ReportsAClose) {
  client c;
  std::string wire = c.accept();
  server_frame(wire, 8, std::string("\x03\xe9", 2));  // 1001 going away
  EXPECT_EQ(c.feed(wire), fan_ws_status::closed);
}

TEST(FanWsStream, WaitsForTheWholeResponseHead) {
  client c;
  const std::string head = c.accept();
  EXPECT_EQ(c.feed(std::string_view(head).substr(0, head.size() - 1)), fan_ws_status::more);
  EXPECT_FALSE(c.s.open());
  EXPECT_EQ(c.feed(std::string_view(head).substr(head.size() - 1)), fan_ws_status::more);
  EXPECT_TRUE(c.s.open());
}

TEST(FanWsStream, RefusesAWrongAcceptKey) {
  client c;
  c.accept();
  zws::buffer b;
  zws::write_upgrade_response(b, "dGhlIHNhbXBsZSBub25jZQ==");  // RFC 6455's sample key, not ours
  EXPECT_EQ(c.feed({reinterpret_cast<const char*>(b.data()), b.size()}), fan_ws_status::failed);
  EXPECT_FALSE(c.s.open());
}

TEST(FanWsStream, RefusesAnotherStatusAndAnExtensionNotOffered) {
  client c;
  c.accept();
  EXPECT_EQ(c.feed("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), fan_ws_status::failed);
  client t;
  t.accept();
  zws::buffer b;
  const zws::http::header ext[1] = {{"Sec-WebSocket-Extensions", "permessage-deflate"}};
  zws::write_upgrade_response(b, zws::as_view(t.s.key()), {}, ext);
  EXPECT_EQ(t.feed({reinterpret_cast<const char*>(b.data()), b.size()}), fan_ws_status::failed);
}

TEST(FanWsStream, RefusesAnEndlessResponseHead) {
  client c;
  c.accept();
  const std::string line = "X-Filler: " + std::string(1000, 'x') + "\r\n";
  std::string head = "HTTP/1.1 101 Switching Protocols\r\n";
  ASSERT_EQ(c.feed(head), fan_ws_status::more);
  for (;;) {
    head += line;
    if (head.size() > fan_ws_stream::max_response_head) break;
    ASSERT_EQ(c.feed(line), fan_ws_status::more) << head.size();  // no end yet, within the limit
  }
  EXPECT_EQ(c.feed(line), fan_ws_status::failed);
  EXPECT_FALSE(c.s.open());
}

TEST(FanWsAppend, WritesOneMaskedFrameTheServerReadsAsTheRecord) {
  // A head that is no multiple of 4 too: the tail goes on at the key's phase.
  for (const std::size_t cut : {zws_load::fan_head, std::size_t{7}}) {
    const zws_load::frame_format fmt(zws::opcode::binary, record_size);
    const std::string r = record(3, 77);
    const auto bytes = [](std::string_view s) {
      return std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
    };
    zws::buffer out;
    fmt.append(out, bytes(std::string_view(r).substr(0, cut)), bytes(std::string_view(r).substr(cut)), {{9, 8, 7, 6}});
    zws::reader server(zws::role::server);
    const zws::read_result got = server.next(out.bytes());
    ASSERT_EQ(got.ev.kind, zws::event_kind::message);
    EXPECT_EQ(got.ev.op, zws::opcode::binary);
    EXPECT_EQ(got.ev.text(), r) << cut;
    EXPECT_EQ(got.consumed, out.size());
  }
}

}  // namespace
