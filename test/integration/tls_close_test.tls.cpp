// How wss:// connections end: close_notify on every close path of both roles
// (the closing handshake either way, close_timeout, idle and handshake timeouts,
// terminate(), the peer's own close_notify), then FIN; close_notify queued
// behind output the kernel refused (SSL_shutdown's WANT_WRITE, libwebsockets
// #802) and the case where it can never go; and session resumption after a
// clean close (uWS PR #775). The other side is a raw OpenSSL peer (tls_peer).
#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

#include "tls_harness.hpp"

namespace zws_test {
namespace {

using clock_type = std::chrono::steady_clock;

std::string close_frame(std::uint16_t code, bool masked) {
  std::string p;
  p.push_back(static_cast<char>(code >> 8));
  p.push_back(static_cast<char>(code & 0xFF));
  return client_frame(zws::opcode::close, p, true, masked);
}

// A raw client that finished TLS and the upgrade with the server `s`.
std::unique_ptr<tls_peer> upgraded_peer(tls_server& s, const std::function<void(SSL_CTX*)>& setup = {},
                                        SSL_SESSION* session = nullptr, int rcvbuf = 0) {
  auto p = std::make_unique<tls_peer>(s.loop, s.port, setup, session, rcvbuf);
  EXPECT_TRUE(p->handshake());
  EXPECT_TRUE(p->upgrade());
  return p;
}

// The server's last words: close_notify, then FIN.
void expect_close_notify_then_fin(tls_peer& p, std::chrono::milliseconds limit = 5000ms) {
  EXPECT_TRUE(p.wait_close_notify(limit)) << "failed: " << p.failed();
  EXPECT_TRUE(p.wait_fin());
}

// --- server role ---------------------------------------------------------------------

TEST(TlsCloseServer, ItsCloseEndsWithCloseNotifyAndFin) {
  zws::Behavior b = echo_behavior();
  b.on_open = [](zws::WebSocket& ws) { ws.close(4000, "bye"); };
  tls_server s(b);
  auto p = upgraded_peer(s);
  auto f = p->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  ASSERT_TRUE(p->write(close_frame(4000, true)));
  expect_close_notify_then_fin(*p);
}

TEST(TlsCloseServer, ThePeersCloseEndsWithCloseNotifyAndFin) {
  tls_server s;
  auto p = upgraded_peer(s);
  ASSERT_TRUE(p->write(close_frame(1000, true)));
  auto f = p->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  expect_close_notify_then_fin(*p);
}

TEST(TlsCloseServer, CloseTimeoutStillSaysCloseNotify) {
  zws::Behavior b = echo_behavior();
  b.close_timeout = 300ms;
  b.on_open = [](zws::WebSocket& ws) { ws.close(4000, "bye"); };
  tls_server s(b);
  auto p = upgraded_peer(s);
  const auto start = clock_type::now();
  auto f = p->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  // No Close back: after close_timeout the server cuts, with close_notify first.
  expect_close_notify_then_fin(*p, 3000ms);
  EXPECT_GE(clock_type::now() - start, 250ms);
}

TEST(TlsCloseServer, IdleTimeoutSaysCloseNotify) {
  zws::Behavior b = echo_behavior();
  b.idle_timeout = 200ms;
  b.ping_when_idle = false;
  b.close_timeout = 200ms;
  tls_server s(b);
  auto p = upgraded_peer(s);
  auto f = p->read_frame(3000ms);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  expect_close_notify_then_fin(*p, 3000ms);
}

TEST(TlsCloseServer, HandshakeTimeoutAfterTlsSaysCloseNotify) {
  zws::Behavior b = echo_behavior();
  b.handshake_timeout = 300ms;
  tls_server s(b);
  tls_peer p(s.loop, s.port);
  ASSERT_TRUE(p.handshake());
  // TLS is up, the upgrade request never comes: 408, close_notify, FIN.
  EXPECT_TRUE(p.wait_close_notify(3000ms));
  EXPECT_TRUE(p.got().starts_with("HTTP/1.1 408")) << p.got();
  EXPECT_TRUE(p.wait_fin());
}

TEST(TlsCloseServer, TerminateSaysCloseNotify) {
  zws::Behavior b = echo_behavior();
  b.on_message = [](zws::WebSocket& ws, const zws::Message&) { ws.terminate(); };
  tls_server s(b);
  auto p = upgraded_peer(s);
  ASSERT_TRUE(p->write(client_frame(zws::opcode::text, "end it")));
  expect_close_notify_then_fin(*p);
}

TEST(TlsCloseServer, ThePeersCloseNotifyIsAnswered) {
  std::uint16_t code = 0;
  zws::Behavior b = echo_behavior();
  b.on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { code = c; };
  tls_server s(b);
  auto p = upgraded_peer(s);
  p->shutdown();  // close_notify without a WebSocket Close
  expect_close_notify_then_fin(*p);
  EXPECT_TRUE(run_until(s.loop, [&] { return code != 0; }));
  EXPECT_EQ(code, 1006);
}

// The kernel refuses the server's output, so its close_notify queues behind a
// large message (where a blocking design would see SSL_shutdown's WANT_WRITE):
// it goes once the peer reads, after everything else, and FIN follows.
TEST(TlsCloseServer, CloseNotifyQueuedBehindRefusedOutput) {
  const std::string big(4 << 20, 'b');
  zws::Behavior b = echo_behavior();
  b.max_backpressure = std::size_t{16} << 20;
  b.on_open = [&](zws::WebSocket& ws) {
    ws.send_binary(big);
    ws.close(4000, "after the data");
  };
  tls_server s(b);
  auto p = upgraded_peer(s, {}, nullptr, 4096);
  run_until(s.loop, [] { return false; }, 300ms);  // not reading: the queue stays
  auto f = p->read_frame(10000ms);
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload.size(), big.size());
  f = p->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  ASSERT_TRUE(p->write(close_frame(4000, true)));
  expect_close_notify_then_fin(*p);
}

// A peer that never reads: the close_notify cannot be flushed. close_timeout
// ends the connection all the same (no socket left waiting), and the stream
// the peer finally reads ends: cut mid-record or not, FIN follows.
TEST(TlsCloseServer, UnflushableCloseNotifyDoesNotLeaveTheSocketInLimbo) {
  const std::string big(4 << 20, 'b');
  std::uint16_t code = 0;
  zws::Behavior b = echo_behavior();
  b.max_backpressure = std::size_t{16} << 20;
  b.close_timeout = 300ms;
  b.on_open = [&](zws::WebSocket& ws) {
    ws.send_binary(big);
    ws.close(4000, "never read");
  };
  b.on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { code = c; };
  tls_server s(b);
  auto p = upgraded_peer(s, {}, nullptr, 4096);
  const auto start = clock_type::now();
  ASSERT_TRUE(run_until(s.loop, [&] { return code != 0; }, 3000ms));
  EXPECT_LT(clock_type::now() - start, 2000ms);
  p->wait_close_notify(10000ms);  // reads what the kernel holds: data, then a cut or close_notify
  EXPECT_TRUE(p->close_notify() || p->failed());
  EXPECT_TRUE(p->wait_fin());
}

// --- client role ---------------------------------------------------------------------

// A raw TLS server for one zws client connection: accepts TCP, TLS, the upgrade.
struct raw_tls_server {
  zws::Loop loop;
  raw_server tcp;
  std::unique_ptr<tls_peer> peer;

  explicit raw_tls_server(zws::Behavior b) {
    zws::connect(loop, wss(tcp.port()), std::move(b), client_tls());
    const int fd = tcp.accept(loop);
    EXPECT_GE(fd, 0);
    peer = std::make_unique<tls_peer>(loop, fd, "server");
    EXPECT_TRUE(peer->handshake());
    EXPECT_TRUE(peer->accept_upgrade());
  }
};

TEST(TlsCloseClient, ItsCloseEndsWithCloseNotify) {
  client_log log;
  raw_tls_server srv(logging(log, [](zws::WebSocket& ws) { ws.close(4000, "client done"); }));
  auto f = srv.peer->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  // As a server does: Close back, close_notify, FIN.
  ASSERT_TRUE(srv.peer->write(close_frame(4000, false)));
  srv.peer->shutdown();
  ::shutdown(srv.peer->fd(), SHUT_WR);
  EXPECT_TRUE(srv.peer->wait_close_notify());
  EXPECT_TRUE(srv.peer->wait_fin());
  EXPECT_TRUE(run_until(srv.loop, [&] { return log.closed; }));
  EXPECT_EQ(log.code, 4000);
}

TEST(TlsCloseClient, CloseTimeoutStillSaysCloseNotify) {
  client_log log;
  zws::Behavior b = logging(log, [](zws::WebSocket& ws) { ws.close(4000, "client done"); });
  b.close_timeout = 300ms;
  raw_tls_server srv(b);
  auto f = srv.peer->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  EXPECT_TRUE(srv.peer->wait_close_notify(3000ms));
  EXPECT_TRUE(srv.peer->wait_fin());
}

TEST(TlsCloseClient, TheServersCloseNotifyIsAnswered) {
  client_log log;
  raw_tls_server srv(logging(log));
  ASSERT_TRUE(run_until(srv.loop, [&] { return log.open; }));
  srv.peer->shutdown();
  EXPECT_TRUE(srv.peer->wait_close_notify());
  EXPECT_TRUE(srv.peer->wait_fin());
  EXPECT_TRUE(run_until(srv.loop, [&] { return log.closed; }));
  EXPECT_EQ(log.code, 1006);
}

// --- resumption after a clean close ---------------------------------------------------

// A connection that ends with both Closes and both close_notifys; returns the
// client's session for resumption.
SSL_SESSION* clean_connection(tls_server& s, const std::function<void(SSL_CTX*)>& setup, SSL_SESSION* offer,
                              bool expect_reused) {
  auto p = upgraded_peer(s, setup, offer);
  EXPECT_EQ(SSL_session_reused(p->ssl()), expect_reused ? 1 : 0);
  EXPECT_TRUE(p->write(close_frame(1000, true)));
  auto f = p->read_frame();
  EXPECT_TRUE(f && f->op == zws::opcode::close);
  EXPECT_TRUE(p->wait_close_notify());
  p->shutdown();
  EXPECT_TRUE(p->wait_fin());
  run_until(s.loop, [] { return false; }, 50ms);  // the server frees its side
  return SSL_get1_session(p->ssl());
}

TEST(TlsResume, SessionIdAfterACleanClose) {
  tls_server s;
  auto tls12 = [](SSL_CTX* c) {
    SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  };
  SSL_SESSION* first = clean_connection(s, tls12, nullptr, false);
  ASSERT_NE(first, nullptr);
  SSL_SESSION* second = clean_connection(s, tls12, first, true);
  SSL_SESSION_free(first);
  SSL_SESSION_free(second);
}

TEST(TlsResume, TicketAfterACleanClose) {
  tls_server s;
  SSL_SESSION* first = clean_connection(s, {}, nullptr, false);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(SSL_SESSION_get_protocol_version(first), TLS1_3_VERSION);
  SSL_SESSION* second = clean_connection(s, {}, first, true);
  SSL_SESSION_free(first);
  SSL_SESSION_free(second);
}

// Ended by terminate(): no error, so the session id stays in the cache.
TEST(TlsResume, SessionIdAfterTerminate) {
  zws::Behavior b = echo_behavior();
  b.on_message = [](zws::WebSocket& ws, const zws::Message&) { ws.terminate(); };
  tls_server s(b);
  auto tls12 = [](SSL_CTX* c) {
    SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION);
    SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
  };
  SSL_SESSION* saved = nullptr;
  {
    auto p = upgraded_peer(s, tls12);
    ASSERT_TRUE(p->write(client_frame(zws::opcode::text, "end it")));
    EXPECT_TRUE(p->wait_close_notify());
    p->shutdown();  // else OpenSSL marks the client's copy of the session not resumable
    saved = SSL_get1_session(p->ssl());
  }
  ASSERT_NE(saved, nullptr);
  auto again = upgraded_peer(s, tls12, saved);
  EXPECT_EQ(SSL_session_reused(again->ssl()), 1);
  SSL_SESSION_free(saved);
}

}  // namespace
}  // namespace zws_test
