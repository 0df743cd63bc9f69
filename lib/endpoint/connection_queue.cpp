// lib/endpoint/connection_queue.cpp — a connection's output queue: owned bytes and
// shared frames in the order they go out (endpoint/shared_frame.hpp), what the kernel
// took, what keep_latest drops, and the writev that sends it. Sending and the
// policies are in connection_output.cpp.
#include <algorithm>
#include <cerrno>

#include "endpoint/connection.hpp"
#include "io/net.hpp"
#include "zws/frame.hpp"

namespace zws::detail {
namespace {

// Most iovecs one writev of queued output gathers.
constexpr int max_iov = 64;

}  // namespace

void connection::queue_frame(frame_ref frame) {
  if (!queue_ && out_.empty()) {
    // No allocation (see out_queue_ptr), and nothing counted against the server's
    // backlog yet: the frame is shared, and usually the batch's flush sends it
    // whole; flush() counts it if the kernel refuses it.
    queue_.hold_lone(std::move(frame));
    pong_len_ = no_pong;
    r().flush_later(this);
    return;
  }
  out_queue& q = queue_.queue();
  // out_ keeps its bytes (and out_skew_ still describes them if they are the
  // front): the buffer moves into the queue, nothing is copied.
  if (!out_.empty()) q.push_owned(std::move(out_));
  q.push_frame(std::move(frame));
  pong_len_ = no_pong;
  r().flush_later(this);
  sync_backlog();
}

// The kernel took n bytes from the front of the output: the queue's, then out_'s.
void connection::consume_out(std::size_t n) {
  if (n != 0 && queue_.lone() && n >= queue_.pending()) {
    n -= queue_.pending();
    queue_.reset();
  }
  // A lone frame the kernel took part of becomes an out_queue, which counts what was sent.
  while (n != 0 && queue_) {
    out_queue& q = queue_.queue();
    out_segment& s = q.front();
    const std::size_t take = std::min(n, s.rest().size());
    // A segment ends at a frame boundary: once it is sent, out_skew_ is 0.
    if (!s.frame) advance_skew(s.owned, take);
    q.consume_front(take);
    n -= take;
    if (q.empty()) queue_.reset();
  }
  if (n != 0) {
    advance_skew(out_, n);
    out_.consume(n);
  }
  if (pong_len_ != no_pong && out_.size() < (ep_->side == role::client ? 6u : 2u) + pong_len_) pong_len_ = no_pong;
  sync_backlog();
}

void connection::advance_skew(const buffer& from, std::size_t sent) noexcept {
  if (sent == from.size()) {
    out_skew_ = 0;
    return;
  }
  std::size_t pos = out_skew_;
  auto bytes = from.bytes();
  while (pos < sent) {
    frame_header h;
    std::size_t hs = decode_header(bytes.subspan(pos), h);
    if (hs == 0) break;
    pos += hs + h.payload_length;
  }
  out_skew_ = static_cast<std::uint32_t>(pos > sent ? pos - sent : 0);
}

namespace {

// Whole data messages go; control frames and the frames of a message sent in
// pieces stay (dropping one of those would corrupt the message).
bool keeps(const frame_header& h) noexcept {
  const auto op = static_cast<opcode>(h.op);
  return is_control(op) || !h.fin || op == opcode::continuation;
}

// The frames of `from` that keep_latest keeps, behind its first `skew` bytes (the
// rest of a frame already on its way).
buffer kept_frames(const buffer& from, std::size_t skew) {
  buffer kept;
  auto bytes = from.bytes();
  std::size_t pos = std::min<std::size_t>(skew, bytes.size());
  kept.append(bytes.first(pos));
  while (pos < bytes.size()) {
    frame_header h;
    std::size_t hs = decode_header(bytes.subspan(pos), h);
    if (hs == 0) break;
    std::size_t total = hs + h.payload_length;
    if (keeps(h)) kept.append(bytes.subspan(pos, total));
    pos += total;
  }
  return kept;
}

}  // namespace

void connection::drop_queued_data() {
  // Keep the frame already on its way and every control frame; drop data frames.
  // out_skew_ belongs to the front segment, which stays the front if kept.
  std::size_t skew = out_skew_;
  if (queue_) {
    out_queue& q = queue_.queue();
    auto kept = std::make_unique<out_queue>();
    for (std::size_t i = q.head; i < q.segs.size(); ++i) {
      out_segment& s = q.segs[i];
      if (s.frame) {
        frame_header h;
        if (s.sent != 0 || (decode_header(s.frame.bytes(), h) != 0 && keeps(h)))
          kept->push_frame(std::move(s.frame), s.sent);
      } else if (buffer b = kept_frames(s.owned, skew); !b.empty()) {
        kept->push_owned(std::move(b));
      }
      skew = 0;
    }
    if (kept->empty()) {
      queue_.reset();
    } else {
      queue_.adopt(std::move(kept));
    }
  }
  out_ = kept_frames(out_, skew);
  pong_len_ = no_pong;
  sync_backlog();
}

void connection::drop_output() noexcept {
  queue_.reset();
  r().give_small(out_);
  out_skew_ = 0;
  pong_len_ = no_pong;
}


int connection::gather_output(iovec* iov, int max) const noexcept {
  int k = queue_.gather(iov, max);
  if (k < max && !out_.empty()) iov[k++] = {const_cast<std::uint8_t*>(out_.data()), out_.size()};
  return k;
}

long connection::write_out() {
  if (tls() != nullptr) return write_tls();
  while (!out_empty()) {
    iovec iov[max_iov];
    const int k = gather_output(iov, max_iov);
    long n = k == 1 ? net::send(fd(), iov[0].iov_base, iov[0].iov_len) : net::sendv(fd(), iov, k);
    if (n > 0) {
      consume_out(static_cast<std::size_t>(n));
      continue;
    }
    if (n == -EAGAIN || n == -EWOULDBLOCK) {
      blocked_ = true;
      return 0;
    }
    return n == 0 ? -EPIPE : n;
  }
  return 0;
}


}  // namespace zws::detail
