#include "io/net.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace {

namespace net = zws::detail::net;

int listen_any(const char* host, std::uint16_t port, net::address& bound) {
  net::address a;
  EXPECT_TRUE(net::parse_numeric(host, port, a));
  const char* what = "";
  int fd = net::listen_on(a, true, 128, &what);
  if (fd >= 0) {
    EXPECT_EQ(net::local_address(fd, bound), 0);
  }
  return fd;
}

// A blocking connect is fine in a test: loopback completes at once.
int connect_blocking(const net::address& a) {
  int fd = ::socket(a.family(), SOCK_STREAM, 0);
  if (fd < 0) return -errno;
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length) < 0) {
    int e = -errno;
    ::close(fd);
    return e;
  }
  return fd;
}

TEST(Net, ListenOnPortZeroPicksAPort) {
  net::address bound;
  int fd = listen_any("127.0.0.1", 0, bound);
  ASSERT_GE(fd, 0);
  EXPECT_NE(bound.port(), 0);
  EXPECT_EQ(bound.to_string().rfind("127.0.0.1:", 0), 0u);
  ::close(fd);
}

TEST(Net, ListensAndAcceptsOnIpv6Loopback) {
  net::address bound;
  int fd = listen_any("::1", 0, bound);
  if (fd == -EADDRNOTAVAIL || fd == -EAFNOSUPPORT) GTEST_SKIP() << "no IPv6 loopback";
  ASSERT_GE(fd, 0);
  EXPECT_EQ(bound.family(), AF_INET6);
  EXPECT_EQ(bound.to_string().rfind("[::1]:", 0), 0u);
  int c = connect_blocking(bound);
  ASSERT_GE(c, 0);
  net::address peer;
  int s = net::accept(fd, &peer);
  ASSERT_GE(s, 0);
  EXPECT_EQ(peer.family(), AF_INET6);
  EXPECT_EQ(net::set_nodelay(s), 0);
  EXPECT_EQ(net::send(c, "hi", 2), 2);
  char buf[4];
  EXPECT_EQ(net::recv(s, buf, sizeof buf), 2);
  ::close(c);
  ::close(s);
  ::close(fd);
}

TEST(Net, AddressInUseHasAReadableMessage) {
  net::address bound;
  int first = listen_any("127.0.0.1", 0, bound);
  ASSERT_GE(first, 0);
  const char* what = "";
  // Without SO_REUSEPORT on the second socket the kernel refuses the port.
  int second = net::listen_on(bound, false, 16, &what);
  EXPECT_EQ(second, -EADDRINUSE);
  EXPECT_EQ(net::describe_failure(what, bound, second),
            "bind 127.0.0.1:" + std::to_string(bound.port()) + ": Address already in use");
  ::close(first);
}

TEST(Net, ReusePortAllowsTwoListeners) {
  net::address bound;
  int first = listen_any("127.0.0.1", 0, bound);
  ASSERT_GE(first, 0);
  const char* what = "";
  int second = net::listen_on(bound, true, 16, &what);
  EXPECT_GE(second, 0);
  ::close(second);
  ::close(first);
}

TEST(Net, AcceptReportsEmfileAndRecovers) {
  net::address bound;
  int lfd = listen_any("127.0.0.1", 0, bound);
  ASSERT_GE(lfd, 0);
  int c1 = connect_blocking(bound);
  int c2 = connect_blocking(bound);
  ASSERT_GE(c1, 0);
  ASSERT_GE(c2, 0);
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // Use up every descriptor below a tight limit.
  int top = ::dup(0);
  ASSERT_GE(top, 0);
  ::close(top);
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(top + 1);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  int filler = ::dup(0);
  EXPECT_EQ(net::accept(lfd, nullptr), -EMFILE);
  ::close(filler);
  int s1 = net::accept(lfd, nullptr);
  EXPECT_GE(s1, 0);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  int s2 = net::accept(lfd, nullptr);
  EXPECT_GE(s2, 0);
  EXPECT_EQ(net::accept(lfd, nullptr), -EAGAIN);
  for (int fd : {c1, c2, s1, s2, lfd}) ::close(fd);
}

TEST(Net, ConnectToClosedPortFailsWithRefused) {
  net::address bound;
  int lfd = listen_any("127.0.0.1", 0, bound);
  ASSERT_GE(lfd, 0);
  ::close(lfd);
  int fd = net::connect_to(bound);
  if (fd < 0) {
    EXPECT_EQ(fd, -ECONNREFUSED);
    return;
  }
  // In progress: the error shows up in SO_ERROR once the socket is writable.
  fd_set w;
  FD_ZERO(&w);
  FD_SET(fd, &w);
  timeval tv{2, 0};
  ASSERT_EQ(::select(fd + 1, nullptr, &w, nullptr, &tv), 1);
  EXPECT_EQ(net::socket_error(fd), ECONNREFUSED);
  ::close(fd);
}

TEST(Net, ParsesNumericHostsWithoutLookup) {
  net::address a;
  EXPECT_TRUE(net::parse_numeric("[::1]", 80, a));
  EXPECT_EQ(a.to_string(), "[::1]:80");
  EXPECT_TRUE(net::parse_numeric("10.0.0.1", 443, a));
  EXPECT_EQ(a.to_string(), "10.0.0.1:443");
  EXPECT_FALSE(net::parse_numeric("example.com", 80, a));
  std::vector<net::address> list;
  EXPECT_EQ(net::resolve("localhost", 9, list), 0);
  EXPECT_EQ(list.size(), 2u);
}

}  // namespace
