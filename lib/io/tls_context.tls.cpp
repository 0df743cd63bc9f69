// lib/io/tls_context.tls.cpp — server and client contexts of the OpenSSL transport:
// certificates, SNI, ALPN, trust. Sessions are in tls.tls.cpp.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstring>
#include <memory>
#include <string>
#include <utility>

#include "io/tls.hpp"
#include "io/tls_openssl.hpp"

namespace zws::detail::tls {
namespace {

// Where Debian's ca-certificates keeps the hashed system store.
constexpr const char* system_ca_dir = "/etc/ssl/certs";
// TLS 1.3 tickets sent after each full handshake: one is all a client needs.
constexpr std::size_t tickets_per_handshake = 1;
// Bounds the server's session cache (TLS 1.2 clients resuming by session id).
constexpr long session_cache_size = 4096;

int version_of(tls_version v) noexcept { return v == tls_version::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION; }

// "TLS: load certificate chain server.pem: No such file or directory".
failure load_failure(std::string_view step, std::string_view file) {
  std::string m = "TLS: ";
  m.append(step);
  if (!file.empty()) m.append(" ").append(file);
  m.append(": ").append(take_openssl_error("failed"));
  return failure(-1, std::move(m));
}

std::string alpn_wire(std::string_view protocol) {
  std::string w;
  if (protocol.empty() || protocol.size() > 255) return w;
  w.push_back(static_cast<char>(protocol.size()));
  w.append(protocol);
  return w;
}

int pem_password(char* buf, int size, int /*rwflag*/, void* user) {
  const auto* password = static_cast<const std::string*>(user);
  if (password == nullptr || password->size() > static_cast<std::size_t>(size)) return -1;
  return static_cast<int>(password->copy(buf, password->size()));
}

// Chain, key (with its password) and the check that they belong together.
failure load_identity(SSL_CTX* ctx, const std::string& chain, const std::string& key, const std::string& password) {
  if (SSL_CTX_use_certificate_chain_file(ctx, chain.c_str()) != 1) return load_failure("load certificate chain", chain);
  SSL_CTX_set_default_passwd_cb(ctx, pem_password);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, const_cast<std::string*>(&password));
  const int loaded = SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM);
  // The password is not ours to keep past this call.
  SSL_CTX_set_default_passwd_cb(ctx, nullptr);
  SSL_CTX_set_default_passwd_cb_userdata(ctx, nullptr);
  if (loaded != 1) return load_failure("load private key", key);
  if (SSL_CTX_check_private_key(ctx) != 1) return load_failure("private key does not match", chain);
  return {};
}

// A name compared with SNI: exact, or "*.rest" matching one label before ".rest".
bool name_matches(std::string_view pattern, std::string_view name) noexcept {
  auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
  auto equal = [&](std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (lower(a[i]) != lower(b[i])) return false;
    return true;
  };
  if (pattern.starts_with("*.")) {
    const std::size_t dot = name.find('.');
    return dot != 0 && dot != std::string_view::npos && equal(pattern.substr(1), name.substr(dot));
  }
  return equal(pattern, name);
}

// SNI: switch the SSL to the context of the certificate named, if any.
int on_server_name(SSL* ssl, int* /*alert*/, void* arg) {
  const auto* set = static_cast<const cert_set*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (name == nullptr) return SSL_TLSEXT_ERR_NOACK;
  for (const auto& n : set->sni) {
    if (!name_matches(n.name, name)) continue;
    if (SSL_set_SSL_CTX(ssl, n.ctx) == nullptr) return SSL_TLSEXT_ERR_ALERT_FATAL;
    return SSL_TLSEXT_ERR_OK;
  }
  return SSL_TLSEXT_ERR_NOACK;  // the default certificate
}

// ALPN: our one protocol if the client offers it; else continue without ALPN
// (a client that offers only h2 may still speak HTTP/1.1 after it).
int on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
            unsigned int inlen, void* arg) {
  const auto* set = static_cast<const cert_set*>(arg);
  if (set->alpn.empty()) return SSL_TLSEXT_ERR_NOACK;
  unsigned char* chosen = nullptr;
  const auto* ours = reinterpret_cast<const unsigned char*>(set->alpn.data());
  if (SSL_select_next_proto(&chosen, outlen, ours, static_cast<unsigned>(set->alpn.size()), in, inlen) !=
      OPENSSL_NPN_NEGOTIATED)
    return SSL_TLSEXT_ERR_NOACK;
  *out = chosen;
  return SSL_TLSEXT_ERR_OK;
}

void set_common(SSL_CTX* ctx, tls_version min_version) {
  SSL_CTX_set_min_proto_version(ctx, version_of(min_version));
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
  // No record buffers while idle; SSL_write may be retried with the same bytes
  // at another address. No partial writes: the BIO takes every byte (it fails
  // only when out of memory, and that fails the session), so one SSL_write
  // makes every record of a flush instead of returning after each one.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  // Read-ahead: one read of the BIO fills the record buffer with as many records
  // as arrived, instead of one read for each record's header and one for its body
  // (session::receive_from: one recv for them, not two per record).
  SSL_CTX_set_read_ahead(ctx, 1);
}

// One server SSL_CTX with settings from `o` and the certificate given.
failure new_server_ctx(const tls_server_options& o, cert_set& set, const std::string& chain, const std::string& key,
                       const std::string& password, SSL_CTX*& out) {
  out = SSL_CTX_new(TLS_server_method());
  if (out == nullptr) return load_failure("create context", {});
  set_common(out, o.min_version);
  SSL_CTX_set_options(out, SSL_OP_CIPHER_SERVER_PREFERENCE | (o.session_tickets ? 0 : SSL_OP_NO_TICKET));
  SSL_CTX_set_num_tickets(out, o.session_tickets ? tickets_per_handshake : 0);
  SSL_CTX_sess_set_cache_size(out, session_cache_size);
  static constexpr unsigned char sid_context[] = "zws";
  SSL_CTX_set_session_id_context(out, sid_context, sizeof sid_context - 1);
  if (failure f = load_identity(out, chain, key, password)) return f;
  if (!o.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(out, o.client_ca_file.c_str(), nullptr) != 1)
      return load_failure("load client CA", o.client_ca_file);
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca_file.c_str());
    if (names == nullptr) return load_failure("load client CA names", o.client_ca_file);
    SSL_CTX_set_client_CA_list(out, names);
    SSL_CTX_set_verify(out, SSL_VERIFY_PEER | (o.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0), nullptr);
  }
  SSL_CTX_set_alpn_select_cb(out, on_alpn, &set);
  return {};
}

failure load_cert_set(const tls_server_options& o, std::shared_ptr<const cert_set>& out) {
  ERR_clear_error();
  auto set = std::make_shared<cert_set>();
  set->alpn = alpn_wire(o.alpn);
  if (failure f = new_server_ctx(o, *set, o.cert_chain_file, o.key_file, o.key_password, set->main)) return f;
  SSL_CTX_set_tlsext_servername_callback(set->main, on_server_name);
  SSL_CTX_set_tlsext_servername_arg(set->main, set.get());
  for (const auto& s : o.sni) {
    cert_set::named n;
    n.name = s.server_name;
    for (char& c : n.name) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    failure f = new_server_ctx(o, *set, s.cert_chain_file, s.key_file, s.key_password, n.ctx);
    set->sni.push_back(std::move(n));
    if (f) return f;
  }
  out = std::move(set);
  return {};
}

}  // namespace

cert_set::~cert_set() {
  SSL_CTX_free(main);
  for (auto& n : sni) SSL_CTX_free(n.ctx);
}

std::string take_openssl_error(std::string_view fallback) {
  const unsigned long e = ERR_peek_error();
  std::string r;
  if (e == 0) {
    r.assign(fallback);
  } else if (ERR_SYSTEM_ERROR(e)) {
    r.assign(std::strerror(static_cast<int>(ERR_GET_REASON(e))));
  } else if (const char* s = ERR_reason_error_string(e); s != nullptr) {
    r.assign(s);
  } else {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    r.assign(buf);
  }
  ERR_clear_error();
  return r;
}

// --- server ----------------------------------------------------------------------

server_context::server_context(const tls_server_options& opts) : opts_(opts) {
  error_ = load_cert_set(opts_, certs_);
}

server_context::~server_context() = default;

failure server_context::reload() {
  tls_server_options opts;
  {
    std::lock_guard lock(mutex_);
    opts = opts_;
  }
  return reload(opts);
}

failure server_context::reload(const tls_server_options& opts) {
  std::shared_ptr<const cert_set> fresh;
  if (failure f = load_cert_set(opts, fresh)) return f;
  std::shared_ptr<const cert_set> old;  // freed outside the lock
  std::lock_guard lock(mutex_);
  old = std::exchange(certs_, std::move(fresh));
  opts_ = opts;
  return {};
}

std::shared_ptr<const cert_set> server_context::current() const {
  std::lock_guard lock(mutex_);
  return certs_;
}

// --- client ----------------------------------------------------------------------

client_context::client_context(const tls_client_options& opts)
    : server_name_(opts.server_name), verify_(!opts.insecure_skip_verify) {
  ERR_clear_error();
  ctx_ = SSL_CTX_new(TLS_client_method());
  if (ctx_ == nullptr) {
    error_ = load_failure("create context", {});
    return;
  }
  set_common(ctx_, opts.min_version);
  SSL_CTX_set_verify(ctx_, verify_ ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  if (verify_) {
    const bool own = !opts.ca_file.empty() || !opts.ca_dir.empty();
    const char* file = opts.ca_file.empty() ? nullptr : opts.ca_file.c_str();
    const char* dir = own ? (opts.ca_dir.empty() ? nullptr : opts.ca_dir.c_str()) : system_ca_dir;
    if (SSL_CTX_load_verify_locations(ctx_, file, dir) != 1) {
      error_ = load_failure("load CA", file != nullptr ? std::string_view(opts.ca_file)
                                       : std::string_view(dir != nullptr ? dir : ""));
      return;
    }
  }
  if (!opts.cert_chain_file.empty()) {
    error_ = load_identity(ctx_, opts.cert_chain_file, opts.key_file, opts.key_password);
    if (error_) return;
  }
  if (const std::string w = alpn_wire(opts.alpn); !w.empty()) {
    // 0 is success here.
    if (SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(w.data()),
                                static_cast<unsigned>(w.size())) != 0)
      error_ = load_failure("set ALPN", {});
  }
}

client_context::~client_context() { SSL_CTX_free(ctx_); }

std::string_view client_context::name_for(std::string_view host) const noexcept {
  return server_name_.empty() ? host : std::string_view(server_name_);
}

}  // namespace zws::detail::tls
