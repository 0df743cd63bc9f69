// lib/endpoint/upgrade.cpp — the server side of the opening handshake: parse the head,
// route it, validate it, ask the application, answer 101 or refuse; and the
// on_http fallback for plain requests.
#include <algorithm>
#include <string>

#include "endpoint/compression.hpp"
#include "endpoint/server_state.hpp"
#include "zws/handshake.hpp"

namespace zws {
namespace detail {
namespace {

void write_http_response(buffer& out, const Response& resp) {
  std::string head = "HTTP/1.1 ";
  head += std::to_string(resp.status);
  head += ' ';
  head += http_reason_phrase(resp.status);
  head += "\r\nContent-Type: ";
  head += resp.content_type;
  head += "\r\nContent-Length: ";
  head += std::to_string(resp.body.size());
  head += "\r\nConnection: close\r\n";
  for (const auto& [name, value] : resp.headers) {
    head += name;
    head += ": ";
    head += value;
    head += "\r\n";
  }
  head += "\r\n";
  out.append(head);
  out.append(resp.body);
}

}  // namespace

void server_state::refresh_defaults() {
  Behavior d;
  if (!routes.empty()) {
    d.handshake_timeout = routes[0]->behavior.handshake_timeout;
    d.max_head_size = 0;
    d.max_headers = 0;
  }
  for (const auto& route : routes) {
    d.handshake_timeout = std::min(d.handshake_timeout, route->behavior.handshake_timeout);
    d.close_timeout = std::min(d.close_timeout, route->behavior.close_timeout);
    d.max_head_size = std::max(d.max_head_size, route->behavior.max_head_size);
    d.max_headers = std::max(d.max_headers, route->behavior.max_headers);
  }
  defaults = std::move(d);
}

bool is_wildcard(std::string_view pattern) noexcept { return !pattern.empty() && pattern.back() == '*'; }

const route_entry* server_state::find_route(std::string_view path, std::size_t& index) const {
  // An exact path wins; otherwise the longest "prefix*" pattern ("*" alone matches all).
  const route_entry* best = nullptr;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    std::string_view pattern = routes[i]->path;
    if (pattern == path) {
      index = i;
      return routes[i].get();
    }
    if (!is_wildcard(pattern)) continue;
    pattern.remove_suffix(1);
    if (path.substr(0, pattern.size()) == pattern && (best == nullptr || best->path.size() < pattern.size() + 1)) {
      best = routes[i].get();
      index = i;
    }
  }
  return best;
}

namespace {

// Returns true when the connection was upgraded.
bool upgrade(connection& c, const http::request& req, std::size_t head_size) {
  server_loop* sl = c.ep_->server;
  server_state* s = sl->s;
  if (!req.headers.has_token("Upgrade", "websocket")) {
    if (!s->http) {
      c.refuse(http_status_of(error::missing_upgrade), describe(error::missing_upgrade));
      return false;
    }
    Response resp;
    s->http(Request(req, c.fd()), resp);
    write_http_response(c.out_, resp);
    c.drain_and_close(s->defaults.close_timeout);
    return false;
  }
  std::size_t index = 0;
  const route_entry* route = s->find_route(req.path, index);
  if (route == nullptr) {
    c.refuse(http_status_of(error::unknown_path), describe(error::unknown_path));
    return false;
  }
  if (error e = validate_upgrade(req); e != error::none) {
    c.refuse(http_status_of(e), describe(e));
    return false;
  }
  const Behavior& b = route->behavior;
  if (head_size > b.max_head_size || req.headers.size() > b.max_headers) {
    error e = head_size > b.max_head_size ? error::head_too_large : error::too_many_headers;
    c.refuse(http_status_of(e), describe(e));
    return false;
  }
  if ((b.max_connections != 0 && route->open >= b.max_connections) ||
      (s->max_connections != 0 && s->open >= s->max_connections)) {
    c.refuse(503, "too many connections");
    return false;
  }
  endpoint* ep = sl->endpoint_for(index);
  Upgrade up;
  up.protocol(select_subprotocol(req.headers, ep->protocols));
  if (b.on_upgrade) b.on_upgrade(Request(req, c.fd()), up);
  if (up.refused()) {
    c.refuse(up.status(), up.text().empty() ? describe(error::forbidden) : std::string_view(up.text()));
    return false;
  }
  std::string_view protocol;
  for (std::size_t i = 0; i < ep->protocols.size() && i < 255; ++i) {
    if (!up.protocol().empty() && ep->protocols[i] == up.protocol()) {
      c.protocol_ = static_cast<std::uint8_t>(i + 1);
      protocol = ep->protocols[i];
    }
  }
  std::vector<http::header> extra;
  // permessage-deflate: exactly what was agreed, or no header at all (an empty one
  // broke Safari). Past the loop's zlib budget, the answer declines the offer.
  deflate_accept agreed;
  if (deflate_available() && b.deflate.enable) {
    agreed = negotiate_deflate(req.headers, b.deflate);
    if (agreed.accepted &&
        !ep->zlib->admits(zlib_bytes_to_admit(agreed.params, role::server, b.deflate, ep->shared.get()))) {
      agreed.accepted = false;
    }
  }
  if (agreed.accepted) extra.push_back({"Sec-WebSocket-Extensions", agreed.value.view()});
  for (const auto& [name, value] : up.headers()) extra.push_back({name, value});
  write_upgrade_response(c.out_, *req.headers.find("Sec-WebSocket-Key"), protocol, extra);
  c.set_user_data(up.data().release());
  if (is_wildcard(route->path)) c.keep_path(req.path);
  if (agreed.accepted) c.use_deflate(*ep, agreed.params, b.deflate);
  ++ep->route->open;
  ++s->open;
  c.open(ep);
  return true;
}

}  // namespace

std::size_t server_handshake(connection& c, std::span<std::uint8_t> bytes) {
  const Behavior& d = c.ep_->server->s->defaults;
  // The head is parsed again from its start on every read. A head sent a byte at
  // a time would make that quadratic, so past the first KiB the parser runs only
  // once the empty line is there (or the size limit is reached).
  constexpr std::size_t always_parse = 1024;
  if (bytes.size() > always_parse && bytes.size() < d.max_head_size) {
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    if (text.find("\r\n\r\n") == std::string_view::npos) return 0;
  }
  http::request_parser parser(http::limits{d.max_head_size, d.max_headers});
  http::parse_result res = parser.parse(std::span<const std::uint8_t>(bytes));
  if (res.status == http::parse_status::need_more) return 0;
  if (res.status == http::parse_status::failed) {
    int status = http_status_of(res.error);
    c.refuse(status != 0 ? status : 400, describe(res.error));
    return bytes.size();
  }
  if (!upgrade(c, parser.get(), res.head_size)) return bytes.size();
  if (c.dead() || c.phase_ != phase::open) return bytes.size();
  // Frames may follow the head in the same read.
  return res.head_size + c.process_frames(bytes.subspan(res.head_size));
}

}  // namespace detail
}  // namespace zws
