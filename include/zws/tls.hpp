// zws/tls.hpp — options of TLS listeners (wss:// servers) and TLS clients.
//
// TLS is an optional part of zws (build with `make TLS=1`, OpenSSL 3). This header
// is the same in every build and never includes OpenSSL: a build without TLS
// accepts these options and fails the call that needs them with "zws was built
// without TLS: rebuild with make TLS=1". `tls_available()` says which build this is.
//
// Files are PEM. A certificate chain file holds the leaf first, then the
// intermediates that lead to a root the peers trust (the root itself may be left out).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace zws {

enum class tls_version : std::uint8_t { tls1_2, tls1_3 };

// One more certificate of a server, chosen when the client's SNI names it.
struct tls_sni_certificate {
  // "chat.example.com", or "*.example.com" for any one label in its place.
  // Compared without regard to case.
  std::string server_name{};
  std::string cert_chain_file{};
  std::string key_file{};
  std::string key_password{};  // for an encrypted key file; empty: not encrypted
};

struct tls_server_options {
  // The default certificate: served when the client sends no SNI or a name no
  // entry of `sni` matches.
  std::string cert_chain_file{};
  std::string key_file{};
  std::string key_password{};  // for an encrypted key file; empty: not encrypted
  std::vector<tls_sni_certificate> sni{};
  // Mutual TLS: clients are asked for a certificate issued by one of these CAs
  // (PEM bundle). With require_client_cert, a client without one is refused.
  std::string client_ca_file{};
  bool require_client_cert = false;
  // Stateless session resumption (RFC 8446 §4.6.1 / RFC 5077).
  bool session_tickets = true;
  tls_version min_version = tls_version::tls1_2;  // TLS 1.3 is preferred whenever both sides speak it
  // Offered through ALPN when the client asks; empty: no ALPN answer.
  std::string alpn = "http/1.1";
};

struct tls_client_options {
  // Trust anchors. Both empty: the system store (/etc/ssl/certs, Debian's
  // ca-certificates). Either set: only these.
  std::string ca_file{};
  std::string ca_dir{};  // a directory hashed by `openssl rehash`
  // A client certificate for servers that ask for one (mutual TLS).
  std::string cert_chain_file{};
  std::string key_file{};
  std::string key_password{};
  // The name sent as SNI and checked against the certificate; empty: the URL's
  // host. An IP literal is checked against the certificate's IP addresses and
  // sends no SNI.
  std::string server_name{};
  tls_version min_version = tls_version::tls1_2;
  std::string alpn = "http/1.1";  // empty: no ALPN
  // Accepts any certificate from anyone: the connection is encrypted but not
  // authenticated, so whoever sits in between can read and change everything.
  // Only for tests against throw-away certificates.
  bool insecure_skip_verify = false;
};

// True when this build of zws has TLS (make TLS=1).
bool tls_available() noexcept;

}  // namespace zws
