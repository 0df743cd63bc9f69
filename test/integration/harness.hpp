// test/integration/harness.hpp — helpers shared by the integration tests: run a
// loop until a condition holds, and a blocking raw TCP peer for crafting bytes
// the zws client would never send.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
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

// A blocking TCP socket to 127.0.0.1:port (loopback connects at once).
class raw_peer {
 public:
  explicit raw_peer(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) {
      ::close(fd_);
      fd_ = -1;
    }
    int one = 1;
    if (fd_ >= 0) ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
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
  bool write(std::string_view s) {
    while (!s.empty()) {
      ssize_t n = ::send(fd_, s.data(), s.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      s.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Whatever is readable now (waiting up to `wait` for the first byte); "" on EOF.
  std::string read_some(zws::Loop& loop, std::chrono::milliseconds wait = 3000ms) {
    auto end = std::chrono::steady_clock::now() + wait;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 0) == 1) {
        char buf[65536];
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        eof_ = n <= 0;
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
      }
      if (std::chrono::steady_clock::now() >= end) return {};
      loop.run_once(2ms);
    }
  }
  // Reads until `pred(all)` holds, EOF, or the wait passes; returns all.
  template <class P>
  std::string read_until(zws::Loop& loop, P pred, std::chrono::milliseconds wait = 3000ms) {
    std::string all;
    auto end = std::chrono::steady_clock::now() + wait;
    while (!pred(all) && std::chrono::steady_clock::now() < end) {
      std::string s = read_some(loop, 50ms);
      if (s.empty() && eof_) break;
      all += s;
    }
    return all;
  }
  bool eof() const { return eof_; }

 private:
  int fd_ = -1;
  bool eof_ = false;
};

inline std::string upgrade_request(std::string_view path = "/", std::string_view extra = "") {
  return "GET " + std::string(path) +
         " HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" +
         std::string(extra) + "\r\n";
}

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

// Finds the end of the HTTP head in `s`, or npos.
inline std::size_t head_end(const std::string& s) {
  auto p = s.find("\r\n\r\n");
  return p == std::string::npos ? p : p + 4;
}

}  // namespace zws_test
