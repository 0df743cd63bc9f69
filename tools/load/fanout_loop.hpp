// tools/load/fanout_loop.hpp — what the lean --fanout workers share (fan_raw_worker
// for --raw, fan_ws_worker for ws://): one epoll loop per thread over its share of
// subscribers and publishers, steered by the main thread through atomics (begin,
// stop publishing, finish) as fan_worker is steered through its loop's post(); the
// open- and closed-loop publishing schedule; and the count.
//
// Messages are the --fanout records (fanout.hpp: stamp, then filler), o.size bytes
// each. A receiver checks each record with fan_check; publishers are receivers
// too and, in the closed loop, send their next record when their own comes back.
// What travels on the wire is the protocol's, `P` (CRTP), which provides:
//   void connected(fan_conn& c)   TCP is up: open at once (opened) or start a handshake
//   std::size_t consume(fan_conn& c, std::span<std::uint8_t> bytes, i64 now)
//                                 hands each record that `bytes` holds to record();
//                                 returns how many bytes it used (the rest is kept and
//                                 passed again with more behind it), or fan_gone once
//                                 it has failed c
//   void frame(fan_conn& c, const char* head)   appends record `head` + filler_ to c.out
//   void goodbye(fan_conn& c)     at the end, before the socket closes
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "fanout.hpp"
#include "target.hpp"
#include "zws/buffer.hpp"

namespace zws_load {

// consume(): the connection has failed; nothing of the bytes is to be kept.
inline constexpr std::size_t fan_gone = ~std::size_t{0};

struct fan_conn {
  int fd = -1;
  std::uint32_t index = 0;  // in the worker's conns_, and the epoll data
  bool pub = false;
  bool connected = false;   // TCP is up (a handshake may still be under way)
  bool open = false;        // a subscriber or publisher
  std::uint32_t id = 0;     // publisher id
  u64 sent = 0;             // publisher: records sent
  const target* tgt = nullptr;
  zws::buffer in;           // what consume() left: the start of a frame or record
  zws::buffer out;          // bytes the kernel has not taken
  fan_order ord;            // what came, in what order
};

template <class P>
class fan_loop_worker {
 public:
  // `raw`: URLs are tcp://, not ws://. `max_frame`: the largest frame (or record)
  // the protocol must hold whole; the read buffer keeps room for two.
  fan_loop_worker(const options& o, fan_shared& sh, std::uint32_t index, std::uint32_t threads, bool raw,
                  std::size_t max_frame)
      : o_(o),
        sh_(sh),
        filler_(o.size - fan_head, '\0'),
        rbuf_size_(std::max<std::size_t>(256 * 1024, 2 * max_frame)),
        rbuf_(new std::uint8_t[rbuf_size_]) {
    for (std::size_t i = 0; i < filler_.size(); ++i) filler_[i] = static_cast<char>('a' + i % 26);
    // Every URL resolved once (subscribers take the --sub-url in turn, publishers URL).
    auto add_target = [&](const std::string& url) {
      options one = o;
      one.url = url;
      one.raw = raw;
      targets_.push_back(std::make_unique<target>());
      if (!resolve(one, *targets_.back())) targets_.back().reset();
    };
    add_target(o.url);
    for (const auto& u : o.sub_urls) add_target(u);
    auto add = [&](const target* t, bool pub, std::uint32_t id) {
      fan_conn& c = conns_.emplace_back();
      c.index = static_cast<std::uint32_t>(conns_.size() - 1);
      c.tgt = t;
      c.pub = pub;
      c.id = id;
      c.ord.next.assign(o.publishers, 0);
    };
    for (std::uint32_t i = index; i < o.subscribers; i += threads)
      add(o.sub_urls.empty() ? targets_[0].get() : targets_[1 + i % o.sub_urls.size()].get(), false, 0);
    for (std::uint32_t p = index; p < o.publishers; p += threads) add(targets_[0].get(), true, p);
  }
  ~fan_loop_worker() {
    if (epfd_ >= 0) close(epfd_);
  }

  void start() { thread_ = std::thread([this] { run(); }); }
  void join() { thread_.join(); }
  std::uint32_t settled() const noexcept { return settled_.load(); }
  std::uint32_t subscribers_open() const noexcept { return subs_open_.load(); }
  u64 delivered() const noexcept { return delivered_pub_.load(std::memory_order_relaxed); }
  void begin() { cmd_begin_.store(true); }
  void stop_publishing() { cmd_stop_.store(true); }
  bool stopped() const noexcept { return stopped_.load(); }
  void finish() { cmd_finish_.store(true); }
  const fan_results& results() const noexcept { return r_; }  // after join()

 protected:
  // The connection is a subscriber or publisher now.
  void opened(fan_conn& c) {
    c.open = true;
    --connecting_;
    ++settled_;
    if (!c.pub) ++subs_open_;
  }

  // Ends c: a connect or handshake that failed, or an open connection the server
  // closed or broke the protocol on.
  void fail(fan_conn& c) {
    if (c.open && !winding_up_) {
      ++r_.closed;
      std::fprintf(stderr, "zws-load: the server closed a %s fan-out connection\n", P::kind);
      if (!c.pub) --subs_open_;
    } else if (!c.open) {
      if (r_.connect_failed++ == 0) std::fprintf(stderr, "zws-load: a %s fan-out connection failed\n", P::kind);
      --connecting_;
      ++settled_;
    }
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    c.open = false;
  }

  // One whole message `d[0, n)` came on c.
  void record(fan_conn& c, const char* d, std::size_t n, i64 now) {
    if (!c.pub) {
      fan_check(c.ord, d, n, o_, filler_, r_, now);
      return;
    }
    std::uint32_t id;
    if (n < fan_head) return;
    std::memcpy(&id, d + 4, 4);
    if (id == c.id && o_.rate <= 0) publish(c);  // closed loop: its own came back
  }

  // Sends what waits in c.out. False when that failed c.
  bool flush(fan_conn& c) {
    std::size_t off = 0;
    while (off < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + off, c.out.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      fail(c);
      return false;
    }
    c.out.consume(off);
    return true;
  }

  const options& o_;
  fan_shared& sh_;
  std::string filler_;
  std::vector<fan_conn> conns_;

 private:
  P& proto() noexcept { return static_cast<P&>(*this); }

  void run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) std::perror("zws-load: epoll_create1");
    epoll_event events[256];
    for (;;) {
      connect_more();
      if (cmd_begin_.exchange(false)) begin_publishing();
      if (cmd_stop_.exchange(false)) {
        publishing_ = false;
        stopped_.store(true);
      }
      if (cmd_finish_.load()) break;
      if (publishing_ && o_.rate > 0) release();
      const int n = epoll_wait(epfd_, events, 256, publishing_ && o_.rate > 0 ? 1 : 10);
      for (int i = 0; i < n; ++i) on_event(conns_[events[i].data.u32], events[i].events);
      delivered_pub_.store(r_.delivered, std::memory_order_relaxed);
    }
    wind_up();
  }

  void connect_more() {
    while (connecting_ < 256 && next_ < conns_.size()) {
      fan_conn& c = conns_[next_++];
      ++connecting_;
      if (c.tgt == nullptr) {
        fail(c);
        continue;
      }
      c.fd = socket(c.tgt->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int one = 1;
      if (c.fd >= 0) setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u32 = c.index;
      if (c.fd < 0 || epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0 ||
          (::connect(c.fd, reinterpret_cast<const sockaddr*>(&c.tgt->addr), c.tgt->addr_len) < 0 &&
           errno != EINPROGRESS))
        fail(c);
    }
  }

  void on_event(fan_conn& c, std::uint32_t ev) {
    if (c.fd < 0) return;  // failed earlier in this batch
    if (!c.open && !c.connected) {
      if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      int err = 0;
      socklen_t len = sizeof err;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
        fail(c);
        return;
      }
      c.connected = true;
      proto().connected(c);
      if (c.fd < 0) return;
    }
    if ((ev & EPOLLOUT) && !c.out.empty() && !flush(c)) return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
  }

  // Reads until EAGAIN into the thread's one read buffer, behind what the last
  // read left of an incomplete frame (so a connection holds only that).
  void on_readable(fan_conn& c) {
    for (;;) {
      const std::size_t keep = c.in.size();
      if (keep != 0) std::memcpy(rbuf_.get(), c.in.data(), keep);
      const std::size_t room = rbuf_size_ - keep;
      const ssize_t n = recv(c.fd, rbuf_.get() + keep, room, 0);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        fail(c);
        return;
      }
      const std::size_t total = keep + static_cast<std::size_t>(n);
      const std::size_t used = proto().consume(c, {rbuf_.get(), total}, now_ns());
      if (used == fan_gone || c.fd < 0) return;
      c.in.clear();
      c.in.append(rbuf_.get() + used, total - used);
      if (!c.out.empty() && !flush(c)) return;  // pongs, closed-loop records
      if (static_cast<std::size_t>(n) < room) return;  // drained: the next arrival raises a new edge
    }
  }

  void begin_publishing() {
    publishing_ = true;
    t0_ = now_ns();
    interval_ns_ = o_.rate > 0 ? 1e9 * o_.publishers / o_.rate : 0;
    if (o_.rate > 0) return release();
    for (auto& c : conns_)
      if (c.pub)
        for (std::uint32_t k = 0; k < o_.depth; ++k) publish(c);
  }

  void release() {
    const i64 now = now_ns();
    for (auto& c : conns_) {
      if (!c.pub) continue;
      const double phase = double(c.id) / o_.publishers;  // staggered, as fan_worker does
      const auto due = static_cast<u64>(double(now - t0_) / interval_ns_ - phase) + 1;
      while (publishing_ && c.sent < due && c.open) publish(c);
    }
  }

  void publish(fan_conn& c) {
    if (!publishing_ || !c.open) return;
    char head[fan_head];
    fan_stamp(head, c.id, c.sent, now_ns());
    proto().frame(c, head);
    sh_.sent[c.id].store(++c.sent, std::memory_order_relaxed);
    flush(c);
  }

  void wind_up() {
    r_.subscribed = subs_open_.load();
    winding_up_ = true;
    for (auto& c : conns_) {
      if (!c.pub) r_.lost += c.open ? fan_lost(c.ord, sh_.sent, o_.publishers) : c.ord.missing.size();
      if (c.fd < 0) continue;
      if (c.open) proto().goodbye(c);
      close(c.fd);
      c.fd = -1;
    }
  }

  const std::size_t rbuf_size_;
  std::unique_ptr<std::uint8_t[]> rbuf_;
  std::vector<std::unique_ptr<target>> targets_;
  std::size_t next_ = 0;
  std::uint32_t connecting_ = 0;  // connects and handshakes under way
  int epfd_ = -1;
  std::thread thread_;
  fan_results r_;
  std::atomic<std::uint32_t> settled_{0}, subs_open_{0};
  std::atomic<u64> delivered_pub_{0};
  std::atomic<bool> cmd_begin_{false}, cmd_stop_{false}, cmd_finish_{false}, stopped_{false};
  bool publishing_ = false;
  bool winding_up_ = false;
  i64 t0_ = 0;
  double interval_ns_ = 0;
};

}  // namespace zws_load
