// tools/load/fanout.hpp — zws-load --fanout: publish/subscribe through a
// fan-out server (zws-echo --fanout, or any server where every connection of a
// path gets every message sent on it).
//
// fan_worker is built on the zws client (zws::connect, one zws::Loop per
// thread), which brings wss:// and permessage-deflate with it; it runs those,
// and --zws-client. Plain ws:// goes to fan_ws_worker (fanout_ws.hpp), whose
// cost per delivery is a fraction of the client's. Each message is
//   "zwsF" · publisher (u32) · sequence number (u64) · send time (i64, ns,
//   CLOCK_MONOTONIC: one clock for every process of the machine) · filler
// and every subscriber checks, per publisher, that sequence numbers come one
// after the other: a gap is a loss until the missing message turns up (then it
// came out of order); a number seen before is a duplicate.
#pragma once

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "histogram.hpp"
#include "options.hpp"
#include "worker.hpp"
#include "zws/client.hpp"
#include "zws/loop.hpp"
#include "zws/websocket.hpp"

namespace zws_load {

inline constexpr std::uint32_t fan_magic = 0x4673777a;  // "zwsF" read little-endian
inline constexpr std::size_t fan_head = 24;
using fan_shared_counts = std::unique_ptr<std::atomic<u64>[]>;

struct fan_results {
  u64 delivered = 0;  // distinct messages received by subscribers
  u64 lost = 0, duplicated = 0, out_of_order = 0, malformed = 0;
  u64 connect_failed = 0, closed = 0;
  std::uint32_t subscribed = 0;  // subscribers open at the end
  histogram h;
};

// One receiver's view of the publishers: per publisher the sequence number
// expected next, and the ones skipped that may still come.
struct fan_order {
  std::vector<u64> next;
  std::set<std::pair<std::uint32_t, u64>> missing;
};

// Writes a record's stamp (the first fan_head bytes): magic, publisher, sequence number, send time.
inline void fan_stamp(char* head, std::uint32_t id, u64 seq, i64 sent_at) noexcept {
  std::memcpy(head, &fan_magic, 4);
  std::memcpy(head + 4, &id, 4);
  std::memcpy(head + 8, &seq, 8);
  std::memcpy(head + 16, &sent_at, 8);
}

// Checks one delivered message d[0, o.size) against the stamp format and the
// order so far; counts it in r (and its latency) unless it is malformed or a
// duplicate. Returns whether it counted as a delivery.
inline bool fan_check(fan_order& s, const char* d, std::size_t n, const options& o, const std::string& filler,
                      fan_results& r, i64 now) {
  std::uint32_t magic, id;
  u64 seq;
  i64 stamp;
  if (n != o.size) return ++r.malformed, false;
  std::memcpy(&magic, d, 4);
  std::memcpy(&id, d + 4, 4);
  std::memcpy(&seq, d + 8, 8);
  std::memcpy(&stamp, d + 16, 8);
  if (magic != fan_magic || id >= o.publishers || std::memcmp(d + fan_head, filler.data(), filler.size()) != 0)
    return ++r.malformed, false;
  u64& next = s.next[id];
  if (seq == next) {
    ++next;
  } else if (seq > next) {  // a gap: lost, unless it turns up later
    for (u64 k = next; k < seq && s.missing.size() < (1u << 20); ++k) s.missing.emplace(id, k);
    next = seq + 1;
  } else if (s.missing.erase({id, seq}) != 0) {
    ++r.out_of_order;
  } else {
    ++r.duplicated;
    return false;
  }
  r.h.record(static_cast<u64>(std::max<i64>(now - stamp, 0)));
  ++r.delivered;
  return true;
}

// Messages a subscriber never got, once every publisher has stopped.
inline u64 fan_lost(const fan_order& s, const fan_shared_counts& sent, std::uint32_t publishers) {
  u64 lost = s.missing.size();
  for (std::uint32_t p = 0; p < publishers; ++p)
    if (s.next[p] < sent[p].load()) lost += sent[p].load() - s.next[p];
  return lost;
}

// What the threads share: how many messages each publisher has sent.
struct fan_shared {
  explicit fan_shared(std::uint32_t publishers) : sent(new std::atomic<u64>[publishers]) {
    for (std::uint32_t p = 0; p < publishers; ++p) sent[p] = 0;
  }
  fan_shared_counts sent;
};

// One thread: a zws::Loop and its share of subscribers and publishers.
class fan_worker {
 public:
  fan_worker(const options& o, fan_shared& sh, std::uint32_t index, std::uint32_t threads)
      : o_(o), sh_(sh), filler_(o.size - fan_head, '\0') {
    for (std::uint32_t i = index; i < o.subscribers; i += threads) subs_.push_back({i, {}, nullptr});
    for (std::uint32_t p = index; p < o.publishers; p += threads) pubs_.push_back({p, 0, nullptr});
    for (auto& s : subs_) s.ord.next.assign(o.publishers, 0);
    for (std::size_t i = 0; i < filler_.size(); ++i) filler_[i] = static_cast<char>('a' + i % 26);
    client_.connect_timeout = std::chrono::milliseconds(static_cast<long>(o.connect_timeout * 1000));
    client_.tls.ca_file = o.ca;
    client_.tls.insecure_skip_verify = o.insecure;
    client_.deflate.enable = o.deflate;
  }

  void start() {
    thread_ = std::thread([this] {
      for (auto& s : subs_) connect(o_.sub_urls.empty() ? o_.url : o_.sub_urls[s.index % o_.sub_urls.size()], &s, nullptr);
      for (auto& p : pubs_) connect(o_.url, nullptr, &p);
      loop_.run();
    });
  }
  void join() { thread_.join(); }

  // Thread-safe, for the main thread.
  std::uint32_t settled() const noexcept { return settled_.load(); }
  std::uint32_t subscribers_open() const noexcept { return subs_open_.load(); }
  u64 delivered() const noexcept { return delivered_pub_.load(std::memory_order_relaxed); }
  void begin() {
    loop_.post([this] { begin_publishing(); });
  }
  void stop_publishing() {
    loop_.post([this] {
      publishing_ = false;
      loop_.cancel(timer_);
      stopped_.store(true);
    });
  }
  bool stopped() const noexcept { return stopped_.load(); }
  // Counts the losses (every publisher has stopped), closes everything, ends the loop.
  void finish() { loop_.post([this] { wind_up(); }); }
  const fan_results& results() const noexcept { return r_; }  // after join()

 private:
  struct sub {
    std::uint32_t index;
    fan_order ord;
    zws::WebSocket* ws;
  };
  struct pub {
    std::uint32_t id;
    u64 sent;
    zws::WebSocket* ws;
  };

  void connect(const std::string& url, sub* s, pub* p) {
    zws::Behavior b{
        .on_open =
            [this, s, p](zws::WebSocket& ws) {
              (s ? s->ws : p->ws) = &ws;
              if (s) ++subs_open_;
              ++settled_;
            },
        .on_message = [this, s, p](zws::WebSocket&, const zws::Message& m) { s ? received(*s, m) : echoed(*p, m); },
        .on_close =
            [this, s, p](zws::WebSocket&, std::uint16_t code, std::string_view why) {
              (s ? s->ws : p->ws) = nullptr;
              if (s && !winding_up_) --subs_open_;
              if (!winding_up_) {
                ++r_.closed;
                std::fprintf(stderr, "zws-load: a connection closed: %u %.*s\n", unsigned(code), int(why.size()), why.data());
              }
              if (winding_up_ && --open_left_ == 0) loop_.stop();
            },
        .on_error =
            [this](std::string_view why) {
              if (r_.connect_failed++ == 0) std::fprintf(stderr, "zws-load: %.*s\n", int(why.size()), why.data());
              ++settled_;
            },
    };
    b.max_message_size = std::max<std::size_t>(o_.size, 1024);
    b.max_backpressure = std::size_t{1} << 40;  // publishers: the schedule, not a queue limit, decides
    b.handshake_timeout = client_.connect_timeout;
    zws::connect(loop_, url, std::move(b), client_);
  }

  void begin_publishing() {
    publishing_ = true;
    t0_ = now_ns();
    if (o_.rate > 0) {
      // Released once a millisecond, as many as are due; each stamped when handed to send.
      interval_ns_ = 1e9 * o_.publishers / o_.rate;
      timer_ = loop_.set_interval(std::chrono::milliseconds(1), [this] { release(); });
      release();
    } else {
      for (auto& p : pubs_)
        for (std::uint32_t k = 0; k < o_.depth; ++k) publish(p);
    }
  }

  void release() {
    const i64 now = now_ns();
    for (auto& p : pubs_) {
      // Publisher p's message k is due at t0 + (k + p / P) * interval: staggered.
      const double phase = double(p.id) / o_.publishers;
      const auto due = static_cast<u64>(double(now - t0_) / interval_ns_ - phase) + 1;
      while (publishing_ && p.sent < due && p.ws) publish(p);
    }
  }

  void publish(pub& p) {
    if (!publishing_ || p.ws == nullptr) return;
    char head[fan_head];
    fan_stamp(head, p.id, p.sent, now_ns());
    msg_.assign(head, fan_head);
    msg_.append(filler_);
    p.ws->send(msg_, zws::opcode::binary);
    sh_.sent[p.id].store(++p.sent, std::memory_order_relaxed);
  }

  // A publisher gets every message of its path too: in the closed loop, its
  // own coming back releases the next.
  void echoed(pub& p, const zws::Message& m) {
    std::uint32_t id;
    if (m.data.size() < fan_head) return;
    std::memcpy(&id, m.data.data() + 4, 4);
    if (id == p.id && o_.rate <= 0) publish(p);
  }

  void received(sub& s, const zws::Message& m) {
    if (fan_check(s.ord, m.data.data(), m.data.size(), o_, filler_, r_, now_ns()))
      delivered_pub_.store(r_.delivered, std::memory_order_relaxed);
  }

  void wind_up() {
    r_.subscribed = subs_open_.load();
    for (auto& s : subs_) r_.lost += s.ws ? fan_lost(s.ord, sh_.sent, o_.publishers) : s.ord.missing.size();
    winding_up_ = true;
    for (auto& s : subs_)
      if (s.ws) ++open_left_, s.ws->close();
    for (auto& p : pubs_)
      if (p.ws) ++open_left_, p.ws->close();
    if (open_left_ == 0) loop_.stop();
    loop_.set_timeout(std::chrono::seconds(2), [this] { loop_.stop(); });  // a peer that never answers the Close
  }

  const options& o_;
  fan_shared& sh_;
  std::string filler_;
  std::string msg_;
  zws::ClientOptions client_;
  zws::Loop loop_;
  std::thread thread_;
  std::vector<sub> subs_;
  std::vector<pub> pubs_;
  fan_results r_;
  std::atomic<std::uint32_t> settled_{0};  // opened or failed
  std::atomic<std::uint32_t> subs_open_{0};
  std::atomic<u64> delivered_pub_{0};
  std::atomic<bool> stopped_{false};
  bool publishing_ = false;
  bool winding_up_ = false;
  std::uint32_t open_left_ = 0;
  i64 t0_ = 0;
  double interval_ns_ = 0;
  zws::timer_id timer_ = 0;
};

inline void print_fanout(const options& o, const fan_results& r, u64 published, double seconds, double cpu) {
  const std::uint32_t subs_open = r.subscribed;
  const u64 expected = published * subs_open;
  auto us = [&](double q) { return double(r.h.quantile(q)) / 1000.0; };
  if (o.json) {
    std::printf("{\"url\":\"%s\",\"mode\":\"fanout\",\"subscribers\":%u,\"subscribed\":%u,\"publishers\":%u,"
                "\"servers\":%zu,\"size\":%zu,\"rate\":%.0f,\"depth\":%u,\"seconds\":%.3f,",
                o.url.c_str(), o.subscribers, subs_open, o.publishers, std::max<std::size_t>(o.sub_urls.size(), 1),
                o.size, o.rate, o.depth, seconds);
    std::printf("\"published\":%" PRIu64 ",\"expected\":%" PRIu64 ",\"deliveries\":%" PRIu64
                ",\"deliveries_per_s\":%.1f,\"lost\":%" PRIu64 ",\"duplicated\":%" PRIu64 ",\"out_of_order\":%" PRIu64
                ",\"malformed\":%" PRIu64 ",",
                published, expected, r.delivered, double(r.delivered) / seconds, r.lost, r.duplicated,
                r.out_of_order, r.malformed);
    std::printf("\"latency_us\":{\"p50\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,\"mean\":%.2f},"
                "\"errors\":{\"connect\":%" PRIu64 ",\"closed\":%" PRIu64 "},\"cpu\":{\"share\":%.3f}}\n",
                us(0.5), us(0.99), us(0.999), double(r.h.max()) / 1000.0, r.h.mean() / 1000.0, r.connect_failed,
                r.closed, cpu / seconds);
    return;
  }
  std::printf("zws-load --fanout %s  %u subscribers (%u subscribed, %zu server%s), %u publisher%s, %zu B, isa %s\n",
              o.url.c_str(), o.subscribers, subs_open, std::max<std::size_t>(o.sub_urls.size(), 1),
              o.sub_urls.size() > 1 ? "s" : "", o.publishers, o.publishers == 1 ? "" : "s", o.size,
              std::string(zws::isa_name(zws::active_isa())).c_str());
  if (o.rate > 0) std::printf("  open loop, %.0f msgs/s in total, %.2f s publishing\n", o.rate, seconds);
  else std::printf("  closed loop, %u in flight per publisher, %.2f s publishing\n", o.depth, seconds);
  std::printf("  published   %" PRIu64 "  (%.0f msgs/s)\n", published, double(published) / seconds);
  std::printf("  deliveries  %" PRIu64 " of %" PRIu64 " expected  (%.0f/s)\n", r.delivered, expected,
              double(r.delivered) / seconds);
  std::printf("  latency us  p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f; publish -> receive)\n", us(0.5),
              us(0.99), us(0.999), double(r.h.max()) / 1000.0, r.h.mean() / 1000.0);
  std::printf("  messages    lost %" PRIu64 ", duplicated %" PRIu64 ", out of order %" PRIu64 ", malformed %" PRIu64 "\n",
              r.lost, r.duplicated, r.out_of_order, r.malformed);
  std::printf("  errors      connect %" PRIu64 ", closed %" PRIu64 "\n", r.connect_failed, r.closed);
  std::printf("  zws-load    cpu %.0f%% of one core\n", 100.0 * cpu / seconds);
}

}  // namespace zws_load
