// lib/io/net.hpp — thin socket wrappers: listen, accept, connect, send, receive.
//
// Internal. Every wrapper returns a descriptor or a byte count on success and
// -errno on failure; EINTR is retried in one place (`retry_eintr`). Sockets are
// created non-blocking and close-on-exec. Sending never raises SIGPIPE
// (MSG_NOSIGNAL), so a peer that vanished costs an EPIPE, never the process.
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace zws::detail::net {

// A socket address of either family, printable as "1.2.3.4:80" or "[::1]:80".
struct address {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const noexcept { return storage.ss_family; }
  std::uint16_t port() const noexcept;
  void set_port(std::uint16_t p) noexcept;
  std::string to_string() const;
};

// Parses a numeric IPv4 or IPv6 host (brackets allowed) without any lookup.
// "" and "*" mean the IPv4 wildcard. Returns false when `host` is not numeric.
bool parse_numeric(std::string_view host, std::uint16_t port, address& out) noexcept;

// Numeric hosts are parsed without blocking; "localhost" maps to 127.0.0.1 and
// ::1; other names go through getaddrinfo (blocking). Returns 0 or a
// getaddrinfo EAI_* code (negative), with at least one address on success.
int resolve(std::string_view host, std::uint16_t port, std::vector<address>& out);
std::string resolve_error(int code);

// A listening socket (SO_REUSEADDR, optionally SO_REUSEPORT; IPv6 sockets are
// IPv6-only so "::" and "0.0.0.0" can be bound side by side). Returns the fd or
// -errno; `what` names the failing step ("socket", "bind", "listen").
int listen_on(const address& a, bool reuse_port, int backlog, const char** what) noexcept;

// Whether something already listens on `a`'s port: SO_REUSEPORT listeners of the
// same user would silently share it, so a server probes with a plain bind first.
// Returns 0 (free) or -errno of the probe's bind (-EADDRINUSE).
int probe_port(const address& a) noexcept;

// accept4 with SOCK_NONBLOCK|SOCK_CLOEXEC; fills `peer` when given.
int accept(int listen_fd, address* peer) noexcept;

// A non-blocking socket connecting to `a`; returns the fd (connection in
// progress or done: watch for writability and then check socket_error) or -errno.
int connect_to(const address& a) noexcept;

int set_nodelay(int fd) noexcept;
// Pending error of a socket (SO_ERROR): 0 or a positive errno.
int socket_error(int fd) noexcept;
int local_address(int fd, address& out) noexcept;
int peer_address(int fd, address& out) noexcept;

long recv(int fd, void* p, std::size_t n) noexcept;
long send(int fd, const void* p, std::size_t n) noexcept;
long sendv(int fd, const iovec* iov, int count) noexcept;

int close(int fd) noexcept;
// shutdown(SHUT_WR): our FIN goes out after the queued bytes.
int shutdown_write(int fd) noexcept;
int set_nonblocking(int fd) noexcept;

// "bind 0.0.0.0:8080: Address already in use".
std::string describe_failure(const char* what, const address& a, int neg_errno);

}  // namespace zws::detail::net
