// Every byte from the network is hostile: raw TCP peers against a zws Server on
// an ephemeral loopback port. Handshake abuse (floods, slowloris, pipelining,
// malformed requests), every RFC 6455 §5 violation with its exact close code,
// resource abuse (huge declared lengths, trickled 16 MiB messages, 100k empty
// continuations, ping floods), callback lifetimes, shutdown while peers are mid
// handshake or mid message, and 2,000 stalled peers next to one good one.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;
using clk = std::chrono::steady_clock;

// A frame with a raw first byte (FIN, RSV, opcode as given), masked with key
// 1,2,3,4 unless `mask` is false, and a declared length that may differ from the
// payload actually appended (for headers that promise more than is sent).
std::string raw_frame(std::uint8_t b0, std::string_view payload, bool mask = true,
                      std::optional<std::uint64_t> declared = std::nullopt) {
  const std::uint64_t len = declared.value_or(payload.size());
  std::string out;
  out.push_back(static_cast<char>(b0));
  const std::uint8_t m = mask ? 0x80 : 0;
  if (len < 126) {
    out.push_back(static_cast<char>(m | len));
  } else if (len <= 0xFFFF) {
    out.push_back(static_cast<char>(m | 126));
    out.push_back(static_cast<char>(len >> 8));
    out.push_back(static_cast<char>(len & 0xFF));
  } else {
    out.push_back(static_cast<char>(m | 127));
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((len >> (8 * i)) & 0xFF));
  }
  const char key[4] = {1, 2, 3, 4};
  if (mask) out.append(key, 4);
  for (std::size_t i = 0; i < payload.size(); ++i) out.push_back(static_cast<char>(payload[i] ^ (mask ? key[i % 4] : 0)));
  return out;
}

std::string close_payload(std::uint16_t code, std::string_view reason = {}) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason);
  return p;
}

bool has_head(const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; }

// "HTTP/1.1 431 ..." -> 431; 0 when the text is no status line.
int status_of(const std::string& head) {
  if (head.size() < 12 || head.compare(0, 9, "HTTP/1.1 ") != 0) return 0;
  return std::atoi(head.substr(9, 3).c_str());
}

struct Hostile : ::testing::Test {
  int opens = 0;
  std::vector<std::string> messages;
  std::vector<std::pair<std::uint16_t, std::string>> closes;
  zws::Loop loop;
  std::unique_ptr<zws::Server> server = std::make_unique<zws::Server>(loop);

  zws::Behavior echo() {
    return {
        .on_open = [this](zws::WebSocket&) { ++opens; },
        .on_message =
            [this](zws::WebSocket& ws, const zws::Message& m) {
              messages.emplace_back(m.data);
              ws.send(m.data, m.opcode);
            },
        .on_close = [this](zws::WebSocket&, std::uint16_t c,
                           std::string_view r) { closes.emplace_back(c, std::string(r)); },
    };
  }
  void listen(zws::Behavior b) {
    server->route("/", std::move(b));
    ASSERT_FALSE(server->listen("127.0.0.1", 0));
  }
  std::uint16_t port() const { return server->port(); }
  void idle(std::chrono::milliseconds d) { run_until(loop, [] { return false; }, d); }

  // Reads frames until a Close; returns its payload (nullopt: none came).
  static std::optional<std::string> next_close(raw_peer& p, std::chrono::milliseconds limit = 3000ms) {
    auto end = clk::now() + limit;
    while (clk::now() < end) {
      auto f = p.read_frame(std::chrono::duration_cast<std::chrono::milliseconds>(end - clk::now()));
      if (!f) return std::nullopt;
      if (f->op == opcode::close) return f->payload;
    }
    return std::nullopt;
  }
  // A Close with `code` arrives, then the server ends TCP.
  static void expect_close_then_eof(raw_peer& p, std::uint16_t code, const std::string& what) {
    auto c = next_close(p);
    ASSERT_TRUE(c) << what << ": no Close frame";
    EXPECT_EQ(close_code_of_payload(*c), code) << what << ": reason '" << c->substr(std::min<std::size_t>(2, c->size()))
                                               << "'";
    EXPECT_TRUE(p.wait_eof(3000ms)) << what << ": TCP not closed after the Close";
  }
  // A well-behaved peer that is already open gets its echo.
  static void expect_echo(raw_peer& p, const std::string& text) {
    ASSERT_TRUE(p.write(client_frame(opcode::text, text)));
    auto f = p.read_frame(3000ms);
    ASSERT_TRUE(f) << "no echo of " << text;
    EXPECT_EQ(f->op, opcode::text);
    EXPECT_EQ(f->payload, text);
  }
};

// --- handshake -----------------------------------------------------------------------

TEST_F(Hostile, HeadOverMaxHeadSizeGets431AndClose) {
  listen(echo());  // default max_head_size 8192
  raw_peer big(loop, port());
  big.write(upgrade_request("/", "X-Big: " + std::string(9000, 'a') + "\r\n"));
  std::string head = big.read_until(has_head);
  EXPECT_EQ(status_of(head), 431) << head;
  EXPECT_TRUE(big.wait_eof());

  // A head that never ends: 1 MiB of one header line. 431 without buffering it all.
  raw_peer flood(loop, port());
  ASSERT_TRUE(flood.write("GET / HTTP/1.1\r\nX-Flood: " + std::string(1 << 20, 'b')));
  head = flood.read_until(has_head);
  EXPECT_EQ(status_of(head), 431) << head.substr(0, 100);
  EXPECT_TRUE(flood.wait_eof());
  EXPECT_EQ(opens, 0);
}

TEST_F(Hostile, MaxHeadersIsExactBoundary) {
  listen(echo());  // default max_headers 64; upgrade_request() has 5 fields
  std::string fields;
  for (int i = 0; i < 59; ++i) fields += "X-H" + std::to_string(i) + ": v\r\n";
  raw_peer ok(loop, port());
  EXPECT_EQ(status_of(ok.handshake("/", fields)), 101);
  raw_peer over(loop, port());
  EXPECT_EQ(status_of(over.handshake("/", fields + "X-One-Too-Many: v\r\n")), 431);
  EXPECT_TRUE(over.wait_eof());
  // 1,000 tiny header fields, well within the byte limit.
  raw_peer many(loop, port());
  std::string tiny;
  for (int i = 0; i < 1000; ++i) tiny += "A:\r\n";
  EXPECT_EQ(status_of(many.handshake("/", tiny)), 431);
  EXPECT_TRUE(many.wait_eof());
}

TEST_F(Hostile, SlowlorisIsCutAtHandshakeTimeout) {
  auto b = echo();
  b.handshake_timeout = 100ms;
  listen(std::move(b));
  raw_peer slow(loop, port());
  const std::string head = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + std::string(400, 'z');
  auto start = clk::now();
  std::size_t sent = 0;
  std::string got;
  // One byte every ~10 ms: each byte is progress, none may push the deadline.
  while (clk::now() - start < 2000ms && !has_head(got)) {
    if (sent < head.size()) ::send(slow.fd(), head.data() + sent++, 1, MSG_NOSIGNAL);
    got = slow.read_until(has_head, 10ms);
  }
  auto elapsed = clk::now() - start;
  EXPECT_EQ(status_of(got), 408) << got;
  EXPECT_GE(elapsed, 100ms);
  EXPECT_LT(elapsed, 600ms);
  EXPECT_TRUE(slow.wait_eof(2000ms));
  EXPECT_EQ(opens, 0);
}

TEST_F(Hostile, FramesPipelinedWithTheUpgradeRequestAreProcessed) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_TRUE(p.write(upgrade_request() + client_frame(opcode::text, "one") + client_frame(opcode::binary, "two") +
                      client_frame(opcode::ping, "p") + raw_frame(0x88, close_payload(1000, "done"))));
  std::string head = p.read_until(has_head);
  ASSERT_EQ(status_of(head), 101) << head;
  p.take(head.find("\r\n\r\n") + 4);
  auto f1 = p.read_frame(), f2 = p.read_frame(), f3 = p.read_frame(), f4 = p.read_frame();
  ASSERT_TRUE(f1 && f2 && f3 && f4);
  EXPECT_EQ(f1->op, opcode::text);
  EXPECT_EQ(f1->payload, "one");
  EXPECT_EQ(f2->op, opcode::binary);
  EXPECT_EQ(f2->payload, "two");
  EXPECT_EQ(f3->op, opcode::pong);
  EXPECT_EQ(f3->payload, "p");
  EXPECT_EQ(f4->op, opcode::close);
  EXPECT_EQ(close_code_of_payload(f4->payload), 1000);
  EXPECT_TRUE(p.wait_eof());
  EXPECT_EQ(messages, (std::vector<std::string>{"one", "two"}));
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0], std::make_pair(std::uint16_t{1000}, std::string("done")));
}

TEST_F(Hostile, PipelinedFramesAfterAHeadSplitOverReads) {
  listen(echo());
  raw_peer p(loop, port());
  std::string req = upgrade_request();
  ASSERT_TRUE(p.write(req.substr(0, 20)));
  idle(20ms);
  ASSERT_TRUE(p.write(req.substr(20) + client_frame(opcode::text, "after split")));
  std::string head = p.read_until(has_head);
  ASSERT_EQ(status_of(head), 101);
  p.take(head.find("\r\n\r\n") + 4);
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "after split");
}

TEST_F(Hostile, PipelinedFramesAfterANearlyMaximalHead) {
  listen(echo());  // default max_head_size 8192
  raw_peer p(loop, port());
  // The head ends a little under the limit; 20 KiB of frames follow in the same write.
  std::string req = upgrade_request("/", "X-Pad: " + std::string(8000, 'p') + "\r\n");
  ASSERT_LT(req.size(), 8192u);
  std::string wire = req;
  for (int i = 0; i < 20; ++i) wire += client_frame(opcode::binary, std::string(1000, char('A' + i)));
  ASSERT_TRUE(p.write(wire));
  std::string head = p.read_until(has_head);
  ASSERT_EQ(status_of(head), 101) << head.substr(0, 40);
  p.take(head.find("\r\n\r\n") + 4);
  for (int i = 0; i < 20; ++i) {
    auto f = p.read_frame();
    ASSERT_TRUE(f) << i;
    EXPECT_EQ(f->payload, std::string(1000, char('A' + i)));
  }
}

struct bad_request {
  const char* what;
  std::string bytes;
  int status;
};

TEST_F(Hostile, BadRequestsGetTheRightStatusAndAClose) {
  listen(echo());
  const std::string tail = "\r\n";
  const std::string host = "Host: 127.0.0.1\r\n", up = "Upgrade: websocket\r\n", conn = "Connection: Upgrade\r\n",
                    key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ver = "Sec-WebSocket-Version: 13\r\n";
  const std::vector<bad_request> cases = {
      {"missing key", "GET / HTTP/1.1\r\n" + host + up + conn + ver + tail, 400},
      {"short key", "GET / HTTP/1.1\r\n" + host + up + conn + "Sec-WebSocket-Key: AAAA\r\n" + ver + tail, 400},
      {"key not base64", "GET / HTTP/1.1\r\n" + host + up + conn + "Sec-WebSocket-Key: !!!!!!!!!!!!!!!!!!!!!!==\r\n" +
                             ver + tail, 400},
      {"two keys", "GET / HTTP/1.1\r\n" + host + up + conn + key + key + ver + tail, 400},
      {"version 8", "GET / HTTP/1.1\r\n" + host + up + conn + key + "Sec-WebSocket-Version: 8\r\n" + tail, 426},
      {"missing version", "GET / HTTP/1.1\r\n" + host + up + conn + key + tail, 426},
      {"missing upgrade", "GET / HTTP/1.1\r\n" + host + conn + key + ver + tail, 426},
      {"upgrade h2c", "GET / HTTP/1.1\r\n" + host + "Upgrade: h2c\r\n" + conn + key + ver + tail, 426},
      {"missing connection", "GET / HTTP/1.1\r\n" + host + up + key + ver + tail, 400},
      {"connection keep-alive only", "GET / HTTP/1.1\r\n" + host + up + "Connection: keep-alive\r\n" + key + ver + tail,
       400},
      {"missing host", "GET / HTTP/1.1\r\n" + up + conn + key + ver + tail, 400},
      {"POST", "POST / HTTP/1.1\r\n" + host + up + conn + key + ver + tail, 405},
      {"HTTP/1.0", "GET / HTTP/1.0\r\n" + host + up + conn + key + ver + tail, 400},
      {"HTTP/2.0", "GET / HTTP/2.0\r\n" + host + up + conn + key + ver + tail, 400},
      {"unknown path", upgrade_request("/nowhere"), 404},
      {"bare LF", "GET / HTTP/1.1\n" + host + up + conn + key + ver + "\n", 400},
      {"garbage", std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 15), 400},
      {"NUL in header", "GET / HTTP/1.1\r\n" + host + "X-A: a" + std::string(1, '\0') + "b\r\n" + up + conn + key +
                            ver + tail, 400},
      {"folded header", "GET / HTTP/1.1\r\n" + host + up + conn + " continued\r\n" + key + ver + tail, 400},
  };
  for (const auto& c : cases) {
    raw_peer p(loop, port());
    ASSERT_TRUE(p.write(c.bytes)) << c.what;
    std::string head = p.read_until(has_head);
    EXPECT_EQ(status_of(head), c.status) << c.what << ": " << head;
    if (c.status == 426) {
      EXPECT_NE(head.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos) << c.what;
    }
    EXPECT_TRUE(p.wait_eof()) << c.what;
  }
  EXPECT_EQ(opens, 0);
  EXPECT_EQ(server->connections(), 0u);
}

TEST_F(Hostile, SecondRequestOnAnUpgradedConnectionIsAProtocolError) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_TRUE(p.write(upgrade_request() + upgrade_request()));
  std::string head = p.read_until(has_head);
  ASSERT_EQ(status_of(head), 101);
  p.take(head.find("\r\n\r\n") + 4);
  // "GET ..." read as a frame: 'G' = 0x47 has RSV1 set.
  expect_close_then_eof(p, 1002, "second request");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1002);
  EXPECT_TRUE(messages.empty());
}

TEST_F(Hostile, UpgradeThenImmediateCloseFiresOnCloseOnceWith1006) {
  listen(echo());
  constexpr int n = 20;
  for (int i = 0; i < n; ++i) {
    raw_peer p(loop, port());
    ASSERT_TRUE(p.write(upgrade_request()));
    p.close();
  }
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == n; }, 3000ms)) << closes.size();
  idle(50ms);
  EXPECT_EQ(opens, n);
  ASSERT_EQ(closes.size(), std::size_t(n));
  for (const auto& c : closes) EXPECT_EQ(c.first, 1006);
  EXPECT_EQ(server->connections(), 0u);
}

// --- frames: every §5 violation gets its close code ------------------------------

struct violation {
  const char* what;
  std::string bytes;
  std::uint16_t code;
};

TEST_F(Hostile, EveryFrameViolationGetsItsCloseCodeWhileOthersAreServed) {
  auto b = echo();
  b.max_message_size = 1024;
  listen(std::move(b));
  raw_peer bystander(loop, port());
  ASSERT_EQ(status_of(bystander.handshake()), 101);

  const auto text = [](std::string_view s, bool fin = true) { return raw_frame(fin ? 0x81 : 0x01, s); };
  const auto cont = [](std::string_view s, bool fin = true) { return raw_frame(fin ? 0x80 : 0x00, s); };
  const std::vector<violation> cases = {
      {"RSV1", raw_frame(0xC1, "x"), 1002},
      {"RSV2", raw_frame(0xA1, "x"), 1002},
      {"RSV3", raw_frame(0x91, "x"), 1002},
      {"RSV on ping", raw_frame(0xC9, ""), 1002},
      {"opcode 3", raw_frame(0x83, "x"), 1002},
      {"opcode 7", raw_frame(0x87, "x"), 1002},
      {"opcode 0xB", raw_frame(0x8B, ""), 1002},
      {"opcode 0xF", raw_frame(0x8F, ""), 1002},
      {"unmasked text", raw_frame(0x81, "hi", false), 1002},
      {"unmasked close", raw_frame(0x88, close_payload(1000), false), 1002},
      {"continuation first", cont("x"), 1002},
      {"unfinished continuation first", cont("x", false), 1002},
      {"text inside fragmented", text("a", false) + text("b"), 1002},
      {"binary inside fragmented", text("a", false) + raw_frame(0x82, "b"), 1002},
      {"fragmented ping", raw_frame(0x09, "p"), 1002},
      {"fragmented close", raw_frame(0x08, close_payload(1000)), 1002},
      {"ping of 126", raw_frame(0x89, std::string(126, 'p')), 1002},
      {"ping 16-bit length 5", raw_frame(0x89, "12345", true, std::nullopt).replace(1, 1, "\xfe\x00\x05", 3), 1002},
      {"close of 126", raw_frame(0x88, close_payload(1000, std::string(124, 'r'))), 1002},
      {"close of one byte", raw_frame(0x88, "\x03"), 1002},
      {"close code 0", raw_frame(0x88, close_payload(0)), 1002},
      {"close code 999", raw_frame(0x88, close_payload(999)), 1002},
      {"close code 1004", raw_frame(0x88, close_payload(1004)), 1002},
      {"close code 1005", raw_frame(0x88, close_payload(1005)), 1002},
      {"close code 1006", raw_frame(0x88, close_payload(1006)), 1002},
      {"close code 1015", raw_frame(0x88, close_payload(1015)), 1002},
      {"close code 2999", raw_frame(0x88, close_payload(2999)), 1002},
      {"close code 5000", raw_frame(0x88, close_payload(5000)), 1002},
      {"close code 65535", raw_frame(0x88, close_payload(65535)), 1002},
      {"close reason not UTF-8", raw_frame(0x88, close_payload(1000, "\xff")), 1007},
      {"text 0xFF", text("a\xff"), 1007},
      {"text surrogate", text("\xed\xa0\x80"), 1007},
      {"text overlong", text("\xc0\xaf"), 1007},
      {"text above U+10FFFF", text("\xf4\x90\x80\x80"), 1007},
      {"text truncated at FIN", text("ok\xe2\x82"), 1007},
      {"fragmented text broken across frames", text("\xce", false) + cont("A"), 1007},
      {"fragmented text truncated at FIN", text("\xf0\x9f", false) + cont("\x98"), 1007},
      {"length MSB set", raw_frame(0x82, "", true, std::uint64_t{1} << 63), 1002},
      {"length 2^62", raw_frame(0x82, "", true, std::uint64_t{1} << 62), 1009},
      {"length 2^64-1", raw_frame(0x82, "", true, ~std::uint64_t{0}), 1002},
      {"one byte over max_message_size", raw_frame(0x82, "", true, 1025), 1009},
      {"fragments over max_message_size", raw_frame(0x02, std::string(1000, 'a')) + raw_frame(0x80, std::string(25, 'b')),
       1009},
      {"continuation over max after many", [&] {
         std::string s = raw_frame(0x02, std::string(100, 'a'));
         for (int i = 0; i < 9; ++i) s += raw_frame(0x00, std::string(100, 'a'));
         return s + raw_frame(0x80, std::string(25, 'a'));
       }(), 1009},
  };
  std::size_t expected_closes = 0;
  for (const auto& c : cases) {
    raw_peer p(loop, port());
    ASSERT_EQ(status_of(p.handshake()), 101) << c.what;
    ASSERT_TRUE(p.write(c.bytes)) << c.what;
    expect_close_then_eof(p, c.code, c.what);
    ++expected_closes;
    ASSERT_TRUE(run_until(loop, [&] { return closes.size() == expected_closes; }, 2000ms)) << c.what;
    EXPECT_EQ(closes.back().first, c.code) << c.what;
    expect_echo(bystander, std::string("still served after ") + c.what);
  }
  // Nothing was delivered but the bystander's echoes.
  EXPECT_EQ(messages.size(), cases.size());
  EXPECT_EQ(server->connections(), 1u);
}

TEST_F(Hostile, ValidCloseCodesAreEchoedAndReported) {
  listen(echo());
  for (std::uint16_t code : {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999}) {
    closes.clear();
    raw_peer p(loop, port());
    ASSERT_EQ(status_of(p.handshake()), 101);
    ASSERT_TRUE(p.write(raw_frame(0x88, close_payload(code, "r"))));
    expect_close_then_eof(p, code, "code " + std::to_string(code));
    ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 1; }));
    EXPECT_EQ(closes[0], std::make_pair(code, std::string("r")));
  }
  // The longest reason a Close can carry (123 bytes), multi-byte UTF-8 at its end.
  closes.clear();
  {
    raw_peer p(loop, port());
    ASSERT_EQ(status_of(p.handshake()), 101);
    const std::string reason = std::string(120, 'r') + "\xe2\x82\xac";
    ASSERT_TRUE(p.write(raw_frame(0x88, close_payload(3001, reason))));
    expect_close_then_eof(p, 3001, "123-byte reason");
    ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 1; }));
    EXPECT_EQ(closes[0], std::make_pair(std::uint16_t{3001}, reason));
  }
  // An empty Close: answered empty, reported as 1005.
  closes.clear();
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  ASSERT_TRUE(p.write(raw_frame(0x88, "")));
  auto c = next_close(p);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->size(), 0u);
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 1; }));
  EXPECT_EQ(closes[0].first, 1005);
}

TEST_F(Hostile, ControlFrameOf125BytesIsFine) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  std::string payload(125, 'q');
  ASSERT_TRUE(p.write(raw_frame(0x89, payload)));
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, opcode::pong);
  EXPECT_EQ(f->payload, payload);
}

TEST_F(Hostile, HugeDeclaredLengthIsRefusedFromTheHeaderAlone) {
  listen(echo());  // default max_message_size 16 MiB
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  // Header only: no payload byte follows, so an answer proves the header decided.
  auto start = clk::now();
  ASSERT_TRUE(p.write(raw_frame(0x82, "", true, std::uint64_t{1} << 62)));
  expect_close_then_eof(p, 1009, "2^62");
  EXPECT_LT(clk::now() - start, 1000ms);
  // Just over the default limit, declared in a 64-bit length.
  raw_peer q(loop, port());
  ASSERT_EQ(status_of(q.handshake()), 101);
  ASSERT_TRUE(q.write(raw_frame(0x82, "", true, (std::uint64_t{16} << 20) + 1)));
  expect_close_then_eof(q, 1009, "16 MiB + 1");
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return h;
}

TEST_F(Hostile, SixteenMiBMessageTrickledInSmallWrites) {
  std::size_t got_size = 0;
  std::uint64_t got_hash = 0;
  int count = 0;
  listen({.on_message =
              [&](zws::WebSocket& ws, const zws::Message& m) {
                ++count;
                got_size = m.data.size();
                got_hash = fnv1a(m.data);
                ws.send_text(std::to_string(m.data.size()));
              }});
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  std::string payload(std::size_t{16} << 20, '\0');  // exactly the default limit
  for (std::size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>((i * 31) ^ (i >> 11));
  const std::uint64_t want = fnv1a(payload);
  std::string wire = client_frame(opcode::binary, payload);
  constexpr std::size_t chunk = 8 * 1024;
  for (std::size_t off = 0; off < wire.size(); off += chunk) {
    ASSERT_TRUE(p.write(std::string_view(wire).substr(off, chunk)));
    loop.run_once(0ms);  // the server sees it in small reads
  }
  auto f = p.read_frame(10000ms);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, std::to_string(payload.size()));
  EXPECT_EQ(count, 1);
  EXPECT_EQ(got_size, payload.size());
  EXPECT_EQ(got_hash, want);
}

TEST_F(Hostile, HundredThousandEmptyContinuationsMakeOneMessage) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  std::string wire = raw_frame(0x01, "");
  const std::string empty = raw_frame(0x00, "");
  wire.reserve(wire.size() + 100'000 * empty.size() + 16);
  for (int i = 0; i < 100'000; ++i) wire += empty;
  wire += raw_frame(0x80, "ok");
  auto start = clk::now();
  ASSERT_TRUE(p.write(wire));
  auto f = p.read_frame(10000ms);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, opcode::text);
  EXPECT_EQ(f->payload, "ok");
  EXPECT_EQ(messages, std::vector<std::string>{"ok"});
  EXPECT_LT(clk::now() - start, 5000ms);
  EXPECT_TRUE(closes.empty());
}

// Regression (connection::send_control once skipped the backpressure check): a
// peer that sends pings and never reads must not make the server queue one pong
// per ping without bound; the close (1008) policy engages.
TEST_F(Hostile, PingFloodFromAPeerThatNeverReadsStaysBounded) {
  constexpr std::size_t limit = 64 * 1024;
  std::size_t max_buffered = 0;
  std::size_t pings = 0;
  auto b = echo();
  b.on_ping = [&](zws::WebSocket& ws, std::string_view) {
    ++pings;
    max_buffered = std::max(max_buffered, ws.buffered_amount());
  };
  b.max_backpressure = limit;
  listen(std::move(b));
  raw_peer p(loop, port());
  int small = 4096;
  ::setsockopt(p.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_EQ(status_of(p.handshake()), 101);
  const std::string ping = raw_frame(0x89, std::string(125, 'p'));
  std::string burst;
  for (int i = 0; i < 1024; ++i) burst += ping;  // 131 KiB
  // 16 MiB of pings, never reading a pong; stop early if the server gives up on us.
  for (int i = 0; i < 128 && closes.empty(); ++i)
    if (!p.write(burst, 2000ms)) break;
  run_until(loop, [&] { return !closes.empty(); }, 200ms);
  if (!closes.empty()) {
    EXPECT_EQ(closes[0].first, 1008);
  }
  EXPECT_LE(max_buffered, 2 * limit) << "after " << pings << " pings";
}

TEST_F(Hostile, EchoFloodFromAPeerThatNeverReadsIsClosedWith1008) {
  constexpr std::size_t limit = 64 * 1024;
  std::size_t max_buffered = 0;
  std::size_t dropped = 0;
  listen({
      .on_message =
          [&](zws::WebSocket& ws, const zws::Message& m) {
            messages.emplace_back();  // count only
            if (ws.send(m.data, m.opcode) == zws::send_status::dropped) ++dropped;
            max_buffered = std::max(max_buffered, ws.buffered_amount());
          },
      .on_close = [this](zws::WebSocket&, std::uint16_t c,
                         std::string_view r) { closes.emplace_back(c, std::string(r)); },
      .max_backpressure = limit,
  });
  raw_peer p(loop, port());
  int small = 4096;
  ::setsockopt(p.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  ASSERT_EQ(status_of(p.handshake()), 101);
  std::string burst;
  for (int i = 0; i < 128; ++i) burst += client_frame(opcode::binary, std::string(1024, 'e'));
  for (int i = 0; i < 128 && closes.empty(); ++i)  // up to 16 MiB, never reading
    if (!p.write(burst, 2000ms)) break;
  ASSERT_TRUE(run_until(loop, [&] { return !closes.empty(); }, 2000ms)) << messages.size() << " echoed";
  EXPECT_EQ(closes[0].first, 1008);
  EXPECT_GE(dropped, 1u);
  // The message that crosses the limit is accepted whole: one 1 KiB frame past it.
  EXPECT_LE(max_buffered, limit + 2048);
}

TEST_F(Hostile, DataAfterTheClientsCloseIsIgnored) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  ASSERT_TRUE(p.write(client_frame(opcode::text, "before") + raw_frame(0x88, close_payload(1000, "bye")) +
                      client_frame(opcode::text, "after") + client_frame(opcode::ping, "x")));
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "before");
  auto c = p.read_frame();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->op, opcode::close);
  EXPECT_EQ(close_code_of_payload(c->payload), 1000);
  // More data later, even a protocol violation: still ignored, no second close code.
  p.write(client_frame(opcode::text, "later") + raw_frame(0xF1, "garbage", false));
  EXPECT_TRUE(p.wait_eof());
  EXPECT_TRUE(p.buffered().empty()) << "server sent more after its Close";
  EXPECT_EQ(messages, std::vector<std::string>{"before"});
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0], std::make_pair(std::uint16_t{1000}, std::string("bye")));
}

TEST_F(Hostile, CloseTimeoutCutsAPeerThatKeepsTalkingInsteadOfAnswering) {
  auto b = echo();
  b.on_open = [this](zws::WebSocket& ws) {
    ++opens;
    ws.close(4001, "go");
  };
  b.close_timeout = 100ms;
  listen(std::move(b));
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  auto c = p.read_frame();
  ASSERT_TRUE(c);
  ASSERT_EQ(c->op, opcode::close);
  EXPECT_EQ(close_code_of_payload(c->payload), 4001);
  auto start = clk::now();
  // Traffic (messages and pings) every ~10 ms must not extend the close deadline.
  while (closes.empty() && clk::now() - start < 2000ms) {
    p.write(client_frame(opcode::text, "ignored") + client_frame(opcode::ping, "x"));
    idle(10ms);
  }
  auto elapsed = clk::now() - start;
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1006);
  EXPECT_LT(elapsed, 800ms);
  EXPECT_TRUE(messages.empty());
  EXPECT_TRUE(p.wait_eof());
  EXPECT_TRUE(p.buffered().empty()) << "pong or echo sent while closing";
}

TEST_F(Hostile, HalfCloseMidFrameFiresOnClose1006ExactlyOnce) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  std::string frame = client_frame(opcode::text, std::string(1000, 'h'));
  ASSERT_TRUE(p.write(frame.substr(0, 500)));
  idle(10ms);
  ASSERT_EQ(::shutdown(p.fd(), SHUT_WR), 0);
  ASSERT_TRUE(run_until(loop, [&] { return !closes.empty(); }, 2000ms));
  idle(50ms);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1006);
  EXPECT_TRUE(messages.empty());
  EXPECT_TRUE(p.wait_eof());
  EXPECT_EQ(server->connections(), 0u);

  // Half-close mid-handshake: no open, no close, the socket goes.
  raw_peer q(loop, port());
  ASSERT_TRUE(q.write(upgrade_request().substr(0, 30)));
  idle(10ms);
  ASSERT_EQ(::shutdown(q.fd(), SHUT_WR), 0);
  EXPECT_TRUE(q.wait_eof(2000ms));
  EXPECT_EQ(opens, 1);
  EXPECT_EQ(closes.size(), 1u);
}

// --- lifetimes ----------------------------------------------------------------------

TEST_F(Hostile, CloseInsideOnMessageThenSendIsDropped) {
  zws::send_status after_text = zws::send_status::sent, after_ping = zws::send_status::sent;
  bool open_after = true;
  auto b = echo();
  b.on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
    messages.emplace_back(m.data);
    ws.close(4000, "done");
    after_text = ws.send_text("after close");
    after_ping = ws.ping("p");
    open_after = ws.is_open();
    ws.close(4002, "twice");  // no second Close frame
  };
  listen(std::move(b));
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  ASSERT_TRUE(p.write(client_frame(opcode::text, "a") + client_frame(opcode::text, "b")));
  auto c = p.read_frame();
  ASSERT_TRUE(c);
  EXPECT_EQ(c->op, opcode::close) << "got " << c->payload;
  EXPECT_EQ(close_code_of_payload(c->payload), 4000);
  EXPECT_EQ(after_text, zws::send_status::dropped);
  EXPECT_EQ(after_ping, zws::send_status::dropped);
  EXPECT_FALSE(open_after);
  EXPECT_EQ(messages, std::vector<std::string>{"a"});
  ASSERT_TRUE(p.write(raw_frame(0x88, close_payload(4000))));
  EXPECT_TRUE(p.wait_eof());
  EXPECT_TRUE(p.buffered().empty());
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 4000);
}

TEST_F(Hostile, TerminateInsideOnMessageThenSendIsDropped) {
  zws::send_status after = zws::send_status::sent;
  auto b = echo();
  b.on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
    messages.emplace_back(m.data);
    ws.terminate();
    after = ws.send_text("after terminate");
    ws.close(1000, "after terminate");
    ws.terminate();
  };
  listen(std::move(b));
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  ASSERT_TRUE(p.write(client_frame(opcode::text, "a") + client_frame(opcode::text, "b") + client_frame(opcode::ping, "")));
  EXPECT_TRUE(p.wait_eof());
  EXPECT_TRUE(p.buffered().empty()) << "bytes after terminate";
  EXPECT_EQ(after, zws::send_status::dropped);
  EXPECT_EQ(messages, std::vector<std::string>{"a"});
  idle(20ms);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0], std::make_pair(std::uint16_t{1006}, std::string("terminated")));
  EXPECT_EQ(server->connections(), 0u);
}

TEST_F(Hostile, StaleHandleFromAnotherThreadIsANoOpEvenWhenTheSlotIsReused) {
  std::vector<zws::WebSocket::Handle> handles;
  auto b = echo();
  b.on_open = [&](zws::WebSocket& ws) {
    ++opens;
    handles.push_back(ws.handle());
  };
  listen(std::move(b));
  {
    raw_peer first(loop, port());
    ASSERT_EQ(status_of(first.handshake()), 101);
  }
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 1; }));
  idle(10ms);  // freed after its batch: the slot is free for the next one
  raw_peer second(loop, port());
  ASSERT_EQ(status_of(second.handshake()), 101);
  ASSERT_EQ(handles.size(), 2u);
  std::atomic<int> ran{0};
  std::atomic<bool> done{false};
  std::thread t([&, stale = handles[0]] {
    for (int i = 0; i < 2000; ++i) {
      stale.send("stale");
      stale.post([&](zws::WebSocket&) { ++ran; });
      if (i % 100 == 0) stale.close(4000, "stale");
    }
    done = true;
  });
  run_until(loop, [&] { return done.load(); }, 5000ms);
  t.join();
  idle(30ms);
  EXPECT_EQ(ran.load(), 0);
  second.read_until([](const std::string&) { return false; }, 50ms);
  EXPECT_TRUE(second.buffered().empty()) << "a stale handle reached the new connection";
  EXPECT_FALSE(second.eof());
  expect_echo(second, "alive");
  EXPECT_EQ(closes.size(), 1u);
}

TEST_F(Hostile, HandleSendsRacingWithThePeerLeaving) {
  zws::WebSocket::Handle handle;
  auto b = echo();
  b.on_open = [&](zws::WebSocket& ws) {
    ++opens;
    handle = ws.handle();
  };
  listen(std::move(b));
  auto p = std::make_unique<raw_peer>(loop, port());
  ASSERT_EQ(status_of(p->handshake()), 101);
  std::atomic<bool> stop{false};
  std::thread t([&, h = handle] {
    while (!stop.load()) {
      h.send("x");
      h.post([](zws::WebSocket& ws) { ws.send_text("from post"); });
      std::this_thread::yield();
    }
  });
  idle(20ms);
  p.reset();  // leaves while sends keep arriving
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 1; }, 3000ms));
  idle(30ms);
  stop = true;
  t.join();
  idle(20ms);
  EXPECT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1006);
}

TEST_F(Hostile, StopWhileClientsAreMidHandshakeAndMidMessage) {
  auto b = echo();
  b.close_timeout = 100ms;
  listen(std::move(b));
  raw_peer handshaking(loop, port());
  ASSERT_TRUE(handshaking.write(upgrade_request().substr(0, 40)));
  raw_peer mid_message(loop, port()), answering(loop, port());
  ASSERT_EQ(status_of(mid_message.handshake()), 101);
  ASSERT_EQ(status_of(answering.handshake()), 101);
  ASSERT_TRUE(mid_message.write(raw_frame(0x01, "frag") + client_frame(opcode::continuation, std::string(300, 'm')).substr(0, 100)));
  idle(20ms);
  ASSERT_EQ(opens, 2);
  auto start = clk::now();
  server->stop();
  // The open ones get Close 1001; the one mid-handshake is just cut.
  auto c1 = next_close(answering);
  ASSERT_TRUE(c1);
  EXPECT_EQ(close_code_of_payload(*c1), 1001);
  ASSERT_TRUE(answering.write(raw_frame(0x88, close_payload(1001))));
  auto c2 = next_close(mid_message);
  ASSERT_TRUE(c2);
  EXPECT_EQ(close_code_of_payload(*c2), 1001);
  EXPECT_TRUE(handshaking.wait_eof(2000ms));
  EXPECT_EQ(status_of(handshaking.buffered()), 0) << handshaking.buffered();
  // mid_message never answers: cut by close_timeout.
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 2; }, 2000ms));
  EXPECT_LT(clk::now() - start, 1000ms);
  EXPECT_TRUE(mid_message.wait_eof(2000ms));
  EXPECT_TRUE(answering.wait_eof(2000ms));
  idle(200ms);  // past the longest close_timeout: the stop completes
  std::vector<std::uint16_t> codes;
  for (auto& c : closes) codes.push_back(c.first);
  std::sort(codes.begin(), codes.end());
  EXPECT_EQ(codes, (std::vector<std::uint16_t>{1001, 1006}));
  EXPECT_TRUE(messages.empty());
  EXPECT_EQ(server->connections(), 0u);
  // Nobody listens any more.
  raw_peer late(loop, port());
  EXPECT_FALSE(late.ok() && status_of(late.handshake()) == 101);
}

TEST_F(Hostile, DestroyWhileClientsAreMidHandshakeAndMidMessage) {
  listen(echo());
  raw_peer handshaking(loop, port());
  ASSERT_TRUE(handshaking.write(upgrade_request().substr(0, 40)));
  raw_peer mid_message(loop, port()), open(loop, port());
  ASSERT_EQ(status_of(mid_message.handshake()), 101);
  ASSERT_EQ(status_of(open.handshake()), 101);
  ASSERT_TRUE(mid_message.write(raw_frame(0x02, std::string(5000, 'f')) +
                                client_frame(opcode::continuation, std::string(300, 'm')).substr(0, 100)));
  idle(20ms);
  ASSERT_EQ(opens, 2);
  server.reset();
  EXPECT_TRUE(handshaking.wait_eof(2000ms));
  EXPECT_TRUE(mid_message.wait_eof(2000ms));
  EXPECT_TRUE(open.wait_eof(2000ms));
  EXPECT_TRUE(closes.empty());  // documented: cut without callbacks
  // The loop goes on, and serves a new server.
  server = std::make_unique<zws::Server>(loop);
  opens = 0;
  listen(echo());
  raw_peer again(loop, port());
  ASSERT_EQ(status_of(again.handshake()), 101);
  expect_echo(again, "new server");
}

// Was a use-after-free (reported by this file): destroyed inside a batch,
// ~Server closed its connections, the reactor freed them after the batch, and
// their on_free reached into the freed server_loop. Fixed on main (close_all
// orphans them); kept as a regression test.
TEST_F(Hostile, DestroyFromATimerOnTheLoopIsSafe) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  loop.set_timeout(1ms, [this] { server.reset(); });
  ASSERT_TRUE(run_until(loop, [this] { return server == nullptr; }, 1000ms));
  idle(20ms);
  EXPECT_TRUE(p.wait_eof(1000ms));
  EXPECT_TRUE(closes.empty());
}

// BUG (lib/endpoint/server.cpp:351, Server::stop): stop() posts `begin_stop` with a raw
// server_loop pointer; destroying the Server (on its Loop's thread, as allowed)
// before the loop runs that post frees the server_loop, and the next batch calls
// begin_stop on freed memory (heap-use-after-free under ASan). The same holds for
// the posts of run() (:317), adopt() (:364) and broadcast() (:392).
TEST_F(Hostile, StopThenDestroyBeforeTheLoopRunsIsSafe) {
  listen(echo());
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  server->stop();
  server.reset();
  idle(50ms);
  EXPECT_TRUE(p.wait_eof(1000ms));
}

#if !defined(__SANITIZE_ADDRESS__)  // RLIMIT_AS and ASan's shadow memory do not mix
// Death tests below: caps this process's address space at its current size
// plus `headroom` bytes (RLIMIT_AS). False when it cannot.
bool limit_address_space(std::size_t headroom) {
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  rlimit rl{};
  ::getrlimit(RLIMIT_AS, &rl);
  rl.rlim_cur = static_cast<rlim_t>(pages) * 4096 + headroom;
  return pages != 0 && ::setrlimit(RLIMIT_AS, &rl) == 0;
}
#endif

// Was a crash (reported by this file): the connection reserved a frame's whole
// declared size (32 MiB for a 16 MiB header) when its 14-byte header arrived, and
// the std::bad_alloc of buffer::prepare escaped Loop::run_once. Under an
// address-space limit 32 peers sending 14 bytes each killed the server. Fixed on
// main (read_some grows with what arrives); kept as a regression test. Runs in a
// child process (a death test) with RLIMIT_AS = its size + 256 MiB; with 4 GiB
// of headroom the old code passed too, so the limit is what tells them apart.
TEST_F(Hostile, DeclaredLengthsDoNotReserveMemoryOrKillTheServer) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RLIMIT_AS and ASan's shadow memory do not mix";
#else
  const std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // re-exec: no state shared with this process
  auto child = [] {
    zws::Loop l;
    zws::Server s(l);
    s.route("/", {});  // default max_message_size: 16 MiB
    if (s.listen("127.0.0.1", 0)) std::_Exit(2);
    std::vector<std::unique_ptr<raw_peer>> peers;
    for (int i = 0; i < 32; ++i) {
      peers.push_back(std::make_unique<raw_peer>(l, s.port()));
      if (status_of(peers.back()->handshake()) != 101) std::_Exit(3);
    }
    if (!limit_address_space(std::size_t{256} << 20)) std::_Exit(4);
    // 14 bytes each: a header promising 16 MiB, then silence.
    for (auto& p : peers) p->write(raw_frame(0x82, "", true, std::uint64_t{16} << 20));
    run_until(l, [] { return false; }, 100ms);
    std::_Exit(s.connections() == 32 ? 0 : 5);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
  GTEST_FLAG_SET(death_test_style, style);
#endif
}

// A frame within max_message_size that this process cannot hold (its address
// space is nearly full) is the peer's frame being too big: Close 1009, the rest
// of the frame skipped unread, and the loop goes on. Was an uncaught bad_alloc.
// A death test like the one above: RLIMIT_AS = its size + 24 MiB, a 16 MiB frame.
TEST_F(Hostile, AFrameTheProcessCannotHoldCloses1009AndTheLoopGoesOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RLIMIT_AS and ASan's shadow memory do not mix";
#else
  const std::string style = GTEST_FLAG_GET(death_test_style);
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  auto child = [] {
    zws::Loop l;
    zws::Server s(l);
    std::uint16_t closed = 0;
    s.route("/", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); },
                  .on_close = [&](zws::WebSocket&, std::uint16_t code, std::string_view) { closed = code; }});
    if (s.listen("127.0.0.1", 0)) std::_Exit(2);
    raw_peer p(l, s.port());
    if (status_of(p.handshake()) != 101) std::_Exit(3);
    const std::string frame = client_frame(opcode::binary, std::string(std::size_t{16} << 20, 'x'));
    if (!limit_address_space(std::size_t{24} << 20)) std::_Exit(4);
    if (!p.write(frame)) std::_Exit(5);
    auto c = next_close(p);
    if (!c) std::_Exit(6);
    if (close_code_of_payload(*c) != 1009) std::_Exit(7);
    if (closed != 1009) std::_Exit(8);
    if (!p.wait_eof(3000ms)) std::_Exit(9);  // the rest of the frame skipped, then TCP closed
    raw_peer q(l, s.port());                 // and the server goes on serving
    if (status_of(q.handshake()) != 101 || !q.write(client_frame(opcode::text, "still here"))) std::_Exit(10);
    auto f = q.read_frame(3000ms);
    std::_Exit(f && f->payload == "still here" ? 0 : 11);
  };
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "");
  GTEST_FLAG_SET(death_test_style, style);
#endif
}

TEST_F(Hostile, AdoptedSocketWithPipelinedHostileBytes) {
  listen(echo());
  raw_server front;  // the application's own HTTP server
  raw_peer peer(loop, front.port());
  int fd = front.accept(loop);
  ASSERT_GE(fd, 0);
  // The application read the head plus a frame and a violation; zws takes over
  // (posted: this thread is not inside a batch).
  std::thread([&] {
    EXPECT_FALSE(server->adopt(fd, upgrade_request() + client_frame(opcode::text, "adopted") + raw_frame(0xC1, "x")));
  }).join();
  std::string head = peer.read_until(has_head);
  ASSERT_EQ(status_of(head), 101);
  peer.take(head.find("\r\n\r\n") + 4);
  auto f = peer.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "adopted");
  expect_close_then_eof(peer, 1002, "RSV1 after adopt");
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1002);
}

// BUG (lib/endpoint/server.cpp:361, Server::adopt): on the loop's thread adopt() calls
// start_connection inline even outside a batch, so `already_read` is processed
// outside a batch; a callback that calls terminate() there (on_message here, or
// on_open) makes reactor::close free the connection at once, and process_frames
// (lib/endpoint/connection.cpp:133 `dead()`) / server_handshake (lib/endpoint/upgrade.cpp:148
// `c.dead()`) then read the freed connection: heap-use-after-free under ASan.
TEST_F(Hostile, AdoptOnTheLoopThreadWithATerminatingCallbackIsSafe) {
  auto b = echo();
  b.on_message = [this](zws::WebSocket& ws, const zws::Message& m) {
    messages.emplace_back(m.data);
    ws.terminate();
  };
  listen(std::move(b));
  raw_server front;
  raw_peer peer(loop, front.port());
  int fd = front.accept(loop);
  ASSERT_GE(fd, 0);
  loop.run_once(0ms);  // this thread runs the loop, but is not inside a batch now
  ASSERT_TRUE(loop.in_loop_thread());
  EXPECT_FALSE(server->adopt(fd, upgrade_request() + client_frame(opcode::text, "bye")));
  idle(20ms);
  EXPECT_TRUE(peer.wait_eof(1000ms));
  EXPECT_EQ(messages, std::vector<std::string>{"bye"});
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1006);
}

// BUG (lib/io/reactor.cpp:66 reactor::close, with :297 serve_ready): a connection
// that used its read budget is put on the ready list for the next batch
// (read_later). If it is closed later in the same batch (a posted or deferred
// function, a user timer, a failed flush in run_flushes, or its close/draining
// deadline in run_wheel while the peer floods), reap() frees it, but
// it stays on ready_, and the next batch's serve_ready writes its flags and
// calls on_io on freed memory: heap-use-after-free under ASan.
// The server socket is adopted with a large SO_RCVBUF so that 3 MiB wait in the
// kernel and the budget (4 reads of up to 256 KiB) surely runs out.
TEST_F(Hostile, ClosingAConnectionWhoseReadBudgetRanOutIsSafe) {
  int count = 0;
  zws::WebSocket::Handle handle;
  listen({.on_open = [&](zws::WebSocket& ws) { handle = ws.handle(); },
          .on_message = [&](zws::WebSocket&, zws::Message) { ++count; },
          .on_close = [this](zws::WebSocket&, std::uint16_t c,
                             std::string_view r) { closes.emplace_back(c, std::string(r)); }});
  raw_server front;
  raw_peer peer(loop, front.port());
  int fd = front.accept(loop);
  ASSERT_GE(fd, 0);
  int big = 4 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
  std::thread([&] { EXPECT_FALSE(server->adopt(fd, upgrade_request())); }).join();
  ASSERT_TRUE(run_until(loop, [&] { return bool(handle); }));
  std::string frames;
  for (int i = 0; i < 48; ++i) frames += client_frame(opcode::binary, std::string(64 * 1024, 'f'));
  std::size_t queued = 0;
  while (queued < frames.size()) {
    ssize_t n = ::send(peer.fd(), frames.data() + queued, frames.size() - queued, MSG_NOSIGNAL);
    if (n <= 0) break;
    queued += static_cast<std::size_t>(n);
  }
  ASSERT_GE(queued, std::size_t{3} << 20) << "the kernel did not queue enough";
  // Read budget runs out in this batch (dispatch, then the ready list); the
  // posted terminate runs after that, in the same batch.
  handle.post([](zws::WebSocket& ws) { ws.terminate(); });
  loop.run_once(100ms);
  loop.run_once(10ms);  // serve_ready of the next batch
  idle(20ms);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1006);
  EXPECT_GT(count, 0);
}

// The same root cause through the flush list (lib/io/reactor.cpp:314 run_flushes): on
// the loop's thread outside a batch, broadcast() queues a frame (flush_later), a
// second broadcast meets the backpressure limit, the write fails on a reset peer,
// and close_later terminates the connection, which reactor::close frees at once
// (outside a batch) while it is still on flush_: the next batch touches it.
TEST_F(Hostile, BroadcastOutsideABatchToAResetPeerIsSafe) {
  auto b = echo();
  b.max_backpressure = 1024;
  listen(std::move(b));
  raw_peer p(loop, port());
  ASSERT_EQ(status_of(p.handshake()), 101);
  ASSERT_TRUE(run_until(loop, [&] { return opens == 1; }));
  linger lg{1, 0};
  ::setsockopt(p.fd(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  p.close();  // RST; the server has not read it yet
  ASSERT_TRUE(loop.in_loop_thread());
  server->broadcast("/", std::string(2000, 'a'));  // queued, flush_later
  server->broadcast("/", std::string(2000, 'b'));  // over the limit: write fails, cut
  loop.run_once(0ms);
  idle(20ms);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1006);
}

// --- many peers ---------------------------------------------------------------------

TEST_F(Hostile, AThousandHalfHandshakesDoNotStarveAGoodOneAndAllTimeOut) {
  auto b = echo();
  b.handshake_timeout = 300ms;
  listen(std::move(b));
  constexpr int n = 1000;
  std::vector<std::unique_ptr<raw_peer>> peers;
  const std::string half = upgrade_request().substr(0, 50);
  auto start = clk::now();
  for (int i = 0; i < n; ++i) {
    peers.push_back(std::make_unique<raw_peer>(loop, port()));
    ASSERT_TRUE(peers.back()->ok()) << i;
    ASSERT_EQ(::send(peers.back()->fd(), half.data(), half.size(), MSG_NOSIGNAL), ssize_t(half.size()));
    if (i % 64 == 63) loop.run_once(0ms);
  }
  raw_peer good(loop, port());
  ASSERT_EQ(status_of(good.handshake()), 101);
  expect_echo(good, "not starved");
  EXPECT_LT(clk::now() - start, 300ms) << "too slow to test the timeout";
  // Every stalled one gets 408 and EOF, none much after the timeout.
  for (auto& p : peers) {
    std::string head = p->read_until(has_head, 2000ms);
    ASSERT_EQ(status_of(head), 408) << head;
    ASSERT_TRUE(p->wait_eof(2000ms));
  }
  EXPECT_LT(clk::now() - start, 1500ms);
  EXPECT_EQ(opens, 1);
  EXPECT_EQ(server->connections(), 1u);
  expect_echo(good, "still fine");
}

TEST_F(Hostile, TwoThousandStalledPeersDoNotStarveAGoodOne) {
  listen(echo());
  constexpr int n = 2000;
  std::vector<std::unique_ptr<raw_peer>> peers;
  peers.reserve(n);
  const std::string req = upgrade_request();
  for (int i = 0; i < n; ++i) {
    peers.push_back(std::make_unique<raw_peer>(loop, port()));
    ASSERT_TRUE(peers.back()->ok()) << i;
    ASSERT_EQ(::send(peers.back()->fd(), req.data(), req.size(), MSG_NOSIGNAL), ssize_t(req.size()));
    if (i % 64 == 63) loop.run_once(0ms);
  }
  ASSERT_TRUE(run_until(loop, [&] { return server->connections() == n; }, 10000ms)) << server->connections();
  for (auto& p : peers) {
    std::string head = p->read_until(has_head, 2000ms);
    ASSERT_EQ(status_of(head), 101);
    p->take(head.find("\r\n\r\n") + 4);
  }
  raw_peer good(loop, port());
  ASSERT_EQ(status_of(good.handshake()), 101);
  // Every stalled peer sends half a frame, then the good one a whole message.
  std::vector<std::string> frames;
  for (int i = 0; i < n; ++i) frames.push_back(client_frame(opcode::binary, std::string(1000, char('a' + i % 26))));
  for (int i = 0; i < n; ++i)
    ASSERT_EQ(::send(peers[i]->fd(), frames[i].data(), 500, MSG_NOSIGNAL), 500);
  auto start = clk::now();
  ASSERT_TRUE(good.write(client_frame(opcode::text, "not starved")));
  auto f = good.read_frame(5000ms);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "not starved");
  EXPECT_LT(clk::now() - start, 1000ms);
  EXPECT_EQ(messages.size(), 1u);
  // The stalled peers finish their frames: each gets its own message back.
  for (int i = 0; i < n; ++i) {
    std::string_view rest = std::string_view(frames[i]).substr(500);
    ASSERT_EQ(::send(peers[i]->fd(), rest.data(), rest.size(), MSG_NOSIGNAL), ssize_t(rest.size()));
  }
  for (int i = 0; i < n; ++i) {
    auto e = peers[i]->read_frame(5000ms);
    ASSERT_TRUE(e) << i;
    ASSERT_EQ(e->payload, std::string(1000, char('a' + i % 26))) << i;
  }
  EXPECT_EQ(messages.size(), std::size_t(n) + 1);
  EXPECT_TRUE(closes.empty());
}

}  // namespace
