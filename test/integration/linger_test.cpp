// Lingering close: a connection the server fails while the peer is still
// sending must not be reset under the peer's feet, the server's FIN must not
// overtake the peer's Close reply (a proxy would tear the client down on it),
// and once the close handshake is over the server lets go of the socket at once.
#include <dirent.h>
#include <gtest/gtest.h>
#include <poll.h>

#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using clk = std::chrono::steady_clock;
using namespace std::chrono_literals;

// A blocking TCP connection to 127.0.0.1:port that has done the upgrade.
int upgraded_socket(std::uint16_t port) {
  int fd = connect_loopback(port);
  if (fd < 0) return -1;
  const std::string req = upgrade_request();
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) {
    ::close(fd);
    return -1;
  }
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
  if (head.rfind("HTTP/1.1 101", 0) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// What the peer got back after flooding: the close code, or -errno.
int flood_then_read_close(int fd, std::chrono::milliseconds flood) {
  // Header of a 64 MiB masked binary frame, then masked zero payload (any bytes do).
  std::string head = client_frame(zws::opcode::binary, "", true);
  head[1] = static_cast<char>(0x80 | 127);
  std::string len(8, '\0');
  len[4] = 0x04;  // 64 MiB
  head.insert(2, len);
  ::send(fd, head.data(), head.size(), MSG_NOSIGNAL);
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  static char chunk[64 * 1024];
  auto end = clk::now() + flood;
  while (clk::now() < end) {
    ssize_t n = ::send(fd, chunk, sizeof chunk, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) break;  // EPIPE or a reset: the reading tells which
    if (n < 0) {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 1);
    }
  }
  std::string got;
  auto limit = clk::now() + 5s;
  while (clk::now() < limit) {
    char buf[4096];
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      got.append(buf, static_cast<std::size_t>(n));
      if (got.size() >= 4) break;
      continue;
    }
    if (n == 0) break;
    if (errno != EAGAIN) return -errno;
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, 10);
  }
  if (got.size() < 4 || (static_cast<std::uint8_t>(got[0]) & 0x0F) != 0x8) return 0;
  return close_code_of_payload(got.substr(2));
}

TEST(Linger, PeerStillSendingReadsOurCloseInsteadOfAReset) {
  zws::Server server;
  server.route("/", {.max_message_size = 4096, .close_timeout = 2000ms});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::thread t([&] { server.run(); });
  for (int i = 0; i < 20; ++i) {
    int fd = upgraded_socket(server.port());
    ASSERT_GE(fd, 0);
    int got = flood_then_read_close(fd, 30ms);
    ::close(fd);
    EXPECT_EQ(got, 1009) << "round " << i << (got < 0 ? ": " + std::string(std::strerror(-got)) : "");
  }
  server.stop();
  t.join();
}

// Descriptors open in this process (the server under test lives here too).
int open_fds() {
  int n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d) != nullptr) ++n;
    ::closedir(d);
  }
  return n;
}

struct linger_fixture : ::testing::Test {
  std::vector<std::uint16_t> closes;
  zws::Loop loop;
  zws::Server server{loop};

  void listen(std::chrono::milliseconds close_timeout) {
    server.route("/", {
        .on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); },
        .on_close = [this](zws::WebSocket&, std::uint16_t c, std::string_view) { closes.push_back(c); },
        .max_message_size = 4096,
        .close_timeout = close_timeout,
    });
    ASSERT_FALSE(server.listen("127.0.0.1", 0));
  }
  bool fds_back_to(int n, std::chrono::milliseconds limit) {
    return run_until(loop, [&] { return open_fds() <= n; }, limit);
  }
};

TEST_F(linger_fixture, NoFinBeforeThePeersCloseReplyThenTheSocketGoesAtOnce) {
  listen(5000ms);
  const int before = open_fds();
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake().find(" 101 "), std::string::npos);
  ASSERT_TRUE(p.write(client_frame(zws::opcode::binary, std::string(5000, 'x'))));
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  ASSERT_EQ(f->op, zws::opcode::close);
  EXPECT_EQ(close_code_of_payload(f->payload), 1009);
  // A proxy that saw our FIN now could reset the client while it answers.
  p.read_until([](const std::string&) { return false; }, 100ms);
  EXPECT_FALSE(p.eof()) << "FIN sent before the peer could answer the Close";
  ASSERT_TRUE(p.write(client_frame(zws::opcode::close, std::string("\x03\xf1", 2))));
  EXPECT_TRUE(p.wait_eof(2000ms));
  EXPECT_TRUE(fds_back_to(before + 1, 1000ms)) << "socket held after the close handshake";
  ASSERT_EQ(closes.size(), 1u);
  EXPECT_EQ(closes[0], 1009);
}

TEST_F(linger_fixture, APeerThatNeverAnswersGetsAFinSoonAndItsEofEndsIt) {
  listen(5000ms);
  const int before = open_fds();
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake().find(" 101 "), std::string::npos);
  ASSERT_TRUE(p.write(client_frame(zws::opcode::text, "\xff")));
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(close_code_of_payload(f->payload), 1007);
  auto start = clk::now();
  EXPECT_TRUE(p.wait_eof(3000ms));
  EXPECT_LT(clk::now() - start, 2000ms);
  ::shutdown(p.fd(), SHUT_WR);
  EXPECT_TRUE(fds_back_to(before + 1, 1000ms)) << "socket held after the peer's EOF";
}

TEST_F(linger_fixture, ServerClosesRightAfterEchoingThePeersClose) {
  listen(5000ms);
  const int before = open_fds();
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake().find(" 101 "), std::string::npos);
  ASSERT_TRUE(p.write(client_frame(zws::opcode::close, std::string("\x03\xe8", 2))));
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(close_code_of_payload(f->payload), 1000);
  EXPECT_TRUE(p.wait_eof(2000ms));
  // The peer keeps its side open: the server must not wait for it.
  EXPECT_TRUE(fds_back_to(before + 1, 1000ms)) << "server waited for the client's EOF";
}

TEST_F(linger_fixture, DataAndFinInOneWakeAreBothSeen) {
  listen(5000ms);
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake().find(" 101 "), std::string::npos);
  // Frame and FIN before the server wakes: one edge reports both, and the read
  // that returns the frame returns less than asked.
  std::string frame = client_frame(zws::opcode::text, "last words");
  ASSERT_EQ(::send(p.fd(), frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
  ASSERT_EQ(::shutdown(p.fd(), SHUT_WR), 0);
  ::usleep(20'000);
  ASSERT_TRUE(run_until(loop, [&] { return !closes.empty(); }, 1000ms)) << "EOF missed";
  EXPECT_EQ(closes[0], 1006);
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "last words");
}

TEST_F(linger_fixture, DiscardingIsBoundedByABudgetNotOnlyByTime) {
  listen(20'000ms);
  raw_peer p(loop, server.port());
  ASSERT_NE(p.handshake().find(" 101 "), std::string::npos);
  std::string head = client_frame(zws::opcode::binary, "");
  head[1] = static_cast<char>(0x80 | 127);
  head.insert(2, std::string("\0\0\0\x01\0\0\0\0", 8));  // 4 GiB declared
  ASSERT_TRUE(p.write(head));
  static char chunk[256 * 1024];
  std::uint64_t sent = 0;
  auto end = clk::now() + 10s;
  bool cut = false;
  while (!cut && clk::now() < end) {
    ssize_t n = ::send(p.fd(), chunk, sizeof chunk, MSG_NOSIGNAL);
    if (n > 0) sent += static_cast<std::uint64_t>(n);
    if (n < 0 && errno != EAGAIN) cut = true;
    loop.run_once(0ms);
  }
  EXPECT_TRUE(cut) << "still discarding after " << (sent >> 20) << " MiB";
  EXPECT_GE(sent, std::uint64_t{32} << 20);
}

}  // namespace
