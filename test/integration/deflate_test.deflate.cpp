// permessage-deflate (RFC 7692) end to end: a zws server and a zws client that
// agree on it, at several sizes, windows and context modes; raw peers for what the
// zws endpoints never send (RSV1 where it does not belong, a bomb, bad text in
// compressed form) and for the exact 101 answer; the zlib budget and the client's
// check of the server's answer.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "deflate_harness.hpp"
#include "harness.hpp"
#include "protocol/deflate_stream.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

// Dedicated mode, which answers exactly what was offered and keeps both contexts; the
// modes themselves are tested below and in deflate_memory_test.
zws::deflate_options on(zws::compressor_mode mode = zws::compressor_mode::dedicated) {
  zws::deflate_options o;
  o.enable = true;
  o.mode = mode;
  return o;
}

// Deterministic, compressible, not trivially so.
std::string payload_of(std::size_t n, unsigned seed) {
  std::string s;
  s.reserve(n);
  unsigned x = seed * 2654435761u + 1;
  while (s.size() < n) {
    x = x * 1103515245u + 12345u;
    s += "{\"id\":" + std::to_string(x % 100000) + ",\"name\":\"item\"},";
  }
  s.resize(n);
  return s;
}

std::string inflated(std::string_view z) {
  zws::detail::inflater in;
  zws::buffer out;
  in.begin(std::uint64_t{1} << 30, false);
  EXPECT_EQ(in.write({reinterpret_cast<const std::uint8_t*>(z.data()), z.size()}, out), zws::error::none);
  EXPECT_EQ(in.finish(out), zws::error::none);
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

// A client frame with RSV1 set on it.
std::string rsv1(std::string frame) {
  frame[0] = static_cast<char>(frame[0] | 0x40);
  return frame;
}

std::string header_value(const std::string& head, std::string_view name) {
  const std::size_t at = head.find(std::string(name) + ": ");
  if (at == std::string::npos) return "<none>";
  const std::size_t from = at + name.size() + 2;
  return head.substr(from, head.find("\r\n", from) - from);
}

// An echo server route with `opts` (on a loop shared with the test).
zws::Behavior echo(zws::deflate_options opts, std::size_t max_message = std::size_t{16} << 20) {
  zws::Behavior b;
  b.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); };
  b.max_message_size = max_message;
  b.deflate = opts;
  return b;
}

// A zws client with `copts` sends `messages` to a server with `sopts` and expects
// each echoed back, in order.
void round_trip(const zws::deflate_options& sopts, const zws::deflate_options& copts,
                const std::vector<std::string>& messages) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", echo(sopts));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::vector<std::string> got;
  std::string error;
  std::uint16_t closed = 0;
  zws::ClientOptions co;
  co.deflate = copts;
  zws::connect(loop, url(server.port()),
               {.on_open =
                    [&](zws::WebSocket& ws) {
                      for (std::size_t i = 0; i < messages.size(); ++i)
                        ws.send(messages[i], i % 2 == 0 ? opcode::text : opcode::binary);
                    },
                .on_message =
                    [&](zws::WebSocket& ws, const zws::Message& m) {
                      EXPECT_EQ(m.is_text(), got.size() % 2 == 0);
                      got.emplace_back(m.data);
                      if (got.size() == messages.size()) ws.close();
                    },
                .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { closed = c; },
                .on_error = [&](std::string_view why) { error = why; }},
               co);
  ASSERT_TRUE(run_until(loop, [&] { return closed != 0 || !error.empty(); }, 20000ms)) << got.size();
  EXPECT_EQ(error, "");
  EXPECT_EQ(closed, 1000);
  ASSERT_EQ(got.size(), messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) EXPECT_TRUE(got[i] == messages[i]) << "message " << i;
}

std::vector<std::string> sizes() {
  return {"", payload_of(100, 1), payload_of(64 << 10, 2), payload_of(1 << 20, 3), "", payload_of(100, 4)};
}

TEST(Deflate, ZwsToZwsAtSeveralSizesWithContextTakeover) { round_trip(on(), on(), sizes()); }

TEST(Deflate, ZwsToZwsWithoutContextTakeover) {
  zws::deflate_options s = on();
  s.server_no_context_takeover = true;
  s.client_no_context_takeover = true;
  round_trip(s, on(), sizes());
  zws::deflate_options c = on();
  c.server_no_context_takeover = true;
  c.client_no_context_takeover = true;
  round_trip(on(), c, sizes());
}

TEST(Deflate, ZwsToZwsInEveryModeOfEitherSide) {
  for (auto sm : {zws::compressor_mode::dedicated, zws::compressor_mode::shared, zws::compressor_mode::lean}) {
    for (auto cm : {zws::compressor_mode::dedicated, zws::compressor_mode::shared, zws::compressor_mode::lean}) {
      SCOPED_TRACE(std::to_string(int(sm)) + " " + std::to_string(int(cm)));
      round_trip(on(sm), on(cm), sizes());
    }
  }
}

TEST(Deflate, ZwsToZwsAtEveryWindowSize) {
  const std::vector<std::string> msgs = {payload_of(100, 5), payload_of(70000, 6), payload_of(3000, 7)};
  for (std::uint8_t bits = 8; bits <= 15; ++bits) {
    SCOPED_TRACE(int(bits));
    zws::deflate_options s = on();
    s.server_max_window_bits = bits;
    s.client_max_window_bits = bits;
    round_trip(s, on(), msgs);
    zws::deflate_options c = on();
    c.server_max_window_bits = bits;
    c.client_max_window_bits = bits;
    round_trip(on(), c, msgs);
  }
}

TEST(Deflate, AThousandMessagesArriveInOrder) {
  std::vector<std::string> msgs;
  for (int i = 0; i < 1000; ++i) msgs.push_back(std::to_string(i) + ":" + payload_of(static_cast<std::size_t>(i % 300), i));
  round_trip(on(), on(), msgs);
}

// A raw client that offered `offer` and got the extension.
struct raw_deflate_client {
  zws::Loop loop;
  zws::Server server{loop};
  std::unique_ptr<raw_peer> peer;
  std::string head;
  explicit raw_deflate_client(zws::Behavior b, std::string_view offer = "permessage-deflate") {
    server.route("/", std::move(b));
    if (server.listen("127.0.0.1", 0)) return;
    peer = std::make_unique<raw_peer>(loop, server.port());
    head = peer->handshake("/", "Sec-WebSocket-Extensions: " + std::string(offer) + "\r\n");
  }
  // Sends `frames` and returns the close code the server answers with.
  std::uint16_t close_code_after(const std::string& frames) {
    peer->write(frames);
    for (;;) {
      auto f = peer->read_frame();
      if (!f) return 0;
      if (f->op == opcode::close) return close_code_of_payload(f->payload);
    }
  }
};

TEST(Deflate, ServerInflatesAndCompressesItsAnswers) {
  raw_deflate_client c(echo(on()));
  ASSERT_EQ(header_value(c.head, "Sec-WebSocket-Extensions"), "permessage-deflate");
  const std::string text = payload_of(5000, 9);
  const std::string z = deflated(text);
  // Fragmented, with empty fragments (RFC 7692 §7.2.3.6) and a ping in between.
  c.peer->write(rsv1(client_frame(opcode::text, z.substr(0, 10), false)) + client_frame(opcode::continuation, "", false) +
                client_frame(opcode::ping, "p") + client_frame(opcode::continuation, z.substr(10), false) +
                client_frame(opcode::continuation, ""));
  auto pong = c.peer->read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->op, opcode::pong);
  zws::frame_header h;
  c.peer->read_until([&](const std::string& s) {
    const std::size_t hs = zws::decode_header({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, h);
    return hs != 0 && s.size() >= hs + h.payload_length;
  });
  ASSERT_FALSE(c.peer->buffered().empty());
  EXPECT_EQ(std::uint8_t(c.peer->buffered()[0]), 0xC1);  // FIN, RSV1, text
  auto echoed = c.peer->read_frame();
  ASSERT_TRUE(echoed);
  EXPECT_LT(echoed->payload.size(), text.size() / 2);
  EXPECT_TRUE(inflated(echoed->payload) == text);
  // Below the threshold (64 bytes): plain.
  c.peer->write(rsv1(client_frame(opcode::binary, deflated("short"))));
  c.peer->read_until([](const std::string& s) { return !s.empty(); });
  ASSERT_FALSE(c.peer->buffered().empty());
  EXPECT_EQ(std::uint8_t(c.peer->buffered()[0]), 0x82);
  auto plain = c.peer->read_frame();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->payload, "short");
}

TEST(Deflate, TheAnswerCarriesExactlyTheAgreedValue) {
  zws::deflate_options o = on();
  o.server_no_context_takeover = true;
  raw_deflate_client a(echo(o), "permessage-deflate; client_max_window_bits");
  EXPECT_EQ(header_value(a.head, "Sec-WebSocket-Extensions"), "permessage-deflate; server_no_context_takeover");
  raw_deflate_client b(echo(on()), "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10");
  EXPECT_EQ(header_value(b.head, "Sec-WebSocket-Extensions"), "permessage-deflate; server_max_window_bits=10");
  EXPECT_EQ(a.head.find("Sec-WebSocket-Extensions"), a.head.rfind("Sec-WebSocket-Extensions"));
}

TEST(Deflate, ADeclinedOfferGetsNoExtensionHeader) {
  raw_deflate_client bad(echo(on()), "permessage-deflate; server_max_window_bits=8, permessage-deflate; foo=1");
  EXPECT_NE(bad.head.find("101"), std::string::npos);
  EXPECT_EQ(bad.head.find("Sec-WebSocket-Extensions"), std::string::npos) << bad.head;
  raw_deflate_client off(echo({}));
  EXPECT_NE(off.head.find("101"), std::string::npos);
  EXPECT_EQ(off.head.find("Sec-WebSocket-Extensions"), std::string::npos) << off.head;
  // Not negotiated: RSV1 is a protocol error.
  EXPECT_EQ(off.close_code_after(rsv1(client_frame(opcode::text, deflated("hello")))), 1002);
}

TEST(Deflate, PastTheZlibBudgetConnectionsGoUncompressed) {
  zws::Loop loop;
  zws::Server server(loop);
  // Room for two routes' shared deflaters (each route's is reserved with its first
  // connection that uses it) and 100,000 bytes more: two kept inflaters (~40 KiB each),
  // no dedicated deflater (~262 KiB).
  server.max_zlib_memory(2 * zws::detail::deflater_state_bytes(15, 8) + 100000);
  server.route("/", echo(on()));
  server.route("/shared", echo(on(zws::compressor_mode::shared)));
  server.route("/lean", echo(on(zws::compressor_mode::lean)));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  const std::string offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
  auto agreed = [&](raw_peer& p, const std::string& path) {
    return header_value(p.handshake(path, offer), "Sec-WebSocket-Extensions");
  };
  const std::string lean_answer = "permessage-deflate; server_no_context_takeover; client_no_context_takeover";
  std::vector<std::unique_ptr<raw_peer>> lean;
  lean.push_back(std::make_unique<raw_peer>(loop, server.port()));
  EXPECT_EQ(agreed(*lean.back(), "/lean"), lean_answer);
  // Shared mode keeps the client's context: each connection reserves an inflater at
  // once, before it has held a byte, so the third finds no room.
  std::vector<std::unique_ptr<raw_peer>> shared;
  for (int i = 0; i < 3; ++i) shared.push_back(std::make_unique<raw_peer>(loop, server.port()));
  EXPECT_EQ(agreed(*shared[0], "/shared"), "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(agreed(*shared[1], "/shared"), "permessage-deflate; server_no_context_takeover");
  EXPECT_EQ(agreed(*shared[2], "/shared"), "<none>");
  raw_peer p(loop, server.port());
  EXPECT_EQ(agreed(p, "/"), "<none>");
  // Lean reserves nothing but needs room for one message's inflater: none left yet.
  raw_peer l1(loop, server.port());
  EXPECT_EQ(agreed(l1, "/lean"), "<none>");
  // One shared connection gone: its reservation is given back.
  shared[1]->close();
  ASSERT_TRUE(run_until(loop, [&] { return server.connections() == 5; }));
  for (int i = 0; i < 5; ++i) {
    lean.push_back(std::make_unique<raw_peer>(loop, server.port()));
    EXPECT_EQ(agreed(*lean.back(), "/lean"), lean_answer);
  }
  // Every agreed connection compresses, within the cap.
  const std::string text = payload_of(5000, 21);
  for (raw_peer* q : {shared[0].get(), lean[0].get(), lean[5].get()}) {
    q->write(rsv1(client_frame(opcode::text, deflated(text))));
    auto f = q->read_frame();
    ASSERT_TRUE(f);
    EXPECT_LT(f->payload.size(), text.size() / 2);
    EXPECT_TRUE(inflated(f->payload) == text);
  }
  raw_peer s2(loop, server.port());
  EXPECT_EQ(agreed(s2, "/shared"), "permessage-deflate; server_no_context_takeover");
}

TEST(Deflate, Rsv1OnAContinuationOrAControlFrameIs1002) {
  raw_deflate_client a(echo(on()));
  EXPECT_EQ(a.close_code_after(client_frame(opcode::text, "a", false) + rsv1(client_frame(opcode::continuation, "b"))),
            1002);
  raw_deflate_client b(echo(on()));
  EXPECT_EQ(b.close_code_after(rsv1(client_frame(opcode::ping, "x"))), 1002);
  raw_deflate_client c(echo(on()));
  std::string rsv2 = client_frame(opcode::text, "a");
  rsv2[0] = static_cast<char>(rsv2[0] | 0x20);
  EXPECT_EQ(c.close_code_after(rsv2), 1002);
}

TEST(Deflate, InvalidUtf8InsideCompressedTextIs1007) {
  raw_deflate_client a(echo(on()));
  EXPECT_EQ(a.close_code_after(rsv1(client_frame(opcode::text, deflated("ok \xC3\x28 not")))), 1007);
  // The same bytes as binary are fine.
  raw_deflate_client b(echo(on()));
  b.peer->write(rsv1(client_frame(opcode::binary, deflated("ok \xC3\x28 not"))));
  auto f = b.peer->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, opcode::binary);
  // Garbage that is not a deflate stream.
  raw_deflate_client c(echo(on()));
  EXPECT_EQ(c.close_code_after(rsv1(client_frame(opcode::binary, "\xFF\xFF\xFF\xFF garbage"))), 1007);
}

// 1 GiB of zeros as one raw deflate stream (about 1 MiB).
std::string zero_bomb() {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
  std::vector<unsigned char> zeros(std::size_t{1} << 20, 0);
  std::string out;
  std::vector<unsigned char> chunk(std::size_t{1} << 16);
  for (int i = 0; i < 1024; ++i) {
    z.next_in = zeros.data();
    z.avail_in = static_cast<uInt>(zeros.size());
    do {
      z.next_out = chunk.data();
      z.avail_out = static_cast<uInt>(chunk.size());
      deflate(&z, i == 1023 ? Z_SYNC_FLUSH : Z_NO_FLUSH);
      out.append(reinterpret_cast<char*>(chunk.data()), chunk.size() - z.avail_out);
    } while (z.avail_out == 0);
  }
  deflateEnd(&z);
  out.resize(out.size() - 4);  // the 00 00 ff ff tail, as RFC 7692 sends it
  return out;
}

TEST(Deflate, AGibibyteBombClosesWith1009InBoundedMemory) {
  const std::string bomb = zero_bomb();
  ASSERT_LT(bomb.size(), std::size_t{2} << 20);
  child_server server([](zws::Server& s) { s.route("/", echo(on(), std::size_t{1} << 20)); });
  ASSERT_NE(server.port(), 0);
  zws::Loop loop;
  raw_peer p(loop, server.port());
  const std::string head = p.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  ASSERT_EQ(header_value(head, "Sec-WebSocket-Extensions"), "permessage-deflate");
  const std::size_t before = server.status_kib("VmHWM");
  p.write(rsv1(client_frame(opcode::binary, bomb)));
  std::optional<raw_peer::frame> f;
  while ((f = p.read_frame()) && f->op != opcode::close) {
  }
  ASSERT_TRUE(f);
  EXPECT_EQ(close_code_of_payload(f->payload), 1009);
  const std::size_t after = server.status_kib("VmHWM");
  // The limit (1 MiB), the compressed frame read (~1 MiB) and zlib's state: not 1 GiB.
  EXPECT_LT(after - before, std::size_t{16} << 10) << before << " -> " << after << " KiB";
  // The same bomb in 10,000 fragments.
  raw_peer q(loop, server.port());
  q.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  std::string frames;
  const std::size_t step = bomb.size() / 10000 + 1;
  for (std::size_t at = 0; at < bomb.size(); at += step) {
    const bool first = at == 0, last = at + step >= bomb.size();
    std::string fr = client_frame(first ? opcode::binary : opcode::continuation, bomb.substr(at, step), last);
    frames += first ? rsv1(fr) : fr;
  }
  q.write(frames);
  while ((f = q.read_frame()) && f->op != opcode::close) {
  }
  ASSERT_TRUE(f);
  EXPECT_EQ(close_code_of_payload(f->payload), 1009);
  EXPECT_LT(server.status_kib("VmHWM") - before, std::size_t{16} << 10);
}

TEST(Deflate, StreamingRoutesGetInflatedPieces) {
  zws::Loop loop;
  zws::Server server(loop);
  std::string joined;
  int messages = 0;
  server.route("/", {.on_piece =
                         [&](zws::WebSocket&, const zws::MessagePiece& p) {
                           if (p.first) joined.clear();
                           joined += p.data;
                           if (p.last) ++messages;
                         },
                     .deflate = on()});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer p(loop, server.port());
  p.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
  const std::string text = payload_of(200000, 3);
  const std::string z = deflated(text);
  p.write(rsv1(client_frame(opcode::text, z.substr(0, 100), false)) + client_frame(opcode::continuation, z.substr(100)));
  ASSERT_TRUE(run_until(loop, [&] { return messages == 1; }));
  EXPECT_TRUE(joined == text);
}

TEST(Deflate, BroadcastReachesCompressedAndPlainConnections) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {.deflate = on(zws::compressor_mode::shared)});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  const std::string text = payload_of(10000, 11);
  std::vector<std::string> got;
  int opened = 0;
  auto client = [&](bool deflate, bool takeover) {
    zws::ClientOptions co;
    co.deflate.enable = deflate;
    co.deflate.server_no_context_takeover = !takeover;
    zws::connect(loop, url(server.port()),
                 {.on_open = [&](zws::WebSocket&) { ++opened; },
                  .on_message = [&](zws::WebSocket&, const zws::Message& m) { got.emplace_back(m.data); }},
                 co);
  };
  client(true, false);
  client(true, false);
  client(false, false);
  ASSERT_TRUE(run_until(loop, [&] { return opened == 3 && server.connections() == 3; }));
  server.broadcast("/", text);
  server.broadcast("/", text);
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 6; }));
  for (const auto& g : got) EXPECT_TRUE(g == text);
}

// A publish reaches a subscriber that agreed on deflate compressed (once per loop for
// every subscriber of the shared deflater), and a plain one plain.
TEST(Deflate, PublishReachesDeflateSubscribersCompressed) {
  zws::Loop loop;
  zws::Server server(loop);
  zws::Behavior b = echo(on(zws::compressor_mode::shared));
  b.on_open = [](zws::WebSocket& ws) { ws.subscribe("room"); };
  server.route("/", std::move(b));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer z1(loop, server.port()), z2(loop, server.port()), plain(loop, server.port());
  for (raw_peer* p : {&z1, &z2}) {
    EXPECT_EQ(header_value(p->handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n"),
                           "Sec-WebSocket-Extensions"),
              "permessage-deflate; server_no_context_takeover");
  }
  plain.handshake("/");
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("room") == 3; }));
  const std::string text = payload_of(4000, 17);
  server.publish("room", text);
  for (raw_peer* p : {&z1, &z2}) {
    p->read_until([](const std::string& s) { return !s.empty(); });
    ASSERT_FALSE(p->buffered().empty());
    EXPECT_EQ(std::uint8_t(p->buffered()[0]), 0xC1);  // FIN, RSV1, text
    auto f = p->read_frame();
    ASSERT_TRUE(f);
    EXPECT_LT(f->payload.size(), text.size() / 2);
    EXPECT_TRUE(inflated(f->payload) == text);
  }
  auto f = plain.read_frame();
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->payload == text);
}

// A raw server answering a zws client's offer.
std::string client_outcome(std::string_view answer) {
  zws::Loop loop;
  raw_server rs;
  std::string error;
  bool opened = false;
  zws::ClientOptions co;
  co.deflate.enable = true;
  zws::connect(loop, url(rs.port()),
               {.on_open = [&](zws::WebSocket&) { opened = true; },
                .on_error = [&](std::string_view why) { error = why; }},
               co);
  int fd = rs.accept(loop);
  EXPECT_GE(fd, 0);
  raw_peer p(loop, fd, 0);
  const std::string req = p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(header_value(req, "Sec-WebSocket-Extensions"), "permessage-deflate; client_max_window_bits");
  const auto accept = zws::accept_key(header_value(req, "Sec-WebSocket-Key"));
  std::string resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
         std::string(accept.data(), accept.size()) + "\r\n";
  if (!answer.empty()) resp += "Sec-WebSocket-Extensions: " + std::string(answer) + "\r\n";
  p.write(resp + "\r\n");
  run_until(loop, [&] { return opened || !error.empty(); });
  return opened ? "open" : error;
}

TEST(Deflate, ClientChecksTheServersAnswer) {
  EXPECT_EQ(client_outcome(""), "open");
  EXPECT_EQ(client_outcome("permessage-deflate"), "open");
  EXPECT_EQ(client_outcome("permessage-deflate; client_max_window_bits=10"), "open");
  EXPECT_NE(client_outcome("x-unknown").find("handshake"), std::string::npos);
  EXPECT_NE(client_outcome("permessage-deflate; server_max_window_bits=20").find("handshake"), std::string::npos);
  EXPECT_NE(client_outcome("permessage-deflate, permessage-deflate").find("handshake"), std::string::npos);
}

TEST(Deflate, ClientCompressesAndInflates) {
  zws::Loop loop;
  raw_server rs;
  std::string got;
  zws::ClientOptions co;
  co.deflate.enable = true;
  const std::string text = payload_of(3000, 12);
  zws::connect(loop, url(rs.port()),
               {.on_open = [&](zws::WebSocket& ws) { ws.send_text(text); },
                .on_message = [&](zws::WebSocket&, const zws::Message& m) { got = m.data; }},
               co);
  int fd = rs.accept(loop);
  ASSERT_GE(fd, 0);
  raw_peer p(loop, fd, 0);
  const std::string req = p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  const auto accept = zws::accept_key(header_value(req, "Sec-WebSocket-Key"));
  p.take(req.size());
  p.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
          std::string(accept.data(), accept.size()) + "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
  // The client's frame: masked, RSV1.
  zws::frame_header h;
  std::size_t hs = 0;
  p.read_until([&](const std::string& s) {
    hs = zws::decode_header({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, h);
    return hs != 0 && s.size() >= hs + h.payload_length;
  });
  ASSERT_NE(hs, 0u);
  EXPECT_EQ(h.rsv, 4);
  EXPECT_TRUE(h.masked);
  std::string body = p.take(hs + h.payload_length).substr(hs);
  zws::mask({reinterpret_cast<std::uint8_t*>(body.data()), body.size()}, h.key);
  EXPECT_TRUE(inflated(body) == text);
  // A compressed server frame reaches on_message inflated.
  std::string frame = "\xC1";
  const std::string z = deflated("from the server, compressed");
  frame += static_cast<char>(z.size());
  p.write(frame + z);
  ASSERT_TRUE(run_until(loop, [&] { return !got.empty(); }));
  EXPECT_EQ(got, "from the server, compressed");
}

}  // namespace
