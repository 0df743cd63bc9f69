// lib/endpoint/connection_output.cpp — a connection's way out: sending (corked, direct
// or queued), backpressure policies, flushing. The output queue is in
// connection_queue.cpp, the rest in connection.cpp.
#include <algorithm>
#include <cerrno>
#include <cstring>

#include "endpoint/compression.hpp"
#include "endpoint/connection.hpp"
#include "io/net.hpp"
#include "base/random.hpp"
#include "zws/writer.hpp"

namespace zws::detail {
namespace {

// Payloads from this size on go out as header + payload in one writev, uncopied,
// when nothing is queued before them.
constexpr std::size_t direct_write_min = std::size_t{16} << 10;
// Shedding for the server-wide cap cuts a connection whose unfinished frame has
// more than this left, instead of queueing a Close behind it.
constexpr std::size_t shed_cut_min = std::size_t{64} << 10;
// A cork this full is sent before more is added.
constexpr std::size_t cork_limit = std::size_t{256} << 10;
// A shared frame shorter than this is copied into the output: a reference (and
// the queue segment it needs) would cost more than the bytes.
constexpr std::size_t tiny_frame = 64;
// Appends an unmasked final data frame: the server's per-message path, which
// needs neither the general encoder's checks nor its masking.
void append_server_frame(buffer& to, opcode op, std::span<const std::uint8_t> payload) {
  const std::size_t n = payload.size();
  const std::size_t hs = n < 126 ? 2 : n <= 0xFFFF ? 4 : 10;
  std::uint8_t* p = to.prepare(hs + n);
  p[0] = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
  if (n < 126) {
    p[1] = static_cast<std::uint8_t>(n);
  } else if (n <= 0xFFFF) {
    p[1] = 126;
    p[2] = static_cast<std::uint8_t>(n >> 8);
    p[3] = static_cast<std::uint8_t>(n);
  } else {
    p[1] = 127;
    for (int i = 0; i < 8; ++i) p[2 + i] = static_cast<std::uint8_t>(std::uint64_t{n} >> (56 - 8 * i));
  }
  if (n != 0) std::memcpy(p + hs, payload.data(), n);
  to.commit(hs + n);
}

}  // namespace

bool connection::over_backpressure(send_status& status) {
  const Behavior& beh = b();
  status = blocked_ ? send_status::queued : send_status::sent;
  if (beh.max_backpressure == 0 || queued() < beh.max_backpressure) return false;
  if (!blocked_) {
    // Corked bytes are not backpressure until the kernel refuses them: past the
    // limit the cork is pulled early, so a callback sending in a loop still meets it.
    long rc = uncork();
    if (rc == 0) rc = write_out();
    if (rc < 0) {
      close_later(close_code::abnormal, std::strerror(static_cast<int>(-rc)), true);
      status = send_status::dropped;
      return true;
    }
  }
  status = blocked_ ? send_status::queued : send_status::sent;
  if (!blocked_ || out_size() < beh.max_backpressure) return false;
  switch (beh.on_backpressure) {
    case backpressure_policy::close: {
      mask_key key;
      random_bytes(key.bytes, sizeof key.bytes);
      write_close(output(), close_code_of(error::backpressure_exceeded), describe(error::backpressure_exceeded),
                  ep_->side == role::client ? &key : nullptr);
      close_later(close_code_of(error::backpressure_exceeded), std::string(describe(error::backpressure_exceeded)),
                  false);
      status = send_status::dropped;
      return true;
    }
    case backpressure_policy::drop_new:
      status = send_status::dropped;
      return true;
    case backpressure_policy::keep_latest:
      drop_queued_data();
      status = send_status::queued;
      return false;
  }
  return false;
}

send_status connection::send_message(opcode op, std::span<const std::uint8_t> payload) {
  if (phase_ != phase::open || piecing_) return send_status::dropped;
  send_status status = blocked_ ? send_status::queued : send_status::sent;
  const std::size_t limit = b().max_backpressure;
  if (limit != 0 && queued() >= limit && over_backpressure(status)) return status;
  if (deflate_link* d = deflate(); d != nullptr && d->compresses(payload.size())) {
    // Compressed once, straight behind what is corked; the copy into the output is
    // of the compressed bytes only. If zlib is refused memory, it goes out plain.
    mask_key key;
    if (ep_->side == role::client) random_bytes(key.bytes, sizeof key.bytes);
    buffer& to = output();
    deflater* z = d->compressor();
    const bool done =
        z != nullptr && append_compressed_frame(to, *z, op, payload, ep_->side == role::client ? &key : nullptr);
    d->idle();
    if (done) {
      wrote(to);
      return status;
    }
  }
  if (ep_->side == role::client) {
    mask_key key;
    random_bytes(key.bytes, sizeof key.bytes);
    buffer& to = output();
    write_frame(to, op, payload, &key);
    wrote(to);
    return status;
  }
  if (payload.size() >= direct_write_min) {
    // What is corked goes first; then header and payload in one writev, uncopied.
    if (long rc = uncork(); rc < 0) {
      close_later(close_code::abnormal, std::strerror(static_cast<int>(-rc)), true);
      return send_status::dropped;
    }
    if (out_empty() && !blocked_) return send_direct(op, payload, status);
  }
  buffer& to = output();
  append_server_frame(to, op, payload);
  wrote(to);
  return status;
}

send_status connection::send_direct(opcode op, std::span<const std::uint8_t> payload, send_status status) {
  if (tls() != nullptr) return send_direct_tls(op, payload, status);
  frame_head head = make_frame_head(op, payload.size());
  iovec iov[2] = {{head.bytes, head.size}, {const_cast<std::uint8_t*>(payload.data()), payload.size()}};
  long n = net::sendv(fd(), iov, 2);
  std::size_t sent = n > 0 ? static_cast<std::size_t>(n) : 0;
  if (sent == head.size + payload.size()) return status;
  // The rest waits for EPOLLOUT (or, on an error, for the flush to report it).
  if (sent < head.size) {
    out_.append(head.bytes + sent, head.size - sent);
    sent = head.size;
  }
  out_.append(payload.subspan(sent - head.size));
  out_skew_ = static_cast<std::uint32_t>(out_.size());
  pong_len_ = no_pong;
  sync_backlog();
  r().flush_later(this);
  if (n == -EAGAIN || n >= 0) {
    blocked_ = true;
    return send_status::queued;
  }
  return status;
}

buffer& connection::output() noexcept {
  if (out_empty() && r().corked() == this) return r().cork_buffer();
  pong_len_ = no_pong;  // whatever is written next ends out_ (see queue_pong)
  if (out_.capacity() == 0) out_ = r().take_small();
  return out_;
}

std::size_t connection::queued() const noexcept {
  const tls_link* t = tls();
  return out_size() + (r().corked() == this ? r().cork_buffer().size() : 0) + (t != nullptr ? t->wire.size() : 0);
}

void connection::wrote(buffer& to) {
  if (&to == &out_) {
    pong_len_ = no_pong;
    r().flush_later(this);
    sync_backlog();
    return;
  }
  if (to.size() < cork_limit) return;
  if (long rc = uncork(); rc < 0) close_later(close_code::abnormal, std::strerror(static_cast<int>(-rc)), true);
}

long connection::uncork() {
  if (tls() != nullptr) return uncork_tls();
  if (r().corked() != this) return 0;
  buffer& cork = r().cork_buffer();
  if (cork.empty()) return 0;
  long n = 0;
  if (out_empty() && !blocked_) {
    n = net::send(fd(), cork.data(), cork.size());
    if (n == static_cast<long>(cork.size())) {
      cork.clear();
      return 0;
    }
  }
  // Partly taken: the rest queues in out_ (whose first frame may be half sent).
  out_.append(cork.bytes());
  cork.clear();
  pong_len_ = no_pong;
  r().flush_later(this);
  if (n > 0) consume_out(static_cast<std::size_t>(n));
  sync_backlog();
  if (n >= 0 || n == -EAGAIN || n == -EWOULDBLOCK) {
    blocked_ = blocked_ || n >= 0 || n == -EAGAIN || n == -EWOULDBLOCK;
    return 0;
  }
  return n;
}

send_status connection::send_piece(opcode op, std::span<const std::uint8_t> payload, bool last) {
  if (phase_ != phase::open || (!piecing_ && op != opcode::text && op != opcode::binary)) return send_status::dropped;
  send_status status = blocked_ ? send_status::queued : send_status::sent;
  const std::size_t limit = b().max_backpressure;
  if (limit != 0 && queued() >= limit) {
    // Only the close policy acts on a piece: dropping one would corrupt the message.
    if (b().on_backpressure == backpressure_policy::close && over_backpressure(status)) return status;
    status = blocked_ ? send_status::queued : send_status::sent;
  }
  const opcode frame_op = piecing_ ? opcode::continuation : op;
  piecing_ = !last;
  buffer& to = output();
  mask_key key;
  if (ep_->side == role::client) random_bytes(key.bytes, sizeof key.bytes);
  write_frame(to, frame_op, payload, ep_->side == role::client ? &key : nullptr, last);
  wrote(to);
  return status;
}

send_status connection::send_shared(const frame_ref& frame) {
  if (phase_ != phase::open || piecing_) return send_status::dropped;
  send_status status;
  if (over_backpressure(status)) return status;
  const std::size_t size = frame.size();
  const bool corked = r().corked() == this;
  // A connection with nothing waiting and no cork (another connection's batch is
  // running: a publish, a broadcast) holds the frame as a lone reference, without
  // a copy or an allocation, whatever its size; the batch's end sends it.
  if (!corked && out_empty()) {
    queue_frame(frame);
    return status;
  }
  // Behind what waits, tiny frames are copied. So is a frame for the connection
  // whose input is being handled, while nothing waits before its cork: it leaves
  // with the rest of the answer, in one send (one SSL_write), unless it is large
  // enough to go alone.
  if (size < tiny_frame || (corked && out_empty() && size < direct_write_min)) {
    buffer& to = output();
    if (&to == &out_ && out_.empty() && queue_.lone() && queue_.pending() < tiny_frame) {
      // A tiny lone frame joins it: one buffer, one iovec, one plain send.
      to.append(queue_.lone_bytes());
      queue_.reset();
    }
    to.append(frame.bytes());
    wrote(to);
    return status;
  }
  if (corked) {
    // What is corked is older: it goes (or queues in out_) first.
    if (long rc = uncork(); rc < 0) {
      close_later(close_code::abnormal, std::strerror(static_cast<int>(-rc)), true);
      return send_status::dropped;
    }
    if (dead() || phase_ != phase::open) return send_status::dropped;
  }
  queue_frame(frame);
  return status;
}

send_status connection::send_broadcast(broadcast_frames& frames) {
  deflate_link* d = deflate();
  if (d == nullptr || !d->compresses(frames.data.size())) return send_shared(frames.plain);
  if (d->shared == nullptr) return send_message(frames.op, frames.data);
  const frame_ref& frame = frames.frame_for(*d->shared);
  return send_shared(frame ? frame : frames.plain);
}

send_status connection::send_control(opcode op, std::string_view payload) {
  if (phase_ != phase::open || payload.size() > max_control_payload) return send_status::dropped;
  send_status status = blocked_ ? send_status::queued : send_status::sent;
  // Pongs answer a peer's pings: a peer that pings and never reads must meet the
  // same limit as data. Past it (keep_latest included) the frame is dropped;
  // RFC 6455 §5.5.3 allows answering only the most recent ping.
  const std::size_t limit = b().max_backpressure;
  if (limit != 0 && queued() >= limit) {
    if (over_backpressure(status)) return status;
    if (blocked_ && out_size() >= limit) return send_status::dropped;
  }
  if (op == opcode::pong && (!out_empty() || r().corked() != this)) return queue_pong(payload, status);
  buffer& to = output();
  append_control(to, op, payload);
  wrote(to);
  return status;
}

void connection::append_control(buffer& to, opcode op, std::string_view payload) {
  if (ep_->side == role::client) {
    mask_key key;
    random_bytes(key.bytes, sizeof key.bytes);
    write_frame(to, op, payload, &key);
  } else {
    write_frame(to, op, payload);
  }
}

// A pong waiting at the end of out_, not yet started, is replaced by the new one
// (RFC 6455 §5.5.3 lets an endpoint answer only the most recent ping), so a peer
// that pings and never reads costs one queued pong, not one per ping. Anything
// else appended to out_ ends that (pong_len_ = no_pong): a pong behind data is
// never moved ahead of it, and the data bound of max_backpressure covers both.
send_status connection::queue_pong(std::string_view payload, send_status status) {
  if (pong_len_ != no_pong) {
    const std::size_t frame = (ep_->side == role::client ? 6 : 2) + std::size_t{pong_len_};
    out_.truncate(out_.size() - frame);
  }
  append_control(out_, opcode::pong, payload);
  pong_len_ = static_cast<std::uint8_t>(payload.size());
  r().flush_later(this);
  sync_backlog();
  return status;
}

void connection::sync_backlog() {
  if (ep_->server != nullptr && held_output() != backlog_) server_backlog_changed(*this);
}

void connection::shed() {
  drop_queued_data();
  if (b().on_backpressure != backpressure_policy::close || phase_ != phase::open) return;
  tls_link* t = tls();
  if (out_size() + (t != nullptr ? t->wire.size() : 0) > shed_cut_min) {
    // What is left is the rest of a large frame on its way: a Close could follow
    // only after it, to a peer that is not reading. The memory goes now (with
    // TLS, ciphertext cut mid-record: the connection is cut anyway).
    drop_output();
    if (t != nullptr) t->wire.release();
    sync_backlog();
    close_later(close_code_of(error::backpressure_exceeded), std::string(describe(error::backpressure_exceeded)), true);
    return;
  }
  mask_key key;
  random_bytes(key.bytes, sizeof key.bytes);
  write_close(out_, close_code_of(error::backpressure_exceeded), describe(error::backpressure_exceeded),
              ep_->side == role::client ? &key : nullptr);
  r().flush_later(this);
  close_later(close_code_of(error::backpressure_exceeded), std::string(describe(error::backpressure_exceeded)), false);
}

void connection::flush() {
  if (long rc = write_out(); rc < 0) {
    lost(std::strerror(static_cast<int>(-rc)));
    return;
  }
  if (output_pending()) {
    sync_backlog();  // what the kernel refused, a lone frame included (queue_frame)
    return;
  }
  drop_output();
  sync_backlog();
  if (ep_->side == role::server && phase_ == phase::closed) {
    // Both Closes exchanged: the server closes TCP first (RFC 6455 §7.1.1),
    // after TLS's close_notify.
    if (tls() != nullptr && !tls_goodbye()) return;
    r().close(this);
    return;
  }
  if (ep_->side == role::server && phase_ == phase::draining && !shut_) {
    // An HTTP answer: our FIN follows it, and input is read until the peer's.
    if (tls() != nullptr && !tls_goodbye()) return;
    shut_ = true;
    net::shutdown_write(fd());
  }
  if (blocked_) {
    blocked_ = false;
    if (phase_ == phase::open && b().on_drain) b().on_drain(*this);
  }
}

void connection::on_flush() {
  if (output_pending() || phase_ == phase::closed || (phase_ == phase::draining && !shut_)) flush();
}

}  // namespace zws::detail
