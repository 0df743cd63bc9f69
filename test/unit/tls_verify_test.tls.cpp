// TLS contexts: client verification (and its readable reasons), IP literals, SNI,
// certificate reload with sessions open, mutual TLS, loading failures.
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <thread>

#include "tls_pair.hpp"

namespace zws::test::tls {
namespace {

std::string verify_reason(long code) {
  return std::string("TLS handshake: certificate verify failed: ") + X509_verify_cert_error_string(code);
}

// The common name of the certificate the client was served.
std::string served_name(const session& c) {
  X509* cert = SSL_get0_peer_certificate(c.native());
  if (cert == nullptr) return {};
  char cn[256] = {};
  X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
  return cn;
}

// The client refuses; the server learns why from the client's alert.
void expect_refused(std::string_view cert, std::string_view host, long code,
                    const tls_client_options& co = client_options()) {
  server_context sc(server_options(cert));
  ASSERT_FALSE(sc.error()) << sc.error().message();
  client_context cc(co);
  ASSERT_FALSE(cc.error()) << cc.error().message();
  pair p(sc, cc, host);
  p.handshake();
  EXPECT_EQ(p.c.last, status::failed);
  EXPECT_EQ(p.c.s.reason(), verify_reason(code)) << cert;
  EXPECT_FALSE(p.c.s.handshake_done());
  EXPECT_TRUE(p.s.s.failed()) << cert;
  EXPECT_NE(p.s.s.reason().find("alert"), std::string_view::npos) << p.s.s.reason();
}

TEST(TlsVerify, ExpiredRefused) { expect_refused("expired", "localhost", X509_V_ERR_CERT_HAS_EXPIRED); }

TEST(TlsVerify, WrongHostRefused) { expect_refused("wronghost", "localhost", X509_V_ERR_HOSTNAME_MISMATCH); }

TEST(TlsVerify, SelfSignedRefused) { expect_refused("self", "localhost", X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT); }

TEST(TlsVerify, UnknownCaRefused) {
  expect_refused("unknown", "localhost", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
}

TEST(TlsVerify, ReasonsReadWell) {
  EXPECT_EQ(verify_reason(X509_V_ERR_CERT_HAS_EXPIRED),
            "TLS handshake: certificate verify failed: certificate has expired");
  EXPECT_EQ(verify_reason(X509_V_ERR_HOSTNAME_MISMATCH), "TLS handshake: certificate verify failed: hostname mismatch");
}

// Our test CA is not in /etc/ssl/certs: trusted by default means refused here.
TEST(TlsVerify, SystemStoreByDefault) {
  expect_refused("server", "localhost", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, tls_client_options{});
}

TEST(TlsVerify, CaDirectory) {
  tls_client_options co;
  co.ca_dir = cert_path("no-such-dir");
  expect_refused("server", "localhost", X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, co);
}

TEST(TlsVerify, InsecureSkipVerifyAcceptsAnything) {
  server_context sc(server_options("self"));
  tls_client_options co;
  co.insecure_skip_verify = true;
  client_context cc(co);
  pair p(sc, cc, "nobody.test");
  p.handshake();
  EXPECT_TRUE(p.established()) << p.c.s.reason();
}

TEST(TlsVerify, IpLiterals) {
  server_context sc(server_options());
  client_context cc(client_options());
  for (std::string_view host : {"127.0.0.1", "::1", "[::1]"}) {
    pair p(sc, cc, host);
    p.handshake();
    EXPECT_TRUE(p.established()) << host << ": " << p.c.s.reason();
    // No SNI for an address (RFC 6066 §3).
    EXPECT_EQ(SSL_get_servername(p.s.s.native(), TLSEXT_NAMETYPE_host_name), nullptr) << host;
  }
  expect_refused("server", "127.0.0.2", X509_V_ERR_IP_ADDRESS_MISMATCH);
  expect_refused("server", "::2", X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST(TlsVerify, NoNameToVerify) {
  client_context cc(client_options());
  session c = session::client(cc, "");
  EXPECT_TRUE(c.failed());
  EXPECT_EQ(c.reason(), "TLS: no server name to verify the certificate against");
}

TEST(TlsVerify, ServerNameOverride) {
  tls_server_options so = server_options();
  so.sni.push_back({"other.test", cert_path("other.pem"), cert_path("other.key"), ""});
  server_context sc(so);
  tls_client_options co = client_options();
  co.server_name = "other.test";
  client_context cc(co);
  pair p(sc, cc, "127.0.0.1");
  p.handshake();
  ASSERT_TRUE(p.established()) << p.c.s.reason();
  EXPECT_STREQ(SSL_get_servername(p.s.s.native(), TLSEXT_NAMETYPE_host_name), "other.test");
  EXPECT_EQ(served_name(p.c.s), "other.test");
}

TEST(TlsSni, ChoosesTheCertificateByName) {
  tls_server_options so = server_options();
  so.sni.push_back({"other.test", cert_path("other.pem"), cert_path("other.key"), ""});
  so.sni.push_back({"*.wild.test", cert_path("other.pem"), cert_path("other.key"), ""});
  server_context sc(so);
  ASSERT_FALSE(sc.error()) << sc.error().message();
  client_context cc(client_options());
  tls_client_options insecure;
  insecure.insecure_skip_verify = true;
  client_context any(insecure);
  struct expectation {
    const client_context* ctx;
    std::string_view host, served;
  };
  for (const auto& [ctx, host, served] : std::initializer_list<expectation>{
           {&cc, "other.test", "other.test"},
           {&cc, "OTHER.Test", "other.test"},
           {&cc, "localhost", "localhost"},
           {&any, "a.wild.test", "other.test"},
           {&any, "wild.test", "localhost"},
           {&any, "a.b.wild.test", "localhost"},  // a wildcard covers one label
           {&any, "unknown.test", "localhost"},
       }) {
    pair p(sc, *ctx, host);
    p.handshake();
    ASSERT_TRUE(p.established()) << host << ": " << p.c.s.reason();
    EXPECT_EQ(served_name(p.c.s), served) << host;
  }
}

TEST(TlsReload, OpenSessionsKeepTheirCertificates) {
  server_context sc(server_options());
  client_context cc(client_options());
  pair before(sc, cc, "localhost");
  before.handshake();
  ASSERT_TRUE(before.established());
  ASSERT_FALSE(sc.reload(server_options("other")));
  pair::send(before.c, "still here");
  pair::send(before.s, "me too");
  before.pump();
  EXPECT_EQ(before.s.got, "still here");
  EXPECT_EQ(before.c.got, "me too");
  EXPECT_EQ(served_name(before.c.s), "localhost");

  pair after(sc, cc, "other.test");
  after.handshake();
  ASSERT_TRUE(after.established()) << after.c.s.reason();
  EXPECT_EQ(served_name(after.c.s), "other.test");
  pair wrong(sc, cc, "localhost");
  wrong.handshake();
  EXPECT_EQ(wrong.c.s.reason(), verify_reason(X509_V_ERR_HOSTNAME_MISMATCH));

  // reload() reads the same files again (a renewal replaced them in place).
  EXPECT_FALSE(sc.reload());
  pair again(sc, cc, "other.test");
  again.handshake();
  EXPECT_TRUE(again.established());
}

TEST(TlsReload, FailureKeepsTheOldCertificates) {
  server_context sc(server_options());
  tls_server_options missing = server_options();
  missing.cert_chain_file = cert_path("missing.pem");
  const failure f = sc.reload(missing);
  ASSERT_TRUE(f);
  EXPECT_EQ(f.message(), "TLS: load certificate chain " + missing.cert_chain_file + ": No such file or directory");
  client_context cc(client_options());
  pair p(sc, cc, "localhost");
  p.handshake();
  EXPECT_TRUE(p.established());
}

TEST(TlsReload, FromAnotherThreadWhileSessionsStart) {
  server_context sc(server_options());
  tls_client_options co = client_options();
  co.insecure_skip_verify = true;  // either certificate will do
  client_context cc(co);
  std::atomic<bool> stop{false};
  std::atomic<int> reloads{0};
  std::thread t([&] {
    for (int i = 0; !stop.load() || i < 4; ++i) {
      EXPECT_FALSE(sc.reload(server_options(i % 2 ? "server" : "other")));
      reloads.fetch_add(1);
    }
  });
  for (int i = 0; i < 40; ++i) {
    pair p(sc, cc, "localhost");
    p.handshake();
    ASSERT_TRUE(p.established()) << p.c.s.reason();
  }
  stop = true;
  t.join();
  EXPECT_GE(reloads.load(), 4);
}

TEST(TlsMutual, RefusedWithoutAClientCertificate) {
  tls_server_options so = server_options();
  so.client_ca_file = cert_path("ca.pem");
  so.require_client_cert = true;
  server_context sc(so);
  ASSERT_FALSE(sc.error()) << sc.error().message();
  client_context cc(client_options());
  pair p(sc, cc);
  p.handshake();
  EXPECT_EQ(p.s.s.reason(), "TLS handshake: peer did not return a certificate");
  // TLS 1.3: the client finished its side before the server said no.
  EXPECT_EQ(p.c.last, status::failed);
  EXPECT_EQ(p.c.s.reason(), "TLS: tlsv13 alert certificate required");
}

TEST(TlsMutual, AcceptedWithAClientCertificate) {
  tls_server_options so = server_options();
  so.client_ca_file = cert_path("ca.pem");
  so.require_client_cert = true;
  server_context sc(so);
  tls_client_options co = client_options();
  co.cert_chain_file = cert_path("client.pem");
  co.key_file = cert_path("client.key");
  client_context cc(co);
  ASSERT_FALSE(cc.error()) << cc.error().message();
  pair p(sc, cc);
  p.handshake();
  ASSERT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
  EXPECT_EQ(served_name(p.s.s), "zws test client");
}

TEST(TlsContext, LoadFailuresAreReadable) {
  tls_server_options o = server_options();
  o.key_file = cert_path("other.key");
  server_context mismatch(o);
  ASSERT_TRUE(mismatch.error());
  EXPECT_EQ(mismatch.error().message(),
            "TLS: load private key " + o.key_file + ": key values mismatch");
  session s = session::server(mismatch);
  EXPECT_TRUE(s.failed());
  EXPECT_EQ(s.reason(), mismatch.error().message());

  tls_client_options co;
  co.ca_file = cert_path("missing-ca.pem");
  client_context cc(co);
  ASSERT_TRUE(cc.error());
  EXPECT_NE(cc.error().message().find("missing-ca.pem"), std::string::npos) << cc.error().message();
  EXPECT_TRUE(session::client(cc, "localhost").failed());
}

TEST(TlsContext, EncryptedKey) {
  tls_server_options o = server_options();
  o.key_file = cert_path("server-enc.key");
  o.key_password = "secret";
  server_context good(o);
  EXPECT_FALSE(good.error()) << good.error().message();
  o.key_password = "wrong";
  server_context bad(o);
  ASSERT_TRUE(bad.error());
  EXPECT_TRUE(bad.error().message().starts_with("TLS: load private key " + o.key_file + ": "))
      << bad.error().message();
}

}  // namespace
}  // namespace zws::test::tls
