#include "zws/handshake.hpp"

#include <charconv>
#include <cstring>

#include "base/base64.hpp"
#include "base/sha1.hpp"

namespace zws {
namespace {

using http::iequals;

constexpr std::string_view websocket_guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view crlf = "\r\n";

// Canonical base64 of exactly 16 bytes: 24 characters ending in "==".
bool is_valid_key(std::string_view key) noexcept {
  if (key.size() != 24) return false;
  std::array<std::uint8_t, 16> raw;
  return detail::base64_decode(key, raw) == 16;
}

void append_field(buffer& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append(crlf);
}

void append_fields(buffer& out, std::span<const http::header> fields) {
  for (const http::header& h : fields) append_field(out, h.name, h.value);
}

void append_number(buffer& out, std::size_t n) {
  char digits[24];
  const auto r = std::to_chars(digits, digits + sizeof digits, n);
  out.append(digits, static_cast<std::size_t>(r.ptr - digits));
}

}  // namespace

// One pass over the fields gathers what the rules need; the rules are then
// checked in the documented order, so the first broken one is reported.
error validate_upgrade(const http::request& req) noexcept {
  if (req.method != "GET") return error::bad_method;
  if (req.minor_version < 1) return error::bad_http_version;
  std::size_t hosts = 0, versions = 0, keys = 0;
  std::string_view version, key;
  for (const http::header& h : req.headers) {
    if (iequals(h.name, "Host")) {
      ++hosts;
    } else if (iequals(h.name, "Sec-WebSocket-Version")) {
      ++versions;
      version = h.value;
    } else if (iequals(h.name, "Sec-WebSocket-Key")) {
      ++keys;
      key = h.value;
    }
  }
  if (hosts == 0) return error::missing_host;
  if (hosts > 1) return error::malformed_head;  // RFC 9112 §3.2: answer 400
  if (!req.headers.has_token("Upgrade", "websocket")) return error::missing_upgrade;
  if (!req.headers.has_token("Connection", "upgrade")) return error::missing_connection;
  if (versions != 1 || version != "13") return error::bad_version;
  if (keys == 0) return error::missing_key;
  if (keys > 1 || !is_valid_key(key)) return error::bad_key;
  return error::none;
}

accept_value accept_key(std::string_view key) noexcept {
  detail::sha1 h;
  h.update(key);
  h.update(websocket_guid);
  const detail::sha1_digest digest = h.finish();
  accept_value out;
  detail::base64_encode(digest, out.data());
  return out;
}

std::string_view select_subprotocol(const http::headers& request_headers,
                                    std::span<const std::string_view> supported) noexcept {
  for (const http::header& h : request_headers) {
    if (!iequals(h.name, "Sec-WebSocket-Protocol")) continue;
    std::string_view list = h.value;
    for (std::string_view offered = http::next_token(list); !offered.empty(); offered = http::next_token(list)) {
      for (std::string_view s : supported) {
        if (s == offered) return s;
      }
    }
  }
  return {};
}

void write_upgrade_response(buffer& out, std::string_view key, std::string_view subprotocol,
                            std::span<const http::header> extra) {
  const accept_value accept = accept_key(key);
  out.append(
      "HTTP/1.1 101 Switching Protocols\r\n"
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Accept: ");
  out.append(as_view(accept));
  out.append(crlf);
  if (!subprotocol.empty()) append_field(out, "Sec-WebSocket-Protocol", subprotocol);
  append_fields(out, extra);
  out.append(crlf);
}

void write_refusal(buffer& out, int status, std::string_view text, std::span<const http::header> extra) {
  if (status < 100 || status > 999) status = 500;
  out.append("HTTP/1.1 ");
  append_number(out, static_cast<std::size_t>(status));
  out.append(" ");
  out.append(http_reason_phrase(status));
  out.append(
      "\r\nConnection: close\r\n"
      "Content-Type: text/plain; charset=utf-8\r\n"
      "Content-Length: ");
  append_number(out, text.size() + 1);
  out.append(crlf);
  // RFC 6455 §4.4: a 426 names the versions the server speaks.
  if (status == 426) out.append("Sec-WebSocket-Version: 13\r\n");
  // RFC 9110 §15.5.6: a 405 lists the allowed methods.
  if (status == 405) out.append("Allow: GET\r\n");
  append_fields(out, extra);
  out.append(crlf);
  out.append(text);
  out.append("\n");
}

void write_refusal(buffer& out, error e) {
  const int status = http_status_of(e);
  write_refusal(out, status != 0 ? status : 400, describe(e));
}

client_key make_client_key(std::span<const std::uint8_t, 16> nonce) noexcept {
  client_key key;
  detail::base64_encode(nonce, key.data());
  return key;
}

void write_upgrade_request(buffer& out, const upgrade_request_options& opts, const client_key& key) {
  out.append("GET ");
  // The origin form always starts with '/': a bare query ("?q") gets one.
  if (opts.target.empty() || opts.target[0] == '?') out.append(std::string_view("/"));
  out.append(opts.target);
  out.append(" HTTP/1.1\r\n");
  append_field(out, "Host", opts.host);
  out.append(
      "Upgrade: websocket\r\n"
      "Connection: Upgrade\r\n"
      "Sec-WebSocket-Key: ");
  out.append(as_view(key));
  out.append("\r\nSec-WebSocket-Version: 13\r\n");
  if (!opts.origin.empty()) append_field(out, "Origin", opts.origin);
  if (!opts.subprotocols.empty()) {
    out.append("Sec-WebSocket-Protocol: ");
    for (std::size_t i = 0; i < opts.subprotocols.size(); ++i) {
      if (i != 0) out.append(", ");
      out.append(opts.subprotocols[i]);
    }
    out.append(crlf);
  }
  append_fields(out, opts.extra);
  out.append(crlf);
}

error verify_upgrade_response(const http::response& resp, const client_key& key,
                              std::span<const std::string_view> offered, bool extensions_offered) noexcept {
  if (resp.status != 101) return error::bad_status;
  const http::headers& h = resp.headers;
  if (!h.has_token("Upgrade", "websocket") || !h.has_token("Connection", "upgrade")) {
    return error::bad_upgrade_response;
  }
  const auto accept = h.find("Sec-WebSocket-Accept");
  if (!accept || h.count("Sec-WebSocket-Accept") != 1 || *accept != as_view(accept_key(as_view(key)))) {
    return error::bad_accept;
  }
  if (const auto chosen = h.find("Sec-WebSocket-Protocol")) {
    if (h.count("Sec-WebSocket-Protocol") != 1) return error::bad_subprotocol;
    bool was_offered = false;
    for (std::string_view o : offered) was_offered = was_offered || (!o.empty() && o == *chosen);
    if (!was_offered) return error::bad_subprotocol;
  }
  if (!extensions_offered && h.count("Sec-WebSocket-Extensions") != 0) return error::bad_extension;
  return error::none;
}

}  // namespace zws
