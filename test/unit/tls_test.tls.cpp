// The TLS session over an in-memory pair: handshake, data, records split at every
// byte, large data, WANT_* cycles, close_notify, hostile input, the error queue.
// Verification, SNI, reload and mutual TLS are in tls_verify_test.tls.cpp, the
// memory an idle session costs in tls_memory_test.tls.cpp.
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <random>
#include <thread>

#include "tls_pair.hpp"

namespace zws::test::tls {
namespace {

struct contexts {
  server_context server{server_options()};
  client_context client{client_options()};
  contexts() {
    EXPECT_FALSE(server.error()) << server.error().message();
    EXPECT_FALSE(client.error()) << client.error().message();
  }
};

contexts& shared() {
  static contexts c;
  return c;
}

TEST(TlsSession, Available) { EXPECT_TRUE(zws::tls_available()); }

TEST(TlsSession, HandshakeAndDataBothWays) {
  pair p(shared().server, shared().client);
  // TLS 1.3: ClientHello; server flight; client Finished; the server's ticket.
  EXPECT_EQ(p.handshake(), 4);
  ASSERT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
  EXPECT_EQ(p.c.s.alpn(), "http/1.1");
  EXPECT_EQ(p.s.s.alpn(), "http/1.1");
  EXPECT_STREQ(SSL_get_version(p.c.s.native()), "TLSv1.3");
  pair::send(p.c, "hello from the client");
  pair::send(p.s, "hello from the server");
  p.pump();
  EXPECT_EQ(p.s.got, "hello from the client");
  EXPECT_EQ(p.c.got, "hello from the server");
  EXPECT_EQ(p.c.last, status::need_input);
  EXPECT_EQ(p.s.last, status::need_input);
  EXPECT_LE(p.c.calls + p.s.calls, 8u);
}

TEST(TlsSession, Tls12Works) {
  tls_client_options o = client_options();
  client_context cc(o);
  SSL_CTX_set_max_proto_version(cc.native(), TLS1_2_VERSION);
  pair p(shared().server, cc);
  p.handshake();
  ASSERT_TRUE(p.established()) << p.c.s.reason();
  EXPECT_STREQ(SSL_get_version(p.s.s.native()), "TLSv1.2");
  pair::send(p.c, "twelve");
  p.pump();
  EXPECT_EQ(p.s.got, "twelve");
}

TEST(TlsSession, ByteByByteInPlace) {
  pair p(shared().server, shared().client);
  p.handshake(1);
  ASSERT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
  pair::send(p.c, "one byte at a time");
  pair::send(p.s, "and back");
  p.pump(1);
  EXPECT_EQ(p.s.got, "one byte at a time");
  EXPECT_EQ(p.c.got, "and back");
}

TEST(TlsSession, ByteByByteIntoOneByteOfRoom) {
  pair p(shared().server, shared().client);
  p.handshake(1, 1);
  ASSERT_TRUE(p.established());
  pair::send(p.c, "tiny room");
  pair::send(p.s, "both ways");
  p.pump(1, 1);
  EXPECT_EQ(p.s.got, "tiny room");
  EXPECT_EQ(p.c.got, "both ways");
  // A whole record into one byte of room: out_full, again and again.
  pair::send(p.s, "0123456789");
  p.pump(whole, 1);
  EXPECT_EQ(p.c.got, "both ways0123456789");
}

TEST(TlsSession, ClientHelloSplitAtEveryOffset) {
  side c{session::client(shared().client, "localhost")};
  ASSERT_EQ(c.s.start(c.wire), status::need_input);
  const std::vector<std::uint8_t> hello(c.wire.bytes().begin(), c.wire.bytes().end());
  ASSERT_GT(hello.size(), 100u);
  for (std::size_t k = 1; k < hello.size(); ++k) {
    side s{session::server(shared().server)};
    std::vector<std::uint8_t> a(hello.begin(), hello.begin() + static_cast<std::ptrdiff_t>(k));
    std::vector<std::uint8_t> b(hello.begin() + static_cast<std::ptrdiff_t>(k), hello.end());
    feed(s, a, 0);
    ASSERT_EQ(s.last, status::need_input) << k;
    ASSERT_TRUE(s.wire.empty()) << k;
    feed(s, b, 0);
    ASSERT_EQ(s.last, status::need_input) << k << ": " << s.s.reason();
    ASSERT_GT(s.wire.size(), 500u) << k;  // ServerHello ... Finished
  }
}

TEST(TlsSession, ApplicationDataSplitAtEveryOffset) {
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  std::string expected;
  for (int round = 0;; ++round) {
    pair::send(p.c, "first");
    pair::send(p.c, "second, a little longer");
    const auto flight = p.c.wire.bytes();
    const std::size_t k = static_cast<std::size_t>(round) + 1;
    if (k >= flight.size()) {
      p.pump();
      break;
    }
    std::vector<std::uint8_t> a(flight.begin(), flight.begin() + static_cast<std::ptrdiff_t>(k));
    std::vector<std::uint8_t> b(flight.begin() + static_cast<std::ptrdiff_t>(k), flight.end());
    p.c.wire.clear();
    feed(p.s, a, 0);
    feed(p.s, b, 0);
    ASSERT_EQ(p.s.last, status::need_input) << k;
    expected += "firstsecond, a little longer";
    ASSERT_EQ(p.s.got, expected) << k;
  }
  EXPECT_GT(p.s.got.size(), 50u * 28u);
}

TEST(TlsSession, SixteenMiBEachWay) {
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  const std::size_t n = std::size_t{16} << 20;
  const std::string up = pattern(n, 1), down = pattern(n, 2);
  pair::send(p.c, up);
  // One SSL_write: full 16 KiB records, each 22 bytes larger (TLS 1.3 AES-GCM:
  // header 5, content type 1, tag 16).
  EXPECT_EQ(p.c.wire.size(), n + n / 16384 * 22);
  deliver(p.c, p.s, 256 << 10);  // the loop's receive buffer, in place
  EXPECT_TRUE(p.s.got == up);
  pair::send(p.s, down);
  deliver(p.s, p.c, 64 << 10, 16 << 10);  // separate room of 16 KiB
  EXPECT_TRUE(p.c.got == down);
  EXPECT_EQ(p.c.last, status::need_input);
}

// WANT_READ during a write: before the handshake finished, nothing can be
// encrypted; the bytes stay with the caller and go once it is done.
TEST(TlsSession, SendBeforeHandshakeNeedsInput) {
  pair p(shared().server, shared().client);
  ASSERT_EQ(p.c.s.start(p.c.wire), status::need_input);
  const std::size_t hello = p.c.wire.size();
  const send_result early = p.c.s.send(bytes_of("GET / HTTP/1.1\r\n\r\n"), p.c.wire);
  EXPECT_EQ(early.state, status::need_input);
  EXPECT_EQ(early.consumed, 0u);
  EXPECT_EQ(p.c.wire.size(), hello);
  EXPECT_EQ(p.s.s.send(bytes_of("x"), p.s.wire).state, status::need_input);
  deliver(p.c, p.s);
  deliver(p.s, p.c);
  ASSERT_TRUE(p.c.s.handshake_done());
  // The client's Finished and its request leave together.
  pair::send(p.c, "GET / HTTP/1.1\r\n\r\n");
  deliver(p.c, p.s);
  EXPECT_TRUE(p.s.s.handshake_done());
  EXPECT_EQ(p.s.got, "GET / HTTP/1.1\r\n\r\n");
}

// A KeyUpdate that asks for one back: OpenSSL answers with the next write,
// whatever the direction the session was driven in; nobody retries anything.
// (WANT_WRITE during a read is the handshake's case: see ByteByByte*.)
TEST(TlsSession, KeyUpdateAnsweredWhileReading) {
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(SSL_key_update(p.s.s.native(), SSL_KEY_UPDATE_REQUESTED), 1);
    pair::send(p.s, "after a key update");
    deliver(p.s, p.c);
    // The client answers with its own KeyUpdate ahead of its next data
    // (RFC 8446 §4.6.3): two records where the data alone needs one of 28 bytes.
    EXPECT_TRUE(p.c.wire.empty());
    pair::send(p.c, "answer");
    EXPECT_GT(p.c.wire.size(), 28u + 5u);
    deliver(p.c, p.s);
    EXPECT_EQ(p.s.last, status::need_input) << p.s.s.reason();
  }
  EXPECT_EQ(p.c.got, "after a key updateafter a key updateafter a key update");
  EXPECT_EQ(p.s.got, "answeransweranswer");
}

TEST(TlsSession, TicketResumesASession) {
  pair first(shared().server, shared().client);
  first.handshake();
  ASSERT_TRUE(first.established());
  SSL_SESSION* ticket = SSL_get1_session(first.c.s.native());
  ASSERT_NE(ticket, nullptr);
  EXPECT_EQ(SSL_SESSION_is_resumable(ticket), 1);
  pair second(shared().server, shared().client);
  ASSERT_EQ(SSL_set_session(second.c.s.native(), ticket), 1);
  SSL_SESSION_free(ticket);
  second.handshake();
  ASSERT_TRUE(second.established());
  EXPECT_EQ(SSL_session_reused(second.c.s.native()), 1);
}

// uWS PR #775: SSL_free without a shutdown evicts the session from the server's
// cache. A session dropped without close_notify, but without an error either,
// stays resumable (RFC 5246 §7.2.1): TLS 1.2 session ids, no tickets.
TEST(TlsSession, DroppedWithoutCloseNotifyStaysResumable) {
  server_context sc(server_options());
  client_context cc(client_options());
  SSL_CTX_set_max_proto_version(cc.native(), TLS1_2_VERSION);
  SSL_CTX_set_options(cc.native(), SSL_OP_NO_TICKET);
  SSL_SESSION* saved = nullptr;
  {
    pair first(sc, cc);
    first.handshake();
    ASSERT_TRUE(first.established());
    saved = SSL_get1_session(first.c.s.native());
  }
  ASSERT_NE(saved, nullptr);
  pair second(sc, cc);
  ASSERT_EQ(SSL_set_session(second.c.s.native(), saved), 1);
  SSL_SESSION_free(saved);
  second.handshake();
  ASSERT_TRUE(second.established());
  EXPECT_EQ(SSL_session_reused(second.s.s.native()), 1);
}

TEST(TlsSession, CloseNotifyFromTheClient) {
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  pair::send(p.c, "last words");
  ASSERT_EQ(p.c.s.shutdown(p.c.wire), status::done);
  EXPECT_EQ(p.c.s.send(bytes_of("too late"), p.c.wire).state, status::closed);
  deliver(p.c, p.s);
  EXPECT_EQ(p.s.got, "last words");
  EXPECT_EQ(p.s.last, status::closed);
  EXPECT_TRUE(p.s.s.peer_closed());
  // The server may still answer before its own close_notify.
  pair::send(p.s, "goodbye");
  EXPECT_EQ(p.s.s.shutdown(p.s.wire), status::closed);
  deliver(p.s, p.c);
  EXPECT_EQ(p.c.got, "goodbye");
  EXPECT_EQ(p.c.last, status::closed);
  EXPECT_FALSE(p.c.s.failed());
  // Idempotent, and input after close_notify is ignored.
  EXPECT_EQ(p.c.s.shutdown(p.c.wire), status::closed);
  EXPECT_TRUE(p.c.wire.empty());
  std::uint8_t junk[3] = {1, 2, 3};
  EXPECT_EQ(p.s.s.receive(junk, junk, p.s.wire).state, status::closed);
}

TEST(TlsSession, CloseNotifyFromTheServer) {
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  ASSERT_EQ(p.s.s.shutdown(p.s.wire), status::done);
  deliver(p.s, p.c);
  EXPECT_EQ(p.c.last, status::closed);
  EXPECT_EQ(p.c.s.shutdown(p.c.wire), status::closed);
  deliver(p.c, p.s);
  EXPECT_EQ(p.s.last, status::closed);
}

TEST(TlsSession, ShutdownBeforeHandshakeSaysNothing) {
  pair p(shared().server, shared().client);
  buffer wire;
  EXPECT_EQ(p.s.s.shutdown(wire), status::done);
  ASSERT_EQ(p.c.s.start(p.c.wire), status::need_input);
  EXPECT_EQ(p.c.s.shutdown(wire), status::done);
  EXPECT_TRUE(wire.empty());
}

TEST(TlsSession, LargeCertificateChain) {
  server_context big(server_options("big"));
  ASSERT_FALSE(big.error()) << big.error().message();
  for (std::size_t chunk : {whole, std::size_t{1000}, std::size_t{1}}) {
    pair p(big, shared().client);
    ASSERT_EQ(p.c.s.start(p.c.wire), status::need_input);
    deliver(p.c, p.s, chunk);
    EXPECT_GT(p.s.wire.size(), 24u << 10) << "the flight spans several records";
    p.pump(chunk);
    ASSERT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
    pair::send(p.s, "through a long chain");
    p.pump(chunk);
    EXPECT_EQ(p.c.got, "through a long chain");
  }
}

// What a server session must survive: each ends it cleanly with a reason.
TEST(TlsSession, HostileInputFailsTheServerCleanly) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"plain HTTP", "GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n"},
      {"alert", std::string("\x15\x03\x03\x00\x02\x02\x28", 7)},
      {"oversized record", std::string("\x16\x03\x01\xff\xff", 5) + std::string(70000, 'A')},
      {"application data first", std::string("\x17\x03\x03\x00\x05hello", 10)},
      {"garbage", pattern(4096, 7)},
  };
  for (const auto& [name, input] : cases) {
    side s{session::server(shared().server)};
    std::vector<std::uint8_t> in(input.begin(), input.end());
    feed(s, in, 0);
    EXPECT_EQ(s.last, status::failed) << name;
    EXPECT_TRUE(s.s.failed()) << name;
    EXPECT_FALSE(s.s.reason().empty()) << name;
    EXPECT_TRUE(s.s.reason().starts_with("TLS handshake: ")) << name << ": " << s.s.reason();
    EXPECT_EQ(ERR_peek_error(), 0u) << name << ": the error queue is left clean";
    // Later calls report the same failure and touch nothing.
    const std::size_t before = s.wire.size();
    EXPECT_EQ(s.s.receive(in, in, s.wire).state, status::failed);
    EXPECT_EQ(s.s.send(bytes_of("x"), s.wire).state, status::failed);
    EXPECT_EQ(s.s.shutdown(s.wire), status::failed);
    EXPECT_EQ(s.wire.size(), before);
  }
}

// A server session makes no OpenSSL object (and says nothing) until the
// ClientHello's record is whole: a peer trickling it holds only its bytes.
TEST(TlsSession, ServerHoldsTheClientHelloUntilWhole) {
  pair p(shared().server, shared().client);
  ASSERT_EQ(p.c.s.start(p.c.wire), status::need_input);
  buffer hello = std::move(p.c.wire);
  const auto bytes = hello.bytes();
  ASSERT_GT(bytes.size(), 6u);
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    feed(p.s, bytes.subspan(i, 1), 0);
    ASSERT_EQ(p.s.last, status::need_input) << i;
  }
  EXPECT_EQ(p.s.s.native(), nullptr);
  EXPECT_FALSE(p.s.s.failed());
  EXPECT_TRUE(p.s.wire.empty());
  feed(p.s, bytes.last(1), 0);
  EXPECT_NE(p.s.s.native(), nullptr);
  EXPECT_FALSE(p.s.wire.empty()) << "the server's flight";
  p.pump();
  ASSERT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
}

// What cannot be a ClientHello goes to OpenSSL at once, which says why; a
// record longer than TLS allows is OpenSSL's to judge too.
TEST(TlsSession, ServerDoesNotHoldWhatIsNoClientHello) {
  side first{session::server(shared().server)};
  feed(first, bytes_of("G"), 0);
  EXPECT_NE(first.s.native(), nullptr);
  side plain{session::server(shared().server)};
  feed(plain, bytes_of("GET / HTTP/1.1\r\n"), 0);
  EXPECT_EQ(plain.last, status::failed);
  EXPECT_EQ(plain.s.reason(), "TLS handshake: http request");
  side huge{session::server(shared().server)};
  feed(huge, bytes_of(std::string_view("\x16\x03\x01\xff\xff", 5)), 0);
  EXPECT_NE(huge.s.native(), nullptr);
}

// OpenSSL lets a zero-length handshake record pass: waiting for more is fine,
// as long as nothing breaks and nothing is said.
TEST(TlsSession, EmptyHandshakeRecordWaits) {
  side s{session::server(shared().server)};
  const std::uint8_t empty[5] = {0x16, 0x03, 0x01, 0x00, 0x00};
  feed(s, empty, 0);
  EXPECT_TRUE(s.last == status::need_input || s.last == status::failed);
  EXPECT_TRUE(s.wire.empty() || s.last == status::failed);
}

TEST(TlsSession, PlainHttpReasonIsReadable) {
  side s{session::server(shared().server)};
  std::string req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
  std::vector<std::uint8_t> in(req.begin(), req.end());
  feed(s, in, 0);
  EXPECT_EQ(s.s.reason(), "TLS handshake: http request");
}

TEST(TlsSession, ClientRefusesAPlainServer) {
  side c{session::client(shared().client, "localhost")};
  ASSERT_EQ(c.s.start(c.wire), status::need_input);
  std::string answer = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
  std::vector<std::uint8_t> in(answer.begin(), answer.end());
  feed(c, in, 0);
  EXPECT_EQ(c.last, status::failed);
  EXPECT_EQ(c.s.reason(), "TLS handshake: wrong version number");
}

// uSockets #43: an error one session leaves in OpenSSL's per-thread queue must
// not fail the next, unrelated session on the same thread.
TEST(TlsSession, ErrorQueueTrap) {
  side bad{session::server(shared().server)};
  std::string junk = pattern(64, 3);
  std::vector<std::uint8_t> in(junk.begin(), junk.end());
  feed(bad, in, 0);
  ASSERT_EQ(bad.last, status::failed);
  // As if some other code on this thread left errors behind.
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  ERR_raise(ERR_LIB_SYS, 104);
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  pair::send(p.c, "still fine");
  ERR_raise(ERR_LIB_SSL, SSL_R_BAD_PACKET);
  p.pump();
  EXPECT_EQ(p.s.got, "still fine");
  EXPECT_EQ(p.s.last, status::need_input);
  ERR_clear_error();
}

// Sessions share their thread's BIO; one driven on another thread switches to
// that thread's, and outlives it.
TEST(TlsSession, DrivenFromAnotherThread) {
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  std::thread t([&] {
    pair::send(p.c, "from a second thread");
    p.pump();
  });
  t.join();
  EXPECT_EQ(p.s.got, "from a second thread");
  pair::send(p.s, "and back on the first");
  p.pump();
  EXPECT_EQ(p.c.got, "and back on the first");
}

TEST(TlsSession, EmptyAndMovedSessions) {
  session empty;
  buffer wire;
  EXPECT_TRUE(empty.failed());
  EXPECT_FALSE(empty.reason().empty());
  EXPECT_EQ(empty.start(wire), status::failed);
  pair p(shared().server, shared().client);
  p.handshake();
  ASSERT_TRUE(p.established());
  session moved = std::move(p.c.s);
  EXPECT_TRUE(p.c.s.failed());
  p.c.s = std::move(moved);
  pair::send(p.c, "moved");
  p.pump();
  EXPECT_EQ(p.s.got, "moved");
}

}  // namespace
}  // namespace zws::test::tls
