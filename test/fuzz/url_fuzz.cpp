// parse_url never crashes or reads outside its input (ASan), and what it accepts
// is well formed: views inside the input, a port in range, a target starting
// with '/' (or '?' for a query without a path), and a Host header that fits
// the advertised capacity.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "zws/url.hpp"

namespace {

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto u = zws::parse_url(text);
  if (!u) return 0;
  check(!u->host.empty() && inside(u->host, text));
  check(u->port != 0);
  check(!u->target.empty() && (u->target.front() == '/' || u->target.front() == '?'));
  check(inside(u->target, text) || u->target == "/");
  const std::string_view after_scheme = text.substr(text.find("://") + 3);
  check(text.find('#') == std::string_view::npos);
  // No userinfo: the authority (up to the target) has no '@'.
  check(after_scheme.substr(0, after_scheme.find_first_of("/?")).find('@') == std::string_view::npos);
  for (char c : text) check(static_cast<unsigned char>(c) > 0x20 && static_cast<unsigned char>(c) < 0x7f);

  char host[300];
  const std::size_t cap = zws::host_header_capacity(*u);
  if (cap <= sizeof host) {
    const std::size_t n = zws::host_header(*u, std::span<char>(host, cap));
    check(n != 0 && n <= cap);
    // The Host value parses back to the same host and port.
    char again[320] = "ws://";
    for (std::size_t i = 0; i < n; ++i) again[5 + i] = host[i];
    const auto v = zws::parse_url(std::string_view(again, 5 + n));
    check(v && v->host == u->host && v->host_is_ipv6 == u->host_is_ipv6 &&
          v->port == (u->port == zws::default_port(u->secure) ? 80 : u->port));
  }
  return 0;
}
