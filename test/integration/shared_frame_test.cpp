// Shared frames in connections' output queues (lib/endpoint/shared_frame.hpp): a
// publish that subscribers cannot take at once is held once, not once per
// subscriber; order holds when owned bytes and shared frames interleave; writes
// cut at any point resume where they stopped; TLS subscribers; the backpressure
// policies and on_drain with shared frames queued.
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "endpoint/shared_frame.hpp"
#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;
using zws::detail::frame_ref;

// A connected TCP socket to 127.0.0.1:port whose receive buffer is `rcvbuf`
// (set before connect, so the window stays small), or -1.
int small_socket(std::uint16_t port, int rcvbuf) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// A client socket to `server` whose server side has a 4 KiB SO_SNDBUF, so the
// kernel takes little and the rest waits in the server's queue: accepted by
// `relay` (pumping `loop`), shrunk, and handed to server.adopt. -1 on failure.
int adopted_socket(zws::Loop& loop, zws::Server& server, raw_server& relay) {
  const int client = small_socket(relay.port(), 4096);
  if (client < 0) return -1;
  const int accepted = relay.accept(loop);
  const int sndbuf = 4096;
  if (accepted < 0 || ::setsockopt(accepted, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) != 0 ||
      server.adopt(accepted)) {
    ::close(client);
    return -1;
  }
  return client;
}

// `count` upgraded peers on adopted_socket()s that read nothing; fewer on failure.
std::vector<std::unique_ptr<raw_peer>> stalled_peers(zws::Loop& loop, zws::Server& server, raw_server& relay,
                                                     int count) {
  std::vector<std::unique_ptr<raw_peer>> peers;
  for (int i = 0; i < count; ++i) {
    const int fd = adopted_socket(loop, server, relay);
    if (fd < 0) break;
    peers.push_back(std::make_unique<raw_peer>(loop, fd, 0));
    if (peers.back()->handshake("/").rfind("HTTP/1.1 101", 0) != 0) {
      peers.pop_back();
      break;
    }
  }
  return peers;
}

// A message whose every 4 KiB block says where it is, so a byte out of place shows.
std::string patterned(std::size_t n, char seed) {
  std::string m(n, seed);
  for (std::size_t i = 0; i < n; i += 4096) m[i] = static_cast<char>('a' + (i / 4096 + std::size_t(seed)) % 26);
  return m;
}

// Heap in use: small chunks and mmapped ones (large buffers are mmapped).
std::size_t heap_in_use() {
  const auto m = mallinfo2();
  return m.uordblks + m.hblkhd;
}

// Subscribes every connection to "feed" on open and keeps them.
struct feed_route {
  std::vector<zws::WebSocket*> open;
  int drains = 0;
  std::vector<std::uint16_t> close_codes;
  zws::Behavior behavior(std::size_t max_backpressure = std::size_t{1} << 20,
                         zws::backpressure_policy policy = zws::backpressure_policy::close) {
    zws::Behavior b;
    b.max_backpressure = max_backpressure;
    b.on_backpressure = policy;
    b.on_open = [this](zws::WebSocket& ws) {
      ws.subscribe("feed");
      open.push_back(&ws);
    };
    b.on_drain = [this](zws::WebSocket&) { ++drains; };
    b.on_close = [this](zws::WebSocket& ws, std::uint16_t code, std::string_view) {
      close_codes.push_back(code);
      std::erase(open, &ws);
    };
    return b;
  }
};

TEST(SharedFrame, SixteenSlowSubscribersOfOneMiBHoldOneCopy) {
  constexpr int subscribers = 16;
  constexpr std::size_t size = std::size_t{1} << 20;
  zws::Loop loop;
  zws::Server server(loop);
  feed_route feed;
  server.route("/", feed.behavior(std::size_t{4} << 20));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_server relay;
  std::vector<std::unique_ptr<raw_peer>> peers;
  for (int i = 0; i < subscribers; ++i) {
    const int fd = adopted_socket(loop, server, relay);
    ASSERT_GE(fd, 0);
    peers.push_back(std::make_unique<raw_peer>(loop, fd, 0));
    ASSERT_EQ(peers.back()->handshake("/").rfind("HTTP/1.1 101", 0), 0u);
  }
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == subscribers; }));
  const std::string message = patterned(size, 'x');
  run_until(loop, [] { return false; }, 50ms);

  const std::size_t heap_before = heap_in_use();
  const std::size_t frames_before = frame_ref::live_frames();
  server.publish("feed", message, opcode::binary);
  run_until(loop, [] { return false; }, 100ms);  // the kernel takes what it takes
  std::size_t queued = 0;
  for (zws::WebSocket* ws : feed.open) queued += ws->buffered_amount();
  const std::size_t heap_after = heap_in_use();
  const std::size_t shared = frame_ref::live_bytes();
  std::printf("16 slow subscribers x 1 MiB publish: %zu bytes queued over all, %zu frame(s) / %zu bytes shared, "
              "heap +%zu KiB\n",
              queued, frame_ref::live_frames() - frames_before, shared,
              (heap_after - std::min(heap_after, heap_before)) / 1024);
  EXPECT_GT(queued, std::size_t{15} << 20) << "the subscribers were meant to be slow";
  EXPECT_EQ(frame_ref::live_frames() - frames_before, 1u);
  EXPECT_LE(shared, size + 16);
#if !defined(__SANITIZE_ADDRESS__)  // ASan's allocator: mallinfo2 does not see its heap
  EXPECT_LT(heap_after - std::min(heap_after, heap_before), std::size_t{2} << 20);
#endif

  // Every subscriber then reads the whole message, intact, and drains.
  for (auto& p : peers) {
    auto f = p->read_frame(10000ms);
    ASSERT_TRUE(f);
    EXPECT_EQ(f->op, opcode::binary);
    EXPECT_TRUE(f->payload == message);
  }
  ASSERT_TRUE(run_until(loop, [&] { return feed.drains == subscribers; })) << feed.drains << " drains";
  EXPECT_EQ(frame_ref::live_frames(), frames_before);
}

// One connection gets, in this order, owned bytes (send), shared frames
// (publish), a ping and more of each, behind a frame it is still sending: what
// it reads is exactly that order. Its socket's send buffer is small and the
// peer reads in odd sizes, so writes stop at many different offsets.
TEST(SharedFrame, OwnedBytesSharedFramesAndPingsKeepTheirOrder) {
  zws::Loop loop;
  zws::Server server(loop);
  feed_route feed;
  server.route("/", feed.behavior(std::size_t{64} << 20));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_server relay;
  const int client = adopted_socket(loop, server, relay);
  ASSERT_GE(client, 0);
  raw_peer peer(loop, client, 0);
  ASSERT_EQ(peer.handshake("/").rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_TRUE(run_until(loop, [&] { return feed.open.size() == 1; }));
  zws::WebSocket& ws = *feed.open[0];

  struct expected {
    opcode op;
    std::string payload;
  };
  std::vector<expected> want;
  auto send = [&](std::string m) {
    ws.send_binary(m);
    want.push_back({opcode::binary, std::move(m)});
  };
  auto publish = [&](std::string m) {
    server.publish("feed", m, opcode::text);
    want.push_back({opcode::text, std::move(m)});
  };
  auto ping = [&](std::string m) {
    ws.ping(m);
    want.push_back({opcode::ping, std::move(m)});
  };
  // Tiny frames into an empty queue: the first is held alone, the next joins it in one buffer.
  publish("p");
  publish("qq");
  send("rrr");
  publish("ssss");
  for (int round = 0; round < 6; ++round) {
    const char c = static_cast<char>('a' + round);
    send(patterned(std::size_t{40} << 10, c));  // large: straight to the socket, the rest owned
    publish(patterned(std::size_t{100} << 10, c));
    ping(std::string(1 + round, c));
    publish(std::string(300 + round, c));
    send(std::string(70 + round, c));
    publish(std::string(10 + round, c));        // tiny: copied
    publish(patterned(std::size_t{17} << 10, c));
    ping(std::string(5, c));
  }
  std::size_t i = 0;
  std::size_t chunk = 1;
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (i < want.size()) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << "stalled after " << i << " of " << want.size() << " frames; " << got.size() << " bytes unparsed, "
        << ws.buffered_amount() << " queued";
    // Odd read sizes: the server's writes resume at ever different offsets.
    char buf[1000];
    const ssize_t n = ::recv(peer.fd(), buf, chunk, MSG_DONTWAIT);
    if (n > 0) got.append(buf, static_cast<std::size_t>(n));
    chunk = chunk % 997 + 1;
    loop.run_once(0ms);
    for (;;) {
      zws::frame_header h;
      const std::size_t hs = zws::decode_header({reinterpret_cast<const std::uint8_t*>(got.data()), got.size()}, h);
      if (i == want.size() || hs == 0 || got.size() < hs + h.payload_length) break;
      const std::string payload = got.substr(hs, h.payload_length);
      got.erase(0, hs + h.payload_length);
      ASSERT_EQ(static_cast<opcode>(h.op), want[i].op) << "frame " << i;
      ASSERT_TRUE(payload == want[i].payload) << "frame " << i << " (" << payload.size() << " bytes, want "
                                              << want[i].payload.size() << ")";
      ++i;
    }
    ASSERT_FALSE(feed.open.empty()) << "closed after " << i << " frames";
  }
  EXPECT_TRUE(got.empty());
  ASSERT_TRUE(run_until(loop, [&] { return ws.buffered_amount() == 0; }));
  EXPECT_GE(feed.drains, 1);
  EXPECT_EQ(frame_ref::live_frames(), 0u);
}

// Under close, a subscriber that stops reading is closed with 1008 once its
// share of the queued frames passes max_backpressure; the reading one gets all.
TEST(SharedFrame, ClosePolicyClosesTheSlowSubscriberOnly) {
  zws::Loop loop;
  zws::Server server(loop);
  feed_route feed;
  server.route("/", feed.behavior(std::size_t{64} << 10, zws::backpressure_policy::close));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_server relay;
  raw_peer slow(loop, adopted_socket(loop, server, relay), 0);
  ASSERT_EQ(slow.handshake("/").rfind("HTTP/1.1 101", 0), 0u);
  raw_peer fast(loop, server.port());
  ASSERT_EQ(fast.handshake("/").rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == 2; }));
  constexpr int messages = 200;
  int got = 0;
  for (int i = 0; i < messages; ++i) {
    server.publish("feed", std::to_string(i) + " " + std::string(10 << 10, '.'));
    loop.run_once(0ms);
    while (auto f = fast.read_frame(1ms)) {
      ASSERT_TRUE(f->payload.starts_with(std::to_string(got) + " "));
      ++got;
    }
  }
  while (got < messages) {
    auto f = fast.read_frame(5000ms);
    ASSERT_TRUE(f);
    ASSERT_TRUE(f->payload.starts_with(std::to_string(got) + " "));
    ++got;
  }
  ASSERT_TRUE(run_until(loop, [&] { return feed.close_codes.size() == 1; }));
  EXPECT_EQ(feed.close_codes[0], 1008);
  // The slow one reads an ordered prefix, then the Close.
  int seen = 0;
  for (;;) {
    auto f = slow.read_frame(5000ms);
    ASSERT_TRUE(f);
    if (f->op == opcode::close) {
      ASSERT_GE(f->payload.size(), 2u);
      EXPECT_EQ((std::uint8_t(f->payload[0]) << 8) | std::uint8_t(f->payload[1]), 1008);
      break;
    }
    ASSERT_TRUE(f->payload.starts_with(std::to_string(seen) + " "));
    ++seen;
  }
  EXPECT_LT(seen, messages);
  loop.run_once(10ms);
  EXPECT_EQ(frame_ref::live_frames(), 0u);
}


// keep_latest and drop_new over shared frames: eight subscribers that stop reading
// and one that reads, 300 publishes of 10 KiB. The slow ones hold references to
// the same frames (the live frames stay within one backpressure window plus the
// frame each has on its way, not eight windows), the reading one gets everything,
// and each slow one then reads an ordered, intact subset: under keep_latest one
// that ends with the last publish, under drop_new a run from the first. A frame
// already on its way is never dropped (a byte out of place would show).
void slow_subscribers_share(zws::backpressure_policy policy) {
  constexpr int slow_count = 8, messages = 300;
  constexpr std::size_t size = std::size_t{10} << 10, limit = std::size_t{64} << 10;
  zws::Loop loop;
  zws::Server server(loop);
  feed_route feed;
  server.route("/", feed.behavior(limit, policy));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_server relay;
  auto slow = stalled_peers(loop, server, relay, slow_count);
  ASSERT_EQ(slow.size(), std::size_t{slow_count});
  raw_peer fast(loop, server.port());
  ASSERT_EQ(fast.handshake("/").rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == slow_count + 1; }));
  auto message = [](int i) { return std::to_string(i) + " " + patterned(size, static_cast<char>('a' + i % 26)); };

  const std::size_t frames_before = frame_ref::live_frames();
  const std::size_t heap_before = heap_in_use();
  std::size_t most_frames = 0, most_bytes = 0, most_heap = 0;
  int got = 0;
  for (int i = 0; i < messages; ++i) {
    server.publish("feed", message(i), opcode::binary);
    loop.run_once(0ms);
    most_frames = std::max(most_frames, frame_ref::live_frames() - frames_before);
    most_bytes = std::max(most_bytes, frame_ref::live_bytes());
    most_heap = std::max(most_heap, heap_in_use() - std::min(heap_in_use(), heap_before));
    while (auto f = fast.read_frame(1ms)) {
      ASSERT_TRUE(f->payload == message(got)) << "fast subscriber, message " << got;
      ++got;
    }
  }
  while (got < messages) {
    auto f = fast.read_frame(5000ms);
    ASSERT_TRUE(f) << "fast subscriber stalled at " << got;
    ASSERT_TRUE(f->payload == message(got)) << "fast subscriber, message " << got;
    ++got;
  }
  for (zws::WebSocket* ws : feed.open) EXPECT_LE(ws->buffered_amount(), limit + size + 16);
  std::printf("%d slow subscribers (%s), %d x 10 KiB: at most %zu frames / %zu bytes shared, heap +%zu KiB\n",
              slow_count, policy == zws::backpressure_policy::keep_latest ? "keep_latest" : "drop_new", messages,
              most_frames, most_bytes, most_heap / 1024);
  // One window of frames plus the one each slow subscriber has on its way.
  EXPECT_GT(most_frames, 0u) << "10 KiB publishes were meant to be queued as shared frames";
  EXPECT_LE(most_frames, limit / size + 2 + slow_count);
  EXPECT_LE(most_bytes, (limit / size + 2 + slow_count) * (size + 16));
#if !defined(__SANITIZE_ADDRESS__)  // ASan's allocator: mallinfo2 does not see its heap
  // A copy per subscriber would be eight windows (over 512 KiB).
  EXPECT_LT(most_heap, std::size_t{256} << 10);
#endif
  EXPECT_TRUE(feed.close_codes.empty());

  for (auto& p : slow) {
    std::vector<int> seen;
    while (auto f = p->read_frame(seen.empty() ? 5000ms : 150ms)) {
      ASSERT_EQ(f->op, opcode::binary);
      const int n = std::stoi(f->payload.substr(0, f->payload.find(' ')));
      ASSERT_TRUE(f->payload == message(n)) << "slow subscriber, message " << n;
      ASSERT_TRUE(seen.empty() || n > seen.back());
      seen.push_back(n);
      if (n == messages - 1) break;
    }
    ASSERT_FALSE(seen.empty());
    EXPECT_LT(seen.size(), std::size_t{messages});
    if (policy == zws::backpressure_policy::keep_latest) {
      EXPECT_EQ(seen.back(), messages - 1);
    } else {
      EXPECT_EQ(seen.front(), 0);
      EXPECT_EQ(seen.back(), static_cast<int>(seen.size()) - 1) << "drop_new keeps a run from the first";
    }
  }
  ASSERT_TRUE(run_until(loop, [&] { return frame_ref::live_frames() == frames_before; }));
}

TEST(SharedFrame, KeepLatestSlowSubscribersShareTheirFrames) {
  slow_subscribers_share(zws::backpressure_policy::keep_latest);
}

TEST(SharedFrame, DropNewSlowSubscribersShareTheirFrames) {
  slow_subscribers_share(zws::backpressure_policy::drop_new);
}

// The server-wide cap counts what subscribers that stopped reading hold of
// publishes, a lone frame the kernel refused included: past it the largest
// queues are shed (1008), while a subscriber that reads gets every message.
TEST(SharedFrame, SlowSubscribersCountAgainstTheServerWideCap) {
  constexpr int slow_count = 12, messages = 8;
  constexpr std::size_t size = std::size_t{1} << 20;
  zws::Loop loop;
  zws::Server server(loop);
  server.max_backpressure_total(std::size_t{4} << 20);
  feed_route feed;
  server.route("/", feed.behavior(std::size_t{64} << 20));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_server relay;
  auto slow = stalled_peers(loop, server, relay, slow_count);
  ASSERT_EQ(slow.size(), std::size_t{slow_count});
  raw_peer fast(loop, server.port());
  ASSERT_EQ(fast.handshake("/").rfind("HTTP/1.1 101", 0), 0u);
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == slow_count + 1; }));
  int got = 0;
  for (int i = 0; i < messages; ++i) {
    server.publish("feed", std::to_string(i) + " " + patterned(size, 'p'), opcode::binary);
    loop.run_once(0ms);
    while (auto f = fast.read_frame(got < i ? 2000ms : 1ms)) {
      ASSERT_TRUE(f->payload.starts_with(std::to_string(got) + " ")) << "fast subscriber, message " << got;
      ++got;
    }
  }
  while (got < messages) {
    auto f = fast.read_frame(5000ms);
    ASSERT_TRUE(f) << "fast subscriber stalled at " << got;
    ASSERT_TRUE(f->payload.starts_with(std::to_string(got) + " "));
    ++got;
  }
  // 12 subscribers x up to 8 MiB counted against 4 MiB: most are shed.
  ASSERT_TRUE(run_until(loop, [&] { return feed.close_codes.size() >= slow_count - 4; }))
      << feed.close_codes.size() << " shed";
  for (std::uint16_t code : feed.close_codes) EXPECT_EQ(code, 1008);
  std::size_t queued = 0;
  for (zws::WebSocket* ws : feed.open) queued += ws->buffered_amount();
  EXPECT_LE(queued, std::size_t{8} << 20) << "what the survivors still hold";
}

}  // namespace
