// test/integration/tls_harness.hpp — what the wss:// integration tests share:
// certificates from test/certs.sh (made once per process in a temporary
// directory, or in $ZWS_TLS_CERTS, kept, when that is set), a zws server with a
// TLS listener, a logging client, and raw OpenSSL peers over non-blocking
// sockets that pump a loop while they wait, for what zws itself never does.
#pragma once

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "harness.hpp"
#include "zws/handshake.hpp"

namespace zws_test {

class cert_dir {
 public:
  cert_dir() {
    const char* env = std::getenv("ZWS_TLS_CERTS");
    if (env != nullptr && *env != '\0') {
      dir_ = env;
    } else {
      dir_ = (std::filesystem::temp_directory_path() / ("zws-tls-integ-" + std::to_string(getpid()))).string();
      owned_ = true;
    }
    std::string root = __FILE__;
    root = root.substr(0, root.rfind("test/integration/"));
    const std::string cmd = "bash '" + (root.empty() ? std::string("./") : root) + "test/certs.sh' '" + dir_ + "'";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  ~cert_dir() {
    std::error_code ec;
    if (owned_) std::filesystem::remove_all(dir_, ec);
  }
  cert_dir(const cert_dir&) = delete;
  cert_dir& operator=(const cert_dir&) = delete;
  std::string path(std::string_view name) const { return dir_ + "/" + std::string(name); }
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  bool owned_ = false;
  bool ok_ = false;
};

inline std::string cert(std::string_view name) {
  static const cert_dir dir;
  if (!dir.ok()) ADD_FAILURE() << "test/certs.sh failed";
  return dir.path(name);
}

inline zws::tls_server_options server_tls(std::string_view name = "server") {
  zws::tls_server_options o;
  o.cert_chain_file = cert(std::string(name) + ".pem");
  o.key_file = cert(std::string(name) + ".key");
  return o;
}

inline zws::ClientOptions client_tls() {
  zws::ClientOptions o;
  o.tls.ca_file = cert("ca.pem");
  return o;
}

inline std::string wss(std::uint16_t port, std::string_view host = "localhost", std::string_view path = "/") {
  return "wss://" + std::string(host) + ":" + std::to_string(port) + std::string(path);
}

inline zws::Behavior echo_behavior() {
  zws::Behavior b;
  b.max_message_size = std::size_t{32} << 20;
  b.on_message = [](zws::WebSocket& ws, zws::Message m) { ws.send(m.data, m.opcode); };
  return b;
}

// One client connection's observations.
struct client_log {
  bool open = false;
  bool closed = false;
  std::uint16_t code = 0;
  std::string reason;
  std::string error;
  std::vector<std::string> messages;
  std::vector<std::string> pongs;
  zws::WebSocket* ws = nullptr;
  bool done() const { return closed || !error.empty(); }
};

inline zws::Behavior logging(client_log& log, std::function<void(zws::WebSocket&)> on_open = {}) {
  zws::Behavior b;
  b.max_message_size = std::size_t{32} << 20;
  b.on_open = [&log, on_open](zws::WebSocket& ws) {
    log.open = true;
    log.ws = &ws;
    if (on_open) on_open(ws);
  };
  b.on_message = [&log](zws::WebSocket&, zws::Message m) { log.messages.emplace_back(m.data); };
  b.on_pong = [&log](zws::WebSocket&, std::string_view p) { log.pongs.emplace_back(p); };
  b.on_close = [&log](zws::WebSocket&, std::uint16_t code, std::string_view reason) {
    log.closed = true;
    log.ws = nullptr;
    log.code = code;
    log.reason = reason;
  };
  b.on_error = [&log](std::string_view why) { log.error = why; };
  return b;
}

struct tls_server {
  zws::Loop loop;
  zws::Server server{loop};
  std::uint16_t port = 0;
  explicit tls_server(zws::Behavior b = echo_behavior(), zws::tls_server_options o = server_tls()) {
    server.route("/", std::move(b));
    if (auto f = server.listen("127.0.0.1", 0, o)) ADD_FAILURE() << f.message();
    port = server.tls_port();
  }
};

// The reason a connection attempt ends with (on_error), or "" when it opened.
inline std::string attempt(zws::Loop& loop, const std::string& url, zws::ClientOptions o = client_tls()) {
  client_log log;
  zws::connect(loop, url, logging(log, [](zws::WebSocket& ws) { ws.close(); }), std::move(o));
  EXPECT_TRUE(run_until(loop, [&] { return log.done(); }));
  return log.open ? std::string() : log.error;
}

// A blocking OpenSSL client over a raw socket: for what the zws client never does.
struct raw_tls {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = nullptr;
  int fd = -1;
  explicit raw_tls(std::uint16_t port) {
    fd = connect_loopback(port);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
  }
  ~raw_tls() {
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    if (fd >= 0) ::close(fd);
  }
  raw_tls(const raw_tls&) = delete;
  raw_tls& operator=(const raw_tls&) = delete;
};

// An OpenSSL peer over a non-blocking socket that pumps `loop` whenever it
// would block: a client of a zws server, or, on an accepted socket, a server
// for the zws client. It records how the other side ended: close_notify
// (SSL_ERROR_ZERO_RETURN), then FIN (recv() returning 0), or an error.
class tls_peer {
 public:
  // A client of 127.0.0.1:port. `setup` may adjust the context first (versions,
  // tickets); `session`, if given, is offered for resumption; `rcvbuf` shrinks
  // the socket's receive buffer before connecting.
  explicit tls_peer(zws::Loop& loop, std::uint16_t port, const std::function<void(SSL_CTX*)>& setup = {},
                    SSL_SESSION* session = nullptr, int rcvbuf = 0)
      : loop_(loop), ctx_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_NONE, nullptr);
    if (setup) setup(ctx_);
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf != 0) ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ADD_FAILURE() << "connect";
    make_ssl();
    if (session != nullptr) SSL_set_session(ssl_, session);
    SSL_set_connect_state(ssl_);
  }
  // A server on the accepted socket `fd`, with certificate `name` of test/certs.sh.
  tls_peer(zws::Loop& loop, int fd, std::string_view name)
      : loop_(loop), ctx_(SSL_CTX_new(TLS_server_method())), fd_(fd) {
    const std::string n(name);
    if (SSL_CTX_use_certificate_chain_file(ctx_, cert(n + ".pem").c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, cert(n + ".key").c_str(), SSL_FILETYPE_PEM) != 1)
      ADD_FAILURE() << "certificate " << n;
    make_ssl();
    SSL_set_accept_state(ssl_);
  }
  ~tls_peer() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  tls_peer(const tls_peer&) = delete;
  tls_peer& operator=(const tls_peer&) = delete;

  SSL* ssl() const { return ssl_; }
  int fd() const { return fd_; }
  std::string& got() { return got_; }
  bool close_notify() const { return close_notify_; }
  bool failed() const { return failed_; }

  bool handshake(std::chrono::milliseconds limit = 5000ms) {
    return run_until(loop_, [&] {
      ERR_clear_error();
      const int rc = SSL_do_handshake(ssl_);
      if (rc == 1) return true;
      const int e = SSL_get_error(ssl_, rc);
      failed_ = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
      return failed_;
    }, limit) && !failed_;
  }
  bool write(std::string_view bytes, std::chrono::milliseconds limit = 5000ms) {
    return run_until(loop_, [&] {
      while (!bytes.empty()) {
        ERR_clear_error();
        std::size_t n = 0;
        if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) == 1) {
          bytes.remove_prefix(n);
          continue;
        }
        const int e = SSL_get_error(ssl_, 0);
        failed_ = e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE;
        return failed_;
      }
      return true;
    }, limit) && bytes.empty();
  }
  // Reads plaintext into got() until `pred(got())`, close_notify, an error, or `limit`.
  template <class P>
  bool read_until(P pred, std::chrono::milliseconds limit = 5000ms) {
    return run_until(loop_, [&] {
      char buf[16384];
      for (;;) {
        if (pred(got_)) return true;
        if (close_notify_ || failed_) return true;
        ERR_clear_error();
        std::size_t n = 0;
        if (SSL_read_ex(ssl_, buf, sizeof buf, &n) == 1) {
          got_.append(buf, n);
          continue;
        }
        const int e = SSL_get_error(ssl_, 0);
        if (e == SSL_ERROR_ZERO_RETURN) close_notify_ = true;
        else if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) failed_ = true;
        else return false;
      }
    }, limit) && pred(got_);
  }
  // Reads on until the other side's close_notify (true) or an error or EOF without one.
  bool wait_close_notify(std::chrono::milliseconds limit = 5000ms) {
    read_until([](const std::string&) { return false; }, limit);
    return close_notify_;
  }
  // After close_notify: the TCP stream ends too (recv() returns 0, or a reset).
  bool wait_fin(std::chrono::milliseconds limit = 5000ms) {
    return run_until(loop_, [&] {
      char c;
      const ssize_t n = ::recv(fd_, &c, 1, MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    }, limit);
  }
  // Our close_notify.
  void shutdown() {
    ERR_clear_error();
    SSL_shutdown(ssl_);
  }
  // One whole frame out of got(), unmasked if it was masked; nullopt on timeout or close.
  std::optional<raw_peer::frame> read_frame(std::chrono::milliseconds limit = 5000ms) {
    zws::frame_header h;
    std::size_t hs = 0;
    auto whole = [&](const std::string& s) {
      hs = zws::decode_header({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()}, h);
      return hs != 0 && s.size() >= hs + h.payload_length;
    };
    if (!read_until(whole, limit)) return std::nullopt;
    std::string payload = got_.substr(hs, h.payload_length);
    got_.erase(0, hs + h.payload_length);
    if (h.masked) zws::mask({reinterpret_cast<std::uint8_t*>(payload.data()), payload.size()}, h.key);
    return raw_peer::frame{static_cast<zws::opcode>(h.op), h.fin, std::move(payload)};
  }
  // Client: sends the upgrade request and reads the 101 head.
  bool upgrade(std::string_view path = "/") {
    if (!write(upgrade_request(path))) return false;
    if (!read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; })) return false;
    const std::size_t end = got_.find("\r\n\r\n");
    const bool ok = got_.starts_with("HTTP/1.1 101");
    got_.erase(0, end + 4);
    return ok;
  }
  // Server: reads the zws client's upgrade request and accepts it.
  bool accept_upgrade() {
    if (!read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; })) return false;
    const std::size_t key_at = got_.find("Sec-WebSocket-Key: ");
    if (key_at == std::string::npos) return false;
    const std::string key = got_.substr(key_at + 19, got_.find("\r\n", key_at) - key_at - 19);
    got_.erase(0, got_.find("\r\n\r\n") + 4);
    return write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: " + std::string(zws::as_view(zws::accept_key(key))) + "\r\n\r\n");
  }

 private:
  void make_ssl() {
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd_);
  }

  zws::Loop& loop_;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  int fd_ = -1;
  std::string got_;
  bool close_notify_ = false;
  bool failed_ = false;
};

}  // namespace zws_test
