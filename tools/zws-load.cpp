// zws-load — a wrk-style load generator for WebSocket (and raw TCP) echo servers.
//
// Threads (tools/load/worker.hpp) each run an epoll loop over their share of
// the connections; this file starts them, runs the warm-up and measured phases
// (or, with --idle, holds and probes), and prints the report. Echoed payloads
// are checked against what was sent (tools/load/payload.hpp).
//
// zws-load --help for usage.
#include <signal.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "load/connection.hpp"
#include "load/fanout.hpp"
#include "load/fanout_raw.hpp"
#include "load/fanout_ws.hpp"
#include "load/options.hpp"
#include "load/report.hpp"
#include "load/target.hpp"
#include "load/tls.hpp"
#include "load/traffic.hpp"
#include "load/worker.hpp"

namespace zws_load {
namespace {

volatile sig_atomic_t got_stop = 0;   // SIGINT, SIGTERM
volatile sig_atomic_t got_usr1 = 0;   // --idle: go on to the check
void on_stop(int) { got_stop = 1; }
void on_usr1(int) { got_usr1 = 1; }

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

template <class W, class F>
u64 sum(const std::vector<std::unique_ptr<W>>& ws, F f) {
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
  std::unique_ptr<tls::client_context> tls_ctx;
  if (t.secure) {
    tls_ctx = std::make_unique<tls::client_context>(
        zws::tls_client_options{.ca_file = o.ca, .insecure_skip_verify = o.insecure});
    if (tls_ctx->error()) {
      std::fprintf(stderr, "zws-load: wss://: %s\n", tls_ctx->error().message().c_str());
      return 1;
    }
  }
  const pattern pat(o.size, o.text);
  const json_payload json(o.size);
  const stream_image image = o.raw && o.size < large_message ? stream_image(pat) : stream_image(pattern(0, false));
  control ctl;
  std::vector<std::unique_ptr<worker>> ws;
  for (std::uint32_t i = 0; i < o.threads; ++i) {
    const std::uint32_t n = o.conns / o.threads + (i < o.conns % o.threads ? 1 : 0);
    ws.push_back(std::make_unique<worker>(o, t, tls_ctx.get(), pat, o.payload_json ? &json : nullptr, image, ctl, n, o.rate / o.threads));
  }
  const i64 start = now_ns();
  for (auto& w : ws) w->start();
  u64 last_m = 0, last_b = 0;
  i64 last_t = start;
  report r;
  rusage ru0{}, ru1{};
  i64 t_begin = 0;
  u64 idle_warm_answers = 0;  // --idle-warm: the first messages, not the probe's

  if (o.idle) {
    // Hold: wait until every connection is open or failed, say so, then hold.
    const i64 open_deadline = start + static_cast<i64>((o.connect_timeout + 5) * 1e9) +
                              static_cast<i64>(o.idle / o.max_connecting / o.threads + 1) * 1'000'000'000;
    while (!got_stop && now_ns() < open_deadline &&
           sum(ws, [](const worker& w) { return w.resolved(); }) < o.idle)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    // --idle-warm: every open connection has exchanged its first message too.
    while (o.idle_warm && !got_stop && now_ns() < open_deadline &&
           sum(ws, [](const worker& w) { return w.answered(); }) < sum(ws, [](const worker& w) { return w.opened(); }))
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const u64 warm = sum(ws, [](const worker& w) { return w.answered(); });
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
    while (now_ns() < deadline && sum(ws, [](const worker& w) { return w.answered(); }) - warm <
                                      sum(ws, [](const worker& w) { return w.opened(); }))
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    idle_warm_answers = warm;
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
  r.answered = sum(ws, [](const worker& w) { return w.answered(); }) - idle_warm_answers;
  for (auto& w : ws) {
    const counters c = w->totals();
    r.c.msgs += c.msgs, r.c.bytes += c.bytes, r.c.connect_failed += c.connect_failed;
    r.c.handshake_failed += c.handshake_failed, r.c.verify_errors += c.verify_errors;
    r.c.protocol_errors += c.protocol_errors, r.c.closed += c.closed, r.c.timeouts += c.timeouts;
    r.c.sent_payload += c.sent_payload, r.c.sent_wire += c.sent_wire, r.c.recv_wire += c.recv_wire;
    r.c.deflate_agreed += c.deflate_agreed;
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

// Sleeps `seconds`, or less when a signal asks to stop.
void pause(double seconds) {
  const i64 until = now_ns() + static_cast<i64>(seconds * 1e9);
  while (!got_stop && now_ns() < until) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

// --fanout (tools/load/fanout_ws.hpp; --raw: fanout_raw.hpp; wss://, --deflate,
// --zws-client: fanout.hpp): connect everyone, let
// subscriptions settle, publish for -D seconds, wait for the last deliveries, count.
template <class fan_worker>
int run_fanout(const options& o) {
  fan_shared sh(o.publishers);
  std::vector<std::unique_ptr<fan_worker>> ws;
  for (std::uint32_t i = 0; i < o.threads; ++i) ws.push_back(std::make_unique<fan_worker>(o, sh, i, o.threads));
  for (auto& w : ws) w->start();
  const i64 open_deadline = now_ns() + static_cast<i64>((o.connect_timeout + 5) * 1e9);
  while (!got_stop && now_ns() < open_deadline && sum(ws, [](const fan_worker& w) { return w.settled(); }) < o.conns)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  pause(o.warmup);
  rusage ru0{}, ru1{};
  getrusage(RUSAGE_SELF, &ru0);
  const i64 t_begin = now_ns();
  for (auto& w : ws) w->begin();
  u64 last = 0;
  for (i64 tick = t_begin + 1'000'000'000, end = t_begin + static_cast<i64>(o.duration * 1e9); !got_stop;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const i64 now = now_ns();
    if (now >= end) break;
    if (now < tick) continue;
    const u64 d = sum(ws, [](const fan_worker& w) { return w.delivered(); });
    std::fprintf(stderr, "%6.1f s  %10.0f deliveries/s\n", double(now - t_begin) / 1e9, double(d - last));
    last = d, tick += 1'000'000'000;
  }
  for (auto& w : ws) w->stop_publishing();
  while (sum(ws, [](const fan_worker& w) { return w.stopped() ? 1 : 0; }) < ws.size())
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  const double seconds = double(now_ns() - t_begin) / 1e9;
  getrusage(RUSAGE_SELF, &ru1);
  u64 published = 0;
  for (std::uint32_t p = 0; p < o.publishers; ++p) published += sh.sent[p].load();
  // The last deliveries: until every open subscriber has every message, or
  // nothing more arrived for --timeout seconds.
  const u64 want = published * sum(ws, [](const fan_worker& w) { return w.subscribers_open(); });
  u64 seen = 0;
  for (i64 quiet_since = now_ns(); !got_stop && now_ns() - quiet_since < static_cast<i64>(o.timeout * 1e9);) {
    const u64 d = sum(ws, [](const fan_worker& w) { return w.delivered(); });
    if (d >= want) break;
    if (d != seen) seen = d, quiet_since = now_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (auto& w : ws) w->finish();
  fan_results r;
  for (auto& w : ws) {
    w->join();
    const fan_results& x = w->results();
    r.delivered += x.delivered, r.lost += x.lost, r.duplicated += x.duplicated, r.out_of_order += x.out_of_order;
    r.malformed += x.malformed, r.connect_failed += x.connect_failed, r.closed += x.closed;
    r.subscribed += x.subscribed;
    r.h.merge(x.h);
  }
  const double cpu = seconds_of(ru1.ru_utime) - seconds_of(ru0.ru_utime) + seconds_of(ru1.ru_stime) -
                     seconds_of(ru0.ru_stime);
  print_fanout(o, r, published, seconds, cpu);
  const bool ok = r.lost + r.duplicated + r.out_of_order + r.malformed + r.connect_failed + r.closed == 0 &&
                  published > 0 && r.subscribed == o.subscribers && r.delivered == published * r.subscribed;
  return ok ? 0 : 3;
}

// Whether fan_ws_worker can drive this run: it speaks plain ws:// without
// extensions, so wss:// (anywhere), --deflate and --zws-client take the zws client.
bool lean_fanout(const options& o) {
  auto secure = [](const std::string& url) {
    const std::optional<zws::url> u = zws::parse_url(url);
    return u && u->secure;
  };
  return !o.zws_client && !o.deflate && !secure(o.url) && std::none_of(o.sub_urls.begin(), o.sub_urls.end(), secure);
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
  if (o.deflate && !zws::deflate_available()) {
    std::fprintf(stderr, "zws-load: --deflate: zws was built without permessage-deflate (make DEFLATE=1)\n");
    return 1;
  }
  if (o.fanout && !zws_load::raise_fd_limit(o)) return 1;
  if (o.fanout && o.raw) return zws_load::run_fanout<zws_load::fan_raw_worker>(o);
  if (o.fanout) return zws_load::lean_fanout(o) ? zws_load::run_fanout<zws_load::fan_ws_worker>(o)
                                                : zws_load::run_fanout<zws_load::fan_worker>(o);
  return zws_load::run(o);
}
