// tools/load/connection.hpp — zws-load's worker: the event loop, connecting,
// the handshake, failing and closing connections, the open-loop schedule and
// the --idle probe. (Messages themselves are in traffic.hpp.)
#pragma once

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string_view>

#include "worker.hpp"

namespace zws_load {

inline void worker::run() {
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
    i64 wait = unread_.empty() ? 50'000'000 : 0;
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
    turns_.swap(unread_);
    for (const std::uint32_t i : turns_) {
      conn& c = conns_[i];
      c.unread = false;
      if (c.st == cstate::open || c.st == cstate::handshaking) on_readable(c);
    }
    turns_.clear();
    now = now_ns();
    for (const std::uint32_t i : churned_) recycle(conns_[i], now);
    churned_.clear();
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

inline void worker::publish() {
  pub_msgs_.store(all_.msgs, std::memory_order_relaxed);
  pub_bytes_.store(all_.bytes, std::memory_order_relaxed);
  pub_open_.store(open_, std::memory_order_relaxed);
  pub_resolved_.store(resolved_, std::memory_order_relaxed);
  pub_answered_.store(answered_, std::memory_order_relaxed);
}

inline void worker::open_more(i64 now) {
  while (connecting_ < opt_.max_connecting && next_open_ < conns_.size()) start_connect(conns_[next_open_++], now);
}

inline void worker::start_connect(conn& c, i64 now) {
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

inline void worker::fail(conn& c, u64 counters::*what) {
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
  c.wire.release();
  c.tls.reset();
  c.z.reset();
}

inline void worker::on_event(conn& c, std::uint32_t ev) {
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
      if ((ev & EPOLLOUT) && (!c.out.empty() || !c.wire.empty() || c.raw_queued || c.big_left) && !flush(c)) return;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c);
      return;
    case cstate::unused:
    case cstate::closed:
      return;
  }
}

inline void worker::on_connected(conn& c, i64 now) {
  if (opt_.raw && tls_ == nullptr) {
    on_open(c, now);
    return;
  }
  if (tls_ != nullptr) {
    // The ClientHello goes first; the upgrade request waits in c.out (plaintext)
    // until the TLS handshake is done (flush_tls).
    c.tls.emplace(zws::detail::tls::session::client(*tls_, tgt_.host));
    if (c.tls->failed() || c.tls->start(c.wire) == zws::detail::tls::status::failed) {
      tls_failed(c);
      return;
    }
    if (opt_.raw) {  // raw TLS: open once the TLS handshake is done (on_readable_tls)
      c.st = cstate::handshaking;
      flush(c);
      return;
    }
  }
  std::uint8_t nonce[16];
  rng_.fill(nonce, sizeof nonce);
  c.key = zws::make_client_key(std::span<const std::uint8_t, 16>(nonce));
  const zws::extension_value offer = offer_.value();
  const zws::http::header extra[1] = {{"Sec-WebSocket-Extensions", offer.view()}};
  zws::write_upgrade_request(c.out,
                             {.host = tgt_.host_header, .target = tgt_.path,
                              .extra = std::span(extra, opt_.deflate ? 1 : 0)},
                             c.key);
  c.st = cstate::handshaking;
  flush(c);
}

// A Close frame (1000) if the connection is open, one attempt to send it, and close.
inline void worker::goodbye(conn& c) {
  if (c.fd < 0) return;
  if (c.st == cstate::open && !opt_.raw && c.big_left == 0) {
    const zws::mask_key key = rng_.key();
    zws::write_close(c.out, zws::close_code::normal, {}, &key);
    if (c.tls) {  // the Close, then close_notify, behind what waits
      c.tls->send(c.out.bytes(), c.wire);
      c.tls->shutdown(c.wire);
      sys::send(c.fd, c.wire.data(), c.wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    } else {
      sys::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  } else if (c.st == cstate::open && c.tls) {  // raw TLS: close_notify
    c.wire.clear();
    c.tls->shutdown(c.wire);
    sys::send(c.fd, c.wire.data(), c.wire.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  close(c.fd);
  c.fd = -1;
}

// --churn: the connection's one message came back; close it and start anew
// (after the batch, so nothing of this wake touches it any more).
inline void worker::recycle(conn& c, i64 now) {
  if (c.st != cstate::open) return;
  goodbye(c);
  --open_;
  c.st = cstate::unused;
  c.in.clear();
  c.out.clear();
  c.wire.clear();
  c.tls.reset();
  c.z.reset();
  c.rd.reset();
  c.sent = c.done = c.due = 0;
  c.raw_tx = c.raw_queued = c.raw_rx = 0;
  c.need = 0;
  c.verified = 0;
  start_connect(c, now);
}

inline void worker::on_open(conn& c, i64 now) {
  if (c.st == cstate::connecting || c.st == cstate::handshaking) {
    --connecting_;
    ++resolved_;
  }
  c.st = cstate::open;
  ++open_;
  if (!opt_.raw) c.rd.emplace(zws::role::client, reader_limits_);
  if (c.z) c.rd->set_deflate(true);
  if (opt_.idle) c.limit = opt_.idle_warm ? 1 : 0;  // held silent until the probe
  if (opt_.churn) c.limit = 1;
  send_messages(c, now);
  flush(c);
  open_more(now);
}

inline void worker::on_readable(conn& c) {
  if (c.tls) {
    on_readable_tls(c);
    return;
  }
  for (int reads = 0;; ++reads) {
    if (reads == reads_per_turn) {
      // Not drained, and there is no new edge to come back for it: another turn
      // after the other ready connections have had theirs, so that one flooded
      // connection cannot starve the rest of this worker (see run).
      if (!c.unread) {
        c.unread = true;
        unread_.push_back(c.index);
      }
      return;
    }
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
    const ssize_t n = sys::recv(c.fd, dst, room);
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
inline std::size_t worker::consume(conn& c, std::span<std::uint8_t> bytes, i64 now) {
  if (opt_.raw) return consume_raw(c, bytes, now);
  if (c.st == cstate::handshaking) return consume_handshake(c, bytes, now);
  return consume_ws(c, bytes, now);
}

inline std::size_t worker::consume_handshake(conn& c, std::span<std::uint8_t> bytes, i64 now) {
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
      zws::verify_upgrade_response(response_parser_.get(), c.key, {}, opt_.deflate) != zws::error::none) {
    fail(c, &counters::handshake_failed);
    return failed;
  }
  if (opt_.deflate) {  // a server may decline: then nothing is compressed on this connection
    const zws::deflate_answer a = zws::check_deflate_answer(response_parser_.get().headers, offer_);
    if (a.err != zws::error::none) {
      fail(c, &counters::handshake_failed);
      return failed;
    }
    if (a.accepted) {
      c.z = std::make_unique<zstate>(a.params);
      ++all_.deflate_agreed;
    }
  }
  on_open(c, now);
  if (c.st != cstate::open) return failed;
  const std::size_t head = r.head_size;
  const std::size_t used = consume_ws(c, bytes.subspan(head), now);
  return used == failed ? failed : head + used;
}

// Open loop: hands every message whose time has come to its connection.
inline void worker::release_schedule(i64 now) {
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

inline void worker::check_timeouts(i64 now) {
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

inline void worker::start_probe(i64 now) {
  probing_ = true;
  for (auto& c : conns_) {
    if (c.st != cstate::open) continue;
    c.limit = c.sent + 1;
    send_messages(c, now);
    flush(c);
  }
}

}  // namespace zws_load
