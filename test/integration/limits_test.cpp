// Each limit and timeout, configured short, enforced with the right close code
// or HTTP status; and the backpressure policies against a peer that never reads.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

struct limits_fixture : ::testing::Test {
  std::vector<std::pair<std::uint16_t, std::string>> closes;
  zws::Loop loop;
  zws::Server server{loop};

  void listen() { ASSERT_FALSE(server.listen("127.0.0.1", 0)); }
  auto record_close() {
    return [this](zws::WebSocket&, std::uint16_t c, std::string_view r) { closes.emplace_back(c, r); };
  }
  static std::string response_head(raw_peer& p) {
    return p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  }
};

TEST_F(limits_fixture, HandshakeTimeoutAnswers408) {
  server.route("/", {.handshake_timeout = 50ms});
  listen();
  raw_peer p(loop, server.port());
  auto start = std::chrono::steady_clock::now();
  std::string head = response_head(p);
  EXPECT_EQ(head.rfind("HTTP/1.1 408", 0), 0u) << head;
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_TRUE(p.wait_eof());
}

TEST_F(limits_fixture, IdleTimeoutPingsFirstThenCloses1001) {
  server.route("/", {.on_close = record_close(), .idle_timeout = 60ms});
  listen();
  raw_peer p(loop, server.port());
  p.handshake();
  auto ping = p.read_frame();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->op, opcode::ping);
  auto close = p.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->op, opcode::close);
  EXPECT_EQ(close_code_of_payload(close->payload), 1001);
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0].first, 1001);
}

TEST_F(limits_fixture, TrafficKeepsAnIdleConnectionOpen) {
  server.route("/", {.on_close = record_close(), .idle_timeout = 80ms, .ping_when_idle = false});
  listen();
  raw_peer p(loop, server.port());
  p.handshake();
  for (int i = 0; i < 6; ++i) {
    run_until(loop, [] { return false; }, 30ms);
    p.write(client_frame(opcode::pong, ""));  // unsolicited pong: traffic all the same
  }
  EXPECT_TRUE(closes.empty());
  auto close = p.read_frame();  // now silent: closed without a ping
  ASSERT_TRUE(close);
  EXPECT_EQ(close->op, opcode::close);
  EXPECT_EQ(close_code_of_payload(close->payload), 1001);
}

TEST_F(limits_fixture, CloseTimeoutCutsAPeerThatNeverAnswers) {
  server.route("/", {
      .on_open = [](zws::WebSocket& ws) { ws.close(1000, "bye"); },
      .on_close = record_close(),
      .close_timeout = 50ms,
  });
  listen();
  raw_peer p(loop, server.port());
  p.handshake();
  auto close = p.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->op, opcode::close);
  ASSERT_TRUE(run_until(loop, [&] { return !closes.empty(); }));
  EXPECT_EQ(closes[0].first, 1006);
  EXPECT_TRUE(p.wait_eof());
}

TEST_F(limits_fixture, MaxConnectionsRefuses503) {
  server.route("/", {.max_connections = 2});
  listen();
  raw_peer a(loop, server.port()), b(loop, server.port()), c(loop, server.port());
  EXPECT_NE(a.handshake().find(" 101 "), std::string::npos);
  EXPECT_NE(b.handshake().find(" 101 "), std::string::npos);
  EXPECT_EQ(c.handshake().rfind("HTTP/1.1 503", 0), 0u);
  a.close();
  ASSERT_TRUE(run_until(loop, [&] { return server.connections() == 1; }));
  raw_peer d(loop, server.port());
  EXPECT_NE(d.handshake().find(" 101 "), std::string::npos);
}

TEST_F(limits_fixture, ServerWideMaxConnectionsCountsEveryRoute) {
  server.route("/a", {});
  server.route("/b", {});
  server.max_connections(1);
  listen();
  raw_peer a(loop, server.port()), b(loop, server.port());
  EXPECT_NE(a.handshake("/a").find(" 101 "), std::string::npos);
  EXPECT_EQ(b.handshake("/b").rfind("HTTP/1.1 503", 0), 0u);
}

TEST_F(limits_fixture, HeadTooLargeAndTooManyHeadersGet431) {
  server.route("/", {.max_head_size = 512, .max_headers = 8});
  listen();
  raw_peer a(loop, server.port());
  EXPECT_EQ(a.handshake("/", "X-Big: " + std::string(600, 'a') + "\r\n").rfind("HTTP/1.1 431", 0), 0u);
  std::string many;
  for (int i = 0; i < 10; ++i) many += "X-H" + std::to_string(i) + ": v\r\n";
  raw_peer b(loop, server.port());
  EXPECT_EQ(b.handshake("/", many).rfind("HTTP/1.1 431", 0), 0u);
}

TEST_F(limits_fixture, TooManyFragmentsGets1009) {
  server.route("/", {.max_fragments = 4});
  listen();
  raw_peer p(loop, server.port());
  p.handshake();
  std::string wire = client_frame(opcode::text, "a", false);
  for (int i = 0; i < 5; ++i) wire += client_frame(opcode::continuation, "b", false);
  p.write(wire);
  auto close = p.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close_code_of_payload(close->payload), 1009);
}

// A peer that never reads: the server keeps sending 64 KiB messages from a timer.
struct flood {
  zws::send_status last = zws::send_status::sent;
  std::size_t max_buffered = 0;
  int dropped = 0;
};

TEST_F(limits_fixture, BackpressureCloseSends1008) {
  flood f;
  server.route("/", {
      .on_open = [&](zws::WebSocket& ws) {
        std::string chunk(64 * 1024, 'x');
        for (int i = 0; i < 400 && ws.is_open(); ++i) {
          f.last = ws.send_binary(chunk);
          f.max_buffered = std::max(f.max_buffered, ws.buffered_amount());
        }
      },
      .on_close = record_close(),
      .max_backpressure = 256 * 1024,
  });
  listen();
  raw_peer p(loop, server.port());
  int small = 4096;
  ::setsockopt(p.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  p.handshake();
  ASSERT_TRUE(run_until(loop, [&] { return !closes.empty(); }));
  EXPECT_EQ(closes[0].first, 1008);
  EXPECT_EQ(f.last, zws::send_status::dropped);
}

TEST_F(limits_fixture, OnCloseFromInsideASendMayEditTheApplicationsList) {
  std::set<zws::WebSocket*> room;
  server.route("/", {
      .on_open = [&](zws::WebSocket& ws) { room.insert(&ws); },
      .on_close = [&](zws::WebSocket& ws, std::uint16_t c, std::string_view r) {
        room.erase(&ws);  // while the timer below may be iterating over `room`
        closes.emplace_back(c, r);
      },
      .max_backpressure = 64 * 1024,
  });
  listen();
  std::vector<std::unique_ptr<raw_peer>> peers;
  for (int i = 0; i < 3; ++i) {
    peers.push_back(std::make_unique<raw_peer>(loop, server.port()));
    int small = 4096;
    ::setsockopt(peers.back()->fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    peers.back()->handshake();
  }
  ASSERT_TRUE(run_until(loop, [&] { return room.size() == 3; }));
  std::string chunk(64 * 1024, 'z');
  auto timer = loop.set_interval(1ms, [&] {
    for (zws::WebSocket* ws : room) ws->send_binary(chunk);
  });
  ASSERT_TRUE(run_until(loop, [&] { return closes.size() == 3; }));
  loop.cancel(timer);
  for (auto& c : closes) EXPECT_EQ(c.first, 1008);
  EXPECT_TRUE(room.empty());
}

TEST_F(limits_fixture, BackpressureDropNewBoundsTheQueueAndDrains) {
  flood f;
  bool drained = false;
  zws::WebSocket::Handle handle;
  server.route("/", {
      .on_open = [&](zws::WebSocket& ws) {
        handle = ws.handle();
        std::string chunk(64 * 1024, 'x');
        for (int i = 0; i < 100; ++i) {
          if (ws.send_binary(chunk) == zws::send_status::dropped) ++f.dropped;
          f.max_buffered = std::max(f.max_buffered, ws.buffered_amount());
        }
      },
      .on_drain = [&](zws::WebSocket&) { drained = true; },
      .on_close = record_close(),
      .max_backpressure = 256 * 1024,
      .on_backpressure = zws::backpressure_policy::drop_new,
  });
  listen();
  raw_peer p(loop, server.port());
  p.handshake();
  // The first batch is corked and flushed once; the kernel takes a part.
  run_until(loop, [] { return false; }, 30ms);
  handle.post([&](zws::WebSocket& ws) {
    std::string chunk(64 * 1024, 'y');
    for (int i = 0; i < 100; ++i) {
      if (ws.send_binary(chunk) == zws::send_status::dropped) ++f.dropped;
      f.max_buffered = std::max(f.max_buffered, ws.buffered_amount());
    }
  });
  run_until(loop, [&] { return f.dropped > 0; }, 1000ms);
  EXPECT_GT(f.dropped, 0);
  EXPECT_LE(f.max_buffered, 100u * 64 * 1024 + 256 * 1024 + 64 * 1024 + 100);
  EXPECT_TRUE(closes.empty());
  // Now read everything: the queue empties and on_drain fires.
  p.read_until([&](const std::string&) {
    p.buffered().clear();
    return drained;
  });
  EXPECT_TRUE(drained);
}

TEST_F(limits_fixture, BackpressureKeepLatestKeepsOnlyTheNewest) {
  std::size_t max_buffered = 0;
  zws::WebSocket::Handle handle;
  server.route("/", {
      .on_open = [&](zws::WebSocket& ws) { handle = ws.handle(); },
      .max_backpressure = 128 * 1024,
      .on_backpressure = zws::backpressure_policy::keep_latest,
  });
  listen();
  raw_peer p(loop, server.port());
  p.handshake();
  ASSERT_TRUE(run_until(loop, [&] { return bool(handle); }));
  // Many batches of sends: the queue must stay bounded.
  for (int round = 0; round < 40; ++round) {
    handle.post([&, round](zws::WebSocket& ws) {
      ws.send_binary(std::string(64 * 1024, static_cast<char>('a' + round % 26)));
      max_buffered = std::max(max_buffered, ws.buffered_amount());
    });
    loop.run_once(1ms);
  }
  EXPECT_LE(max_buffered, 3u * 64 * 1024 + 128 * 1024);
  // The newest message is the last one the peer receives.
  handle.post([](zws::WebSocket& ws) { ws.send_text("last"); });
  std::string last;
  for (;;) {
    auto f = p.read_frame(2000ms);
    if (!f) break;
    last = f->payload;
    if (last == "last") break;
  }
  EXPECT_EQ(last, "last");
}

}  // namespace
