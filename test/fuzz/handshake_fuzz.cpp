// The server's handshake path on arbitrary input: parse, validate, then either
// write the 101 (which the client side must parse and accept) or a refusal
// (which must parse, carry the status the error maps to and a Content-Length
// that covers its body exactly). The same input is also read as a response and
// checked by the client side, which must never crash and accept only a 101 with
// the right Sec-WebSocket-Accept.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "zws/handshake.hpp"

namespace {

using zws::error;
using zws::http::parse_status;

void check(bool ok) {
  if (!ok) std::abort();
}

std::string_view text(const zws::buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

constexpr std::array<std::string_view, 3> supported{"chat", "superchat", "v2.zws"};

void accept_path(const zws::http::request& req) {
  const std::string_view key = *req.headers.find("Sec-WebSocket-Key");
  check(key.size() == 24);
  const std::string_view chosen = zws::select_subprotocol(req.headers, supported);
  check(chosen.empty() || std::find(supported.begin(), supported.end(), chosen) != supported.end());
  zws::buffer out;
  zws::write_upgrade_response(out, key, chosen);

  zws::http::response_parser p;
  const auto r = p.parse(text(out));
  check(r.status == parse_status::done && r.head_size == out.size());
  zws::client_key ck;
  std::copy(key.begin(), key.end(), ck.begin());
  check(zws::verify_upgrade_response(p.get(), ck, supported) == error::none);
  check(p.get().headers.find("Sec-WebSocket-Protocol").value_or("") == chosen);
}

void refuse_path(error e) {
  zws::buffer out;
  zws::write_refusal(out, e);
  zws::http::response_parser p;
  const auto r = p.parse(text(out));
  check(r.status == parse_status::done);
  const int status = zws::http_status_of(e);
  check(p.get().status == (status != 0 ? status : 400));
  check(p.get().headers.find("Content-Length") == std::to_string(out.size() - r.head_size));
  check(p.get().headers.has_token("Connection", "close"));
  check((p.get().status == 426) == p.get().headers.find("Sec-WebSocket-Version").has_value());
}

void server_path(std::string_view input) {
  zws::http::request_parser parser;
  const auto r = parser.parse(input);
  if (r.status == parse_status::need_more) return;
  const error e = r.status == parse_status::failed ? r.error : zws::validate_upgrade(parser.get());
  if (e == error::none) {
    accept_path(parser.get());
  } else {
    refuse_path(e);
  }
}

void client_path(std::string_view input) {
  zws::http::response_parser parser;
  if (parser.parse(input).status != parse_status::done) return;
  static constexpr std::array<std::uint8_t, 16> nonce{'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                                                      'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};
  const zws::client_key key = zws::make_client_key(nonce);
  const std::array<std::string_view, 1> offered{"chat"};
  const auto& resp = parser.get();
  if (zws::verify_upgrade_response(resp, key, offered) == error::none) {
    check(resp.status == 101);
    check(resp.headers.find("Sec-WebSocket-Accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    check(!resp.headers.find("Sec-WebSocket-Extensions").has_value());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  server_path(input);
  client_path(input);
  return 0;
}
