// tools/load/worker.hpp — one event-loop thread of zws-load and its connections.
//
// Each worker runs one edge-triggered epoll loop over its share of the
// connections. A connection keeps `depth` messages in flight (closed loop) or
// sends on a fixed schedule (-R, open loop, timed from the scheduled send time so
// a stalled server shows in the tail instead of hiding, as in wrk2). Every wake
// costs one recv and at most one send per ready connection: messages produced
// while handling a connection's input are written into the worker's one send
// buffer and leave in one send (only what the kernel refuses is kept per
// connection).
//
// wss:// drives the library's sans-IO TLS session (lib/io/tls.hpp) from this
// same loop: ciphertext is read into the receive buffer behind its headroom and
// decrypted in place, frames are encrypted into the connection's `wire` buffer
// in one call per flush. So TLS adds OpenSSL's work and nothing else: the
// framing, the fast paths and the checks are those of ws://.
//
// The members are defined in three files: connection.hpp (the loop, connecting,
// the handshake, failing and closing), tls.hpp (wss://) and traffic.hpp
// (messages: sending, receiving, verifying, timing).
#pragma once

#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <thread>
#include <vector>

#include "histogram.hpp"
#include "io/tls.hpp"
#include "json.hpp"
#include "options.hpp"
#include "payload.hpp"
#include "random.hpp"
#include "report.hpp"
#include "target.hpp"
#include "protocol/deflate_stream.hpp"
#include "wire.hpp"
#include "zws/buffer.hpp"
#include "zws/deflate.hpp"
#include "zws/frame.hpp"
#include "zws/handshake.hpp"
#include "zws/http.hpp"
#include "zws/reader.hpp"
#include "zws/simd.hpp"
#include "zws/writer.hpp"

namespace zws_load {

// From this size on a message is sent in pieces generated as they go (see
// worker::chunk_size) and checked against the pattern as it arrives, in both
// modes; smaller ones are framed whole (WebSocket) or sent from the stream
// image (--raw).
inline constexpr std::size_t large_message = 128 * 1024;

// send/recv/sendmsg as plain system calls: glibc's wrappers are thread
// cancellation points, whose bookkeeping was ~1% of a busy worker, and
// zws-load never cancels a thread. Same results and errno as the wrappers.
namespace sys {
inline ssize_t send(int fd, const void* p, std::size_t n, int flags) noexcept {
  return ::syscall(SYS_sendto, fd, p, n, flags, nullptr, 0);
}
inline ssize_t sendmsg(int fd, const msghdr* m, int flags) noexcept { return ::syscall(SYS_sendmsg, fd, m, flags); }
inline ssize_t recv(int fd, void* p, std::size_t n) noexcept {
  return ::syscall(SYS_recvfrom, fd, p, n, 0, nullptr, nullptr);
}
}  // namespace sys

using i64 = std::int64_t;
using u64 = std::uint64_t;

inline i64 now_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return i64{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// ---------------------------------------------------------------------------
// One connection.

// permessage-deflate, once the server agreed: the connection's own streams
// (context kept between messages when agreed, as a browser's would), and the
// echo being inflated, whose pieces may arrive over several reads.
struct zstate {
  explicit zstate(const zws::deflate_params& agreed)
      : p(zws::stream_params(agreed, zws::role::client)),
        in({.window_bits = p.inflate_window_bits, .no_context_takeover = p.inflate_no_context_takeover}),
        out({.window_bits = zws::can_deflate(p.deflate_window_bits) ? p.deflate_window_bits : std::uint8_t{9},
             .no_context_takeover = p.deflate_no_context_takeover}),
        can_send(zws::can_deflate(p.deflate_window_bits)) {}
  zws::deflate_stream_params p;
  zws::detail::inflater in;
  zws::detail::deflater out;
  bool can_send;          // false: the server allowed a window zlib cannot compress in
  zws::buffer inflated;   // the echo being inflated
};

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
  bool unread = false;           // in worker::unread_: bytes may wait that were not read yet
  std::size_t verified = 0;      // payload bytes of the frame at the front of `in` already checked
  zws::client_key key{};         // WebSocket: the handshake's Sec-WebSocket-Key
  std::optional<zws::detail::tls::session> tls;  // wss://
  zws::buffer wire;              // wss://: ciphertext the kernel has not taken yet
  std::unique_ptr<zstate> z;     // --deflate, when agreed
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
  // `tls`: the client context of a wss:// target (null for ws://), shared by the workers.
  // `json`: --payload json's documents (null: the pattern's).
  worker(const options& o, const target& t, const zws::detail::tls::client_context* tls, const pattern& p,
         const json_payload* json, const stream_image& i, control& ctl, std::uint32_t nconns, double rate)
      : opt_(o), tgt_(t), tls_(tls), pat_(p), json_(json), image_(i), ctl_(ctl), conns_(nconns),
        rbuf_(new std::uint8_t[rbuf_size]) {
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
    c.sent_payload = measured_.sent_payload;
    c.sent_wire = measured_.sent_wire;
    c.recv_wire = measured_.recv_wire;
    return c;
  }

 private:
  static constexpr std::size_t rbuf_size = 256 * 1024;
  // Large messages go out in pieces of this size, each written (masked, in
  // WebSocket mode) into chunk_ just before it is sent: 32 KiB stays in L1 for
  // the kernel's copy. (256 KiB pieces made E 20-30% slower, loader-bound.)
  static constexpr std::size_t chunk_size = 32 * 1024;
  static constexpr int reads_per_turn = 16;  // recv calls per connection per wake

  void run();
  void open_more(i64 now);
  void start_connect(conn& c, i64 now);
  void on_event(conn& c, std::uint32_t ev);
  void on_connected(conn& c, i64 now);
  void on_open(conn& c, i64 now);
  void on_readable(conn& c);
  void on_readable_tls(conn& c);
  bool flush_tls(conn& c);
  bool encrypt_pending(conn& c);
  bool encrypt_raw(conn& c);
  void recycle(conn& c, i64 now);
  void tls_failed(conn& c);
  void advance_big(conn& c, std::size_t sent);
  static constexpr std::size_t failed = ~std::size_t{0};
  std::size_t consume(conn& c, std::span<std::uint8_t> bytes, i64 now);
  std::size_t consume_raw(conn& c, std::span<std::uint8_t> bytes, i64 now);
  std::size_t consume_handshake(conn& c, std::span<std::uint8_t> bytes, i64 now);
  std::size_t consume_ws(conn& c, std::span<std::uint8_t> bytes, i64 now);
  bool verify_echo(conn& c, const std::uint8_t* data, std::size_t skip);
  void goodbye(conn& c);
  void complete(conn& c, i64 now);
  void send_messages(conn& c, i64 now);
  void append_message(conn& c, i64 stamp);
  void append_generic(conn& c);
  bool inflate_piece(conn& c, const zws::event& ev, i64 now);
  zws::buffer& out_for(conn& c) noexcept;
  bool flush(conn& c);
  std::size_t fill_chunk(conn& c);
  std::size_t fill_raw_chunk(conn& c);
  bool raw_matches(u64 at, const std::uint8_t* got, std::size_t n) const noexcept;
  bool pre_verify(conn& c);
  void fail(conn& c, u64 counters::*what);
  void release_schedule(i64 now);
  void check_timeouts(i64 now);
  void start_probe(i64 now);
  void publish();

  const options& opt_;
  const target& tgt_;
  const zws::detail::tls::client_context* tls_;
  const pattern& pat_;
  const json_payload* json_;
  const stream_image& image_;
  const frame_format fmt_{opt_.text ? zws::opcode::text : zws::opcode::binary, opt_.size};
  const u64 stamp_mask_ = std::bit_ceil(u64{opt_.depth}) - 1;  // at most depth in flight
  control& ctl_;
  std::vector<conn> conns_;
  std::unique_ptr<std::uint8_t[]> rbuf_;
  zws::buffer wout_;  // frames being sent now (see out_for); empty between flushes
  // JSON documents and compressed frames are made whole, one by one
  // (append_generic), not by the fast paths of the pattern.
  const bool generic_ = json_ != nullptr || opt_.deflate;
  const zws::deflate_offer offer_ = zws::make_deflate_offer({.enable = true});
  zws::buffer scratch_;  // generic: the payload being sent, or the expected echo
  zws::buffer zout_;     // generic: its compressed form
  const bool big_ = !opt_.raw && !generic_ && opt_.size >= large_message;
  const bool raw_big_ = opt_.raw && opt_.size >= large_message;  // sent and checked like big_, unmasked
  std::unique_ptr<std::uint8_t[]> chunk_{big_ || raw_big_ ? new std::uint8_t[chunk_size + zws::max_frame_header]
                                                          : nullptr};
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
  std::vector<std::uint32_t> unread_;  // connections whose turn ended before EAGAIN
  std::vector<std::uint32_t> turns_;   // unread_ of the previous turn, being served
  std::vector<std::uint32_t> churned_; // --churn: connections done with their message this wake

  counters all_;       // since start
  counters measured_;  // during the measured phase only (msgs, bytes)
  std::atomic<u64> pub_msgs_{0}, pub_bytes_{0}, pub_answered_{0};
  std::atomic<std::uint32_t> pub_open_{0}, pub_resolved_{0};
};

}  // namespace zws_load
