// lib/io/tls.hpp — the TLS transport: contexts (certificates, trust) and sessions.
//
// Internal. No OpenSSL header is included here: OpenSSL's types appear only as
// opaque pointers, so the connection code builds the same with and without TLS
// (lib/io/tls.no-tls.cpp fails every call with `unavailable`).
//
// A session is sans-socket, like the protocol layer: it is given the ciphertext
// the socket produced and gives back plaintext, and it is given plaintext and
// appends the ciphertext to send to a caller's buffer. It keeps no buffer of its
// own between calls: OpenSSL reads the caller's bytes through its thread's BIO
// (one per thread, shared by the thread's sessions), pointed at them for the
// duration of one call, writes into the caller's `wire` buffer, and releases
// its record buffers when they are empty (SSL_MODE_RELEASE_BUFFERS). Because
// output is appended to a growable buffer, OpenSSL never sees a write that
// cannot proceed: WANT_WRITE does not exist here (nor for SSL_shutdown), the
// caller's own queue and EPOLLOUT handle a full socket exactly as they do for
// plain bytes. WANT_READ is status::need_input, also from send() before the
// handshake is done.
//
// How a connection drives a session:
//   read:  until the handshake is done, recv() ciphertext into the loop's shared
//          receive buffer at offset in_place_headroom; then receive(those bytes,
//          the buffer from its start, wire) decrypts in place (plaintext
//          overwrites ciphertext already consumed, never bytes still to be read),
//          and the plaintext is handled like plain input. Once it is done,
//          receive_from(fd, the shared buffer, wire): OpenSSL reads the socket
//          itself, straight into its record buffer (read-ahead: one recv for as
//          many records as that buffer holds), as the raw TLS echo does, so the
//          ciphertext is not copied from our buffer into OpenSSL's. `wire`
//          collects what OpenSSL answers while reading (handshake flights,
//          alerts, tickets): send it like corked output, right after the input.
//          A client calls start(wire) once TCP is up.
//   flush: send(cork_bytes, wire) — one call per flush, records of up to 16 KiB
//          — then one send() of wire; what the kernel refuses is queued as
//          ciphertext and goes on EPOLLOUT. Before handshake_done() send()
//          takes nothing: keep the plaintext corked until receive() finishes
//          the handshake.
//   close: shutdown(wire) appends close_notify; send it, then FIN. receive()
//          reports the peer's close_notify as status::closed.
// Every call clears OpenSSL's per-thread error queue first and after a failure,
// so one session's failure never leaks into an unrelated session's next call.
//
// A server session makes its OpenSSL object only when the client's first
// record (the ClientHello) is whole: until then it holds the bytes that came,
// a few hundred at most from an honest client, a handful from one trickling
// them. OpenSSL would take about 40 KiB for a handshake begun (its object, a
// zeroed 16 KiB message buffer and a record buffer) and keep it for as long as
// the record stays incomplete; a crowd of such peers costs the server little
// more than their connections until handshake_timeout sheds them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>

#include "zws/buffer.hpp"
#include "zws/loop.hpp"
#include "zws/tls.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace zws::detail::tls {

// The message of every call in a build without TLS.
inline constexpr std::string_view unavailable = "zws was built without TLS: rebuild with make TLS=1";

// Decrypting in place: `out` may overlap `in` when it starts at least this many
// bytes before `in`. The plaintext a call produces is at most what the records
// it consumed carried, plus what a record begun in an earlier call holds (up to
// one record of 16 KiB): this much room ahead of the input keeps the plaintext
// from ever reaching ciphertext not read yet.
inline constexpr std::size_t in_place_headroom = std::size_t{16} << 10;

// The certificates of one load of a server's options (defined in tls.tls.cpp).
struct cert_set;
// The bytes of one call, as OpenSSL's BIO sees them (tls.tls.cpp).
struct io_slot;

// A server's certificates. Shared by every loop of a server; thread-safe.
class server_context {
 public:
  // Loads every certificate and key of `opts`; error() tells whether that worked.
  explicit server_context(const tls_server_options& opts);
  ~server_context();
  server_context(const server_context&) = delete;
  server_context& operator=(const server_context&) = delete;

  // Empty when the certificates loaded, else "TLS: <step> <file>: <reason>".
  const failure& error() const noexcept { return error_; }

  // Loads the certificates again (the same files: a renewal replaced them), or
  // those of `opts`. Safe from any thread, also while sessions are being made:
  // sessions made afterwards use the new certificates, open sessions keep
  // theirs (they hold the old set until they end). On failure nothing changes
  // and the failure is returned.
  failure reload();
  failure reload(const tls_server_options& opts);

  // The set new sessions are made from (null when none ever loaded).
  std::shared_ptr<const cert_set> current() const;

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const cert_set> certs_;
  tls_server_options opts_;
  failure error_;
};

// A client's trust settings and certificate. Thread-safe after construction.
class client_context {
 public:
  explicit client_context(const tls_client_options& opts);
  ~client_context();
  client_context(const client_context&) = delete;
  client_context& operator=(const client_context&) = delete;

  const failure& error() const noexcept { return error_; }
  ssl_ctx_st* native() const noexcept { return ctx_; }
  // The name to send as SNI and to verify: options.server_name, or `host`.
  std::string_view name_for(std::string_view host) const noexcept;
  bool verifies() const noexcept { return verify_; }

 private:
  ssl_ctx_st* ctx_ = nullptr;
  std::string server_name_;
  bool verify_ = true;
  failure error_;
};

enum class status : std::uint8_t {
  done,        // send/shutdown: everything was taken
  need_input,  // every byte given was consumed; more ciphertext from the peer is needed
  out_full,    // receive: `out` is full; call again with the rest of the input and room
  closed,      // the peer's close_notify arrived (or ours was sent after it): no more data
  failed,      // fatal: reason() says why; send what `wire` holds (an alert), close TCP
};

struct receive_result {
  std::size_t consumed = 0;  // ciphertext bytes taken from `in` (receive_from: read from the socket)
  std::size_t produced = 0;  // plaintext bytes written to the front of `out`
  status state = status::need_input;
  // receive_from only: the socket had nothing more (a short read, EAGAIN, EOF
  // or an error): wait for the next edge. EOF and errors do not fail the
  // session: the plaintext before them is in `out`, the answer to it can still
  // be sent; then the connection ends.
  bool drained = false;
  bool eof = false;  // recv() returned 0: the peer closed TCP
  int error = 0;     // recv()'s errno when it failed (EAGAIN is no error)
};

struct send_result {
  std::size_t consumed = 0;  // plaintext bytes encrypted into `wire`
  status state = status::done;
};

// One TLS connection. Move-only; a default-constructed session is empty (failed).
class session {
 public:
  session() noexcept = default;
  // A server session using the context's current certificates, or a failed one.
  static session server(const server_context& ctx);
  // A client session for `host` (name or IP literal, brackets allowed): SNI,
  // and verification of the peer's chain and of that name unless the context
  // skips verification. A failed session when the context failed.
  static session client(const client_context& ctx, std::string_view host);

  session(session&& other) noexcept;
  session& operator=(session&& other) noexcept;
  ~session();

  // Client: starts the handshake, appending the ClientHello to `wire`.
  // (Servers start by receiving.) Returns need_input, or failed.
  status start(buffer& wire);

  // Takes ciphertext from `in` and writes plaintext to `out`, appending to
  // `wire` whatever TLS has to answer. `out` and `in` do not overlap, or `out`
  // starts in_place_headroom bytes or more before `in` (and then, reaching to
  // the end of `in` or further, it never fills). Returns
  //   need_input — all of `in` consumed; wait for more from the socket;
  //   out_full   — `out` is full; call again with in.subspan(consumed) and room
  //                before the bytes of `in` are overwritten (the loop's shared
  //                buffer: before the next read);
  //   closed     — the peer's close_notify: the rest of `in` is ignored;
  //   failed     — reason(); send `wire` (it may hold an alert) and close.
  // The handshake runs inside: check handshake_done() afterwards.
  receive_result receive(std::span<const std::uint8_t> in, std::span<std::uint8_t> out, buffer& wire);

  // Once handshake_done(): as receive(), but the ciphertext comes from recv() on
  // `fd` (a non-blocking stream socket), read by OpenSSL into its own record
  // buffer; `out` does not overlap anything OpenSSL holds. Reads until `out` is
  // full (out_full: call again, even when `drained`: OpenSSL may hold whole
  // records no edge will announce), or the socket is drained (need_input with
  // `drained`: a short read or EAGAIN; or `eof` / `error` set). closed and
  // failed as for receive(). Before the handshake is done: need_input, nothing read.
  receive_result receive_from(int fd, std::span<std::uint8_t> out, buffer& wire);

  // Encrypts all of `plain` into `wire` with one SSL_write (records of up to
  // 16 KiB). need_input when the handshake is not done yet: nothing was taken,
  // keep the bytes and call again once handshake_done(). closed after
  // shutdown(); failed on an error.
  send_result send(std::span<const std::uint8_t> plain, buffer& wire);

  // Appends close_notify to `wire` (once). Before the handshake finished there
  // is nothing to say: nothing is appended and TCP may just be closed.
  // Returns done, closed (the peer's close_notify had arrived already), or failed.
  status shutdown(buffer& wire);

  bool handshake_done() const noexcept { return (state_ & established_bit) != 0; }
  bool peer_closed() const noexcept { return (state_ & peer_closed_bit) != 0; }
  bool failed() const noexcept {
    return (ssl_ == nullptr && (state_ & waiting_bit) == 0) || (state_ & failed_bit) != 0;
  }
  // Why the session failed ("TLS handshake: certificate verify failed:
  // certificate has expired"); empty while it has not.
  std::string_view reason() const noexcept;
  // The protocol chosen through ALPN ("http/1.1"), or empty.
  std::string_view alpn() const noexcept;
  // The OpenSSL object, for diagnostics and tests (peer certificate, cipher);
  // null for a server session until the client's first record arrived whole.
  ssl_st* native() const noexcept { return ssl_; }

 private:
  static constexpr std::uint8_t established_bit = 1, peer_closed_bit = 2, sent_close_bit = 4, failed_bit = 8,
                                waiting_bit = 16;  // server: no OpenSSL object before the first record
  status settle(int rc, bool wire_failed);
  status fail(std::string reason);
  // Server, before its first whole record: holds `in` and says need_input, or
  // makes the OpenSSL object once the record is whole (false: it failed).
  bool hold_first_record(std::span<const std::uint8_t> in, receive_result& r);
  status drive(std::span<std::uint8_t> out, const io_slot& slot, std::size_t& produced);

  ssl_st* ssl_ = nullptr;
  std::shared_ptr<const cert_set> certs_;  // server: the set ssl_ is (to be) made from
  std::unique_ptr<std::string> reason_;    // only once failed
  std::unique_ptr<std::string> held_;      // server: ciphertext held before OpenSSL reads it
  std::uint8_t state_ = 0;
};

}  // namespace zws::detail::tls
