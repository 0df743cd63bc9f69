#include "zws/url.hpp"

namespace zws {
namespace {

constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_hex(char c) noexcept { return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
constexpr bool is_unreserved(char c) noexcept {
  return is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
constexpr bool is_sub_delim(char c) noexcept {
  switch (c) {
    case '!': case '$': case '&': case '\'': case '(': case ')':
    case '*': case '+': case ',': case ';': case '=':
      return true;
    default:
      return false;
  }
}

// ASCII-case-insensitive prefix test; `lower_prefix` is lower case.
bool starts_with_nocase(std::string_view s, std::string_view lower_prefix) noexcept {
  if (s.size() < lower_prefix.size()) return false;
  for (std::size_t i = 0; i < lower_prefix.size(); ++i) {
    const char c = s[i] >= 'A' && s[i] <= 'Z' ? static_cast<char>(s[i] - 'A' + 'a') : s[i];
    if (c != lower_prefix[i]) return false;
  }
  return true;
}

// Dotted quad, each part 0..255 in decimal without leading zeros (which
// inet_aton would read as octal).
bool valid_ipv4(std::string_view s) noexcept {
  int parts = 0;
  std::size_t i = 0;
  while (true) {
    std::size_t j = i;
    unsigned value = 0;
    while (j < s.size() && is_digit(s[j]) && j - i < 4) value = value * 10 + unsigned(s[j++] - '0');
    const std::size_t len = j - i;
    if (len == 0 || len > 3 || value > 255 || (len > 1 && s[i] == '0')) return false;
    ++parts;
    if (j == s.size()) return parts == 4;
    if (s[j] != '.' || parts == 4) return false;
    i = j + 1;
  }
}

// RFC 4291 §2.2 text form: eight groups of 1..4 hex digits, at most one "::"
// standing for one or more zero groups, and optionally a dotted quad as the last
// two groups.
bool valid_ipv6(std::string_view s) noexcept {
  std::size_t i = 0;
  int groups = 0;
  bool elided = false;
  if (s.substr(0, 2) == "::") {
    elided = true;
    i = 2;
  }
  while (i < s.size()) {
    std::size_t j = i;
    while (j < s.size() && is_hex(s[j])) ++j;
    if (j < s.size() && s[j] == '.') {  // the embedded IPv4 address ends the literal
      if (!valid_ipv4(s.substr(i))) return false;
      groups += 2;
      break;
    }
    if (j == i || j - i > 4) return false;
    ++groups;
    if (j == s.size()) break;
    if (s[j] != ':') return false;
    i = j + 1;
    if (i < s.size() && s[i] == ':') {
      if (elided) return false;
      elided = true;
      ++i;
    } else if (i == s.size()) {
      return false;  // a single trailing ':'
    }
  }
  return elided ? groups <= 7 : groups == 8;
}

// A name for the resolver, or an IPv4 address. Only DNS-safe characters: the
// name goes to getaddrinfo() and into the Host header as written.
bool valid_reg_host(std::string_view s) noexcept {
  if (s.empty()) return false;
  bool numeric = true;
  for (char c : s) {
    if (!is_unreserved(c)) return false;
    numeric = numeric && (is_digit(c) || c == '.');
  }
  return !numeric || valid_ipv4(s);
}

// Decimal 1..65535; nullopt otherwise (empty, a non-digit, 0 or too large).
std::optional<std::uint16_t> parse_port(std::string_view s) noexcept {
  if (s.empty()) return std::nullopt;
  std::uint32_t value = 0;
  for (char c : s) {
    if (!is_digit(c)) return std::nullopt;
    value = value * 10 + std::uint32_t(c - '0');
    if (value > 65535) return std::nullopt;
  }
  if (value == 0) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

// path-abempty [ "?" query ] of RFC 3986, starting with '/' or '?': pchar, '/', '?'
// and well-formed %-escapes only. This also refuses '#', spaces, controls and
// non-ASCII bytes.
bool valid_target(std::string_view s) noexcept {
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (is_unreserved(c) || is_sub_delim(c) || c == ':' || c == '@' || c == '/' || c == '?') continue;
    if (c != '%' || s.size() - i < 3 || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) return false;
    i += 2;
  }
  return true;
}

std::size_t decimal_digits(std::uint16_t v) noexcept {
  return v >= 10000 ? 5 : v >= 1000 ? 4 : v >= 100 ? 3 : v >= 10 ? 2 : 1;
}

}  // namespace

std::optional<url> parse_url(std::string_view text) noexcept {
  url u;
  std::string_view rest;
  if (starts_with_nocase(text, "wss://")) {
    u.secure = true;
    rest = text.substr(6);
  } else if (starts_with_nocase(text, "ws://")) {
    rest = text.substr(5);
  } else {
    return std::nullopt;
  }

  // The authority runs to the first '/' or '?' (a query with no path). A '#' or
  // '@' before it is not a host or port character, so it fails below.
  const std::size_t slash = rest.find_first_of("/?");
  const std::string_view authority = rest.substr(0, slash);
  const std::string_view target = slash == std::string_view::npos ? std::string_view() : rest.substr(slash);

  std::string_view after_host;
  if (!authority.empty() && authority[0] == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    u.host = authority.substr(1, close - 1);
    u.host_is_ipv6 = true;
    if (!valid_ipv6(u.host)) return std::nullopt;
    after_host = authority.substr(close + 1);
  } else {
    const std::size_t colon = authority.find(':');
    u.host = authority.substr(0, colon);
    if (!valid_reg_host(u.host)) return std::nullopt;
    if (colon != std::string_view::npos) after_host = authority.substr(colon);
  }

  u.port = default_port(u.secure);
  if (!after_host.empty()) {
    if (after_host[0] != ':') return std::nullopt;
    const std::optional<std::uint16_t> port = parse_port(after_host.substr(1));
    if (!port) return std::nullopt;
    u.port = *port;
  }

  if (target.empty()) {
    u.target = "/";
  } else {
    if (!valid_target(target)) return std::nullopt;
    u.target = target;
  }
  return u;
}

std::size_t host_header(const url& u, std::span<char> out) noexcept {
  const bool show_port = u.port != default_port(u.secure);
  const std::size_t need =
      u.host.size() + (u.host_is_ipv6 ? 2 : 0) + (show_port ? 1 + decimal_digits(u.port) : 0);
  if (need > out.size()) return 0;
  char* o = out.data();
  if (u.host_is_ipv6) *o++ = '[';
  o += u.host.copy(o, u.host.size());
  if (u.host_is_ipv6) *o++ = ']';
  if (show_port) {
    *o++ = ':';
    const std::size_t digits = decimal_digits(u.port);
    for (std::size_t i = digits, v = u.port; i-- > 0; v /= 10) o[i] = static_cast<char>('0' + v % 10);
  }
  return need;
}

std::string host_header(const url& u) {
  std::string s(host_header_capacity(u), '\0');
  s.resize(host_header(u, s));
  return s;
}

}  // namespace zws
