// lib/endpoint/connection_tls.cpp — a connection over TLS: the transport between the
// socket and the rest of the connection, which sees only plaintext.
//
// Input: OpenSSL reads the socket into its record buffer (released when empty)
// and decrypts into the loop's shared receive buffer (during the handshake the
// ciphertext is read into that buffer behind tls::in_place_headroom bytes and
// decrypted in place to its front), so a TLS connection needs no read buffer of
// its own either; the plaintext goes to consume_input exactly as plain bytes do
// (into in_ only when a frame is left incomplete). Output: out_ and the loop's cork keep plaintext, so backpressure,
// pong replacement and keep_latest work as for plain connections; a flush is
// one SSL_write (records of up to 16 KiB) into tls_link::wire, the ciphertext
// the kernel has not taken (a flush of a record or more writes into a buffer
// recycled through the loop: make_wire_room). Queued output (the queue's segments, then out_) is
// encrypted only when wire is empty, at most tls_chunk bytes at a time, so what
// waits stays plaintext (and a shared frame stays shared) as long as it can. A
// segment of a record or more is encrypted from where it lies; smaller ones are
// gathered into one record first, so small frames do not each make a record.
#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <new>

#include "endpoint/connection.hpp"
#include "io/net.hpp"
#include "zws/writer.hpp"

namespace zws::detail {
namespace {

// Most plaintext of out_ encrypted by one SSL_write while the kernel is slow.
constexpr std::size_t tls_chunk = std::size_t{256} << 10;
// A TLS record's most plaintext.
constexpr std::size_t tls_record = std::size_t{16} << 10;
// A record's most ciphertext beyond its plaintext, for any cipher we allow (TLS 1.3
// AEAD: 22 bytes; TLS 1.2 GCM: 29); a low guess only costs a doubling.
constexpr std::size_t tls_record_overhead = 64;

}  // namespace

void connection::use_tls(tls::session session) {
  auto link = std::make_unique<tls_link>();
  link->session = std::move(session);
  extras().tls = std::move(link);
}

std::size_t connection::held_output() const noexcept {
  const tls_link* t = tls();
  return out_.capacity() + queue_.held() + (t != nullptr ? t->wire.capacity() : 0);
}

bool connection::output_pending() const noexcept {
  const tls_link* t = tls();
  return !out_empty() || (t != nullptr && !t->wire.empty());
}

// One read: once the handshake is done, OpenSSL reads the socket itself (no copy
// of the ciphertext); before, the ciphertext is read here and decrypted in place.
tls::receive_result connection::receive_tls(std::span<std::uint8_t> room) {
  tls_link& t = *tls();
  if (t.session.handshake_done()) return t.session.receive_from(fd(), room, t.wire);
  const std::span<std::uint8_t> target = room.subspan(tls::in_place_headroom);
  tls::receive_result res;
  const long n = net::recv(fd(), target.data(), target.size());
  if (n <= 0) {
    res.drained = true;
    res.eof = n == 0;
    if (n < 0 && n != -EAGAIN && n != -EWOULDBLOCK) res.error = static_cast<int>(-n);
    return res;
  }
  // `room` reaches past the end of the input: the session never reports it full.
  res = t.session.receive(target.first(static_cast<std::size_t>(n)), room, t.wire);
  res.consumed = static_cast<std::size_t>(n);
  res.drained = static_cast<std::size_t>(n) < target.size();
  return res;
}

void connection::read_tls_rounds() {
  tls_link& t = *tls();
  const std::span<std::uint8_t> room = r().recv_buffer();
  for (unsigned round = 0; round < reactor::read_budget; ++round) {
    const tls::receive_result res = receive_tls(room);
    if (res.consumed != 0) touch_idle();
    if (res.produced != 0) {
      feed_plain(room.first(res.produced));
      if (dead()) return;
    }
    if (res.state == tls::status::failed) {
      tls_failed(t.session.reason());
      return;
    }
    if (res.state == tls::status::closed || res.eof || res.error != 0) {
      // close_notify or EOF: the peer sends nothing more; what it was answered goes.
      if (res.error == 0 && uncork() == 0) write_out();
      lost(res.error == 0 ? "connection closed without a Close frame" : std::strerror(res.error));
      return;
    }
    if (over_discard_budget(res.consumed)) {
      r().close(this);
      return;
    }
    // Drained: the next edge tells us more; not after a hang-up, whose edge may
    // have been this very one: read on to EOF. Never while `room` was full:
    // OpenSSL may hold whole records read from the socket already, and no edge
    // would come for them.
    if (res.state != tls::status::out_full && res.drained && (res.consumed == 0 || !hung_up())) return;
  }
  r().read_later(this);
}

// Plaintext in the shared buffer: handled in place, or after what in_ holds of
// an incomplete frame.
void connection::feed_plain(std::span<std::uint8_t> bytes) {
  if (in_.empty()) {
    consume_input(bytes, false);
    return;
  }
  fit_frame();
  std::uint8_t* p = grow_input(bytes.size(), in_.size());
  if (p == nullptr) {
    if (!dead()) consume_input(bytes, false);  // failed and lingering: skipped by headers
    return;
  }
  std::memcpy(p, bytes.data(), bytes.size());
  in_.commit(bytes.size());
  consume_input(in_.bytes(), true);
}

// Garbage, plain HTTP, an alert or a refused certificate: the alert OpenSSL
// wrote goes out if the kernel takes it, and the connection ends without a
// word on stdout.
void connection::tls_failed(std::string_view reason) {
  tls_link& t = *tls();
  if (!t.wire.empty()) net::send(fd(), t.wire.data(), t.wire.size());
  t.wire.release();
  r().cork_buffer().clear();
  drop_output();
  if (ep_->side == role::client && phase_ == phase::handshake) {
    client_failed(*this, std::string(reason));
    return;
  }
  terminate(reason);
}

long connection::uncork_tls() {
  if (r().corked() != this) return 0;
  tls_link& t = *tls();
  buffer& cork = r().cork_buffer();
  if (!cork.empty()) {
    if (out_empty() && !blocked_ && t.session.handshake_done()) {
      make_wire_room(cork.size());
      const tls::send_result res = t.session.send(cork.bytes(), t.wire);
      cork.clear();
      if (res.state == tls::status::failed) return -EPROTO;
      sync_backlog();
      if (dead()) return 0;
    } else {
      out_.append(cork.bytes());
      cork.clear();
      pong_len_ = no_pong;
      r().flush_later(this);
      sync_backlog();
    }
  }
  if (blocked_) return 0;
  return write_tls();
}

long connection::write_tls() {
  tls_link& t = *tls();
  for (;;) {
    if (t.wire.empty()) {
      if (out_empty() || !t.session.handshake_done()) {
        r().give_spare(t.wire);  // an idle connection holds no ciphertext room
        sync_backlog();
        return 0;
      }
      const tls::send_result res = encrypt_output();
      if (res.state == tls::status::failed) return -EPROTO;
      if (res.consumed == 0) return 0;  // after our close_notify: nothing more goes
      consume_out(res.consumed);
      continue;
    }
    long n = net::send(fd(), t.wire.data(), t.wire.size());
    if (n > 0) {
      t.wire.consume(static_cast<std::size_t>(n));
      continue;
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
      blocked_ = true;
      return 0;
    }
    return n == 0 ? -EPIPE : n;
  }
}

// One SSL_write of the front of the output into wire: from where it lies when the
// front segment fills a record or is all there is, else gathered into one record.
tls::send_result connection::encrypt_output() {
  tls_link& t = *tls();
  iovec iov[8];
  const int k = gather_output(iov, 8);
  const std::span<const std::uint8_t> front(static_cast<const std::uint8_t*>(iov[0].iov_base), iov[0].iov_len);
  if (k == 1 || front.size() >= tls_record) {
    const auto plain = front.first(std::min(front.size(), tls_chunk));
    make_wire_room(plain.size());
    return t.session.send(plain, t.wire);
  }
  std::array<std::uint8_t, tls_record> record;
  std::size_t n = 0;
  for (int i = 0; i < k && n < record.size(); ++i) {
    const std::size_t take = std::min(iov[i].iov_len, record.size() - n);
    std::memcpy(record.data() + n, iov[i].iov_base, take);
    n += take;
  }
  return t.session.send(std::span<const std::uint8_t>(record.data(), n), t.wire);
}

// Room in an empty wire for the ciphertext of `plain` bytes of a record or more:
// a buffer recycled through the loop (reactor::take_spare), else one of at least
// reactor::spare_min, which write_tls gives back to the loop once sent. Without
// it each large flush would grow wire by doubling and free it after: 128 KiB for
// a 64 KiB message, malloc'ed and freed at the top of the heap, which made malloc
// trim the heap and the next flush fault it in again (T3 at a fifth of its rate).
void connection::make_wire_room(std::size_t plain) {
  tls_link& t = *tls();
  if (plain < tls_record || !t.wire.empty()) return;
  const std::size_t need = plain + (plain / tls_record + 1) * tls_record_overhead;
  if (t.wire.capacity() >= need) return;
  // Not a spare many times the size (one a 16 MiB frame left): a slow reader would
  // hold it, and the next large frame would have to grow its own.
  const std::size_t size = std::max(need, reactor::spare_min);
  buffer spare = r().take_spare(need, 4 * size);
  if (spare.capacity() == 0) {
    try {
      spare.prepare(size);
    } catch (const std::bad_alloc&) {
      return;  // the send itself will find out
    }
  }
  t.wire.release();
  t.wire = std::move(spare);
}

// A large payload: header and payload encrypted straight from the caller's
// memory (the first record carries the header and the payload's start, so no
// record holds a header alone), then sent with what the kernel takes.
send_status connection::send_direct_tls(opcode op, std::span<const std::uint8_t> payload, send_status status) {
  tls_link& t = *tls();
  frame_head head = make_frame_head(op, payload.size());
  std::array<std::uint8_t, std::size_t{16} << 10> first;
  const std::size_t lead = std::min(payload.size(), first.size() - head.size);
  std::memcpy(first.data(), head.bytes, head.size);
  std::memcpy(first.data() + head.size, payload.data(), lead);
  make_wire_room(head.size + payload.size());
  tls::send_result res = t.session.send(std::span<const std::uint8_t>(first.data(), head.size + lead), t.wire);
  if (res.state != tls::status::failed && lead < payload.size()) res = t.session.send(payload.subspan(lead), t.wire);
  if (res.state != tls::status::failed) {
    sync_backlog();  // may shed this very connection (the server-wide cap)
    if (dead() || phase_ != phase::open) return send_status::dropped;
  }
  long rc = res.state == tls::status::failed ? -EPROTO : write_tls();
  if (rc < 0) {
    close_later(close_code::abnormal, std::strerror(static_cast<int>(-rc)), true);
    return send_status::dropped;
  }
  if (!t.wire.empty()) {
    r().flush_later(this);
    return send_status::queued;
  }
  return status;
}

// Every way a connection ends passes here (reactor::close, the descriptor still
// open): an established session that has not failed and has not said
// close_notify says it now, behind whatever ciphertext still waits, in one send
// the kernel may refuse in part. Nothing waits for EPOLLOUT: close() follows at
// once and sends FIN behind what the kernel took. So a timeout, terminate(), a
// refused upgrade or the peer's own close_notify all end with ours; a session
// that failed has nothing to say (its alert went out in tls_failed).
void connection::on_closing() {
  tls_link* t = tls();
  if (t == nullptr || !t->session.handshake_done() || t->session.failed()) return;
  t->session.shutdown(t->wire);
  if (!t->wire.empty()) net::send(fd(), t->wire.data(), t->wire.size());
}

bool connection::tls_goodbye() {
  tls_link& t = *tls();
  if (t.session.handshake_done() && !t.session.failed()) t.session.shutdown(t.wire);
  if (t.wire.empty()) return true;
  if (write_tls() < 0) {
    t.wire.release();
    return true;
  }
  return t.wire.empty();
}

}  // namespace zws::detail
