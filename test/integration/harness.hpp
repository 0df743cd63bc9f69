// test/integration/harness.hpp — helpers shared by the integration tests: run a
// loop until a condition holds, and a blocking raw TCP peer for crafting bytes
// the zws client would never send.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <fstream>
#include <functional>
#include <chrono>
#include <optional>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "zws/zws.hpp"

namespace zws_test {

using namespace std::chrono_literals;

// Runs `loop` until `done()` or `limit` has passed; returns done().
template <class F>
bool run_until(zws::Loop& loop, F done, std::chrono::milliseconds limit = 5000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) loop.run_once(5ms);
  return done();
}

inline std::string url(std::uint16_t port, std::string_view path = "/") {
  return "ws://127.0.0.1:" + std::to_string(port) + std::string(path);
}

// A raw TCP peer on 127.0.0.1:port for bytes the zws client would never send.
// It is non-blocking and pumps `loop` while it waits, so server and peer can
// share one thread.
// A blocking TCP connection to 127.0.0.1:port, or -1.
inline int connect_loopback(std::uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// The upgrade request every raw test peer sends (a fixed key), for `path`.
inline std::string upgrade_request(std::string_view path = "/", std::string_view extra = "") {
  return "GET " + std::string(path) +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra) + "\r\n";
}

class raw_peer {
 public:
  raw_peer(zws::Loop& loop, std::uint16_t port) : loop_(loop), fd_(connect_loopback(port)) {
    if (fd_ < 0) return;
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  // Wraps a connected socket (made non-blocking).
  raw_peer(zws::Loop& loop, int fd, int) : loop_(loop), fd_(fd) {
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
  }
  ~raw_peer() { close(); }
  raw_peer(const raw_peer&) = delete;
  raw_peer& operator=(const raw_peer&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool write(std::string_view s, std::chrono::milliseconds limit = 10000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n > 0) {
        s.remove_prefix(static_cast<std::size_t>(n));
        continue;
      }
      if (n < 0 && errno != EAGAIN) return false;
      if (std::chrono::steady_clock::now() > end) return false;
      loop_.run_once(1ms);
    }
    return true;
  }
  // Reads until `pred(all)` holds, EOF, or `limit` passes; returns all read.
  template <class P>
  std::string read_until(P pred, std::chrono::milliseconds limit = 5000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!pred(got_) && std::chrono::steady_clock::now() < end) {
      char buf[65536];
      ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        got_.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        eof_ = true;
        break;
      }
      loop_.run_once(1ms);
    }
    return got_;
  }
  std::string read_bytes(std::size_t n, std::chrono::milliseconds limit = 5000ms) {
    read_until([n](const std::string& s) { return s.size() >= n; }, limit);
    return take(n);
  }
  // Waits for EOF (or a reset) from the other side.
  bool wait_eof(std::chrono::milliseconds limit = 5000ms) {
    read_until([](const std::string&) { return false; }, limit);
    return eof_;
  }
  std::string take(std::size_t n) {
    std::string out = got_.substr(0, n);
    got_.erase(0, std::min(n, got_.size()));
    return out;
  }
  std::string& buffered() { return got_; }
  bool eof() const { return eof_; }

  // Sends an upgrade request for `path` and reads the response head; returns it.
  std::string handshake(std::string_view path = "/", std::string_view extra = "") {
    write(upgrade_request(path, extra));
    read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
    std::size_t end = got_.find("\r\n\r\n");
    return end == std::string::npos ? take(got_.size()) : take(end + 4);
  }

  // Reads one whole server frame (unmasked); nullopt on EOF or timeout.
  struct frame {
    zws::opcode op;
    bool fin;
    std::string payload;
  };
  std::optional<frame> read_frame(std::chrono::milliseconds limit = 5000ms) {
    zws::frame_header h;
    std::size_t hs = 0;
    read_until(
        [&](const std::string& s) {
          hs = zws::decode_header({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, h);
          return hs != 0 && s.size() >= hs + h.payload_length;
        },
        limit);
    if (hs == 0 || got_.size() < hs + h.payload_length) return std::nullopt;
    take(hs);
    return frame{static_cast<zws::opcode>(h.op), h.fin, take(h.payload_length)};
  }

 private:
  zws::Loop& loop_;
  int fd_ = -1;
  bool eof_ = false;
  std::string got_;
};

// A client frame (masked with a fixed key) as raw bytes.
inline std::string client_frame(zws::opcode op, std::string_view payload, bool fin = true, bool mask = true) {
  zws::frame_header h;
  h.fin = fin;
  h.op = static_cast<std::uint8_t>(op);
  h.masked = mask;
  h.key = {{1, 2, 3, 4}};
  h.payload_length = payload.size();
  std::uint8_t head[zws::max_frame_header];
  std::size_t n = zws::encode_header(h, std::span<std::uint8_t, zws::max_frame_header>(head));
  std::string out(reinterpret_cast<char*>(head), n);
  std::string body(payload);
  if (mask) zws::mask({reinterpret_cast<std::uint8_t*>(body.data()), body.size()}, h.key);
  return out + body;
}

// A raw listening socket on 127.0.0.1, for playing a misbehaving server.
class raw_server {
 public:
  raw_server() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 && ::listen(fd_, 16) == 0 &&
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0)
      port_ = ntohs(a.sin_port);
  }
  ~raw_server() { ::close(fd_); }
  std::uint16_t port() const { return port_; }
  int fd() const { return fd_; }
  // Accepts one connection, pumping `loop` meanwhile; -1 on timeout.
  int accept(zws::Loop& loop, std::chrono::milliseconds limit = 5000ms) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) return c;
      loop.run_once(1ms);
    }
    return -1;
  }

 private:
  int fd_ = -1;
  std::uint16_t port_ = 0;
};

// A zws server in a child process: `setup` adds its routes; the child serves
// until killed. The parent reads the child's memory from /proc.
class child_server {
 public:
  explicit child_server(std::function<void(zws::Server&)> setup) {
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      zws::Server server;
      setup(server);
      int code = 1;
      if (!server.listen("127.0.0.1", 0)) {
        std::uint16_t port = server.port();
        if (::write(fds[1], &port, sizeof port) == sizeof port) {
          server.run();
          code = 0;
        }
      }
      ::_exit(code);
    }
    ::close(fds[1]);
    if (::read(fds[0], &port_, sizeof port_) != static_cast<ssize_t>(sizeof port_)) port_ = 0;
    ::close(fds[0]);
  }
  ~child_server() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::uint16_t port() const { return port_; }

  // A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
  std::size_t status_kib(const char* field) const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(f, line))
      if (line.starts_with(key)) return std::stoul(line.substr(key.size()));
    return 0;
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t port_ = 0;
};

inline std::uint16_t close_code_of_payload(const std::string& p) {
  return p.size() >= 2 ? static_cast<std::uint16_t>((std::uint8_t(p[0]) << 8) | std::uint8_t(p[1])) : 1005;
}

}  // namespace zws_test
