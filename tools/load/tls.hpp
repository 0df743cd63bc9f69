// tools/load/tls.hpp — zws-load's worker: wss://, over the library's sans-IO
// TLS session (lib/io/tls.hpp). What differs from ws:// is only where bytes
// pass: ciphertext is read into rbuf_ behind in_place_headroom and decrypted in
// place to rbuf_'s start, then handled exactly like plain input; frames wait in
// c.out as plaintext and are encrypted into c.wire, which is what goes to the
// socket (and what waits for EPOLLOUT when the kernel refuses it).
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <cstdio>

#include "worker.hpp"

namespace zws_load {

namespace tls = zws::detail::tls;

// How much ciphertext may wait in c.wire before a large message's next piece
// is encrypted: enough to keep the socket fed, little enough to stay in cache.
inline constexpr std::size_t wire_high = 128 * 1024;

// A failed session: its reason once per process on stderr (a wrong CA fails
// every connection alike), then the connection fails like any other.
inline void worker::tls_failed(conn& c) {
  static std::atomic<bool> told{false};
  if (!told.exchange(true)) {
    const std::string_view why = c.tls ? c.tls->reason() : tls::unavailable;
    std::fprintf(stderr, "zws-load: %.*s\n", int(why.size()), why.data());
  }
  if (c.fd >= 0 && !c.wire.empty()) sys::send(c.fd, c.wire.data(), c.wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  fail(c, c.st == cstate::open ? &counters::protocol_errors : &counters::handshake_failed);
}

inline void worker::on_readable_tls(conn& c) {
  std::uint8_t* const buf = rbuf_.get();
  const std::size_t room = rbuf_size - tls::in_place_headroom;
  for (int reads = 0;; ++reads) {
    if (reads == reads_per_turn) {  // as in on_readable: another turn later
      if (!c.unread) {
        c.unread = true;
        unread_.push_back(c.index);
      }
      return;
    }
    const ssize_t n = sys::recv(c.fd, buf + tls::in_place_headroom, room);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      fail(c, c.st == cstate::open ? &counters::closed : &counters::handshake_failed);
      return;
    }
    const auto got = static_cast<std::size_t>(n);
    // `out` starts in_place_headroom before the input and reaches its end: it never fills.
    const tls::receive_result r =
        c.tls->receive({buf + tls::in_place_headroom, got}, {buf, tls::in_place_headroom + got}, c.wire);
    if (r.state == tls::status::failed) {
      tls_failed(c);
      return;
    }
    if (r.state == tls::status::closed) {
      fail(c, c.st == cstate::open ? &counters::closed : &counters::handshake_failed);
      return;
    }
    const i64 now = now_ns();
    if (opt_.raw && c.st == cstate::handshaking && c.tls->handshake_done()) {
      on_open(c, now);  // raw TLS: no upgrade
      if (c.st != cstate::open) return;
    }
    if (r.produced != 0 && c.in.empty()) {
      const std::size_t used = consume(c, {buf, r.produced}, now);
      if (used == failed) return;
      if (used < r.produced) c.in.append(buf + used, r.produced - used);
    } else if (r.produced != 0) {
      c.in.append(buf, r.produced);
      const std::size_t used = consume(c, c.in.bytes(), now);
      if (used == failed) return;
      c.in.consume(used);
    }
    if (c.st != cstate::open && c.st != cstate::handshaking) return;
    send_messages(c, now);
    if (!flush(c)) return;  // also the upgrade request, once the TLS handshake is done
    if (got < room) return;
  }
}

// Encrypts what waits in c.out, then pieces of a large message while c.wire is
// short. False when the session failed (the connection has failed).
inline bool worker::encrypt_pending(conn& c) {
  for (;;) {
    if (!c.out.empty()) {
      const tls::send_result r = c.tls->send(c.out.bytes(), c.wire);
      if (r.state != tls::status::done) {
        tls_failed(c);
        return false;
      }
      c.out.consume(r.consumed);
    }
    if (c.raw_queued) return encrypt_raw(c);
    if (c.big_left == 0 || c.wire.size() >= wire_high) return true;
    const std::size_t k = fill_chunk(c);
    if (c.tls->send({chunk_.get(), k}, c.wire).state != tls::status::done) {
      tls_failed(c);
      return false;
    }
    advance_big(c, k);  // may queue the next messages in c.out
  }
}

// Raw TLS: encrypts the stream bytes due (from the stream image, or pieces of
// large messages as --raw over TCP makes them) while c.wire is short.
inline bool worker::encrypt_raw(conn& c) {
  while (c.raw_queued && c.wire.size() < wire_high) {
    std::span<const std::uint8_t> piece;
    if (raw_big_) {
      piece = {chunk_.get(), fill_raw_chunk(c)};
    } else {
      const auto at = static_cast<std::size_t>(c.raw_tx % image_.size());
      piece = {image_.bytes.data() + at, static_cast<std::size_t>(std::min<u64>(c.raw_queued, image_.size() - at))};
    }
    if (c.tls->send(piece, c.wire).state != tls::status::done) {
      tls_failed(c);
      return false;
    }
    c.raw_tx += piece.size();
    c.raw_queued -= piece.size();
  }
  return true;
}

inline bool worker::flush_tls(conn& c) {
  for (;;) {
    if (c.tls->handshake_done() && !encrypt_pending(c)) return false;
    if (c.wire.empty()) return true;
    const ssize_t n = sys::send(c.fd, c.wire.data(), c.wire.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.wire.consume(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;  // EPOLLOUT edge follows
    fail(c, c.st == cstate::open ? &counters::closed : &counters::handshake_failed);
    return false;
  }
}

}  // namespace zws_load
