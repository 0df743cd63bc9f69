// A raw TCP peer against the zws server: fragments, control frames, rule
// violations, garbage and abrupt disconnects. The server must answer each with
// the RFC's code and keep serving everyone else.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

struct protocol_fixture : ::testing::Test {
  std::vector<std::string> messages;
  std::vector<std::pair<std::uint16_t, std::string>> closes;
  zws::Loop loop;
  zws::Server server{loop};

  void SetUp() override {
    server.route("/", {
        .on_message = [this](zws::WebSocket& ws, const zws::Message& m) {
          messages.emplace_back(m.data);
          ws.send(m.data, m.opcode);
        },
        .on_close = [this](zws::WebSocket&, std::uint16_t c, std::string_view r) { closes.emplace_back(c, r); },
        .max_message_size = 1 << 20,
    });
    ASSERT_FALSE(server.listen("127.0.0.1", 0));
  }

  // A second, well-behaved peer must still be served.
  void expect_others_unaffected() {
    raw_peer other(loop, server.port());
    ASSERT_NE(other.handshake().find("101"), std::string::npos);
    other.write(client_frame(opcode::text, "still here"));
    auto f = other.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->payload, "still here");
  }

  // Expects a Close frame with `code`, then EOF from the server.
  void expect_close(raw_peer& p, std::uint16_t code) {
    auto f = p.read_frame();
    ASSERT_TRUE(f);
    EXPECT_EQ(f->op, opcode::close);
    EXPECT_EQ(close_code_of_payload(f->payload), code) << f->payload.substr(std::min<std::size_t>(2, f->payload.size()));
    EXPECT_TRUE(p.wait_eof());
  }
};

TEST_F(protocol_fixture, FragmentedMessageWithPingInTheMiddle) {
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake().find("101 Switching Protocols"), std::string::npos);
  p.write(client_frame(opcode::text, "Hel", false) + client_frame(opcode::ping, "mid") +
          client_frame(opcode::continuation, "lo, ", false) + client_frame(opcode::continuation, "world"));
  auto pong = p.read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->op, opcode::pong);
  EXPECT_EQ(pong->payload, "mid");
  auto echo = p.read_frame();
  ASSERT_TRUE(echo);
  EXPECT_EQ(echo->op, opcode::text);
  EXPECT_EQ(echo->payload, "Hello, world");
  EXPECT_EQ(messages, std::vector<std::string>{"Hello, world"});
}

TEST_F(protocol_fixture, FourMegabytesIn64ByteFragmentsPassTheDefaults) {
  server.route("/big", {.on_message = [this](zws::WebSocket& ws, const zws::Message& m) {
    messages.emplace_back(m.data);
    ws.send_text(std::to_string(m.data.size()));
  }});
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake("/big").find("101"), std::string::npos);
  std::string wire;
  const std::size_t total = 4 << 20, piece = 64;
  std::string chunk(piece, 'x');
  for (std::size_t off = 0; off < total; off += piece) {
    opcode op = off == 0 ? opcode::binary : opcode::continuation;
    wire += client_frame(op, chunk, off + piece >= total);
  }
  ASSERT_TRUE(p.write(wire));
  auto f = p.read_frame(10000ms);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, std::to_string(total));
}

TEST_F(protocol_fixture, UnmaskedClientFrameGets1002) {
  raw_peer p(loop, server.port());
  p.handshake();
  p.write(client_frame(opcode::text, "naked", true, false));
  expect_close(p, 1002);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1002);
  expect_others_unaffected();
}

TEST_F(protocol_fixture, InvalidUtf8Gets1007) {
  raw_peer p(loop, server.port());
  p.handshake();
  p.write(client_frame(opcode::text, "\xC0\xAF"));
  expect_close(p, 1007);
  EXPECT_TRUE(messages.empty());
}

TEST_F(protocol_fixture, MessageOverTheLimitGets1009) {
  raw_peer p(loop, server.port());
  p.handshake();
  p.write(client_frame(opcode::binary, std::string((1 << 20) + 1, 'a')));
  expect_close(p, 1009);
  expect_others_unaffected();
}

TEST_F(protocol_fixture, ReservedBitsAndUnknownOpcodeGet1002) {
  raw_peer p(loop, server.port());
  p.handshake();
  std::string f = client_frame(opcode::text, "x");
  f[0] = static_cast<char>(f[0] | 0x40);
  p.write(f);
  expect_close(p, 1002);
  raw_peer q(loop, server.port());
  q.handshake();
  std::string g = client_frame(opcode::text, "x");
  g[0] = static_cast<char>((g[0] & 0xF0) | 0x3);
  q.write(g);
  expect_close(q, 1002);
}

TEST_F(protocol_fixture, CloseWithoutStatusIsReportedAs1005AndEchoedEmpty) {
  raw_peer p(loop, server.port());
  p.handshake();
  p.write(client_frame(opcode::close, ""));
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, opcode::close);
  EXPECT_EQ(f->payload, "");
  EXPECT_TRUE(p.wait_eof());  // the server closes TCP first
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1005);
}

TEST_F(protocol_fixture, GarbageInsteadOfAHandshakeGets400) {
  raw_peer p(loop, server.port());
  p.write("\x16\x03\x01 this is not HTTP\r\n\r\n");
  std::string answer = p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_TRUE(p.wait_eof());
  expect_others_unaffected();
}

TEST_F(protocol_fixture, HalfAHandshakeThenDisconnect) {
  {
    raw_peer p(loop, server.port());
    p.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgr");
    run_until(loop, [] { return false; }, 20ms);
  }
  run_until(loop, [] { return false; }, 20ms);
  EXPECT_TRUE(closes.empty());  // never opened: no on_close
  expect_others_unaffected();
}

TEST_F(protocol_fixture, DisconnectMidFrameIsAbnormalClosure) {
  {
    raw_peer p(loop, server.port());
    p.handshake();
    std::string f = client_frame(opcode::binary, std::string(1000, 'z'));
    p.write(f.substr(0, 300));
    run_until(loop, [] { return false; }, 20ms);
  }
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 1; }));
  EXPECT_EQ(closes[0].first, 1006);
  expect_others_unaffected();
}

TEST_F(protocol_fixture, UnknownPathGets404AndPlainHttpGets426) {
  raw_peer p(loop, server.port());
  std::string head = p.handshake("/nowhere");
  EXPECT_EQ(head.rfind("HTTP/1.1 404", 0), 0u) << head;
  raw_peer q(loop, server.port());
  q.write("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
  std::string answer = q.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(answer.rfind("HTTP/1.1 426", 0), 0u) << answer;
}

TEST_F(protocol_fixture, UpgradeCanAddResponseHeaders) {
  server.route("/cookie", {.on_upgrade = [](const zws::Request&, zws::Upgrade& up) { up.header("Set-Cookie", "a=b"); }});
  raw_peer p(loop, server.port());
  std::string head = p.handshake("/cookie");
  EXPECT_NE(head.find(" 101 "), std::string::npos);
  EXPECT_NE(head.find("\r\nSet-Cookie: a=b\r\n"), std::string::npos) << head;
}

TEST_F(protocol_fixture, BadVersionGets426WithVersionHeader) {
  raw_peer p(loop, server.port());
  p.write("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n");
  std::string answer = p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_EQ(answer.rfind("HTTP/1.1 426", 0), 0u) << answer;
  EXPECT_NE(answer.find("Sec-WebSocket-Version: 13"), std::string::npos);
}

TEST_F(protocol_fixture, FramesPipelinedWithTheHandshakeAreRead) {
  raw_peer p(loop, server.port());
  p.write(std::string("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n") +
          client_frame(opcode::text, "early"));
  p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  p.take(p.buffered().find("\r\n\r\n") + 4);
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "early");
}

TEST_F(protocol_fixture, RandomBytesAfterTheHandshakeNeverHurtTheServer) {
  std::uint32_t seed = 12345;
  auto next = [&seed] {
    seed = seed * 1664525u + 1013904223u;
    return seed >> 8;
  };
  for (int round = 0; round < 40; ++round) {
    raw_peer p(loop, server.port());
    p.handshake();
    std::string junk;
    // Half the rounds start with a plausible masked header, so the reader gets deep.
    if (round % 2 == 0) junk = client_frame(round % 4 == 0 ? opcode::text : opcode::binary, "ok", round % 3 != 0);
    std::size_t n = 1 + next() % 2000;
    for (std::size_t i = 0; i < n; ++i) junk += static_cast<char>(next() & 0xFF);
    p.write(junk);
    p.read_until([](const std::string&) { return false; }, 10ms);
  }
  run_until(loop, [] { return false; }, 50ms);
  expect_others_unaffected();
}

TEST_F(protocol_fixture, HandshakeSentByteByByte) {
  raw_peer p(loop, server.port());
  std::string req = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                    "X-Padding: " + std::string(1500, 'p') + "\r\n\r\n";
  for (char ch : req) {
    p.write(std::string(1, ch));
    loop.run_once(0ms);
  }
  std::string head = p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_NE(head.find(" 101 "), std::string::npos) << head;
}

TEST_F(protocol_fixture, SendingToAVanishedPeerNeverRaisesSigpipe) {
  zws::WebSocket::Handle handle;
  server.route("/sink", {
      .on_open = [&](zws::WebSocket& ws) { handle = ws.handle(); },
      .on_close = [this](zws::WebSocket&, std::uint16_t c, std::string_view r) { closes.emplace_back(c, r); },
  });
  {
    raw_peer p(loop, server.port());
    p.handshake("/sink");
    ASSERT_TRUE(run_until(loop, [&] { return bool(handle); }));
    linger hard{1, 0};  // close with RST: the next send on the server fails with EPIPE/ECONNRESET
    ::setsockopt(p.fd(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
  }
  for (int i = 0; i < 20; ++i) {
    handle.send(std::string(100000, 'x'), opcode::binary);
    loop.run_once(1ms);
  }
  run_until(loop, [&] { return !closes.empty(); }, 1000ms);
  ASSERT_EQ(closes.size(), 1u);  // still alive, and the loss was reported once
  EXPECT_EQ(closes[0].first, 1006);
}

}  // namespace
