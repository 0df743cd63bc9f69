// bench/tls_echo.cpp — the physical yardstick for wss://: a raw TLS echo server.
//
// tcp_echo with OpenSSL 3 in between: one thread, one edge-triggered epoll
// instance, TLS 1.3 only, with the cipher suite zws negotiates with zws-load
// (OpenSSL's default list under server preference: TLS_AES_256_GCM_SHA384) and,
// like zws, one session ticket per handshake. Every decrypted byte is encrypted
// straight back: no WebSocket framing. A connection decrypts into the one shared
// buffer until OpenSSL wants more input (or the buffer is full), then encrypts
// all of it with one SSL_write, as zws corks a batch. OpenSSL reads from the
// socket (read-ahead: one recv brings as many records as its buffer holds) and
// writes into one ciphertext buffer shared by every connection (a BIO of our
// own), which goes to the socket in one send: a 64 KiB echo is one send, not
// one per record. OpenSSL's reads go through a BIO of our own too, a plain recv
// that notes a short read: the socket is then drained, and unless OpenSSL still
// holds bytes, no second recv is made to hear EAGAIN (tcp_echo's rule). What the kernel does not take is copied to the connection,
// which stops reading until EPOLLOUT drains it.
//
//   build/<parts>/tls_echo --cert FILE --key FILE [--port N] [--host ADDR] [--release-buffers]
//
// --release-buffers sets SSL_MODE_RELEASE_BUFFERS (zws always does): an idle
// connection then holds no record buffers, so idle memory can be compared both ways.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

constexpr std::size_t buf_size = 256 * 1024;
constexpr std::size_t read_piece = 16 * 1024;  // one record's plaintext at most per SSL_read

struct conn {
  SSL* ssl = nullptr;
  std::string pending;  // ciphertext the kernel has not taken
  std::size_t sent = 0;  // of pending
};

// Where every connection's SSL writes its records; emptied by ship() after each call.
std::string shared_out;

int out_write(BIO*, const char* data, int n) {
  shared_out.append(data, static_cast<std::size_t>(n));
  return n;
}
long out_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }
int out_create(BIO* b) {
  BIO_set_init(b, 1);
  return 1;
}
// The input side: recv on the socket whose fd is the BIO's data. A read shorter
// than asked means the kernel had no more (recv_was_short), as in tcp_echo.
bool recv_was_short = false;

int in_read(BIO* b, char* data, int n) {
  BIO_clear_retry_flags(b);
  const int fd = static_cast<int>(reinterpret_cast<std::intptr_t>(BIO_get_data(b)));
  ssize_t got;
  do got = recv(fd, data, static_cast<std::size_t>(n), 0);
  while (got < 0 && errno == EINTR);
  if (got < 0 && errno == EAGAIN) {
    BIO_set_retry_read(b);
    return -1;
  }
  recv_was_short = got < n;
  return static_cast<int>(got);  // 0: the peer closed; -1: an error
}
BIO_METHOD* in_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tls_echo socket input");
    BIO_meth_set_read(x, in_read);
    BIO_meth_set_ctrl(x, out_ctrl);
    BIO_meth_set_create(x, out_create);
    return x;
  }();
  return m;
}

BIO_METHOD* out_method() {
  static BIO_METHOD* m = [] {
    BIO_METHOD* x = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tls_echo shared output");
    BIO_meth_set_write(x, out_write);
    BIO_meth_set_ctrl(x, out_ctrl);
    BIO_meth_set_create(x, out_create);
    return x;
  }();
  return m;
}

struct server {
  int epfd = -1;
  int listen_fd = -1;
  SSL_CTX* ctx = nullptr;
  std::vector<conn> conns;  // indexed by fd
  std::unique_ptr<char[]> buf{new char[buf_size]};
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
    std::fprintf(stderr, "tls_echo: not a numeric address: %s\n", host);
    return -1;
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) < 0 || listen(fd, 4096) < 0) {
    std::fprintf(stderr, "tls_echo: bind %s:%d: %s\n", host, port, std::strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

SSL_CTX* make_context(const char* cert, const char* key, bool release_buffers) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(ctx, 1);
  if (release_buffers) SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_read_ahead(ctx, 1);
  if (SSL_CTX_set_ciphersuites(ctx, "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256") != 1 ||
      SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
    char why[256];
    ERR_error_string_n(ERR_get_error(), why, sizeof why);
    std::fprintf(stderr, "tls_echo: %s / %s: %s\n", cert, key, why);
    SSL_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

conn& at(server& s, int fd) { return s.conns[static_cast<std::size_t>(fd)]; }

void drop(server& s, int fd) {
  conn& c = at(s, fd);
  if (c.ssl) SSL_free(c.ssl);
  c = conn{};
  close(fd);  // also removes it from the epoll set
}

// Sends fd's pending ciphertext, then what the last SSL calls wrote to
// shared_out (which is emptied); keeps what the kernel refuses. Returns 1 when
// everything went, 0 when some waits for EPOLLOUT, -1 when the connection was dropped.
int ship(server& s, int fd) {
  conn& c = at(s, fd);
  if (!shared_out.empty()) {
    if (c.pending.empty()) c.pending.swap(shared_out);
    else c.pending.append(shared_out);
    shared_out.clear();
  }
  while (c.sent < c.pending.size()) {
    const ssize_t n = send(fd, c.pending.data() + c.sent, c.pending.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && errno == EAGAIN) {
      if (c.pending.capacity() > 4 * (c.pending.size() - c.sent)) c.pending.shrink_to_fit();
      return 0;
    } else {
      drop(s, fd);
      return -1;
    }
  }
  // Sent: keep the larger buffer as the shared one, give the connection nothing.
  c.sent = 0;
  c.pending.clear();
  if (c.pending.capacity() > shared_out.capacity()) c.pending.swap(shared_out);
  std::string().swap(c.pending);
  return 1;
}

// Drives the handshake, then decrypts everything available and echoes it.
void on_ready(server& s, int fd) {
  conn& c = at(s, fd);
  if (!c.pending.empty() && ship(s, fd) != 1) return;  // input waits in the kernel meanwhile
  if (!SSL_is_init_finished(c.ssl)) {
    const int r = SSL_do_handshake(c.ssl);
    if (r != 1) {
      const int e = SSL_get_error(c.ssl, r);
      if (ship(s, fd) == -1) return;  // the server's flight, or an alert
      if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) drop(s, fd);
      return;
    }
  }
  recv_was_short = false;
  for (;;) {
    std::size_t have = 0;
    bool drained = false;
    while (have + read_piece <= buf_size) {
      const int r = SSL_read(c.ssl, s.buf.get() + have, static_cast<int>(read_piece));
      if (r > 0) {
        have += static_cast<std::size_t>(r);
        if (recv_was_short && !SSL_has_pending(c.ssl)) {  // the socket is drained
          drained = true;
          break;
        }
        continue;
      }
      const int e = SSL_get_error(c.ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        drained = true;
        break;
      }
      if (e == SSL_ERROR_ZERO_RETURN) SSL_shutdown(c.ssl);  // close_notify back, best effort
      ship(s, fd);
      if (at(s, fd).ssl) drop(s, fd);
      return;
    }
    if (have != 0 && SSL_write(c.ssl, s.buf.get(), static_cast<int>(have)) <= 0) {
      shared_out.clear();
      drop(s, fd);
      return;
    }
    if (ship(s, fd) != 1 || drained) return;  // blocked: EPOLLOUT resumes the reading
  }
}

void on_acceptable(server& s) {
  for (;;) {
    int fd = accept4(s.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;  // EAGAIN: drained. EMFILE: the next arrival raises a new edge.
    }
    if (static_cast<std::size_t>(fd) >= s.conns.size()) s.conns.resize(static_cast<std::size_t>(fd) + 1024);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    SSL* ssl = SSL_new(s.ctx);
    BIO* in = BIO_new(in_method());
    if (in != nullptr) BIO_set_data(in, reinterpret_cast<void*>(static_cast<std::intptr_t>(fd)));
    BIO* out = BIO_new(out_method());
    if (ssl == nullptr || in == nullptr || out == nullptr) {
      SSL_free(ssl);
      BIO_free(in);
      BIO_free(out);
      close(fd);
      continue;
    }
    SSL_set_bio(ssl, in, out);
    SSL_set_accept_state(ssl);
    at(s, fd).ssl = ssl;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(s.epfd, EPOLL_CTL_ADD, fd, &ev) < 0) drop(s, fd);
  }
}

int run(server& s) {
  epoll_event events[512];
  while (!stop_requested) {
    int n = epoll_wait(s.epfd, events, 512, 500);
    if (n < 0 && errno != EINTR) {
      std::perror("tls_echo: epoll_wait");
      return 1;
    }
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == s.listen_fd) on_acceptable(s);
      else if (at(s, fd).ssl) on_ready(s, fd);  // any readiness: reading, writing or both may now progress
    }
  }
  return 0;
}

void usage() {
  std::fprintf(stderr,
               "usage: tls_echo --cert FILE --key FILE [--port N] [--host ADDR] [--release-buffers]\n"
               "  Raw TLS 1.3 echo server (OpenSSL, edge-triggered epoll, one thread; no WebSocket).\n"
               "  Default 127.0.0.1:9443. --release-buffers: SSL_MODE_RELEASE_BUFFERS.\n");
}

}  // namespace

int main(int argc, char** argv) {
  const char* host = "127.0.0.1";
  const char* cert = nullptr;
  const char* key = nullptr;
  int port = 9443;
  bool release = false;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--port") == 0 && has_value) port = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--host") == 0 && has_value) host = argv[++i];
    else if (std::strcmp(argv[i], "--cert") == 0 && has_value) cert = argv[++i];
    else if (std::strcmp(argv[i], "--key") == 0 && has_value) key = argv[++i];
    else if (std::strcmp(argv[i], "--release-buffers") == 0) release = true;
    else {
      usage();
      return std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  if (cert == nullptr || key == nullptr) {
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa{};
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);

  server s;
  s.ctx = make_context(cert, key, release);
  if (s.ctx == nullptr) return 1;
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) s.conns.resize(rl.rlim_cur);
  s.listen_fd = listen_on(host, port);
  if (s.listen_fd < 0) return 1;
  s.epfd = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLET;
  ev.data.fd = s.listen_fd;
  epoll_ctl(s.epfd, EPOLL_CTL_ADD, s.listen_fd, &ev);
  std::fprintf(stderr, "tls_echo listening on %s:%d (TLS 1.3%s)\n", host, port, release ? ", release buffers" : "");
  return run(s);
}
