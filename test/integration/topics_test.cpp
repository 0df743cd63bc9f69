// Topics on a server: subscribe / unsubscribe / publish from callbacks and from
// other threads, across the loops of run(n), per-publisher order, leaving the
// sender out, the end of subscriptions on close, slow subscribers under their
// backpressure policy, subscriber counts, and what a subscription costs.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

// Splits off the first space-separated word of `s`.
std::string_view word(std::string_view& s) {
  const std::size_t sp = s.find(' ');
  std::string_view w = s.substr(0, sp);
  s = sp == std::string_view::npos ? std::string_view{} : s.substr(sp + 1);
  return w;
}

// A route driven by text commands; answers start with '=' so they cannot be
// taken for published messages:
//   sub T | unsub T | subscribed T  -> "=1" / "=0"
//   topics                          -> "=" + sorted topics joined by ','
//   pub T data | pubx T data        -> ws.publish (pubx leaves the sender out), no answer
//   subn K B                        -> subscribes to tB .. t(B+K-1), answers "=done"
zws::Behavior commands(zws::Behavior b = {}) {
  b.on_message = [](zws::WebSocket& ws, const zws::Message& m) {
    std::string_view rest = m.data;
    const std::string_view cmd = word(rest);
    auto answer = [&](bool ok) { ws.send_text(ok ? "=1" : "=0"); };
    if (cmd == "sub") {
      answer(ws.subscribe(rest));
    } else if (cmd == "unsub") {
      answer(ws.unsubscribe(rest));
    } else if (cmd == "subscribed") {
      answer(ws.subscribed(rest));
    } else if (cmd == "topics") {
      std::vector<std::string> t;
      for (std::string_view v : ws.topics()) t.emplace_back(v);
      std::sort(t.begin(), t.end());
      std::string out = "=";
      for (const auto& s : t) out += (out.size() > 1 ? "," : "") + s;
      ws.send_text(out);
    } else if (cmd == "pub" || cmd == "pubx") {
      const std::string_view topic = word(rest);
      ws.publish(topic, rest, opcode::text, cmd == "pub");
    } else if (cmd == "subn") {
      const std::size_t k = std::stoul(std::string(word(rest)));
      const std::size_t base = std::stoul(std::string(rest));
      for (std::size_t i = 0; i < k; ++i) ws.subscribe("t" + std::to_string(base + i));
      ws.send_text("=done");
    }
  };
  return b;
}

struct peer {
  zws::WebSocket* ws = nullptr;
  std::vector<std::string> got;
  bool closed = false;
  std::string error;
};

std::unique_ptr<peer> connect_peer(zws::Loop& loop, std::uint16_t port, std::string_view path = "/t") {
  auto p = std::make_unique<peer>();
  peer* raw = p.get();
  zws::Behavior b;
  b.on_open = [raw](zws::WebSocket& ws) { raw->ws = &ws; };
  b.on_message = [raw](zws::WebSocket&, const zws::Message& m) { raw->got.emplace_back(m.data); };
  b.on_close = [raw](zws::WebSocket&, std::uint16_t, std::string_view) {
    raw->ws = nullptr;
    raw->closed = true;
  };
  b.on_error = [raw](std::string_view why) {
    raw->error = why;
    raw->closed = true;
  };
  zws::connect(loop, url(port, path), b);
  return p;
}

bool opened(zws::Loop& loop, peer& p) {
  return run_until(loop, [&] { return p.ws != nullptr || p.closed; }) && p.ws != nullptr;
}

// Sends a command and returns the next answer ('=' message) it gets.
std::string ask(zws::Loop& loop, peer& p, std::string_view cmd) {
  const std::size_t before = p.got.size();
  p.ws->send_text(cmd);
  std::string answer;
  run_until(loop, [&] {
    for (std::size_t i = before; i < p.got.size(); ++i)
      if (p.got[i].starts_with("=")) {
        answer = p.got[i];
        p.got.erase(p.got.begin() + static_cast<std::ptrdiff_t>(i));
        return true;
      }
    return false;
  });
  return answer;
}

TEST(Topics, SubscribePublishUnsubscribe) {
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/t", commands());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  for (int i = 0; i < 3; ++i) {
    peers.push_back(connect_peer(loop, server.port()));
    ASSERT_TRUE(opened(loop, *peers.back()));
  }
  peer &a = *peers[0], &b = *peers[1], &c = *peers[2];
  EXPECT_EQ(ask(loop, a, "sub news"), "=1");
  EXPECT_EQ(ask(loop, a, "sub news"), "=0");  // already
  EXPECT_EQ(ask(loop, a, "sub sport"), "=1");
  EXPECT_EQ(ask(loop, b, "sub news"), "=1");
  EXPECT_EQ(ask(loop, a, "subscribed news"), "=1");
  EXPECT_EQ(ask(loop, c, "subscribed news"), "=0");
  EXPECT_EQ(ask(loop, a, "topics"), "=news,sport");
  EXPECT_EQ(ask(loop, c, "topics"), "=");

  // From a callback (c publishes, not subscribed) and from the loop's thread.
  c.ws->send_text("pub news first");
  ASSERT_TRUE(run_until(loop, [&] { return a.got.size() == 1 && b.got.size() == 1; }));
  server.publish("sport", "second");
  ASSERT_TRUE(run_until(loop, [&] { return a.got.size() == 2; }));
  EXPECT_EQ(a.got, (std::vector<std::string>{"first", "second"}));
  EXPECT_EQ(b.got, (std::vector<std::string>{"first"}));
  EXPECT_TRUE(c.got.empty());

  EXPECT_EQ(ask(loop, a, "unsub news"), "=1");
  EXPECT_EQ(ask(loop, a, "unsub news"), "=0");
  EXPECT_EQ(ask(loop, a, "topics"), "=sport");
  server.publish("news", "third", opcode::binary);
  server.publish("sport", "fourth");
  ASSERT_TRUE(run_until(loop, [&] { return a.got.size() == 3 && b.got.size() == 2; }));
  EXPECT_EQ(a.got.back(), "fourth");  // not "third": a left news
  EXPECT_EQ(b.got.back(), "third");
}

TEST(Topics, PublishFromAForeignThreadReachesEveryLoopInOrder) {
  constexpr int clients = 16, messages = 1000;
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server;
  std::mutex mutex;
  std::set<zws::Loop*> loops;
  zws::Behavior b;
  b.on_open = [&](zws::WebSocket& ws) {
    ws.subscribe("news");
    std::lock_guard lock(mutex);
    loops.insert(&ws.loop());
  };
  server.route("/t", b);
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::thread runner([&] { server.run(2); });
  // Once the first loop runs, every loop's listener exists (run() makes them first).
  std::atomic<bool> running{false};
  server.loop().post([&] { running = true; });
  for (int i = 0; i < 500 && !running; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(running.load());
  for (int i = 0; i < clients; ++i) peers.push_back(connect_peer(loop, server.port()));
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("news") == clients; }));
  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(loops.size(), 2u) << "every connection landed on one loop (SO_REUSEPORT hashing)";
  }
  std::thread publisher([&] {
    for (int i = 0; i < messages; ++i) server.publish("news", std::to_string(i));
  });
  const bool all = run_until(loop, [&] {
    return std::all_of(peers.begin(), peers.end(), [](const auto& p) { return p->got.size() >= messages; });
  }, 10s);
  publisher.join();
  EXPECT_TRUE(all);
  for (const auto& p : peers) {
    ASSERT_EQ(p->got.size(), std::size_t{messages});
    for (int i = 0; i < messages; ++i) ASSERT_EQ(p->got[static_cast<std::size_t>(i)], std::to_string(i));
  }
  server.stop();
  run_until(loop, [&] { return std::all_of(peers.begin(), peers.end(), [](const auto& p) { return p->closed; }); });
  runner.join();
}

TEST(Topics, PublishFromACallbackCanLeaveTheSenderOut) {
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/t", commands());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  for (int i = 0; i < 2; ++i) {
    peers.push_back(connect_peer(loop, server.port()));
    ASSERT_TRUE(opened(loop, *peers.back()));
    EXPECT_EQ(ask(loop, *peers.back(), "sub room"), "=1");
  }
  peer &a = *peers[0], &b = *peers[1];
  a.ws->send_text("pubx room without me");
  a.ws->send_text("pub room with me");
  ASSERT_TRUE(run_until(loop, [&] { return a.got.size() == 1 && b.got.size() == 2; }));
  EXPECT_EQ(a.got, (std::vector<std::string>{"with me"}));
  EXPECT_EQ(b.got, (std::vector<std::string>{"without me", "with me"}));
}

TEST(Topics, CloseUnsubscribesAndAReusedSlotInheritsNothing) {
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server(loop);
  std::vector<std::size_t> topics_at_close;
  server.route("/t", commands({.on_close = [&](zws::WebSocket& ws, std::uint16_t, std::string_view) {
                                 topics_at_close.push_back(ws.topics().size());
                                 ws.publish("left", "bye");  // publishing from on_close is fine
                               }}));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  peers.push_back(connect_peer(loop, server.port()));
  peer& a = *peers.back();
  ASSERT_TRUE(opened(loop, a));
  EXPECT_EQ(ask(loop, a, "sub x"), "=1");
  EXPECT_EQ(ask(loop, a, "sub y"), "=1");
  EXPECT_EQ(server.subscribers("x"), 1u);
  a.ws->close();
  ASSERT_TRUE(run_until(loop, [&] { return a.closed && server.subscribers("x") == 0; }));
  EXPECT_EQ(server.subscribers("y"), 0u);
  EXPECT_EQ(topics_at_close, std::vector<std::size_t>{0});

  // The next connection takes the freed slot (one loop, one connection).
  run_until(loop, [] { return false; }, 50ms);
  peers.push_back(connect_peer(loop, server.port()));
  peer& b = *peers.back();
  ASSERT_TRUE(opened(loop, b));
  EXPECT_EQ(ask(loop, b, "subscribed x"), "=0");
  EXPECT_EQ(ask(loop, b, "topics"), "=");
  EXPECT_EQ(ask(loop, b, "sub mine"), "=1");
  server.publish("x", "not for b");
  server.publish("mine", "for b");  // same publisher: after x's, if x's came at all
  ASSERT_TRUE(run_until(loop, [&] { return !b.got.empty(); }));
  EXPECT_EQ(b.got, std::vector<std::string>{"for b"});
}

TEST(Topics, SubscriberCounts) {
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/t", commands());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  for (int i = 0; i < 3; ++i) {
    peers.push_back(connect_peer(loop, server.port()));
    ASSERT_TRUE(opened(loop, *peers.back()));
    ask(loop, *peers.back(), "sub a");
    if (i < 2) ask(loop, *peers.back(), "sub b");
  }
  EXPECT_EQ(server.subscribers("a"), 3u);
  EXPECT_EQ(server.subscribers("b"), 2u);
  EXPECT_EQ(server.subscribers("c"), 0u);
  ask(loop, *peers[0], "unsub a");
  EXPECT_EQ(server.subscribers("a"), 2u);
  peers[1]->ws->close();
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("b") == 1; }));
  EXPECT_EQ(server.subscribers("a"), 1u);
}

// A subscriber that stopped reading holds at most about max_backpressure under
// keep_latest or drop_new; the one that reads gets every message meanwhile.
void slow_subscriber_does_not_delay(zws::backpressure_policy policy) {
  constexpr int messages = 20'000, batch = 200;
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server(loop);
  zws::Behavior b = commands();
  b.max_backpressure = 64 << 10;
  b.on_backpressure = policy;
  server.route("/t", b);
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer slow(loop, server.port());
  ASSERT_EQ(slow.handshake("/t").rfind("HTTP/1.1 101", 0), 0u);
  slow.write(client_frame(opcode::text, "sub feed"));
  peers.push_back(connect_peer(loop, server.port()));
  peer& fast = *peers.back();
  ASSERT_TRUE(opened(loop, fast));
  EXPECT_EQ(ask(loop, fast, "sub feed"), "=1");
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == 2; }));

  const std::string pad(1000, '.');
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < messages; i += batch) {
    for (int j = i; j < i + batch; ++j) server.publish("feed", std::to_string(j) + " " + pad);
    ASSERT_TRUE(run_until(loop, [&] { return fast.got.size() == std::size_t(i + batch); }))
        << "fast subscriber stalled at " << fast.got.size();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (int i = 0; i < messages; ++i) ASSERT_TRUE(fast.got[std::size_t(i)].starts_with(std::to_string(i) + " "));
  ASSERT_FALSE(fast.closed);

  // The slow one is still connected and, once it reads, sees an ordered subset
  // (keep_latest: ending with the last message; drop_new: its start).
  std::vector<int> seen;
  while (auto f = slow.read_frame(500ms)) {
    if (f->op != opcode::text) break;
    if (f->payload.starts_with("=")) continue;  // the answer to its sub
    seen.push_back(std::stoi(f->payload.substr(0, f->payload.find(' '))));
    if (seen.back() == messages - 1) break;
  }
  ASSERT_FALSE(seen.empty());
  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
  EXPECT_LT(seen.size(), std::size_t{messages});
  if (policy == zws::backpressure_policy::keep_latest) {
    EXPECT_EQ(seen.back(), messages - 1);
  } else {
    EXPECT_EQ(seen.front(), 0);
  }
  std::printf("slow subscriber (%s): fast got %d x 1 KiB in %.2f s; slow got %zu\n",
              policy == zws::backpressure_policy::keep_latest ? "keep_latest" : "drop_new", messages, seconds,
              seen.size());
}

TEST(Topics, SlowSubscriberKeepLatestDoesNotDelayAFastOne) {
  slow_subscriber_does_not_delay(zws::backpressure_policy::keep_latest);
}

TEST(Topics, SlowSubscriberDropNewDoesNotDelayAFastOne) {
  slow_subscriber_does_not_delay(zws::backpressure_policy::drop_new);
}

// The resident memory 100,000 subscriptions add to a running server (in a child
// process): 100 connections x 1,000 topics, shared topics and distinct ones.
// The child inherits the test process's heap, whose free chunks absorb part of
// the growth: run alone (--gtest_filter=Topics.BytesPerSubscription) for the figure.
TEST(Topics, BytesPerSubscription) {
  for (const bool distinct : {false, true}) {
    child_server server([](zws::Server& s) { s.route("/t", commands()); });
    ASSERT_NE(server.port(), 0);
    std::vector<std::unique_ptr<peer>> peers;
    zws::Loop loop;
    constexpr int clients = 100, per_client = 1000;
    for (int i = 0; i < clients; ++i) peers.push_back(connect_peer(loop, server.port()));
    ASSERT_TRUE(run_until(loop, [&] {
      return std::all_of(peers.begin(), peers.end(), [](const auto& p) { return p->ws != nullptr; });
    }));
    run_until(loop, [] { return false; }, 100ms);
    const std::size_t before = server.status_kib("VmRSS");
    for (int i = 0; i < clients; ++i)
      peers[std::size_t(i)]->ws->send_text("subn " + std::to_string(per_client) + " " +
                                           std::to_string(distinct ? i * per_client : 0));
    ASSERT_TRUE(run_until(loop, [&] {
      return std::all_of(peers.begin(), peers.end(), [](const auto& p) { return !p->got.empty(); });
    }, 30s));
    const std::size_t after = server.status_kib("VmRSS");
    const double per = double(after - before) * 1024.0 / (clients * per_client);
    std::printf("100,000 subscriptions (%s): server RSS %zu -> %zu KiB, %.0f bytes per subscription\n",
                distinct ? "100,000 topics" : "1,000 topics", before, after, per);
#if !defined(__SANITIZE_ADDRESS__)  // ASan's shadow and redzones: RSS measures the sanitizer
    EXPECT_LT(per, 400.0);
#endif
  }
}

}  // namespace

// Fan-out rate: a server in a child process with 1,000 subscribers (zws clients
// in this process) publishes 1,000 messages of 16 bytes from one callback.
TEST(Topics, FanOutRate) {
  constexpr int clients = 1000, messages = 1000;
  child_server server([](zws::Server& s) {
    s.route("/t", {.on_open = [](zws::WebSocket& ws) { ws.subscribe("f"); },
                   .on_message = [](zws::WebSocket& ws, const zws::Message& m) {
                     const int n = std::stoi(std::string(m.data));
                     for (int i = 0; i < n; ++i) ws.publish("f", "0123456789abcdef", opcode::text, false);
                   }});
  });
  ASSERT_NE(server.port(), 0);
  zws::Loop loop;
  std::size_t got = 0;
  int open = 0;
  zws::WebSocket* publisher = nullptr;
  for (int i = 0; i < clients + 1; ++i) {
    zws::Behavior b;
    b.on_open = [&](zws::WebSocket& ws) {
      ++open;
      publisher = &ws;
    };
    b.on_message = [&](zws::WebSocket&, const zws::Message&) { ++got; };
    zws::connect(loop, url(server.port(), "/t"), b);
  }
  ASSERT_TRUE(run_until(loop, [&] { return open == clients + 1; }, 20s));
  run_until(loop, [] { return false; }, 100ms);
  const auto start = std::chrono::steady_clock::now();
  publisher->send_text(std::to_string(messages));
  const std::size_t want = std::size_t{clients} * messages;
  ASSERT_TRUE(run_until(loop, [&] { return got >= want; }, 60s)) << got;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("fan-out: %d subscribers x %d messages of 16 B: %.2f s, %.2f M deliveries/s (receivers in the same box)\n",
              clients, messages, seconds, double(want) / seconds / 1e6);
}
