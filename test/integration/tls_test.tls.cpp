// wss:// over loopback: a zws server with TLS listeners and the zws client, in one
// process (helpers in tls_harness.hpp). Raw peers that a zws client would never
// be (silent, garbage, a reset mid-record, a plain https client) use OpenSSL or
// plain sockets directly. How connections end (close_notify) is in
// tls_close_test.tls.cpp, memory and hostile crowds in tls_memory_test.tls.cpp.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tls_harness.hpp"

namespace zws_test {
namespace {

TEST(TlsEcho, EverySizeClass) {
  tls_server s;
  client_log log;
  const std::vector<std::size_t> sizes = {0, 125, 126, 64 << 10, 1 << 20, 16 << 20};
  std::vector<std::string> sent;
  for (std::size_t n : sizes) {
    std::string m(n, '\0');
    for (std::size_t i = 0; i < n; ++i) m[i] = static_cast<char>('a' + (i * 7 + n) % 26);
    sent.push_back(std::move(m));
  }
  zws::connect(s.loop, wss(s.port), logging(log, [&](zws::WebSocket& ws) {
                 for (const auto& m : sent) ws.send_binary(m);
               }),
               client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return log.messages.size() == sizes.size() || log.done(); }, 30000ms))
      << log.error;
  ASSERT_EQ(log.messages.size(), sizes.size()) << log.error;
  for (std::size_t i = 0; i < sizes.size(); ++i) EXPECT_TRUE(log.messages[i] == sent[i]) << "size " << sizes[i];
}

TEST(TlsEcho, ThousandMessagesInOrder) {
  tls_server s;
  client_log log;
  zws::connect(s.loop, wss(s.port), logging(log, [](zws::WebSocket& ws) {
                 for (int i = 0; i < 1000; ++i) ws.send_text(std::to_string(i));
               }),
               client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return log.messages.size() == 1000 || log.done(); }, 10000ms)) << log.error;
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(log.messages[i], std::to_string(i));
}

TEST(TlsEcho, PingPong) {
  tls_server s;
  client_log log;
  zws::connect(s.loop, wss(s.port), logging(log, [](zws::WebSocket& ws) { ws.ping("are you there"); }),
               client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return !log.pongs.empty() || log.done(); })) << log.error;
  EXPECT_EQ(log.pongs[0], "are you there");
}

TEST(TlsClose, ClientClosesWithCode) {
  std::uint16_t server_code = 0;
  zws::Behavior b = echo_behavior();
  b.on_close = [&](zws::WebSocket&, std::uint16_t code, std::string_view) { server_code = code; };
  tls_server s(b);
  client_log log;
  zws::connect(s.loop, wss(s.port), logging(log, [](zws::WebSocket& ws) { ws.close(4001, "bye"); }), client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return log.closed && server_code != 0; })) << log.error;
  EXPECT_EQ(server_code, 4001);
  EXPECT_EQ(log.code, 4001);
}

TEST(TlsClose, ServerClosesWithCode) {
  zws::Behavior b = echo_behavior();
  b.on_open = [](zws::WebSocket& ws) { ws.close(4002, "go away"); };
  tls_server s(b);
  client_log log;
  zws::connect(s.loop, wss(s.port), logging(log), client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return log.done(); })) << log.error;
  EXPECT_EQ(log.code, 4002);
  EXPECT_EQ(log.reason, "go away");
}

TEST(TlsLimits, TooBigIs1009) {
  zws::Behavior b = echo_behavior();
  b.max_message_size = 1000;
  tls_server s(b);
  client_log log;
  zws::connect(s.loop, wss(s.port), logging(log, [](zws::WebSocket& ws) { ws.send_binary(std::string(5000, 'x')); }),
               client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return log.done(); })) << log.error;
  EXPECT_EQ(log.code, 1009);
}

TEST(TlsHostile, SilentPeerIsCutByHandshakeTimeout) {
  zws::Behavior b = echo_behavior();
  b.handshake_timeout = 200ms;
  tls_server s(b);
  raw_peer silent(s.loop, s.port);
  ASSERT_TRUE(silent.ok());
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(silent.wait_eof(3000ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2000ms);
  EXPECT_EQ(silent.buffered(), "");  // no HTTP answer to someone who never spoke TLS
}

TEST(TlsHostile, GarbageAndPlainHttpAreClosed) {
  tls_server s;
  for (std::string_view junk : {std::string_view("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                                std::string_view("\x16\x03\x01\x00\x04\x01\x00\x00\x00", 9),  // an empty ClientHello
                                std::string_view("\xff\xfe garbage garbage garbage")}) {
    raw_peer p(s.loop, s.port);
    ASSERT_TRUE(p.ok());
    ASSERT_TRUE(p.write(junk));
    EXPECT_TRUE(p.wait_eof(3000ms)) << junk;
  }
  EXPECT_EQ(attempt(s.loop, wss(s.port)), "");  // and the server goes on serving
}

TEST(TlsHostile, ResetMidRecordIs1006) {
  std::uint16_t code = 0;
  zws::Behavior b = echo_behavior();
  b.on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { code = c; };
  bool opened = false;
  b.on_open = [&](zws::WebSocket&) { opened = true; };
  tls_server s(b);
  raw_tls t(s.port);
  ASSERT_GE(t.fd, 0);
  // Handshakes on a blocking socket: the server runs on this thread, so pump it.
  ::fcntl(t.fd, F_SETFL, ::fcntl(t.fd, F_GETFL) | O_NONBLOCK);
  auto pump_until = [&](auto step) {
    return run_until(s.loop, [&] { return step(); }, 3000ms);
  };
  ASSERT_TRUE(pump_until([&] { return SSL_connect(t.ssl) == 1; }));
  const std::string req = upgrade_request();
  ASSERT_EQ(SSL_write(t.ssl, req.data(), static_cast<int>(req.size())), static_cast<int>(req.size()));
  ASSERT_TRUE(run_until(s.loop, [&] { return opened; }));
  // One record of a frame, of which only half reaches the server; then RST.
  BIO* mem = BIO_new(BIO_s_mem());
  SSL_set0_wbio(t.ssl, mem);
  const std::string frame = client_frame(zws::opcode::binary, std::string(4000, 'r'));
  ASSERT_GT(SSL_write(t.ssl, frame.data(), static_cast<int>(frame.size())), 0);
  char* cipher = nullptr;
  const long len = BIO_get_mem_data(mem, &cipher);
  ASSERT_GT(len, 100);
  ASSERT_EQ(::send(t.fd, cipher, static_cast<std::size_t>(len / 2), MSG_NOSIGNAL), len / 2);
  linger lg{1, 0};
  ::setsockopt(t.fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  ::close(t.fd);
  t.fd = -1;
  ASSERT_TRUE(run_until(s.loop, [&] { return code != 0; }));
  EXPECT_EQ(code, 1006);
}

TEST(TlsBackpressure, ASlowReaderGetsEverythingAndDrainFires) {
  // 128 messages of 64 KiB (uncopied, encrypted from the caller's memory) to a
  // peer that reads nothing at first: the ciphertext queues, EPOLLOUT sends it.
  std::size_t queued_at_end = 0;
  bool drained = false;
  zws::Behavior b = echo_behavior();
  const std::string payload(64 << 10, 'q');
  b.max_backpressure = std::size_t{64} << 20;
  b.on_open = [&](zws::WebSocket& ws) {
    for (int i = 0; i < 128; ++i) ws.send_binary(payload);
    queued_at_end = ws.buffered_amount();
  };
  b.on_drain = [&](zws::WebSocket&) { drained = true; };
  tls_server s(b);
  raw_tls t(s.port);
  ASSERT_GE(t.fd, 0);
  ::fcntl(t.fd, F_SETFL, ::fcntl(t.fd, F_GETFL) | O_NONBLOCK);
  ASSERT_TRUE(run_until(s.loop, [&] { return SSL_connect(t.ssl) == 1; }, 3000ms));
  const std::string req = upgrade_request();
  ASSERT_EQ(SSL_write(t.ssl, req.data(), static_cast<int>(req.size())), static_cast<int>(req.size()));
  ASSERT_TRUE(run_until(s.loop, [&] { return queued_at_end != 0; }));
  EXPECT_GT(queued_at_end, std::size_t{1} << 20);  // the kernel did not take 8 MiB at once
  std::size_t got = 0;
  const std::size_t want = 128 * (payload.size() + 10);  // frames after the 101 response
  std::string head;
  ASSERT_TRUE(run_until(s.loop, [&] {
    char buf[65536];
    int n = 0;
    while ((n = SSL_read(t.ssl, buf, sizeof buf)) > 0) {
      if (head.find("\r\n\r\n") == std::string::npos) {
        head.append(buf, static_cast<std::size_t>(n));
        const auto end = head.find("\r\n\r\n");
        if (end != std::string::npos) got += head.size() - end - 4;
      } else {
        got += static_cast<std::size_t>(n);
      }
    }
    return got >= want && drained;
  }, 10000ms)) << got << " of " << want << ", drained " << drained;
  EXPECT_EQ(got, want);
}

TEST(TlsBackpressure, TheServerWideCapCountsCiphertext) {
  // Three TLS peers that never read, each sent one 16 MiB message: encrypted
  // uncopied into the session's wire, out_ stays empty. Over a 2 MiB
  // server-wide cap they are shed all the same (cut: 1008).
  std::vector<std::uint16_t> codes;
  zws::Behavior b = echo_behavior();
  const std::string payload(16 << 20, 's');
  b.max_backpressure = std::size_t{64} << 20;
  b.on_open = [&](zws::WebSocket& ws) { ws.send_binary(payload); };
  b.on_close = [&](zws::WebSocket&, std::uint16_t code, std::string_view) { codes.push_back(code); };
  tls_server s(b);
  s.server.max_backpressure_total(std::size_t{2} << 20);
  std::vector<std::unique_ptr<raw_tls>> peers;
  for (int i = 0; i < 3; ++i) {
    peers.push_back(std::make_unique<raw_tls>(s.port));
    raw_tls& t = *peers.back();
    ASSERT_GE(t.fd, 0);
    int small = 4096;
    ::setsockopt(t.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    ::fcntl(t.fd, F_SETFL, ::fcntl(t.fd, F_GETFL) | O_NONBLOCK);
    ASSERT_TRUE(run_until(s.loop, [&] { return SSL_connect(t.ssl) == 1; }, 3000ms));
    const std::string req = upgrade_request();
    ASSERT_EQ(SSL_write(t.ssl, req.data(), static_cast<int>(req.size())), static_cast<int>(req.size()));
  }
  ASSERT_TRUE(run_until(s.loop, [&] { return codes.size() == 3; })) << codes.size();
  for (std::uint16_t code : codes) EXPECT_EQ(code, 1008);
}

TEST(TlsServer, OnHttpOverTls) {
  tls_server s;
  s.server.on_http([](const zws::Request&, zws::Response& r) { r.body = "hello over https"; });
  raw_tls t(s.port);
  ASSERT_GE(t.fd, 0);
  ::fcntl(t.fd, F_SETFL, ::fcntl(t.fd, F_GETFL) | O_NONBLOCK);
  ASSERT_TRUE(run_until(s.loop, [&] { return SSL_connect(t.ssl) == 1; }, 3000ms));
  const std::string req = "GET /page HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_EQ(SSL_write(t.ssl, req.data(), static_cast<int>(req.size())), static_cast<int>(req.size()));
  std::string got;
  bool notified = false;
  run_until(s.loop, [&] {
    char buf[4096];
    int n = SSL_read(t.ssl, buf, sizeof buf);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    if (n <= 0 && SSL_get_error(t.ssl, n) == SSL_ERROR_ZERO_RETURN) notified = true;
    return notified;
  });
  EXPECT_NE(got.find("200"), std::string::npos) << got;
  EXPECT_NE(got.find("hello over https"), std::string::npos) << got;
  EXPECT_TRUE(notified);  // close_notify before FIN
}

TEST(TlsServer, PlainAndTlsListenersShareRoutes) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/chat", echo_behavior());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  ASSERT_FALSE(server.listen("127.0.0.1", 0, server_tls()));
  ASSERT_NE(server.port(), server.tls_port());
  client_log plain, secure;
  zws::connect(loop, url(server.port(), "/chat"), logging(plain, [](zws::WebSocket& ws) { ws.send_text("plain"); }));
  zws::connect(loop, wss(server.tls_port(), "localhost", "/chat"),
               logging(secure, [](zws::WebSocket& ws) { ws.send_text("secure"); }), client_tls());
  ASSERT_TRUE(run_until(loop, [&] { return plain.messages.size() == 1 && secure.messages.size() == 1; }))
      << plain.error << " / " << secure.error;
  EXPECT_EQ(plain.messages[0], "plain");
  EXPECT_EQ(secure.messages[0], "secure");
}

TEST(TlsServer, ReloadKeepsOpenConnectionsAndServesTheNewCertificate) {
  tls_server s;
  client_log old;
  zws::connect(s.loop, wss(s.port), logging(old), client_tls());
  ASSERT_TRUE(run_until(s.loop, [&] { return old.open || old.done(); })) << old.error;
  zws::ClientOptions other = client_tls();
  other.tls.server_name = "other.test";
  EXPECT_NE(attempt(s.loop, wss(s.port), other), "");
  std::thread reloader([&] { EXPECT_FALSE(s.server.reload_tls(server_tls("other"))); });
  reloader.join();
  EXPECT_EQ(attempt(s.loop, wss(s.port), other), "");
  EXPECT_NE(attempt(s.loop, wss(s.port), client_tls()).find("certificate verify failed"), std::string::npos);
  ASSERT_NE(old.ws, nullptr);
  old.ws->send_text("still here");
  ASSERT_TRUE(run_until(s.loop, [&] { return !old.messages.empty() || old.done(); }));
  EXPECT_EQ(old.messages.at(0), "still here");
}

TEST(TlsServer, SniPicksTheCertificate) {
  zws::tls_server_options o = server_tls();
  o.sni.push_back({"other.test", cert("other.pem"), cert("other.key"), ""});
  tls_server s(echo_behavior(), o);
  zws::ClientOptions other = client_tls();
  other.tls.server_name = "other.test";
  EXPECT_EQ(attempt(s.loop, wss(s.port), other), "");
  EXPECT_EQ(attempt(s.loop, wss(s.port)), "");
  other.tls.server_name = "third.test";  // served the default, which does not name it
  EXPECT_NE(attempt(s.loop, wss(s.port), other), "");
}

TEST(TlsServer, MutualTlsRefusesAClientWithoutCertificate) {
  zws::tls_server_options o = server_tls();
  o.client_ca_file = cert("ca.pem");
  o.require_client_cert = true;
  tls_server s(echo_behavior(), o);
  const std::string why = attempt(s.loop, wss(s.port));
  EXPECT_NE(why, "");
  EXPECT_NE(why.find("certificate required"), std::string::npos) << why;
  zws::ClientOptions with = client_tls();
  with.tls.cert_chain_file = cert("client.pem");
  with.tls.key_file = cert("client.key");
  EXPECT_EQ(attempt(s.loop, wss(s.port), with), "");
}

TEST(TlsVerify, RefusalsCarryTheirReason) {
  struct refusal {
    const char* cert;
    const char* reason;
  };
  for (refusal r : {refusal{"expired", "certificate has expired"}, refusal{"wronghost", "hostname mismatch"},
                    refusal{"unknown", "unable to get local issuer certificate"},
                    refusal{"self", "self-signed certificate"}}) {
    tls_server s(echo_behavior(), server_tls(r.cert));
    const std::string why = attempt(s.loop, wss(s.port));
    EXPECT_NE(why.find("certificate verify failed"), std::string::npos) << r.cert << ": " << why;
    EXPECT_NE(why.find(r.reason), std::string::npos) << r.cert << ": " << why;
  }
}

TEST(TlsVerify, InsecureSkipsVerification) {
  tls_server s(echo_behavior(), server_tls("self"));
  zws::ClientOptions o;
  o.tls.insecure_skip_verify = true;
  EXPECT_EQ(attempt(s.loop, wss(s.port), o), "");
}

TEST(TlsVerify, PlainServerAnsweringWssFailsCleanly) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", echo_behavior());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  const std::string why = attempt(loop, wss(server.port()));
  EXPECT_NE(why, "");
  EXPECT_NE(why.find("TLS"), std::string::npos) << why;
}

TEST(TlsServer, BadCertificateFailsListen) {
  zws::Loop loop;
  zws::Server server(loop);
  zws::tls_server_options o = server_tls();
  o.key_file = cert("missing.key");
  auto f = server.listen("127.0.0.1", 0, o);
  ASSERT_TRUE(f);
  EXPECT_NE(f.message().find("missing.key"), std::string::npos) << f.message();
}

}  // namespace
}  // namespace zws_test
