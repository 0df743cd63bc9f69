// tools/load/target.hpp — the server zws-load talks to, resolved once.
#pragma once

#include <netdb.h>
#include <sys/socket.h>

#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "options.hpp"
#include "zws/url.hpp"

namespace zws_load {

struct target {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;  // host[:port] as the URL spelled it
  std::string path = "/";
  bool secure = false;      // wss://
  std::string host;         // for TLS: SNI and the name the certificate must carry
};

inline bool resolve(const options& o, target& t) {
  // --raw takes tcp://host:port or host:port too; the URL parser only knows ws://.
  std::string text = o.url;
  if (o.raw && text.starts_with("tcp://")) text = "ws://" + text.substr(6);
  else if (o.raw && text.starts_with("tls://")) text = "wss://" + text.substr(6);
  else if (o.raw && text.find("://") == std::string::npos) text = "ws://" + text;
  const std::optional<zws::url> u = zws::parse_url(text);
  if (!u) {
    std::fprintf(stderr, "zws-load: not a ws:// or wss:// URL: %s\n", o.url.c_str());
    return false;
  }
  t.secure = u->secure;
  t.host_header = zws::host_header(*u);
  t.path = std::string(u->target);
  const std::string host(u->host), port = std::to_string(u->port);
  t.host = host;
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  const int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
  if (rc != 0 || res == nullptr) {
    std::fprintf(stderr, "zws-load: cannot resolve %s: %s\n", host.c_str(), gai_strerror(rc));
    return false;
  }
  std::memcpy(&t.addr, res->ai_addr, res->ai_addrlen);
  t.addr_len = res->ai_addrlen;
  freeaddrinfo(res);
  return true;
}

}  // namespace zws_load
