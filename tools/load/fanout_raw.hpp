// tools/load/fanout_raw.hpp — zws-load --fanout --raw: the same publish/subscribe
// load over plain TCP, for a raw fan-out server (bench/fanout_tcp: every byte any
// connection sends goes to every connection, sender included).
//
// Messages are the --fanout records (fanout.hpp: stamp, then filler), o.size
// bytes each, back to back on the stream: a receiver cuts its stream into
// records and checks each with fan_check, exactly as a WebSocket subscriber
// checks each message. Publishers are receivers too and, in the closed loop,
// send their next record when their own comes back. One epoll loop per thread;
// the main thread steers it through atomics (begin, stop publishing, finish),
// as fan_worker is steered through its loop's post().
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fanout.hpp"
#include "target.hpp"

namespace zws_load {

class fan_raw_worker {
 public:
  fan_raw_worker(const options& o, fan_shared& sh, std::uint32_t index, std::uint32_t threads)
      : o_(o), sh_(sh), filler_(o.size - fan_head, '\0'), rbuf_(new char[rbuf_size]) {
    for (std::size_t i = 0; i < filler_.size(); ++i) filler_[i] = static_cast<char>('a' + i % 26);
    // Every URL resolved once (subscribers take the --sub-url in turn, publishers URL).
    auto add_target = [&](const std::string& url) {
      options one = o;
      one.url = url;
      one.raw = true;
      targets_.push_back(std::make_unique<target>());
      if (!resolve(one, *targets_.back())) targets_.back().reset();
    };
    add_target(o.url);
    for (const auto& u : o.sub_urls) add_target(u);
    for (std::uint32_t i = index; i < o.subscribers; i += threads) {
      rconn c;
      c.tgt = o.sub_urls.empty() ? targets_[0].get() : targets_[1 + i % o.sub_urls.size()].get();
      c.ord.next.assign(o.publishers, 0);
      conns_.push_back(std::move(c));
    }
    for (std::uint32_t p = index; p < o.publishers; p += threads) {
      rconn c;
      c.tgt = targets_[0].get();
      c.pub = true;
      c.id = p;
      c.ord.next.assign(o.publishers, 0);
      conns_.push_back(std::move(c));
    }
  }
  ~fan_raw_worker() {
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

 private:
  static constexpr std::size_t rbuf_size = 256 * 1024;
  struct rconn {
    int fd = -1;
    bool pub = false;
    bool open = false;
    std::uint32_t id = 0;  // publisher id
    u64 sent = 0;          // publisher: records sent
    const target* tgt = nullptr;
    std::string in;        // the start of a record still incomplete
    std::string out;       // publisher: bytes the kernel has not taken
    fan_order ord;         // subscriber: what came, in what order
  };

  void run() {
    epfd_ = epoll_create1(EPOLL_CLOEXEC);
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
      rconn& c = conns_[next_];
      const auto index = static_cast<std::uint32_t>(next_++);
      if (c.tgt == nullptr) {
        failed(c);
        continue;
      }
      c.fd = socket(c.tgt->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      int one = 1;
      if (c.fd >= 0) setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.u32 = index;
      if (c.fd < 0 || epoll_ctl(epfd_, EPOLL_CTL_ADD, c.fd, &ev) < 0 ||
          (::connect(c.fd, reinterpret_cast<const sockaddr*>(&c.tgt->addr), c.tgt->addr_len) < 0 &&
           errno != EINPROGRESS)) {
        failed(c);
        continue;
      }
      ++connecting_;
    }
  }

  void failed(rconn& c) {
    if (r_.connect_failed++ == 0) std::fprintf(stderr, "zws-load: a raw fan-out connection failed\n");
    if (c.fd >= 0) close(c.fd);
    c.fd = -1;
    ++settled_;
  }

  void on_event(rconn& c, std::uint32_t ev) {
    if (c.fd < 0) return;
    if (!c.open) {
      int err = 0;
      socklen_t len = sizeof err;
      if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
      --connecting_;
      if (getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0 || (ev & (EPOLLERR | EPOLLHUP))) {
        failed(c);
        return;
      }
      c.open = true;
      if (!c.pub) ++subs_open_;
      ++settled_;
    }
    if ((ev & EPOLLOUT) && !c.out.empty() && !flush(c)) return;
    if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
  }

  void closed(rconn& c) {
    if (!winding_up_) {
      ++r_.closed;
      std::fprintf(stderr, "zws-load: the server closed a raw fan-out connection\n");
      if (!c.pub) --subs_open_;
    }
    close(c.fd);
    c.fd = -1;
    c.open = false;
  }

  void on_readable(rconn& c) {
    for (;;) {
      const std::size_t keep = c.in.size();
      std::memcpy(rbuf_.get(), c.in.data(), keep);
      const ssize_t n = recv(c.fd, rbuf_.get() + keep, rbuf_size - keep, 0);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) return;
        closed(c);
        return;
      }
      const i64 now = now_ns();
      const std::size_t total = keep + static_cast<std::size_t>(n);
      std::size_t off = 0;
      for (; off + o_.size <= total; off += o_.size) record(c, rbuf_.get() + off, now);
      c.in.assign(rbuf_.get() + off, total - off);
      if (c.fd < 0 || static_cast<std::size_t>(n) < rbuf_size - keep) return;
    }
  }

  void record(rconn& c, const char* d, i64 now) {
    if (!c.pub) {
      fan_check(c.ord, d, o_.size, o_, filler_, r_, now);
      return;
    }
    std::uint32_t id;
    std::memcpy(&id, d + 4, 4);
    if (id == c.id && o_.rate <= 0) publish(c);  // closed loop: its own came back
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

  void publish(rconn& c) {
    if (!publishing_ || !c.open) return;
    char head[fan_head];
    const i64 stamp = now_ns();
    std::memcpy(head, &fan_magic, 4);
    std::memcpy(head + 4, &c.id, 4);
    std::memcpy(head + 8, &c.sent, 8);
    std::memcpy(head + 16, &stamp, 8);
    c.out.append(head, fan_head);
    c.out.append(filler_);
    sh_.sent[c.id].store(++c.sent, std::memory_order_relaxed);
    flush(c);
  }

  bool flush(rconn& c) {
    std::size_t off = 0;
    while (off < c.out.size()) {
      const ssize_t n = send(c.fd, c.out.data() + off, c.out.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<std::size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      closed(c);
      return false;
    }
    c.out.erase(0, off);
    return true;
  }

  void wind_up() {
    r_.subscribed = subs_open_.load();
    winding_up_ = true;
    for (auto& c : conns_) {
      if (!c.pub) r_.lost += c.open ? fan_lost(c.ord, sh_.sent, o_.publishers) : c.ord.missing.size();
      if (c.fd >= 0) close(c.fd);
      c.fd = -1;
    }
  }

  const options& o_;
  fan_shared& sh_;
  std::string filler_;
  std::unique_ptr<char[]> rbuf_;
  std::vector<std::unique_ptr<target>> targets_;
  std::vector<rconn> conns_;
  std::size_t next_ = 0;
  std::uint32_t connecting_ = 0;
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
