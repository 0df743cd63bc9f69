// lib/io/tls.tls.cpp — TLS sessions over OpenSSL 3, driven without a socket.
//
// A session reads and writes through its thread's BIO, used for both directions,
// whose data pointer is set to an `io_slot` on the caller's stack for the
// duration of one call: reads take from the caller's ciphertext (no copy of our
// own; OpenSSL copies one record at a time into its record buffer), writes
// append to the caller's `wire`. Outside a call the BIO points at nothing, so a
// session holds no bytes between calls.
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <new>
#include <string>
#include <utility>

#include "io/net.hpp"
#include "io/tls.hpp"
#include "io/tls_openssl.hpp"

namespace zws {
bool tls_available() noexcept { return true; }
}  // namespace zws

namespace zws::detail::tls {

// A call's bytes: `pre` (ciphertext the session held from earlier calls), then
// `in`, then (receive_from) what recv() on `fd` brings; `taken` counts across
// pre and in, `received` what came from the socket.
struct io_slot {
  std::string_view pre;
  std::span<const std::uint8_t> in;
  std::size_t taken = 0;
  buffer* wire = nullptr;
  bool wire_failed = false;  // appending to wire ran out of memory
  int fd = -1;               // receive_from: the socket OpenSSL reads
  bool drained = false;      // the socket had no more (a short read, EAGAIN, EOF or an error)
  bool eof = false;          // recv() said the peer closed TCP
  int error = 0;             // recv()'s errno, when it failed
  std::size_t received = 0;
};

namespace {

// Reads the socket for receive_from. Once a read came back short the socket is
// empty (edge-triggered: anything arriving later raises a new edge), so it is
// not asked again in this call. EOF and errors are kept for the caller and shown
// to OpenSSL as "no input yet": its session stays usable, so what was decrypted
// before them is still answered, as on a plain connection.
int bio_recv(io_slot& s, char* out, int len) {
  if (s.fd < 0 || s.drained) return -1;
  const long n = net::recv(s.fd, out, static_cast<std::size_t>(len));
  if (n > 0) {
    s.received += static_cast<std::size_t>(n);
    s.drained = n < len;
    return static_cast<int>(n);
  }
  s.drained = true;
  s.eof = n == 0;
  if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) s.error = static_cast<int>(-n);
  return -1;
}

int bio_read(BIO* b, char* out, int len) {
  auto* s = static_cast<io_slot*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (s == nullptr || len <= 0) {
    BIO_set_retry_read(b);
    return -1;
  }
  if (s->taken == s->pre.size() + s->in.size()) {
    const int n = bio_recv(*s, out, len);
    if (n < 0) BIO_set_retry_read(b);
    return n;
  }
  std::size_t n = 0;
  if (s->taken < s->pre.size()) {
    n = std::min(static_cast<std::size_t>(len), s->pre.size() - s->taken);
    std::memcpy(out, s->pre.data() + s->taken, n);
  } else {
    const std::size_t at = s->taken - s->pre.size();
    n = std::min(static_cast<std::size_t>(len), s->in.size() - at);
    std::memcpy(out, s->in.data() + at, n);
  }
  s->taken += n;
  return static_cast<int>(n);
}

int bio_write(BIO* b, const char* p, int len) {
  auto* s = static_cast<io_slot*>(BIO_get_data(b));
  BIO_clear_retry_flags(b);
  if (s == nullptr || s->wire == nullptr || len < 0) return -1;
  try {
    s->wire->append(p, static_cast<std::size_t>(len));
  } catch (const std::bad_alloc&) {
    s->wire_failed = true;
    return -1;
  }
  return len;
}

long bio_ctrl(BIO* /*b*/, int cmd, long /*num*/, void* /*ptr*/) {
  // Everything written is in the caller's buffer already: flushing is done.
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}

const BIO_METHOD* bio_method() {
  static BIO_METHOD* const method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "zws caller buffers");
    if (m != nullptr) {
      BIO_meth_set_read(m, bio_read);
      BIO_meth_set_write(m, bio_write);
      BIO_meth_set_ctrl(m, bio_ctrl);
      BIO_meth_set_create(m, bio_create);
    }
    return m;
  }();
  return method;
}

// One BIO per thread, shared by every session driven on that thread (all of a
// loop's sessions are), as uSockets shares one per loop: a BIO with its lock
// costs about 200 bytes, and a session needs it only during a call. A session
// moved to another thread switches to that thread's BIO at its next call.
class thread_bio {
 public:
  thread_bio() noexcept : bio_(bio_method() != nullptr ? BIO_new(bio_method()) : nullptr) {}
  ~thread_bio() { BIO_free(bio_); }
  thread_bio(const thread_bio&) = delete;
  thread_bio& operator=(const thread_bio&) = delete;
  BIO* get() const noexcept { return bio_; }

 private:
  BIO* bio_;
};

// Points this thread's BIO at one call's bytes (and `ssl` at the BIO), and
// away from them afterwards. Clears the thread's error queue first when anything
// is in it (SSL_get_error would blame this session for someone else's error,
// uSockets #43); peeking costs less than clearing an empty queue's 16 slots.
class attach {
 public:
  attach(SSL* ssl, io_slot& slot) noexcept {
    if (ERR_peek_error() != 0) ERR_clear_error();
    thread_local thread_bio shared;
    BIO* b = shared.get();
    if (b == nullptr) return;
    if (SSL_get_rbio(ssl) != b) {
      BIO_up_ref(b);
      SSL_set_bio(ssl, b, b);  // one reference, taken by the SSL (the old BIO's is dropped)
    }
    bio_ = b;
    BIO_set_data(bio_, &slot);
  }
  ~attach() {
    if (bio_ != nullptr) BIO_set_data(bio_, nullptr);
  }
  attach(const attach&) = delete;
  attach& operator=(const attach&) = delete;
  bool ok() const noexcept { return bio_ != nullptr; }

 private:
  BIO* bio_ = nullptr;
};

bool is_ip_literal(const std::string& host) noexcept {
  unsigned char addr[16];
  return inet_pton(AF_INET, host.c_str(), addr) == 1 || inet_pton(AF_INET6, host.c_str(), addr) == 1;
}

SSL* new_ssl(SSL_CTX* ctx) { return ctx != nullptr ? SSL_new(ctx) : nullptr; }

// TLS record framing (RFC 8446 §5.1), for holding a ClientHello until it is whole.
constexpr std::uint8_t handshake_record = 22;
constexpr std::size_t record_header = 5;
constexpr std::size_t max_record = (std::size_t{16} << 10) + 2048;

}  // namespace

// --- making sessions -------------------------------------------------------------

session session::server(const server_context& ctx) {
  session s;
  ERR_clear_error();
  s.certs_ = ctx.current();
  if (s.certs_ == nullptr) {
    s.fail(ctx.error() ? ctx.error().message() : std::string("TLS: no certificate loaded"));
    return s;
  }
  s.state_ |= waiting_bit;  // SSL_new once the first record is whole
  return s;
}

session session::client(const client_context& ctx, std::string_view host) {
  session s;
  ERR_clear_error();
  if (ctx.error()) {
    s.fail(ctx.error().message());
    return s;
  }
  std::string name(ctx.name_for(host));
  if (name.size() > 2 && name.front() == '[' && name.back() == ']') name = name.substr(1, name.size() - 2);
  if (name.empty() && ctx.verifies()) {
    s.fail("TLS: no server name to verify the certificate against");
    return s;
  }
  s.ssl_ = new_ssl(ctx.native());
  if (s.ssl_ == nullptr) {
    s.fail("TLS: " + take_openssl_error("cannot create a session"));
    return s;
  }
  const bool ip = is_ip_literal(name);
  bool ok = true;
  // SNI carries host names only (RFC 6066 §3): never an address.
  if (!ip && !name.empty()) ok = SSL_set_tlsext_host_name(s.ssl_, name.c_str()) == 1;
  if (ok && ctx.verifies()) {
    ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s.ssl_), name.c_str()) == 1
            : SSL_set1_host(s.ssl_, name.c_str()) == 1;
    SSL_set_hostflags(s.ssl_, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  }
  if (!ok) {
    s.fail("TLS: bad server name " + name + ": " + take_openssl_error("rejected"));
    return s;
  }
  SSL_set_connect_state(s.ssl_);
  return s;
}

session::session(session&& other) noexcept
    : ssl_(std::exchange(other.ssl_, nullptr)),
      certs_(std::move(other.certs_)),
      reason_(std::move(other.reason_)),
      held_(std::move(other.held_)),
      state_(std::exchange(other.state_, 0)) {}

session& session::operator=(session&& other) noexcept {
  if (this != &other) {
    session old(std::move(*this));
    ssl_ = std::exchange(other.ssl_, nullptr);
    certs_ = std::move(other.certs_);
    reason_ = std::move(other.reason_);
    held_ = std::move(other.held_);
    state_ = std::exchange(other.state_, 0);
  }
  return *this;
}

session::~session() {
  if (ssl_ == nullptr) return;
  // A session that ended without close_notify but without an error stays
  // resumable (RFC 5246 §7.2.1): SSL_free would otherwise evict it from the cache.
  if (handshake_done() && !(state_ & failed_bit)) SSL_set_shutdown(ssl_, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
  SSL_free(ssl_);
}

// --- driving ---------------------------------------------------------------------

status session::fail(std::string reason) {
  state_ |= failed_bit;
  reason_ = std::make_unique<std::string>(std::move(reason));
  ERR_clear_error();
  return status::failed;
}

// What an SSL call that returned `rc` (not success) means.
status session::settle(int rc, bool wire_failed) {
  const int e = SSL_get_error(ssl_, rc);
  if (e == SSL_ERROR_WANT_READ) return status::need_input;
  if (e == SSL_ERROR_ZERO_RETURN) {
    state_ |= peer_closed_bit;
    ERR_clear_error();
    return status::closed;
  }
  std::string r = handshake_done() ? "TLS: " : "TLS handshake: ";
  if (wire_failed) return fail(r + "out of memory");
  const unsigned long first = ERR_peek_error();
  if (ERR_GET_LIB(first) == ERR_LIB_SSL && ERR_GET_REASON(first) == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    r += "certificate verify failed: ";
    r += X509_verify_cert_error_string(SSL_get_verify_result(ssl_));
    return fail(std::move(r));
  }
  if (e == SSL_ERROR_SYSCALL && first == 0) return fail(r + "unexpected end of input");
  return fail(r + take_openssl_error("internal error"));
}

status session::start(buffer& wire) {
  if (failed()) return status::failed;
  const receive_result r = receive({}, {}, wire);
  return r.state == status::out_full ? status::need_input : r.state;
}

bool session::hold_first_record(std::span<const std::uint8_t> in, receive_result& r) {
  const std::size_t before = held_ != nullptr ? held_->size() : 0;
  const std::size_t have = before + in.size();
  auto at = [&](std::size_t i) {
    return i < before ? static_cast<std::uint8_t>((*held_)[i]) : in[i - before];
  };
  // Whole, or not a handshake record at all (OpenSSL says why it is wrong).
  bool whole = have != 0 && at(0) != handshake_record;
  if (have >= record_header && at(0) == handshake_record) {
    const std::size_t len = (std::size_t{at(3)} << 8) | at(4);
    whole = len > max_record || have >= record_header + len;
  }
  if (!whole) {
    try {
      if (held_ == nullptr) held_ = std::make_unique<std::string>();
      held_->append(reinterpret_cast<const char*>(in.data()), in.size());
    } catch (const std::bad_alloc&) {
      r.consumed = in.size();
      r.state = fail("TLS: out of memory");
      return false;
    }
    r.consumed = in.size();
    r.state = status::need_input;
    return false;
  }
  ssl_ = new_ssl(certs_->main);
  if (ssl_ == nullptr) {
    r.consumed = in.size();
    r.state = fail("TLS: " + take_openssl_error("cannot create a session"));
    return false;
  }
  SSL_set_accept_state(ssl_);
  state_ &= static_cast<std::uint8_t>(~waiting_bit);
  return true;
}

receive_result session::receive(std::span<const std::uint8_t> in, std::span<std::uint8_t> out, buffer& wire) {
  receive_result r;
  if (failed()) {
    r.state = status::failed;
    return r;
  }
  if (peer_closed()) {
    r.consumed = in.size();
    r.state = status::closed;
    return r;
  }
  if ((state_ & waiting_bit) != 0 && !hold_first_record(in, r)) return r;
  io_slot slot{held_ != nullptr ? std::string_view(*held_) : std::string_view(), in, 0, &wire, false};
  {
    attach guard(ssl_, slot);
    if (!guard.ok()) {
      r.state = fail("TLS: out of memory");
    } else {
      r.state = drive(out, slot, r.produced);
    }
  }
  // What OpenSSL read of the held bytes is gone from them; the rest of `in`
  // counts as consumed only once read (out_full), or all of it when done with it.
  const std::size_t pre = slot.pre.size();
  if (held_ != nullptr) {
    held_->erase(0, std::min(slot.taken, pre));
    if (held_->empty()) held_.reset();
  }
  const std::size_t taken_in = slot.taken > pre ? slot.taken - pre : 0;
  r.consumed = r.state == status::need_input || r.state == status::out_full ? taken_in : in.size();
  return r;
}

receive_result session::receive_from(int fd, std::span<std::uint8_t> out, buffer& wire) {
  receive_result r;
  if (failed()) {
    r.state = status::failed;
    return r;
  }
  if (peer_closed()) {
    r.state = status::closed;
    return r;
  }
  if (!handshake_done()) {
    r.state = status::need_input;
    return r;
  }
  io_slot slot{{}, {}, 0, &wire, false, fd};
  {
    attach guard(ssl_, slot);
    r.state = guard.ok() ? drive(out, slot, r.produced) : fail("TLS: out of memory");
  }
  r.consumed = slot.received;
  r.drained = slot.drained;
  r.eof = slot.eof;
  r.error = slot.error;
  return r;
}

// The handshake (when not done yet), then SSL_read into `out` until it is full
// or the input runs out; `produced` counts the plaintext written. Once OpenSSL
// has taken every input byte (or found the socket empty) and holds nothing (no
// plaintext, no record bytes: SSL_has_pending), another SSL_read could only
// answer WANT_READ, so the loop stops there instead of paying for that call and
// SSL_get_error.
status session::drive(std::span<std::uint8_t> out, const io_slot& slot, std::size_t& produced) {
  if (!handshake_done()) {
    const int rc = SSL_do_handshake(ssl_);
    if (rc != 1) return settle(rc, slot.wire_failed);
    state_ |= established_bit;
  }
  const std::size_t input = slot.pre.size() + slot.in.size();
  auto input_left = [&] { return slot.fd < 0 ? slot.taken < input : !slot.drained; };
  while (produced < out.size()) {
    std::size_t n = 0;
    const int rc = SSL_read_ex(ssl_, out.data() + produced, out.size() - produced, &n);
    if (rc != 1) return settle(rc, slot.wire_failed);
    produced += n;
    if (!input_left() && SSL_has_pending(ssl_) == 0) return status::need_input;
  }
  // `out` is full (or was empty): more to come only if input or what OpenSSL
  // holds is left (read-ahead may have brought whole records not yet decrypted).
  return input_left() || SSL_has_pending(ssl_) != 0 ? status::out_full : status::need_input;
}

send_result session::send(std::span<const std::uint8_t> plain, buffer& wire) {
  send_result r;
  if (failed()) {
    r.state = status::failed;
    return r;
  }
  if (state_ & sent_close_bit) {
    r.state = status::closed;
    return r;
  }
  if (!handshake_done()) {
    r.state = status::need_input;  // SSL_write would say WANT_READ: the handshake needs the peer
    return r;
  }
  io_slot slot{{}, {}, 0, &wire, false};
  attach guard(ssl_, slot);
  if (!guard.ok()) {
    r.state = fail("TLS: out of memory");
    return r;
  }
  while (r.consumed < plain.size()) {
    std::size_t n = 0;
    const int rc = SSL_write_ex(ssl_, plain.data() + r.consumed, plain.size() - r.consumed, &n);
    if (rc == 1) {
      r.consumed += n;
      continue;
    }
    r.state = settle(rc, slot.wire_failed);
    return r;
  }
  return r;
}

status session::shutdown(buffer& wire) {
  if (failed()) return status::failed;
  if (!handshake_done() || (state_ & sent_close_bit)) return peer_closed() ? status::closed : status::done;
  io_slot slot{{}, {}, 0, &wire, false};
  attach guard(ssl_, slot);
  if (!guard.ok()) return fail("TLS: out of memory");
  const int rc = SSL_shutdown(ssl_);
  if (rc < 0) {
    // With a BIO that takes every byte, only running out of memory stops it.
    const status s = settle(rc, slot.wire_failed);
    if (s != status::need_input) return s;
  }
  state_ |= sent_close_bit;
  return peer_closed() ? status::closed : status::done;
}

std::string_view session::reason() const noexcept {
  if (reason_ != nullptr) return *reason_;
  return ssl_ == nullptr ? std::string_view("TLS: no session") : std::string_view();
}

std::string_view session::alpn() const noexcept {
  if (ssl_ == nullptr) return {};
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_, &p, &n);
  return {reinterpret_cast<const char*>(p), n};
}

}  // namespace zws::detail::tls
