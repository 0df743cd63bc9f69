// What TLS connections cost a server, measured as the resident memory of a zws
// server in a child process: idle wss:// connections (after the handshake, the
// upgrade and one message each way), and a crowd trickling ClientHellos one
// byte at a time, which handshake_timeout sheds while the server keeps
// answering others. The per-allocation breakdown of an idle session is in
// test/unit/tls_memory_test.tls.cpp.
#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <malloc.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tls_harness.hpp"

namespace zws_test {
namespace {

// ASan's quarantine keeps freed memory resident and its shadow grows with the
// heap: there resident memory measures the sanitizer (see memory_test.cpp).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_is_meaningful = false;
constexpr int idle_connections = 100;
constexpr int tricklers = 300;
#else
constexpr bool rss_is_meaningful = true;
constexpr int idle_connections = 1000;
constexpr int tricklers = 2000;
#endif

// A zws server with a plain and a TLS listener (the same routes) in a child process.
class tls_child {
 public:
  explicit tls_child(zws::Behavior b) {
    const zws::tls_server_options o = server_tls();  // certificates made before the fork
    int fds[2];
    if (::pipe(fds) != 0) return;
    pid_ = ::fork();
    if (pid_ == 0) {
      ::close(fds[0]);
      // Free heap inherited from the tests run before would absorb what is
      // measured: give it back, so growth shows in RSS again.
      ::malloc_trim(0);
      zws::Server server;
      server.route("/", std::move(b));
      int code = 1;
      if (!server.listen("127.0.0.1", 0) && !server.listen("127.0.0.1", 0, o)) {
        const std::uint16_t ports[2] = {server.port(), server.tls_port()};
        if (::write(fds[1], ports, sizeof ports) == sizeof ports) {
          server.run();
          code = 0;
        }
      }
      ::_exit(code);
    }
    ::close(fds[1]);
    std::uint16_t ports[2] = {0, 0};
    if (::read(fds[0], ports, sizeof ports) == sizeof ports) {
      plain_port_ = ports[0];
      tls_port_ = ports[1];
    }
    ::close(fds[0]);
  }
  ~tls_child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  tls_child(const tls_child&) = delete;
  tls_child& operator=(const tls_child&) = delete;
  std::uint16_t plain_port() const { return plain_port_; }
  std::uint16_t tls_port() const { return tls_port_; }
  // A field of /proc/<pid>/status in KiB (VmRSS, VmHWM).
  std::size_t status_kib(const char* field) const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    const std::string key = std::string(field) + ":";
    while (std::getline(f, line))
      if (line.starts_with(key)) return std::stoul(line.substr(key.size()));
    return 0;
  }
  // Minor page faults so far (the 10th field of /proc/<pid>/stat).
  unsigned long minor_faults() const {
    std::ifstream f("/proc/" + std::to_string(pid_) + "/stat");
    std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));  // after "pid (comm) "
    std::string field;
    for (int i = 3; i < 10 && rest >> field;) ++i;
    unsigned long faults = 0;
    rest >> faults;
    return faults;
  }

 private:
  pid_t pid_ = -1;
  std::uint16_t plain_port_ = 0, tls_port_ = 0;
};

// Opens `n` connections to `url`, at most `in_flight` handshaking at once (as
// zws-load does), each sending one message and waiting for its echo; they
// stay open. Returns how many got their echo.
int open_idle(zws::Loop& loop, const std::string& url, int n, const zws::ClientOptions& o, int in_flight = 32) {
  int started = 0, echoed = 0, failed = 0;
  zws::Behavior b;
  b.on_open = [](zws::WebSocket& ws) { ws.send_text("hello"); };
  b.on_message = [&](zws::WebSocket&, const zws::Message&) { ++echoed; };
  b.on_error = [&](std::string_view why) {
    ++failed;
    ADD_FAILURE() << why;
  };
  b.on_close = [&](zws::WebSocket&, std::uint16_t, std::string_view) { ++failed; };
  run_until(loop, [&] {
    while (started < n && started - echoed - failed < in_flight) {
      zws::connect(loop, url, b, o);
      ++started;
    }
    return echoed + failed == n;
  }, std::chrono::milliseconds(60000));
  return echoed;
}

// An idle wss:// connection costs the server about 14.6-15 KiB of RSS: OpenSSL
// 3.0's own objects (13.8 KB in 38 blocks, see the unit test's breakdown) and
// malloc's overhead on them. The 12 KiB asked for is out of reach while an SSL
// object exists per connection (its struct alone is 7.6 KB), so this bound
// guards against regressions only. Run alone it prints the figures:
//   build/tls-deflate-redis/integration_tests --gtest_filter='TlsMemory.*'
// (The plain figure is noise here: the warm-up leaves free heap to fill.)
TEST(TlsMemory, IdleConnectionsCost) {
  tls_child server(echo_behavior());
  ASSERT_NE(server.tls_port(), 0);
  zws::Loop loop;
  // Warm-up: OpenSSL's lazily made tables, the loop's buffers, the first heap growth.
  ASSERT_EQ(open_idle(loop, wss(server.tls_port(), "localhost"), 20, client_tls()), 20);
  ASSERT_EQ(open_idle(loop, url(server.plain_port()), 20, {}), 20);
  run_until(loop, [] { return false; }, 200ms);
  const std::size_t before = server.status_kib("VmRSS");
  ASSERT_EQ(open_idle(loop, url(server.plain_port()), idle_connections, {}), idle_connections);
  run_until(loop, [] { return false; }, 200ms);
  const std::size_t with_plain = server.status_kib("VmRSS");
  ASSERT_EQ(open_idle(loop, wss(server.tls_port(), "localhost"), idle_connections, client_tls()), idle_connections);
  run_until(loop, [] { return false; }, 200ms);
  const std::size_t with_tls = server.status_kib("VmRSS");
  const double plain_each = (static_cast<double>(with_plain) - static_cast<double>(before)) * 1024 / idle_connections;
  const double tls_each = (static_cast<double>(with_tls) - static_cast<double>(with_plain)) * 1024 / idle_connections;
  std::printf("  idle connections, server RSS per connection (%d each): plain %.0f B, TLS %.0f B (%.2f KiB)\n",
              idle_connections, plain_each, tls_each, tls_each / 1024);
  RecordProperty("idle_tls_connection_bytes", static_cast<int>(tls_each));
  if (rss_is_meaningful) {
    EXPECT_LE(tls_each, 16 * 1024);
    EXPECT_LE(plain_each, 512);
  }
}

// Echoing 64 KiB messages one at a time over TLS: each flush encrypts into a
// buffer the loop keeps between flushes (connection::make_wire_room), so the
// server's heap neither grows nor shrinks per message. It used to malloc and
// free 128 KiB of ciphertext room per echo, and malloc, finding it at the top of
// the heap, gave it back to the kernel: 30-odd page faults per message, a fifth
// of T3's rate.
TEST(TlsMemory, LargeFlushesFaultNothingIn) {
  tls_child server(echo_behavior());
  ASSERT_NE(server.tls_port(), 0);
  zws::Loop loop;
  const std::string payload(64 << 10, 'x');
  constexpr int warm = 20, measured = 300;
  int echoed = 0;
  unsigned long before = 0;
  bool failed = false;
  zws::Behavior b;
  b.on_open = [&](zws::WebSocket& ws) { ws.send_binary(payload); };
  b.on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
    EXPECT_EQ(m.data.size(), payload.size());
    if (++echoed == warm) before = server.minor_faults();
    if (echoed < warm + measured) ws.send_binary(payload);
  };
  b.on_error = [&](std::string_view why) {
    failed = true;
    ADD_FAILURE() << why;
  };
  zws::connect(loop, wss(server.tls_port(), "localhost"), b, client_tls());
  run_until(loop, [&] { return failed || echoed == warm + measured; }, std::chrono::milliseconds(60000));
  ASSERT_EQ(echoed, warm + measured);
  const double per_message = static_cast<double>(server.minor_faults() - before) / measured;
  std::printf("  64 KiB TLS echoes: %.2f page faults per message on the server\n", per_message);
  if (rss_is_meaningful) {  // not under ASan: it gives every allocation fresh memory
    EXPECT_LT(per_message, 2.0);
  }
}

// The first bytes a client would send: a ClientHello (a few hundred bytes).
std::string client_hello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, rbio, wbio);
  SSL_set_tlsext_host_name(ssl, "localhost");
  SSL_connect(ssl);
  char* data = nullptr;
  const long n = BIO_get_mem_data(wbio, &data);
  std::string hello(data, static_cast<std::size_t>(std::max(n, 0L)));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  return hello;
}

// A plain WebSocket on the child's plain port that times echoes.
struct probe {
  int fd = -1;
  explicit probe(std::uint16_t port) : fd(connect_loopback(port)) {
    const std::string req = upgrade_request("/");
    ::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
    std::string head;
    char c;
    while (head.find("\r\n\r\n") == std::string::npos && ::recv(fd, &c, 1, 0) == 1) head += c;
  }
  ~probe() { ::close(fd); }
  probe(const probe&) = delete;
  probe& operator=(const probe&) = delete;
  // One echo's round trip; a second when none came.
  std::chrono::microseconds round_trip() {
    const std::string f = client_frame(zws::opcode::text, "ping?");
    const auto start = std::chrono::steady_clock::now();
    ::send(fd, f.data(), f.size(), MSG_NOSIGNAL);
    std::size_t got = 0;
    char buf[64];
    while (got < 7) {  // 2 bytes of header + 5 of payload
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 1000) != 1) return std::chrono::seconds(1);
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return std::chrono::seconds(1);
      got += static_cast<std::size_t>(n);
    }
    return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - start);
  }
};

// 2,000 peers each send a ClientHello one byte every 100 ms. handshake_timeout
// (2 s here) sheds them all; meanwhile memory stays bounded and a plain
// WebSocket keeps getting its echoes in well under 100 ms.
TEST(TlsHostile, TricklingClientHellosAreShedWhileOthersAreServed) {
  zws::Behavior b = echo_behavior();
  b.handshake_timeout = 2000ms;
  tls_child server(b);
  ASSERT_NE(server.tls_port(), 0);
  const std::string hello = client_hello();
  ASSERT_GT(hello.size(), 100u);
  probe health(server.plain_port());
  ASSERT_LT(health.round_trip(), 100ms);
  std::this_thread::sleep_for(100ms);
  const std::size_t before = server.status_kib("VmRSS");

  struct trickler {
    int fd;
    std::chrono::steady_clock::time_point opened;
    std::chrono::milliseconds shed_after{-1};
  };
  std::vector<trickler> crowd;
  crowd.reserve(tricklers);
  for (int i = 0; i < tricklers; ++i) {
    const int fd = connect_loopback(server.tls_port());
    ASSERT_GE(fd, 0) << "connection " << i;
    crowd.push_back({fd, std::chrono::steady_clock::now()});
  }
  std::chrono::microseconds worst{0};
  std::size_t peak_kib = 0;
  int shed = 0;
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t step = 0; shed < tricklers && std::chrono::steady_clock::now() - start < 8000ms; ++step) {
    for (trickler& t : crowd) {
      if (t.shed_after.count() >= 0) continue;
      char c;
      const ssize_t r = ::recv(t.fd, &c, 1, MSG_DONTWAIT);
      bool gone = r == 0 || (r < 0 && errno != EAGAIN);
      if (!gone && step < hello.size())
        gone = ::send(t.fd, &hello[step], 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN;
      if (gone) {
        t.shed_after = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t.opened);
        ::close(t.fd);
        ++shed;
      }
    }
    worst = std::max(worst, health.round_trip());
    peak_kib = std::max(peak_kib, server.status_kib("VmRSS"));
    std::this_thread::sleep_for(100ms);
  }
  std::this_thread::sleep_for(200ms);
  const std::size_t after = server.status_kib("VmRSS");
  std::chrono::milliseconds first{100000}, last{0};
  for (const trickler& t : crowd) {
    if (t.shed_after.count() < 0) {
      ::close(t.fd);
      continue;
    }
    first = std::min(first, t.shed_after);
    last = std::max(last, t.shed_after);
  }
  const double per = (static_cast<double>(peak_kib) - static_cast<double>(before)) * 1024 / tricklers;
  std::printf("  %d trickling ClientHellos: shed %d, after %lld..%lld ms; server RSS %zu KiB before, peak %zu "
              "(%.0f B per trickler), %zu after; slowest health echo %lld us\n",
              tricklers, shed, static_cast<long long>(first.count()), static_cast<long long>(last.count()), before,
              peak_kib, per, after, static_cast<long long>(worst.count()));
  EXPECT_EQ(shed, tricklers);
  EXPECT_GE(first, 1900ms);  // by handshake_timeout, not earlier
  EXPECT_LE(last, 3500ms);
  EXPECT_LT(worst, 100ms);
  // Measured: 229 B per trickler, echoes within 4 ms. Before sessions held the
  // ClientHello until whole: 48 KiB per trickler (OpenSSL's object, its zeroed
  // message buffer, a record buffer), peak +94 MiB, echoes up to 410 ms.
  if (rss_is_meaningful) {
    EXPECT_LT(per, 2 * 1024);
  }
}

}  // namespace
}  // namespace zws_test
