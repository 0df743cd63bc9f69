// zws-load — a wrk-style load generator for WebSocket (and raw TCP) echo servers.
//
// Each thread runs one edge-triggered epoll loop over its share of the
// connections. A connection keeps `depth` messages in flight (closed loop) or
// sends on a fixed schedule (-R, open loop, timed from the scheduled send time so
// a stalled server shows in the tail instead of hiding, as in wrk2). Every wake
// costs one recv and at most one send per ready connection: messages produced
// while handling a connection's input are appended to its output buffer and
// leave in one send. Echoed payloads are checked against what was sent (the
// first 8 bytes carry the message's sequence number, the rest a fixed pattern).
//
// zws-load --help for usage.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <atomic>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "load/histogram.hpp"
#include "load/options.hpp"
#include "load/payload.hpp"
#include "load/report.hpp"
#include "load/target.hpp"
#include "zws/buffer.hpp"
#include "zws/frame.hpp"
#include "zws/handshake.hpp"
#include "zws/http.hpp"
#include "zws/reader.hpp"
#include "zws/simd.hpp"
#include "zws/url.hpp"
#include "zws/writer.hpp"

namespace zws_load {
namespace {

using i64 = std::int64_t;
using u64 = std::uint64_t;

i64 now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return i64{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

volatile sig_atomic_t got_stop = 0;   // SIGINT, SIGTERM
volatile sig_atomic_t got_usr1 = 0;   // --idle: go on to the check
void on_stop(int) { got_stop = 1; }
void on_usr1(int) { got_usr1 = 1; }

// ---------------------------------------------------------------------------
// One connection.

enum class cstate : std::uint8_t { unused, connecting, handshaking, open, closed };

struct conn {
  int fd = -1;
  cstate st = cstate::unused;
  std::uint32_t index = 0;       // in its worker
  i64 started = 0;               // when connect() was called
  zws::buffer in;                // received bytes not yet consumed (a partial frame)
  zws::buffer out;               // bytes the kernel has not taken yet
  u64 sent = 0;                  // messages sent
  u64 done = 0;                  // echoes received and checked
  u64 due = 0;                   // open loop: released by the schedule, not yet sent
  u64 limit = ~u64{0};           // messages this connection may send
  u64 raw_tx = 0;                // raw: stream bytes sent
  u64 raw_queued = 0;            // raw: stream bytes due to be sent
  u64 raw_rx = 0;                // raw: stream bytes received and checked
  std::size_t need = 0;          // WebSocket: size of the incomplete frame in `in`, if known
  std::vector<i64> stamps;       // send (or scheduled) time of message k at [k & stamp_mask]
  std::optional<zws::reader> rd; // WebSocket: the frame reader, once open
  // WebSocket messages of at least `large_message` bytes are masked chunk by chunk
  // while they are sent, and checked chunk by chunk while they arrive, so the
  // bytes are touched while they are in cache (see flush and pre_verify).
  u64 big_left = 0;              // payload bytes of the message being sent still to send
  u64 big_off = 0;               // payload bytes of it sent
  u64 big_seq = 0;               // its sequence number
  zws::mask_key big_key{};
  zws::frame_head big_head{zws::opcode::binary, 0};
  std::uint8_t big_head_sent = 0;
  std::size_t verified = 0;      // payload bytes of the frame at the front of `in` already checked
  zws::client_key key{};         // WebSocket: the handshake's Sec-WebSocket-Key
};

// ---------------------------------------------------------------------------
// Shared between the main thread and the workers.

enum class phase : int { warmup, measure, stop };

struct control {
  std::atomic<int> ph{int(phase::warmup)};
  std::atomic<bool> probe{false};  // --idle: send one message on every connection
  phase get() const noexcept { return phase(ph.load(std::memory_order_relaxed)); }
};

// ---------------------------------------------------------------------------
// One event loop and its connections.

class worker {
 public:
  worker(const options& o, const target& t, const pattern& p, const stream_image& i, control& ctl,
         std::uint32_t nconns, double rate)
      : opt_(o), tgt_(t), pat_(p), image_(i), ctl_(ctl), conns_(nconns), rbuf_(new std::uint8_t[rbuf_size]) {
    for (std::uint32_t i = 0; i < nconns; ++i) {
      conns_[i].index = i;
      if (!o.idle) conns_[i].stamps.assign(stamp_mask_ + 1, 0);
    }
    if (rate > 0) interval_ns_ = 1e9 / rate;
    reader_limits_.max_message_size = std::max<u64>(reader_limits_.max_message_size, 2 * u64{o.size});
  }
  ~worker() {
    if (epfd_ >= 0) close(epfd_);
  }

  void start() { thread_ = std::thread([this] { run(); }); }
  void join() { thread_.join(); }

  // Read by the main thread while running (relaxed; published once per wake).
  u64 progress_msgs() const noexcept { return pub_msgs_.load(std::memory_order_relaxed); }
  u64 progress_bytes() const noexcept { return pub_bytes_.load(std::memory_order_relaxed); }
  std::uint32_t opened() const noexcept { return pub_open_.load(std::memory_order_relaxed); }
  std::uint32_t resolved() const noexcept { return pub_resolved_.load(std::memory_order_relaxed); }
  u64 answered() const noexcept { return pub_answered_.load(std::memory_order_relaxed); }

  // Valid after join().
  const histogram& hist() const noexcept { return hist_; }
  // Messages and bytes of the measured phase; errors of the whole run.
  counters totals() const noexcept {
    counters c = all_;
    c.msgs = measured_.msgs;
    c.bytes = measured_.bytes;
    return c;
  }

 private:
  static constexpr std::size_t rbuf_size = 256 * 1024;
  static constexpr std::size_t chunk_size = 256 * 1024;
  static constexpr std::size_t large_message = 128 * 1024;

  void run();
  void open_more(i64 now);
  void start_connect(conn& c, i64 now);
  void on_event(conn& c, std::uint32_t ev);
  void on_connected(conn& c, i64 now);
  void on_open(conn& c, i64 now);
  void on_readable(conn& c);
  static constexpr std::size_t failed = ~std::size_t{0};
  std::size_t consume(conn& c, std::span<std::uint8_t> bytes, i64 now);
  std::size_t consume_raw(conn& c, std::span<std::uint8_t> bytes, i64 now);
  std::size_t consume_handshake(conn& c, std::span<std::uint8_t> bytes, i64 now);
  std::size_t consume_ws(conn& c, std::span<std::uint8_t> bytes, i64 now);
  void goodbye(conn& c);
  void complete(conn& c, i64 now);
  void send_messages(conn& c, i64 now);
  void append_message(conn& c, i64 stamp);
  bool flush(conn& c);
  std::size_t fill_chunk(conn& c);
  bool pre_verify(conn& c);
  void fail(conn& c, u64 counters::*what);
  void release_schedule(i64 now);
  void check_timeouts(i64 now);
  void start_probe(i64 now);
  void publish();

  const options& opt_;
  const target& tgt_;
  const pattern& pat_;
  const stream_image& image_;
  const u64 stamp_mask_ = std::bit_ceil(u64{opt_.depth}) - 1;  // at most depth in flight
  control& ctl_;
  std::vector<conn> conns_;
  std::unique_ptr<std::uint8_t[]> rbuf_;
  const bool big_ = !opt_.raw && opt_.size >= large_message;
  std::unique_ptr<std::uint8_t[]> chunk_{big_ ? new std::uint8_t[chunk_size] : nullptr};
  int epfd_ = -1;
  std::thread thread_;
  random_pool rng_;
  zws::http::response_parser response_parser_;
  zws::reader_limits reader_limits_;
  histogram hist_;
  phase ph_ = phase::warmup;

  std::uint32_t next_open_ = 0;      // next connection to start
  std::uint32_t connecting_ = 0;     // connects/handshakes in progress
  std::uint32_t open_ = 0;
  std::uint32_t resolved_ = 0;       // open or failed
  bool probing_ = false;
  u64 answered_ = 0;                 // --idle: connections that echoed the probe

  // Open loop: message i of this worker is due at t0 + i * interval, on connection i % n.
  double interval_ns_ = 0;
  i64 t0_ = 0;
  u64 released_ = 0;
  std::vector<std::uint32_t> ready_;  // connections given a due message this wake

  counters all_;       // since start
  counters measured_;  // during the measured phase only (msgs, bytes)
  std::atomic<u64> pub_msgs_{0}, pub_bytes_{0}, pub_answered_{0};
  std::atomic<std::uint32_t> pub_open_{0}, pub_resolved_{0};
};

void worker::run() {
  epfd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    std::perror("zws-load: epoll_create1");
    return;
  }
  i64 now = now_ns();
  open_more(now);
  i64 next_check = now + 100'000'000;
  epoll_event events[256];
  for (;;) {
    ph_ = ctl_.get();
    if (ph_ == phase::stop) break;
    // The open loop needs sub-millisecond wake-ups: epoll_pwait2 takes a timespec.
    i64 wait = 50'000'000;
    if (interval_ns_ > 0 && t0_ != 0) {
      const i64 next_due = t0_ + static_cast<i64>(double(released_) * interval_ns_);
      wait = std::clamp<i64>(next_due - now_ns(), 0, wait);
    }
    const timespec ts{wait / 1'000'000'000, wait % 1'000'000'000};
    int n = epoll_pwait2(epfd_, events, 256, &ts, nullptr);
    if (n < 0 && errno == ENOSYS) n = epoll_wait(epfd_, events, 256, static_cast<int>((wait + 999'999) / 1'000'000));
    if (n < 0 && errno != EINTR) {
      std::perror("zws-load: epoll_wait");
      break;
    }
    for (int i = 0; i < n; ++i) on_event(conns_[events[i].data.u32], events[i].events);
    now = now_ns();
    // The schedule starts once every connection is open (or has failed).
    if (interval_ns_ > 0 && t0_ == 0 && resolved_ == conns_.size()) t0_ = now;
    if (interval_ns_ > 0 && t0_ != 0) release_schedule(now);
    if (now >= next_check) {
      check_timeouts(now);
      open_more(now);
      next_check = now + 100'000'000;
    }
    if (opt_.idle && !probing_ && ctl_.probe.load(std::memory_order_relaxed)) start_probe(now);
    publish();
  }
  for (auto& c : conns_) goodbye(c);
  publish();
}

void worker::publish() {
  pub_msgs_.store(all_.msgs, std::memory_order_relaxed);
  pub_bytes_.store(all_.bytes, std::memory_order_relaxed);
  pub_open_.store(open_, std::memory_order_relaxed);
  pub_resolved_.store(resolved_, std::memory_order_relaxed);
  pub_answered_.store(answered_, std::memory_order_relaxed);
}

void worker::open_more(i64 now) {
  while (connecting_ < opt_.max_connecting && next_open_ < conns_.size()) start_connect(conns_[next_open_++], now);
}

void worker::start_connect(conn& c, i64 now) {
  c.started = now;
  c.fd = socket(tgt_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c.fd < 0) {
    fail(c, &counters::connect_failed);
    return;
  }
  int one = 1;
  setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.u32 = c.index;
  c.st = cstate::connecting;
  ++connecting_;
  if (epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0) {
    fail(c, &counters::connect_failed);
    return;
  }
  const int rc = connect(c.fd, reinterpret_cast<const sockaddr*>(&tgt_.addr), tgt_.addr_len);
  if (rc < 0 && errno != EINPROGRESS) fail(c, &counters::connect_failed);
  // Connected or not, the socket reports EPOLLOUT (or an error) once settled.
}

void worker::fail(conn& c, u64 counters::*what) {
  if (c.st == cstate::connecting || c.st == cstate::handshaking) {
    --connecting_;
    ++resolved_;
  } else if (c.st == cstate::open) {
    --open_;
  }
  ++(all_.*what);
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;
  c.st = cstate::closed;
  c.in.release();
  c.out.release();
}

void worker::on_event(conn& c, std::uint32_t ev) {
  switch (c.st) {
    case cstate::connecting: {
      if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
        fail(c, &counters::connect_failed);
        return;
      }
      on_connected(c, now_ns());
      return;
    }
    case cstate::handshaking:
    case cstate::open:
      if ((ev & EPOLLOUT) && (!c.out.empty() || c.raw_queued || c.big_left) && !flush(c)) return;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
      return;
    case cstate::unused:
    case cstate::closed:
      return;
  }
}

void worker::on_connected(conn& c, i64 now) {
  if (opt_.raw) {
    on_open(c, now);
    return;
  }
  std::uint8_t nonce[16];
  rng_.fill(nonce, sizeof nonce);
  c.key = zws::make_client_key(std::span<const std::uint8_t, 16>(nonce));
  zws::write_upgrade_request(c.out, {.host = tgt_.host_header, .target = tgt_.path}, c.key);
  c.st = cstate::handshaking;
  flush(c);
}

// A Close frame (1000) if the connection is open, one attempt to send it, and close.
void worker::goodbye(conn& c) {
  if (c.fd < 0) return;
  if (c.st == cstate::open && !opt_.raw && c.big_left == 0) {
    const zws::mask_key key = rng_.key();
    zws::write_close(c.out, zws::close_code::normal, {}, &key);
    send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  close(c.fd);
  c.fd = -1;
}

void worker::on_open(conn& c, i64 now) {
  if (c.st == cstate::connecting || c.st == cstate::handshaking) {
    --connecting_;
    ++resolved_;
  }
  c.st = cstate::open;
  ++open_;
  if (!opt_.raw) c.rd.emplace(zws::role::client, reader_limits_);
  if (opt_.idle) c.limit = 0;  // held silent until the probe
  send_messages(c, now);
  flush(c);
  open_more(now);
}

void worker::on_readable(conn& c) {
  for (;;) {
    std::uint8_t* dst;
    std::size_t room;
    if (c.in.empty() && !(big_ && c.st == cstate::open)) {
      dst = rbuf_.get();
      room = rbuf_size;
    } else {
      // The rest of the frame when its size is known: one recv can complete it.
      // Large messages always land here, in place, with no copy out of rbuf_.
      room = std::max<std::size_t>(64 * 1024, c.need > c.in.size() ? c.need - c.in.size() : 0);
      dst = c.in.prepare(room);
    }
    const ssize_t n = recv(c.fd, dst, room, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      fail(c, c.st == cstate::open ? &counters::closed : &counters::handshake_failed);
      return;
    }
    const i64 now = now_ns();
    const auto got = static_cast<std::size_t>(n);
    if (dst == rbuf_.get()) {
      const std::size_t used = consume(c, {dst, got}, now);
      if (used == failed) return;
      if (used < got) c.in.append(dst + used, got - used);
    } else {
      c.in.commit(got);
      if (big_ && c.st == cstate::open && !pre_verify(c)) return;
      const std::size_t used = consume(c, c.in.bytes(), now);
      if (used == failed) return;
      c.in.consume(used);
    }
    if (c.st != cstate::open && c.st != cstate::handshaking) return;
    send_messages(c, now);
    if (!flush(c)) return;
    if (got < room) return;  // drained: the next arrival raises a new edge
  }
}

// Handles received bytes. Returns how many were used (the rest is an incomplete
// frame to keep), or `failed` when the connection failed.
std::size_t worker::consume(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  if (opt_.raw) return consume_raw(c, bytes, now);
  if (c.st == cstate::handshaking) return consume_handshake(c, bytes, now);
  return consume_ws(c, bytes, now);
}

std::size_t worker::consume_handshake(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  const std::size_t end = text.find("\r\n\r\n");
  if (end == std::string_view::npos) {
    if (bytes.size() <= 16 * 1024) return 0;  // keep it all, wait for the rest
    fail(c, &counters::handshake_failed);
    return failed;
  }
  // The whole head is here: parse it in one go with the worker's one parser.
  response_parser_.reset();
  const zws::http::parse_result r = response_parser_.parse(text.substr(0, end + 4));
  if (r.status != zws::http::parse_status::done ||
      zws::verify_upgrade_response(response_parser_.get(), c.key) != zws::error::none) {
    fail(c, &counters::handshake_failed);
    return failed;
  }
  on_open(c, now);
  if (c.st != cstate::open) return failed;
  const std::size_t head = r.head_size;
  const std::size_t used = consume_ws(c, bytes.subspan(head), now);
  return used == failed ? failed : head + used;
}

std::size_t worker::consume_ws(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  const zws::opcode want = opt_.text ? zws::opcode::text : zws::opcode::binary;
  std::size_t off = 0;
  const std::size_t pre = c.verified;  // already checked of the first frame (pre_verify)
  c.verified = 0;
  for (;;) {
    const std::size_t skip = off == 0 ? pre : 0;
    const zws::read_result r = c.rd->next(bytes.subspan(off));
    off += r.consumed;
    switch (r.ev.kind) {
      case zws::event_kind::none:
        continue;
      case zws::event_kind::need_more:
        c.need = r.ev.need;
        return off;
      case zws::event_kind::message:
        if (c.done == c.sent || r.ev.op != want || r.ev.data.size() != pat_.size() ||
            !pat_.matches(c.done, skip, r.ev.data.data() + skip, r.ev.data.size() - skip)) {
          fail(c, &counters::verify_errors);
          return failed;
        }
        complete(c, now);
        continue;
      case zws::event_kind::ping: {
        const zws::mask_key key = rng_.key();
        zws::write_frame(c.out, zws::opcode::pong, r.ev.data, &key);
        continue;
      }
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

std::size_t worker::consume_raw(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  // An echo of bytes never sent, or different from them, is an error.
  if (c.raw_rx + bytes.size() > c.raw_tx || !image_.matches(c.raw_rx, bytes.data(), bytes.size())) {
    fail(c, &counters::verify_errors);
    return failed;
  }
  const u64 before = c.raw_rx / pat_.size();
  c.raw_rx += bytes.size();
  for (u64 k = c.raw_rx / pat_.size(); k > before; --k) complete(c, now);
  return bytes.size();
}

void worker::complete(conn& c, i64 now) {
  if (opt_.idle) {
    ++c.done;
    ++answered_;
    return;
  }
  const i64 stamp = c.stamps[c.done & stamp_mask_];
  ++c.done;
  ++all_.msgs;
  all_.bytes += pat_.size();
  if (ph_ == phase::measure) {
    ++measured_.msgs;
    measured_.bytes += pat_.size();
    hist_.record(static_cast<u64>(std::max<i64>(now - stamp, 0)));
  }
}

void worker::send_messages(conn& c, i64 now) {
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

void worker::append_message(conn& c, i64 stamp) {
  if (!c.stamps.empty()) c.stamps[c.sent & stamp_mask_] = stamp;
  if (opt_.raw) {
    c.raw_queued += pat_.size();  // sent straight from the stream image by flush()
  } else if (big_) {
    c.big_key = rng_.key();
    c.big_head = zws::make_frame_head(opt_.text ? zws::opcode::text : zws::opcode::binary, pat_.size(), &c.big_key);
    c.big_head_sent = 0;
    c.big_seq = c.sent;
    c.big_off = 0;
    c.big_left = pat_.size();
  } else {
    // Mask the fixed pattern while copying it out, then stamp the (masked) sequence number.
    const zws::mask_key key = rng_.key();
    zws::write_frame(c.out, opt_.text ? zws::opcode::text : zws::opcode::binary,
                     std::span<const std::uint8_t>(pat_.bytes), &key);
    pat_.stamp_masked(c.out.data() + c.out.size() - pat_.size(), c.sent, key);
  }
  ++c.sent;
}

// Large messages: checks the payload received so far of the frame at the front of
// c.in while it is fresh in cache; consume_ws then checks only the rest.
bool worker::pre_verify(conn& c) {
  zws::frame_header h;
  const std::size_t hs = zws::decode_header(c.in.bytes(), h);
  const auto want = static_cast<std::uint8_t>(opt_.text ? zws::opcode::text : zws::opcode::binary);
  if (hs == 0 || !h.fin || h.masked || h.op != want || h.payload_length != pat_.size() || c.done == c.sent)
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
std::size_t worker::fill_chunk(conn& c) {
  std::uint8_t* out = chunk_.get();
  std::size_t pos = 0;
  if (c.big_head_sent < c.big_head.size) {
    pos = c.big_head.size - c.big_head_sent;
    std::memcpy(out, c.big_head.bytes + c.big_head_sent, pos);
  }
  const auto off = static_cast<std::size_t>(c.big_off);
  const auto k = static_cast<std::size_t>(std::min<u64>(chunk_size - pos, c.big_left));
  zws::mask_copy({out + pos, k}, {pat_.bytes.data() + off, k}, c.big_key, off % 4);
  for (std::size_t j = off; j < pat_.stamp_size() && j < off + k; ++j)
    out[pos + j - off] = static_cast<std::uint8_t>(pattern::stamp_byte(c.big_seq, j) ^ c.big_key.bytes[j % 4]);
  return pos + k;
}

bool worker::flush(conn& c) {
  for (;;) {
    ssize_t n;
    // A large message, once started, goes out whole before anything queued behind it.
    const bool big_started = c.big_left && (c.big_head_sent || c.big_off);
    if (c.raw_queued) {
      const auto at = static_cast<std::size_t>(c.raw_tx % image_.size());
      const std::size_t first = static_cast<std::size_t>(std::min<u64>(c.raw_queued, image_.size() - at));
      const std::size_t second = static_cast<std::size_t>(std::min<u64>(c.raw_queued - first, at));
      iovec iov[2] = {{const_cast<std::uint8_t*>(image_.bytes.data()) + at, first},
                      {const_cast<std::uint8_t*>(image_.bytes.data()), second}};
      msghdr m{};
      m.msg_iov = iov;
      m.msg_iovlen = second ? 2 : 1;
      n = sendmsg(c.fd, &m, MSG_NOSIGNAL);
      if (n > 0) {
        c.raw_tx += static_cast<u64>(n);
        c.raw_queued -= static_cast<u64>(n);
        continue;
      }
    } else if (!c.out.empty() && !big_started) {
      n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
      if (n > 0) {
        c.out.consume(static_cast<std::size_t>(n));
        continue;
      }
    } else if (c.big_left) {
      const std::size_t head_left = c.big_head.size - c.big_head_sent;
      n = send(c.fd, chunk_.get(), fill_chunk(c), MSG_NOSIGNAL);
      if (n > 0) {
        const std::size_t h = std::min<std::size_t>(static_cast<std::size_t>(n), head_left);
        c.big_head_sent = static_cast<std::uint8_t>(c.big_head_sent + h);
        c.big_off += static_cast<u64>(n) - h;
        c.big_left -= static_cast<u64>(n) - h;
        if (c.big_left == 0) send_messages(c, now_ns());  // the next one, if depth allows
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

// Open loop: hands every message whose time has come to its connection.
void worker::release_schedule(i64 now) {
  if (now < t0_) return;
  const u64 due_total = static_cast<u64>(double(now - t0_) / interval_ns_) + 1;
  const u64 n = conns_.size();
  ready_.clear();
  for (; released_ < due_total; ++released_) {
    conn& c = conns_[released_ % n];
    if (c.due++ == 0) ready_.push_back(c.index);
  }
  for (std::uint32_t i : ready_) {
    conn& c = conns_[i];
    send_messages(c, now);
    if (c.st == cstate::open) flush(c);
  }
}

void worker::check_timeouts(i64 now) {
  const auto limit = static_cast<i64>(opt_.connect_timeout * 1e9);
  const auto answer_limit = static_cast<i64>(opt_.timeout * 1e9);
  for (auto& c : conns_) {
    if (c.st == cstate::connecting && now - c.started > limit) fail(c, &counters::connect_failed);
    else if (c.st == cstate::handshaking && now - c.started > limit) fail(c, &counters::handshake_failed);
    else if (c.st == cstate::open && c.sent > c.done && !c.stamps.empty() &&
             now - c.stamps[c.done & stamp_mask_] > answer_limit)
      fail(c, &counters::timeouts);  // the oldest message in flight was lost, or the server stalls
  }
}

void worker::start_probe(i64 now) {
  probing_ = true;
  for (auto& c : conns_) {
    if (c.st != cstate::open) continue;
    c.limit = 1;
    send_messages(c, now);
    flush(c);
  }
}

bool raise_fd_limit(const options& o) {
  rlimit rl{};
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur != RLIM_INFINITY && o.conns + 16 + 2 * o.threads > rl.rlim_cur) {
    std::fprintf(stderr, "zws-load: %u connections need more descriptors than the limit (%llu); split them "
                 "across several zws-load processes\n", o.conns, static_cast<unsigned long long>(rl.rlim_cur));
    return false;
  }
  return true;
}

template <class F>
u64 sum(const std::vector<std::unique_ptr<worker>>& ws, F f) {
  u64 s = 0;
  for (const auto& w : ws) s += u64(f(*w));
  return s;
}

// Sleeps until `until` (monotonic ns) or a signal asks to stop; prints progress each second.
void wait_phase(const options& o, const std::vector<std::unique_ptr<worker>>& ws, i64 until, i64 start,
                u64& last_msgs, u64& last_bytes, i64& last_t, bool until_usr1 = false) {
  while (!got_stop && !(until_usr1 && got_usr1)) {
    const i64 now = now_ns();
    if (now >= until) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min<i64>(50, (until - now) / 1'000'000 + 1)));
    const i64 t = now_ns();
    if (t - last_t < 1'000'000'000) continue;
    const u64 m = sum(ws, [](const worker& w) { return w.progress_msgs(); });
    const u64 b = sum(ws, [](const worker& w) { return w.progress_bytes(); });
    const double dt = double(t - last_t) / 1e9;
    std::fprintf(stderr, "%6.1f s  %10.0f msgs/s  %9.2f MiB/s  %" PRIu64 "/%u open\n", double(t - start) / 1e9,
                 double(m - last_msgs) / dt, double(b - last_bytes) / dt / (1024.0 * 1024.0),
                 sum(ws, [](const worker& w) { return w.opened(); }), o.conns);
    last_msgs = m, last_bytes = b, last_t = t;
  }
}

int run(const options& o) {
  target t;
  if (!resolve(o, t) || !raise_fd_limit(o)) return 1;
  const pattern pat(o.size, o.text);
  const stream_image image = o.raw ? stream_image(pat) : stream_image(pattern(0, false));
  control ctl;
  std::vector<std::unique_ptr<worker>> ws;
  for (std::uint32_t i = 0; i < o.threads; ++i) {
    const std::uint32_t n = o.conns / o.threads + (i < o.conns % o.threads ? 1 : 0);
    ws.push_back(std::make_unique<worker>(o, t, pat, image, ctl, n, o.rate / o.threads));
  }
  const i64 start = now_ns();
  for (auto& w : ws) w->start();
  u64 last_m = 0, last_b = 0;
  i64 last_t = start;
  report r;
  rusage ru0{}, ru1{};
  i64 t_begin = 0;

  if (o.idle) {
    // Hold: wait until every connection is open or failed, say so, then hold.
    const i64 open_deadline = start + static_cast<i64>((o.connect_timeout + 5) * 1e9) +
                              static_cast<i64>(o.idle / o.max_connecting / o.threads + 1) * 1'000'000'000;
    while (!got_stop && now_ns() < open_deadline &&
           sum(ws, [](const worker& w) { return w.resolved(); }) < o.idle)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    r.open = static_cast<std::uint32_t>(sum(ws, [](const worker& w) { return w.opened(); }));
    std::fprintf(stderr, "zws-load: idle: %u of %u connections open; holding for %.0f s or until SIGUSR1\n", r.open,
                 o.idle, o.duration);
    std::printf("ready %u\n", r.open);
    std::fflush(stdout);
    wait_phase(o, ws, now_ns() + static_cast<i64>(o.duration * 1e9), start, last_m, last_b, last_t, true);
    t_begin = now_ns();
    getrusage(RUSAGE_SELF, &ru0);
    ctl.probe.store(true);
    const i64 deadline = now_ns() + static_cast<i64>(o.connect_timeout * 1e9);
    while (now_ns() < deadline && sum(ws, [](const worker& w) { return w.answered(); }) <
                                      sum(ws, [](const worker& w) { return w.opened(); }))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } else {
    wait_phase(o, ws, start + static_cast<i64>(o.warmup * 1e9), start, last_m, last_b, last_t);
    ctl.ph.store(int(phase::measure));
    t_begin = now_ns();
    getrusage(RUSAGE_SELF, &ru0);
    wait_phase(o, ws, t_begin + static_cast<i64>(o.duration * 1e9), start, last_m, last_b, last_t);
  }
  getrusage(RUSAGE_SELF, &ru1);
  r.seconds = double(now_ns() - t_begin) / 1e9;
  ctl.ph.store(int(phase::stop));
  for (auto& w : ws) w->join();

  r.open = static_cast<std::uint32_t>(sum(ws, [](const worker& w) { return w.opened(); }));
  r.answered = sum(ws, [](const worker& w) { return w.answered(); });
  for (auto& w : ws) {
    const counters c = w->totals();
    r.c.msgs += c.msgs, r.c.bytes += c.bytes, r.c.connect_failed += c.connect_failed;
    r.c.handshake_failed += c.handshake_failed, r.c.verify_errors += c.verify_errors;
    r.c.protocol_errors += c.protocol_errors, r.c.closed += c.closed, r.c.timeouts += c.timeouts;
    r.h.merge(w->hist());
  }
  r.cpu_user = seconds_of(ru1.ru_utime) - seconds_of(ru0.ru_utime);
  r.cpu_sys = seconds_of(ru1.ru_stime) - seconds_of(ru0.ru_stime);
  if (o.json) print_json(o, r);
  else print_text(o, r);
  // Exit status 3 when anything went wrong: a failed connect or handshake, a bad
  // echo, a protocol error, a connection the server dropped, an idle one that did not answer.
  const bool ok = r.c.connect_failed + r.c.handshake_failed + r.c.verify_errors + r.c.protocol_errors +
                          r.c.closed + r.c.timeouts == 0 &&
                  (o.idle ? r.answered == r.open : r.c.msgs > 0);
  return ok ? 0 : 3;
}

}  // namespace
}  // namespace zws_load

int main(int argc, char** argv) {
  zws_load::options o;
  const int rc = zws_load::parse_options(argc, argv, o);
  if (rc != 0) return rc > 0 ? 0 : 2;
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = zws_load::on_stop;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  sa.sa_handler = zws_load::on_usr1;
  sigaction(SIGUSR1, &sa, nullptr);
  return zws_load::run(o);
}
