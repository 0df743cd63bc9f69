// zws/url.hpp — ws:// and wss:// URLs (RFC 6455 §3, RFC 3986 syntax).
//
// parse_url() accepts exactly
//   ("ws" | "wss") "://" host [ ":" port ] [ path-abempty [ "?" query ] ]
// with the scheme in any case, and rejects everything else: userinfo ("@"),
// fragments ("#", forbidden by RFC 6455 §3), spaces, control characters, bytes
// >= 0x80, malformed %-escapes, and any character RFC 3986 does not allow where it
// appears. Nothing is decoded or normalised, because the results are views:
//   - host: a DNS-style name of [A-Za-z0-9._~-], a dotted-quad IPv4 address
//     (a host of only digits and dots must be one: "1.2.3" and "010.0.0.1" are
//     refused rather than guessed at), or an IPv6 literal in brackets (RFC 4291
//     text form, embedded IPv4 allowed; zone ids are not supported);
//   - port: decimal, 1..65535, leading zeros allowed; an empty port is refused;
//   - a query without a path ("ws://h?q") is kept as target "?q": the request
//     line is "GET /?q" (write_upgrade_request adds the '/', as browsers do).
// The URL must be the whole input: no surrounding whitespace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace zws {

struct url {
  bool secure = false;          // wss://
  std::string_view host;        // as written; an IPv6 literal without its brackets
  std::uint16_t port = 0;       // the explicit port, else 443 for wss and 80 for ws
  std::string_view target;      // path and query as written ("?q" when there is no path),
                                // or "/" when both are empty
  bool host_is_ipv6 = false;
};

// Parses `text`. host and target are views into `text` (target is a static "/"
// when the URL has no path), valid while `text` is. nullopt when `text` is not
// an acceptable ws/wss URL; the rules are above. Never reads outside `text`.
std::optional<url> parse_url(std::string_view text) noexcept;

// The port a scheme implies: 443 for wss, 80 for ws.
constexpr std::uint16_t default_port(bool secure) noexcept { return secure ? 443 : 80; }

// Enough room for host_header() of `u`: brackets and ":65535" included.
constexpr std::size_t host_header_capacity(const url& u) noexcept { return u.host.size() + 8; }

// The value of the Host header for `u` (RFC 7230 §5.4): the host, in brackets
// when it is IPv6, followed by ":port" unless the port is the scheme's default.
// Writes it to `out` and returns its length, or returns 0 (writing nothing) when
// `out` is smaller than needed; a parsed url's host is never empty.
std::size_t host_header(const url& u, std::span<char> out) noexcept;

// The same, as a new string (client set-up, not a hot path).
std::string host_header(const url& u);

}  // namespace zws
