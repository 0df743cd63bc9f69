// bench/fanout_tcp.cpp — the physical yardstick for fan-out: a raw TCP fan-out server.
//
// Every byte any connection sends is written to every connection, the sender
// included (as zws-echo --fanout publishes to every subscriber of the path,
// sender included): no framing, no topics. One thread, one edge-triggered epoll
// instance, one shared receive buffer. A connection whose socket is full keeps
// what the kernel refused in its own queue, bounded by --max-queue (then it is
// dropped: a subscriber that cannot keep up does not grow the server without
// bound, as zws's max_backpressure closes it).
//
// --record N forwards only whole N-byte records, keeping a sender's partial
// record until the rest arrives, so records of several publishers never
// interleave mid-record (zws-load --fanout --raw sends fixed-size records).
//
//   build/fanout_tcp [--port N] [--host ADDR] [--record N] [--max-queue BYTES]
#include <arpa/inet.h>
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
#include <string>
#include <vector>

namespace {

constexpr std::size_t read_size = 256 * 1024;

struct conn {
  bool open = false;
  std::string queue;       // bytes the kernel refused, in order
  std::size_t sent = 0;    // of queue
  std::string partial;     // --record: the start of a record still incomplete
};

struct server {
  int epfd = -1;
  int listen_fd = -1;
  std::size_t record = 0;
  std::size_t max_queue = 8u << 20;
  std::vector<conn> conns;  // indexed by fd
  std::vector<int> live;    // fds of open connections, in accept order
  std::vector<int> dead;    // dropped during this batch, removed from `live` after it
  std::unique_ptr<char[]> rbuf{new char[read_size + 65536]};
  unsigned long long dropped = 0;
};

volatile sig_atomic_t stop_requested = 0;
void on_signal(int) { stop_requested = 1; }

int listen_on(const char* host, int port) {
  sockaddr_in a{};
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
    std::fprintf(stderr, "fanout_tcp: not a numeric IPv4 address: %s\n", host);
    return -1;
  }
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || listen(fd, 4096) < 0) {
    std::fprintf(stderr, "fanout_tcp: bind %s:%d: %s\n", host, port, std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

conn& at(server& s, int fd) { return s.conns[static_cast<std::size_t>(fd)]; }

void drop(server& s, int fd) {
  conn& c = at(s, fd);
  if (!c.open) return;
  c = conn{};
  close(fd);
  s.dead.push_back(fd);
}

// Sends what waits in fd's queue. False when the connection was dropped.
bool flush(server& s, int fd) {
  conn& c = at(s, fd);
  while (c.sent < c.queue.size()) {
    const ssize_t n = send(fd, c.queue.data() + c.sent, c.queue.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      return true;
    } else {
      drop(s, fd);
      return false;
    }
  }
  c.queue.clear();
  c.sent = 0;
  return true;
}

// Writes data[0, n) to fd: straight to the socket when nothing waits, queued behind otherwise.
void deliver(server& s, int fd, const char* data, std::size_t n) {
  conn& c = at(s, fd);
  if (!c.open) return;
  std::size_t off = 0;
  if (c.queue.empty()) {
    while (off < n) {
      const ssize_t w = send(fd, data + off, n - off, MSG_NOSIGNAL);
      if (w > 0) {
        off += static_cast<std::size_t>(w);
      } else if (w < 0 && errno == EINTR) {
        continue;
      } else if (w < 0 && errno == EAGAIN) {
        break;
      } else {
        drop(s, fd);
        return;
      }
    }
    if (off == n) return;
  }
  if (c.queue.size() - c.sent + (n - off) > s.max_queue) {
    ++s.dropped;
    drop(s, fd);
    return;
  }
  c.queue.append(data + off, n - off);
}

void fan_out(server& s, const char* data, std::size_t n) {
  for (std::size_t i = 0, end = s.live.size(); i < end; ++i) deliver(s, s.live[i], data, n);
}

// Reads until drained; each read goes to everyone (whole records with --record).
void on_readable(server& s, int fd) {
  for (;;) {
    conn& c = at(s, fd);
    if (!c.open) return;
    const std::size_t keep = c.partial.size();
    char* const buf = s.rbuf.get();
    if (keep) std::memcpy(buf, c.partial.data(), keep);
    const ssize_t n = recv(fd, buf + keep, read_size, 0);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return;
      drop(s, fd);
      return;
    }
    const std::size_t total = keep + static_cast<std::size_t>(n);
    const std::size_t whole = s.record ? total / s.record * s.record : total;
    c.partial.assign(buf + whole, total - whole);
    if (whole) fan_out(s, buf, whole);
    if (static_cast<std::size_t>(n) < read_size) return;
  }
}

void bury(server& s);

void on_acceptable(server& s) {
  bury(s);  // a dropped fd may come back from accept4: it must not be in `live` twice
  for (;;) {
    int fd = accept4(s.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    if (static_cast<std::size_t>(fd) >= s.conns.size()) s.conns.resize(static_cast<std::size_t>(fd) + 1024);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(s.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
      close(fd);
      continue;
    }
    at(s, fd).open = true;
    s.live.push_back(fd);
  }
}

void bury(server& s) {
  if (s.dead.empty()) return;
  std::vector<int> keep;
  keep.reserve(s.live.size());
  for (int fd : s.live)
    if (at(s, fd).open) keep.push_back(fd);
  s.live.swap(keep);
  s.dead.clear();
}

int run(server& s) {
  epoll_event events[512];
  while (!stop_requested) {
    int n = epoll_wait(s.epfd, events, 512, 500);
    if (n < 0 && errno != EINTR) {
      std::perror("fanout_tcp: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      const std::uint32_t ev = events[i].events;
      if (fd == s.listen_fd) {
        on_acceptable(s);
        continue;
      }
      if (!at(s, fd).open) continue;  // dropped earlier in this batch (a new fd is not in it)
      if ((ev & EPOLLOUT) && !flush(s, fd)) continue;
      if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(s, fd);
    }
    bury(s);
  }
  std::fprintf(stderr, "fanout_tcp: %llu connections dropped for a full queue\n", s.dropped);
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: fanout_tcp [--port N] [--host ADDR] [--record N] [--max-queue BYTES]\n"
               "  Raw TCP fan-out: every byte received is sent to every connection, the sender\n"
               "  included. --record N: forward whole N-byte records only. --max-queue: bytes a\n"
               "  connection may have waiting before it is dropped (default 8 MiB).\n"
               "  Default 127.0.0.1:9002.\n");
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  int port = 9002;
  server s;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--port") == 0 && has_value) port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--host") == 0 && has_value) host = argv[++i];
    else if (std::strcmp(argv[i], "--record") == 0 && has_value) s.record = std::strtoull(argv[++i], nullptr, 10);
    else if (std::strcmp(argv[i], "--max-queue") == 0 && has_value) s.max_queue = std::strtoull(argv[++i], nullptr, 10);
    else {
      usage();
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  if (s.record > 65536) {
    std::fprintf(stderr, "fanout_tcp: --record is at most 65536\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) s.conns.resize(rl.rlim_cur);
  s.listen_fd = listen_on(host, port);
  if (s.listen_fd < 0) return 1;
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = s.listen_fd;
  epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  std::fprintf(stderr, "fanout_tcp listening on %s:%d\n", host, port);
  return run(s);
}
