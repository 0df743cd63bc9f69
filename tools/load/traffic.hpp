// tools/load/traffic.hpp — zws-load's worker: messages. Sending (framed and
// masked, or raw), receiving and verifying every echo, and timing it.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "worker.hpp"

namespace zws_load {

// Handles the frames at the front of `bytes`. An echo whose header is the one
// expected (see frame_format::echo_at) is taken without the reader: the
// header's bytes already say FIN, no RSV bits, the opcode sent, unmasked, the
// length sent. That is only sound between messages — not while the reader
// holds the start of a fragmented one, whose continuation must not be skipped.
inline std::size_t worker::consume_ws(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  const zws::opcode want = opt_.text ? zws::opcode::text : zws::opcode::binary;
  const std::size_t n = pat_.size();
  std::size_t off = 0;
  std::size_t skip = c.verified;  // already checked of the first frame's payload (pre_verify)
  c.verified = 0;
  for (;; skip = 0) {
    const std::span<std::uint8_t> rest = bytes.subspan(off);
    // (With deflate, also not inside a compressed frame, whose payload the
    // reader yields as it arrives.)
    if (const std::size_t hs = fmt_.echo_at(rest);
        hs != 0 && !c.rd->in_message() && (!c.z || c.rd->payload_left() == 0)) {
      if (rest.size() < hs + n) {
        c.need = hs + n;
        return off;
      }
      if (!verify_echo(c, rest.data() + hs, skip)) return failed;
      complete(c, now);
      off += hs + n;
      if (ph_ == phase::measure) measured_.recv_wire += hs + n;
      continue;
    }
    const zws::read_result r = c.rd->next(rest);
    off += r.consumed;
    if (ph_ == phase::measure && r.ev.kind <= zws::event_kind::piece) measured_.recv_wire += r.consumed;
    switch (r.ev.kind) {
      case zws::event_kind::none:
        continue;
      case zws::event_kind::need_more:
        c.need = r.ev.need;
        return off;
      case zws::event_kind::message:
        if (r.ev.op != want || r.ev.data.size() != n) {
          fail(c, &counters::verify_errors);
          return failed;
        }
        // Not the expected header, so pre_verify did not check any of it.
        if (!verify_echo(c, r.ev.data.data(), 0)) return failed;
        complete(c, now);
        continue;
      case zws::event_kind::ping: {
        const zws::mask_key key = rng_.key();
        zws::write_frame(c.out, zws::opcode::pong, r.ev.data, &key);
        continue;
      }
      case zws::event_kind::piece:  // the loader's reader does not stream: a compressed message
        if (!c.z || !inflate_piece(c, r.ev, now)) {
          if (!c.z) fail(c, &counters::protocol_errors);
          return failed;
        }
        continue;
      case zws::event_kind::pong:
        continue;
      case zws::event_kind::close:
        fail(c, &counters::closed);
        return failed;
      case zws::event_kind::error:
        fail(c, &counters::protocol_errors);
        return failed;
    }
  }
}

// Checks a whole echoed payload (pat_.size() bytes at `data`, of which the
// first `skip` were checked already) against the oldest message in flight.
// Fails the connection and returns false when it is not that message.
inline bool worker::verify_echo(conn& c, const std::uint8_t* data, std::size_t skip) {
  bool ok = c.done != c.sent;
  if (ok && json_) {
    std::uint8_t* const want = scratch_.prepare(json_->size());
    json_->write(want, c.done);
    ok = std::memcmp(want, data, json_->size()) == 0;
  } else if (ok) {
    ok = skip == 0 ? pat_.matches_whole(c.done, data) : pat_.matches(c.done, skip, data + skip, pat_.size() - skip);
  }
  if (!ok) fail(c, &counters::verify_errors);
  return ok;
}

// A piece of a compressed echo: inflated into c.z->inflated; the last one
// checks the whole echo. False when the connection failed.
inline bool worker::inflate_piece(conn& c, const zws::event& ev, i64 now) {
  zstate& z = *c.z;
  if (ev.first) {
    z.in.begin(pat_.size(), ev.op == zws::opcode::text);  // one byte more is already too big
    z.inflated.clear();
  }
  zws::error e = z.in.write(ev.data, z.inflated);
  if (e == zws::error::none && ev.last) e = z.in.finish(z.inflated);
  if (e != zws::error::none) {  // corrupt, too large, or not UTF-8: not what was sent
    fail(c, &counters::verify_errors);
    return false;
  }
  if (!ev.last) return true;
  const zws::opcode want = opt_.text ? zws::opcode::text : zws::opcode::binary;
  if (ev.op != want || z.inflated.size() != pat_.size()) {
    fail(c, &counters::verify_errors);
    return false;
  }
  if (!verify_echo(c, z.inflated.data(), 0)) return false;
  complete(c, now);
  return true;
}

inline std::size_t worker::consume_raw(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  // An echo of bytes never sent, or different from them, is an error.
  if (c.raw_rx + bytes.size() > c.raw_tx ||
      !(raw_big_ ? raw_matches(c.raw_rx, bytes.data(), bytes.size())
                 : image_.matches(c.raw_rx, bytes.data(), bytes.size()))) {
    fail(c, &counters::verify_errors);
    return failed;
  }
  if (ph_ == phase::measure) measured_.recv_wire += bytes.size();
  const u64 before = c.raw_rx / pat_.size();
  c.raw_rx += bytes.size();
  for (u64 k = c.raw_rx / pat_.size(); k > before; --k) complete(c, now);
  return bytes.size();
}

inline void worker::complete(conn& c, i64 now) {
  if (opt_.idle) {
    ++c.done;
    ++answered_;
    return;
  }
  const i64 stamp = c.stamps[c.done & stamp_mask_];
  ++c.done;
  if (opt_.churn) churned_.push_back(c.index);
  ++all_.msgs;
  all_.bytes += pat_.size();
  if (ph_ == phase::measure) {
    ++measured_.msgs;
    measured_.bytes += pat_.size();
    hist_.record(static_cast<u64>(std::max<i64>(now - stamp, 0)));
  }
}

inline void worker::send_messages(conn& c, i64 now) {
  if (c.st != cstate::open || ph_ == phase::stop) return;
  const u64 cap = opt_.idle ? 1 : opt_.depth;
  if (interval_ns_ > 0 && !opt_.idle) {
    const u64 n = conns_.size();
    while (c.due > 0 && c.sent - c.done < cap && c.big_left == 0) {
      append_message(c, t0_ + static_cast<i64>(double(c.sent * n + c.index) * interval_ns_));
      --c.due;
    }
    return;
  }
  while (c.sent - c.done < cap && c.sent < c.limit && c.big_left == 0) append_message(c, now);
}

// Where new frames go: the worker's one send buffer, hot in cache, when nothing
// of this connection waits before them (flush then sends them at once and keeps
// only what the kernel refused in c.out); otherwise behind what waits.
// (wss://: always c.out, the plaintext that flush_tls encrypts.)
inline zws::buffer& worker::out_for(conn& c) noexcept { return c.out.empty() && !c.tls ? wout_ : c.out; }

inline void worker::append_message(conn& c, i64 stamp) {
  if (!c.stamps.empty()) c.stamps[c.sent & stamp_mask_] = stamp;
  if (opt_.raw) {
    c.raw_queued += pat_.size();  // sent straight from the stream image by flush()
    if (ph_ == phase::measure) measured_.sent_wire += pat_.size();
  } else if (big_) {
    c.big_key = rng_.key();
    c.big_head = zws::make_frame_head(opt_.text ? zws::opcode::text : zws::opcode::binary, pat_.size(), &c.big_key);
    c.big_head_sent = 0;
    c.big_seq = c.sent;
    c.big_off = 0;
    c.big_left = pat_.size();
    if (ph_ == phase::measure) measured_.sent_wire += c.big_head.size + pat_.size();
  } else if (generic_) {
    append_generic(c);
  } else {
    fmt_.append(out_for(c), pat_, c.sent, rng_.key());
    if (ph_ == phase::measure) measured_.sent_wire += fmt_.send_head_size + 4u + pat_.size();
  }
  if (ph_ == phase::measure) measured_.sent_payload += pat_.size();
  ++c.sent;
}

// Message c.sent made whole (a JSON document, or the pattern), compressed when
// deflate was agreed, framed with RSV1 and masked.
inline void worker::append_generic(conn& c) {
  const std::size_t n = pat_.size();
  std::uint8_t* const plain = scratch_.prepare(n);
  if (json_) json_->write(plain, c.sent);
  else pat_.write(plain, c.sent);
  std::span<const std::uint8_t> payload(plain, n);
  zws::frame_header h;
  h.op = static_cast<std::uint8_t>(opt_.text ? zws::opcode::text : zws::opcode::binary);
  h.masked = true;
  h.key = rng_.key();
  // A compressor that fails (out of memory) leaves the message uncompressed, which is allowed.
  if (c.z && c.z->can_send && (zout_.clear(), c.z->out.compress(payload, zout_) == zws::error::none)) {
    payload = zout_.bytes();
    h.rsv = 4;  // RSV1: compressed
  }
  h.payload_length = payload.size();
  zws::buffer& out = out_for(c);
  std::uint8_t* d = out.prepare(zws::max_frame_header + payload.size());
  const std::size_t hs = zws::encode_header(h, std::span<std::uint8_t, zws::max_frame_header>(d, zws::max_frame_header));
  zws::mask_copy({d + hs, payload.size()}, payload, h.key, 0);
  out.commit(hs + payload.size());
  if (ph_ == phase::measure) measured_.sent_wire += hs + payload.size();
}

// Large messages: checks the payload received so far of the frame at the front of
// c.in while it is fresh in cache; consume_ws then checks only the rest.
inline bool worker::pre_verify(conn& c) {
  const std::size_t hs = fmt_.echo_at(c.in.bytes());
  if (hs == 0 || c.rd->in_message() || c.done == c.sent)
    return true;  // not the echo we expect, or not yet known: consume_ws decides
  const std::size_t have = std::min<std::size_t>(pat_.size(), c.in.size() - hs);
  if (have > c.verified) {
    if (!pat_.matches(c.done, c.verified, c.in.data() + hs + c.verified, have - c.verified)) {
      fail(c, &counters::verify_errors);
      return false;
    }
    c.verified = have;
  }
  return true;
}

// Large messages: masks the next piece of the message being sent (after what is
// left of its header) into chunk_; returns its size. A piece the kernel does not
// take is simply made again from the offsets next time.
inline std::size_t worker::fill_chunk(conn& c) {
  std::uint8_t* out = chunk_.get();
  std::size_t pos = 0;
  if (c.big_head_sent < c.big_head.size) {
    pos = c.big_head.size - c.big_head_sent;
    std::memcpy(out, c.big_head.bytes + c.big_head_sent, pos);
  }
  const auto off = static_cast<std::size_t>(c.big_off);
  const auto k = static_cast<std::size_t>(std::min<u64>(chunk_size, c.big_left));
  pat_.write_masked(out + pos, c.big_seq, off, k, c.big_key);
  return pos + k;
}

// --raw, large messages: the next piece of the stream (from c.raw_tx, at most
// chunk_size) written into chunk_ from the pattern, as WebSocket mode masks its
// pieces: both modes write each byte once, in cache, before the kernel copies
// it. Message k of the stream is pattern message k.
inline std::size_t worker::fill_raw_chunk(conn& c) {
  const std::size_t total = static_cast<std::size_t>(std::min<u64>(chunk_size, c.raw_queued));
  for (std::size_t done = 0; done < total;) {
    const u64 at = c.raw_tx + done;
    const std::size_t off = static_cast<std::size_t>(at % pat_.size());
    const std::size_t k = std::min(total - done, pat_.size() - off);
    pat_.write_masked(chunk_.get() + done, at / pat_.size(), off, k, zws::mask_key{});  // key 0: plain
    done += k;
  }
  return total;
}

// Whether got[0, n) is the stream from offset `at` (see fill_raw_chunk).
inline bool worker::raw_matches(u64 at, const std::uint8_t* got, std::size_t n) const noexcept {
  while (n) {
    const std::size_t off = static_cast<std::size_t>(at % pat_.size());
    const std::size_t k = std::min(n, pat_.size() - off);
    if (!pat_.matches(at / pat_.size(), off, got, k)) return false;
    at += k, got += k, n -= k;
  }
  return true;
}

// Large messages: `sent` bytes of the piece fill_chunk made (header first) are gone.
inline void worker::advance_big(conn& c, std::size_t sent) {
  const std::size_t h = std::min<std::size_t>(sent, c.big_head.size - c.big_head_sent);
  c.big_head_sent = static_cast<std::uint8_t>(c.big_head_sent + h);
  c.big_off += sent - h;
  c.big_left -= sent - h;
  if (c.big_left == 0) send_messages(c, now_ns());  // the next one, if depth allows
}

inline bool worker::flush(conn& c) {
  if (c.tls) return flush_tls(c);
  if (!wout_.empty()) {
    // Frames just written for c (out_for), which had nothing else waiting: one
    // send; what the kernel refuses waits in c.out for the EPOLLOUT edge.
    ssize_t n;
    do n = sys::send(c.fd, wout_.data(), wout_.size(), MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    const std::size_t taken = n > 0 ? static_cast<std::size_t>(n) : 0;
    if (taken < wout_.size()) c.out.append(wout_.data() + taken, wout_.size() - taken);
    wout_.clear();
    if (n < 0 && errno != EAGAIN) {
      fail(c, c.st == cstate::open ? &counters::closed : &counters::handshake_failed);
      return false;
    }
    return true;
  }
  for (;;) {
    ssize_t n;
    // A large message, once started, goes out whole before anything queued behind it.
    const bool big_started = c.big_left && (c.big_head_sent || c.big_off);
    if (c.raw_queued && raw_big_) {
      n = sys::send(c.fd, chunk_.get(), fill_raw_chunk(c), MSG_NOSIGNAL);
      if (n > 0) {
        c.raw_tx += static_cast<u64>(n);
        c.raw_queued -= static_cast<u64>(n);
        continue;
      }
    } else if (c.raw_queued) {
      const auto at = static_cast<std::size_t>(c.raw_tx % image_.size());
      const std::size_t first = static_cast<std::size_t>(std::min<u64>(c.raw_queued, image_.size() - at));
      const std::size_t second = static_cast<std::size_t>(std::min<u64>(c.raw_queued - first, at));
      iovec iov[2] = {{const_cast<std::uint8_t*>(image_.bytes.data()) + at, first},
                      {const_cast<std::uint8_t*>(image_.bytes.data()), second}};
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = second ? 2 : 1;
      n = sys::sendmsg(c.fd, &m, MSG_NOSIGNAL);
      if (n > 0) {
        c.raw_tx += static_cast<u64>(n);
        c.raw_queued -= static_cast<u64>(n);
        continue;
      }
    } else if (!c.out.empty() && !big_started) {
      n = sys::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.consume(static_cast<std::size_t>(n));
        continue;
      }
    } else if (c.big_left) {
      n = sys::send(c.fd, chunk_.get(), fill_chunk(c), MSG_NOSIGNAL);
      if (n > 0) {
        advance_big(c, static_cast<std::size_t>(n));
        continue;
      }
    } else {
      return true;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;  // EPOLLOUT edge follows when the kernel takes more
    fail(c, c.st == cstate::open ? &counters::closed : &counters::handshake_failed);
    return false;
  }
}

}  // namespace zws_load
