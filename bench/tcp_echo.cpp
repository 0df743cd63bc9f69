// bench/tcp_echo.cpp — the physical yardstick: a raw TCP echo server.
//
// One thread, one edge-triggered epoll instance, one shared receive buffer.
// Every byte read is written straight back; whatever the kernel does not take
// is kept per connection and the connection stops reading until it drains, so
// a slow peer costs memory bounded by one read. Nothing else: no framing, no
// parsing, no timers. A WebSocket server can only approach these numbers.
//
//   build/tcp_echo [--port N] [--host ADDR]      (default 127.0.0.1:9001)
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace {

constexpr std::size_t read_size = 256 * 1024;

// Bytes the kernel did not take yet; empty (and unallocated) for almost every connection.
struct pending {
  std::unique_ptr<char[]> data;
  std::size_t size = 0;
  std::size_t sent = 0;
};

struct server {
  int epfd = -1;
  int listen_fd = -1;
  std::vector<pending> conns;  // indexed by fd
  std::unique_ptr<char[]> rbuf{new char[read_size]};
};

volatile sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

int listen_on(const char* host, int port) {
  sockaddr_storage ss{};
  socklen_t len;
  auto* a4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* a6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof *a6;
  } else {
    std::fprintf(stderr, "tcp_echo: not a numeric address: %s\n", host);
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, 4096) < 0) {
    std::fprintf(stderr, "tcp_echo: bind %s:%d: %s\n", host, port, std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

void drop(server& s, int fd) {
  s.conns[static_cast<std::size_t>(fd)] = pending{};
  close(fd);  // also removes it from the epoll set
}

// Sends what is pending. Returns false when the connection is gone.
bool flush(server& s, int fd) {
  pending& p = s.conns[static_cast<std::size_t>(fd)];
  while (p.sent < p.size) {
    ssize_t n = send(fd, p.data.get() + p.sent, p.size - p.sent, MSG_NOSIGNAL);
    if (n > 0) {
      p.sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return true;
    } else {
      drop(s, fd);
      return false;
    }
  }
  p = pending{};
  return true;
}

// Keeps the part of buf[0, size) the kernel did not take.
void keep(server& s, int fd, const char* buf, std::size_t size) {
  pending& p = s.conns[static_cast<std::size_t>(fd)];
  p.data.reset(new char[size]);
  std::memcpy(p.data.get(), buf, size);
  p.size = size;
  p.sent = 0;
}

// Reads and echoes until the socket is drained (a short read means drained: the
// next arrival raises a new edge) or the peer stops taking our bytes.
void on_readable(server& s, int fd) {
  for (;;) {
    if (s.conns[static_cast<std::size_t>(fd)].size != 0) return;  // wait for EPOLLOUT
    ssize_t n = recv(fd, s.rbuf.get(), read_size, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      drop(s, fd);
      return;
    }
    std::size_t off = 0;
    const auto total = static_cast<std::size_t>(n);
    while (off < total) {
      ssize_t w = send(fd, s.rbuf.get() + off, total - off, MSG_NOSIGNAL);
      if (w > 0) {
        off += static_cast<std::size_t>(w);
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && errno == EAGAIN) {
        keep(s, fd, s.rbuf.get() + off, total - off);
        return;
      } else {
        drop(s, fd);
        return;
      }
    }
    if (total < read_size) return;
  }
}

void on_acceptable(server& s) {
  for (;;) {
    int fd = accept4(s.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // EAGAIN: drained. EMFILE/ENFILE: the next arrival raises a new edge and we try again.
      return;
    }
    if (static_cast<std::size_t>(fd) >= s.conns.size()) s.conns.resize(static_cast<std::size_t>(fd) + 1024);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(s.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) close(fd);
  }
}

int run(server& s) {
  epoll_event events[512];
  while (!stop_requested) {
    int n = epoll_wait(s.epfd, events, 512, 500);
    if (n < 0 && errno != EINTR) {
      std::perror("tcp_echo: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const std::uint32_t ev = events[i].events;
      if (fd == s.listen_fd) {
        on_acceptable(s);
        continue;
      }
      if (ev & EPOLLOUT) {
        const bool had_pending = s.conns[static_cast<std::size_t>(fd)].size != 0;
        if (had_pending) {
          if (!flush(s, fd)) continue;
          // It stopped reading while blocked; no new edge will say there is input left.
          if (s.conns[static_cast<std::size_t>(fd)].size == 0) on_readable(s, fd);
          continue;
        }
      }
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(s, fd);
    }
  }
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: tcp_echo [--port N] [--host ADDR]\n"
               "  Raw TCP echo server (edge-triggered epoll, one thread). Default 127.0.0.1:9001.\n");
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  int port = 9001;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
      port = std::atoi(argv[++i]);
    } else if (std::strcmp(argv[i], "--host") == 0 && i + 1 < argc) {
      host = argv[++i];
    } else {
      usage();
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  server s;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) s.conns.resize(rl.rlim_cur);
  s.listen_fd = listen_on(host, port);
  if (s.listen_fd < 0) return 1;
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = s.listen_fd;
  epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  std::fprintf(stderr, "tcp_echo listening on %s:%d\n", host, port);
  return run(s);
}
