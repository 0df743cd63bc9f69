// Traps other TLS WebSocket stacks fell into, over real sockets on one loop (the
// transport-level versions are in test/unit/tls_test.tls.cpp):
//  - uSockets #127: a server handshake whose flight (a long certificate chain)
//    does not fit the socket must wait for EPOLLOUT, not hang while reading;
//  - uSockets #43: an error one connection leaves in OpenSSL's per-thread error
//    queue must not fail the next, unrelated connection on the same thread.
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <vector>

#include "tls_harness.hpp"

namespace zws_test {
namespace {

// The server's first flight with the "big" chain is several times what a 2 KiB
// receive buffer (and the loopback send buffer behind it) holds at once.
TEST(TlsTraps, LongChainThroughASmallReceiveBuffer) {
  tls_server s(echo_behavior(), server_tls("big"));
  tls_peer p(s.loop, s.port, {}, nullptr, 2048);
  ASSERT_TRUE(p.handshake(10000ms));
  ASSERT_TRUE(p.upgrade());
  ASSERT_TRUE(p.write(client_frame(zws::opcode::text, "through a long chain")));
  auto f = p.read_frame();
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->payload, "through a long chain");
}

TEST(TlsTraps, ZwsClientsVerifyALongChainTogether) {
  tls_server s(echo_behavior(), server_tls("big"));
  std::vector<std::unique_ptr<client_log>> logs;
  for (int i = 0; i < 8; ++i) {
    logs.push_back(std::make_unique<client_log>());
    const std::string m = "client " + std::to_string(i);
    zws::connect(s.loop, wss(s.port), logging(*logs.back(), [m](zws::WebSocket& ws) { ws.send_text(m); }),
                 client_tls());
  }
  ASSERT_TRUE(run_until(s.loop, [&] {
    for (const auto& l : logs)
      if (l->messages.empty() && !l->done()) return false;
    return true;
  }, 10000ms));
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(logs[i]->messages.size(), 1U) << i << ": " << logs[i]->error;
    EXPECT_EQ(logs[i]->messages[0], "client " + std::to_string(i));
  }
}

// Failures of both roles interleaved with good connections on one thread: refused
// certificates (client side), garbage on the TLS port (server side), and errors
// raised on the thread's queue by "someone else" between them.
TEST(TlsTraps, FailuresDoNotLeakIntoUnrelatedConnections) {
  tls_server good(echo_behavior());
  zws::Server bad(good.loop);
  bad.route("/", echo_behavior());
  ASSERT_FALSE(bad.listen("127.0.0.1", 0, server_tls("unknown")));

  std::vector<std::unique_ptr<client_log>> refused, fine;
  std::vector<std::unique_ptr<raw_peer>> garbage;
  auto start_good = [&](int n) {
    for (int i = 0; i < n; ++i) {
      fine.push_back(std::make_unique<client_log>());
      const std::string m = "good " + std::to_string(fine.size());
      zws::connect(good.loop, wss(good.port), logging(*fine.back(), [m](zws::WebSocket& ws) { ws.send_text(m); }),
                   client_tls());
    }
  };
  for (int i = 0; i < 4; ++i) {
    refused.push_back(std::make_unique<client_log>());
    zws::connect(good.loop, wss(bad.tls_port()), logging(*refused.back()), client_tls());
    garbage.push_back(std::make_unique<raw_peer>(good.loop, good.port));
    ASSERT_TRUE(garbage.back()->write(std::string(300, static_cast<char>('A' + i))));
    start_good(2);
  }
  auto all_done = [&] {
    for (const auto& l : refused)
      if (!l->done()) return false;
    for (const auto& l : fine)
      if (l->messages.empty() && !l->done()) return false;
    return true;
  };
  ASSERT_TRUE(run_until(good.loop, all_done, 10000ms));
  for (const auto& g : garbage) EXPECT_TRUE(g->wait_eof()) << "garbage on the TLS port is cut";
  for (const auto& l : refused) {
    EXPECT_FALSE(l->open);
    EXPECT_NE(l->error.find("unable to get local issuer certificate"), std::string::npos) << l->error;
  }

  // Someone else on this thread leaves errors behind; new connections still work.
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  ERR_raise(ERR_LIB_SYS, 104);
  start_good(2);
  ASSERT_TRUE(run_until(good.loop, all_done, 10000ms));
  ERR_clear_error();
  ASSERT_EQ(fine.size(), 10U);
  for (std::size_t i = 0; i < fine.size(); ++i) {
    ASSERT_EQ(fine[i]->messages.size(), 1U) << i << ": " << fine[i]->error;
    EXPECT_EQ(fine[i]->messages[0], "good " + std::to_string(i + 1));
  }
}

}  // namespace
}  // namespace zws_test
