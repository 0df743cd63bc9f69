#include "io/net.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace zws::detail::net {
namespace {

// The one place EINTR is retried: `f` returns the raw syscall result.
template <class F>
long retry_eintr(F f) noexcept {
  for (;;) {
    long r = f();
    if (r >= 0) return r;
    if (errno != EINTR) return -errno;
  }
}

int set_int_option(int fd, int level, int name, int value) noexcept {
  return int(retry_eintr([&] { return ::setsockopt(fd, level, name, &value, sizeof value); }));
}

}  // namespace

void address::set_port(std::uint16_t p) noexcept {
  if (family() == AF_INET) reinterpret_cast<sockaddr_in&>(storage).sin_port = htons(p);
  if (family() == AF_INET6) reinterpret_cast<sockaddr_in6&>(storage).sin6_port = htons(p);
}

std::uint16_t address::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(storage).sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(storage).sin6_port);
  return 0;
}

std::string address::to_string() const {
  char host[INET6_ADDRSTRLEN] = "?";
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(storage).sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(storage).sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(port());
  }
  return "?";
}

bool parse_numeric(std::string_view host, std::uint16_t port, address& out) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host.empty() || host == "*") host = "0.0.0.0";
  char text[INET6_ADDRSTRLEN + 1];
  if (host.size() >= sizeof text) return false;
  std::memcpy(text, host.data(), host.size());
  text[host.size()] = '\0';
  out = address{};
  auto& v4 = reinterpret_cast<sockaddr_in&>(out.storage);
  if (::inet_pton(AF_INET, text, &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    out.length = sizeof(sockaddr_in);
    return true;
  }
  out = address{};
  auto& v6 = reinterpret_cast<sockaddr_in6&>(out.storage);
  if (::inet_pton(AF_INET6, text, &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    out.length = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

int resolve(std::string_view host, std::uint16_t port, std::vector<address>& out) {
  out.clear();
  address a;
  if (parse_numeric(host, port, a)) {
    out.push_back(a);
    return 0;
  }
  if (host == "localhost") {
    parse_numeric("127.0.0.1", port, a);
    out.push_back(a);
    parse_numeric("::1", port, a);
    out.push_back(a);
    return 0;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* list = nullptr;
  std::string name(host);
  std::string service = std::to_string(port);
  int rc = ::getaddrinfo(name.c_str(), service.c_str(), &hints, &list);
  if (rc != 0) return rc < 0 ? rc : -rc;
  for (addrinfo* p = list; p != nullptr; p = p->ai_next) {
    if (p->ai_addrlen > sizeof a.storage) continue;
    a = address{};
    std::memcpy(&a.storage, p->ai_addr, p->ai_addrlen);
    a.length = p->ai_addrlen;
    out.push_back(a);
  }
  ::freeaddrinfo(list);
  return out.empty() ? EAI_NONAME : 0;
}

std::string resolve_error(int code) { return ::gai_strerror(code); }

int listen_on(const address& a, bool reuse_port, int backlog, const char** what) noexcept {
  *what = "socket";
  int fd = int(retry_eintr([&] { return ::socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }));
  if (fd < 0) return fd;
  int rc = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (rc == 0 && reuse_port) rc = set_int_option(fd, SOL_SOCKET, SO_REUSEPORT, 1);
  if (rc == 0 && a.family() == AF_INET6) rc = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  if (rc < 0) {
    *what = "setsockopt";
  } else {
    *what = "bind";
    rc = int(retry_eintr([&] { return ::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length); }));
    if (rc == 0) {
      *what = "listen";
      rc = int(retry_eintr([&] { return ::listen(fd, backlog); }));
    }
  }
  if (rc < 0) {
    ::close(fd);
    return rc;
  }
  return fd;
}

int probe_port(const address& a) noexcept {
  int fd = int(retry_eintr([&] { return ::socket(a.family(), SOCK_STREAM | SOCK_CLOEXEC, 0); }));
  if (fd < 0) return fd;
  int rc = set_int_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (rc == 0 && a.family() == AF_INET6) rc = set_int_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  if (rc == 0) rc = int(retry_eintr([&] { return ::bind(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length); }));
  ::close(fd);
  return rc;
}

int accept(int listen_fd, address* peer) noexcept {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int fd = int(retry_eintr([&] {
    return ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
  }));
  if (fd >= 0 && peer != nullptr) {
    std::memcpy(&peer->storage, &ss, len);
    peer->length = len;
  }
  return fd;
}

int connect_to(const address& a) noexcept {
  int fd = int(retry_eintr([&] { return ::socket(a.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }));
  if (fd < 0) return fd;
  // A non-blocking connect interrupted by a signal keeps going in the kernel, so
  // EINTR is success-in-progress here, not a reason to call connect again.
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.storage), a.length);
  if (rc < 0 && errno != EINPROGRESS && errno != EINTR) {
    int err = -errno;
    ::close(fd);
    return err;
  }
  return fd;
}

int set_nodelay(int fd) noexcept { return set_int_option(fd, IPPROTO_TCP, TCP_NODELAY, 1); }

int socket_error(int fd) noexcept {
  int value = 0;
  socklen_t len = sizeof value;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &len) < 0) return errno;
  return value;
}

int local_address(int fd, address& out) noexcept {
  out = address{};
  out.length = sizeof out.storage;
  return int(retry_eintr([&] { return ::getsockname(fd, reinterpret_cast<sockaddr*>(&out.storage), &out.length); }));
}

int peer_address(int fd, address& out) noexcept {
  out = address{};
  out.length = sizeof out.storage;
  return int(retry_eintr([&] { return ::getpeername(fd, reinterpret_cast<sockaddr*>(&out.storage), &out.length); }));
}

// The data path calls the kernel directly: glibc's recv/send/sendmsg are
// cancellation points that switch the thread's cancellation state on and off
// around every call, ~1.5% of a busy server's CPU (perf) for a feature the
// library does not use. epoll_wait stays a cancellation point.
long recv(int fd, void* p, std::size_t n) noexcept {
  return retry_eintr([&] { return ::syscall(SYS_recvfrom, fd, p, n, 0, nullptr, nullptr); });
}

long send(int fd, const void* p, std::size_t n) noexcept {
  return retry_eintr([&] { return ::syscall(SYS_sendto, fd, p, n, MSG_NOSIGNAL, nullptr, 0); });
}

long sendv(int fd, const iovec* iov, int count) noexcept {
  msghdr m{};
  m.msg_iov = const_cast<iovec*>(iov);
  m.msg_iovlen = static_cast<std::size_t>(count);
  return retry_eintr([&] { return ::syscall(SYS_sendmsg, fd, &m, MSG_NOSIGNAL); });
}

int close(int fd) noexcept {
  // Linux releases the descriptor even when close reports EINTR: never retry.
  return ::close(fd) < 0 ? -errno : 0;
}

int shutdown_write(int fd) noexcept { return ::shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }

int set_nonblocking(int fd) noexcept {
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return -errno;
  return 0;
}

std::string describe_failure(const char* what, const address& a, int neg_errno) {
  return std::string(what) + " " + a.to_string() + ": " + std::strerror(-neg_errno);
}

}  // namespace zws::detail::net
