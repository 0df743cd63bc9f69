// What hostile or slow peers cost a server under its default limits, measured
// as the resident memory of a zws server running in a child process.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;

// ASan's quarantine keeps freed memory resident and its shadow grows with the
// heap, so resident memory measures the sanitizer there: the sanitized build
// checks the behaviour, the plain build the bounds.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_is_meaningful = false;
#else
constexpr bool rss_is_meaningful = true;
#endif

// A blocking socket that has sent its upgrade and read the 101 answer.
int upgraded_socket(std::uint16_t port, int rcvbuf = 0) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (rcvbuf != 0) ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const std::string req = upgrade_request("/");
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool read_head(int fd) {
  std::string got;
  char c;
  while (got.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) got += c;
  return got.starts_with("HTTP/1.1 101");
}

// RFC 6455 §5.5.3: with earlier pongs still unsent, answering only the most
// recent ping is enough. A peer that pings and never reads costs one queued
// pong, not one per ping (before: ~45 MiB for this flood, under default limits).
TEST(Memory, PingFloodFromAPeerThatNeverReadsCostsNothing) {
  child_server server([](zws::Server& s) {
    s.route("/", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); }});
  });
  ASSERT_NE(server.port(), 0);
  int fd = upgraded_socket(server.port());
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(read_head(fd));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::size_t before = server.status_kib("VmRSS");

  // 200,000 pings of 125 bytes, sent in batches of 500; the last one differs.
  std::string batch;
  for (int i = 0; i < 500; ++i) batch += client_frame(zws::opcode::ping, std::string(125, 'p'));
  for (int i = 0; i < 400; ++i)
    ASSERT_EQ(::send(fd, batch.data(), batch.size(), MSG_NOSIGNAL), static_cast<ssize_t>(batch.size()));
  const std::string last(125, 'z');
  const std::string last_frame = client_frame(zws::opcode::ping, last);
  ASSERT_EQ(::send(fd, last_frame.data(), last_frame.size(), MSG_NOSIGNAL), static_cast<ssize_t>(last_frame.size()));
  // The server has read everything once a sentinel round trip... cannot be read
  // back without reading the pongs, so give it time to drain its socket.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const std::size_t after = server.status_kib("VmRSS");
  const std::size_t growth_kib = after > before ? after - before : 0;
  std::printf("ping flood: server RSS %zu -> %zu KiB (+%zu KiB)\n", before, after, growth_kib);
  if (rss_is_meaningful) {
    EXPECT_LT(growth_kib, 1024u);
  }

  // A peer that reads now still gets a pong for its last ping, and the
  // connection is open: an echo comes back after the pongs.
  const std::string hello = client_frame(zws::opcode::text, "still here");
  ASSERT_EQ(::send(fd, hello.data(), hello.size(), MSG_NOSIGNAL), static_cast<ssize_t>(hello.size()));
  zws::Loop loop;
  raw_peer peer(loop, ::dup(fd), 0);
  ::close(fd);
  bool saw_last = false, saw_echo = false;
  std::size_t pongs = 0;
  while (!saw_echo) {
    auto f = peer.read_frame(std::chrono::milliseconds(10000));
    if (!f) break;
    if (f->op == zws::opcode::pong) {
      ++pongs;
      saw_last = saw_last || f->payload == last;
    } else if (f->op == zws::opcode::text) {
      saw_echo = f->payload == "still here";
    }
  }
  std::printf("ping flood: %zu pongs for 200,001 pings\n", pongs);
  EXPECT_TRUE(saw_last);
  EXPECT_TRUE(saw_echo);
  EXPECT_LT(pongs, 200001u);
}

// 2,000 peers that never read are each sent a 1 MiB message: the server-wide
// cap (Server::default_max_backpressure_total, 256 MiB) bounds what they pin,
// shedding the largest queues first; peers that read get every message.
TEST(Memory, SlowReadersStayInsideTheServerWideBudget) {
  constexpr std::size_t message = std::size_t{1} << 20;
  const int slow_peers = std::getenv("SLOW_PEERS") ? std::atoi(std::getenv("SLOW_PEERS")) : 2000;
  child_server server([](zws::Server& s) {
    s.route("/", {.on_open = [](zws::WebSocket& ws) {
      std::string m(message, 'm');
      for (std::size_t i = 0; i < m.size(); i += 4096) m[i] = static_cast<char>('a' + (i / 4096) % 26);
      ws.send_binary(m);
    }});
  });
  ASSERT_NE(server.port(), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const std::size_t before = server.status_kib("VmRSS");

  std::vector<int> slow;
  for (int i = 0; i < slow_peers; ++i) {
    int fd = upgraded_socket(server.port(), 4096);
    ASSERT_GE(fd, 0) << "connection " << i;
    slow.push_back(fd);
    ASSERT_TRUE(read_head(fd)) << "connection " << i;  // and nothing after it
  }
  // Readers, connected while the slow ones pin what they can.
  zws::Loop loop;
  int good = 0, closed = 0;
  for (int i = 0; i < 10; ++i) {
    zws::connect(loop, url(server.port()), {
        .on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
          bool ok = m.data.size() == message;
          for (std::size_t j = 0; ok && j < m.data.size(); j += 4096)
            ok = m.data[j] == static_cast<char>('a' + (j / 4096) % 26);
          good += ok ? 1 : 0;
          ws.close();
        },
        .on_close = [&](zws::WebSocket&, std::uint16_t, std::string_view) { ++closed; },
        .on_error = [&](std::string_view why) { ADD_FAILURE() << why; ++closed; },
    });
  }
  EXPECT_TRUE(run_until(loop, [&] { return closed == 10; }, std::chrono::milliseconds(30000)));
  EXPECT_EQ(good, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::size_t peak = server.status_kib("VmHWM");
  const std::size_t now = server.status_kib("VmRSS");
  for (int fd : slow) ::close(fd);
  // The stated budget: 256 MiB of queued output plus 16 MiB for 2,000
  // connections and the loop's buffers.
  const std::size_t budget_kib = (256 + 16) * 1024;
  std::printf("2,000 slow readers x 1 MiB: server RSS %zu KiB before, %zu now, peak %zu (budget %zu)\n", before,
              now, peak, before + budget_kib);
  if (rss_is_meaningful) {
    EXPECT_LT(peak, before + budget_kib);
  }
}

}  // namespace
