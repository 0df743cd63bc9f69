// zws/handshake.hpp — the opening handshake of RFC 6455 §4, sans-IO.
//
// Server path, as the server layer uses it:
//   http::request_parser parser;            parse the head (zws/http.hpp)
//   error e = validate_upgrade(req);        RFC 6455 §4.2.1 checks
//   route by req.path, ask the user hook (Origin, auth, select_subprotocol ...)
//   write_upgrade_response(out, key, protocol)   or   write_refusal(out, e)
// Client path:
//   key = make_client_key(16 random bytes); write_upgrade_request(out, opts, key);
//   parse the response with http::response_parser; verify_upgrade_response(resp, key, offered).
//
// Nothing here allocates except a zws::buffer growing to fit what is appended
// (a reused buffer does not), and nothing makes a syscall: randomness comes from the caller.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "zws/buffer.hpp"
#include "zws/error.hpp"
#include "zws/http.hpp"

namespace zws {

// A Sec-WebSocket-Key: base64 of 16 bytes, always 24 characters.
using client_key = std::array<char, 24>;
// A Sec-WebSocket-Accept: base64 of a SHA-1 digest, always 28 characters.
using accept_value = std::array<char, 28>;

// The characters of a key or accept value, for comparisons and header values.
inline std::string_view as_view(const client_key& k) noexcept { return {k.data(), k.size()}; }
inline std::string_view as_view(const accept_value& a) noexcept { return {a.data(), a.size()}; }

// ---- server ---------------------------------------------------------------

// Checks a parsed request against RFC 6455 §4.2.1, in this order, and returns the
// first rule broken, or error::none:
//   method GET (bad_method); HTTP/1.1 or later (bad_http_version); exactly one
//   Host (missing_host; several Host lines: malformed_head); Upgrade lists
//   "websocket" (missing_upgrade); Connection lists "upgrade" (missing_connection);
//   one Sec-WebSocket-Version, equal to 13 (bad_version); one Sec-WebSocket-Key
//   that is canonical base64 of exactly 16 bytes (missing_key / bad_key).
// Path (unknown_path) and Origin (forbidden) are the server's decisions: it reads
// req.path, req.query and req.headers.find("Origin") itself.
error validate_upgrade(const http::request& req) noexcept;

// Sec-WebSocket-Accept for `key`: base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
// `key` is used as given (validate_upgrade has already checked it).
accept_value accept_key(std::string_view key) noexcept;

// The subprotocol to answer with: the first element of the client's
// Sec-WebSocket-Protocol list (all such lines, in order) that equals one of
// `supported` exactly (subprotocol names are case-sensitive). Returns the element
// of `supported` (so the view lives as long as the caller's list), or an empty
// view when nothing matches or the client offered none.
std::string_view select_subprotocol(const http::headers& request_headers,
                                    std::span<const std::string_view> supported) noexcept;

// Appends "HTTP/1.1 101 Switching Protocols" with Upgrade: websocket,
// Connection: Upgrade, Sec-WebSocket-Accept computed from `key`, then
// Sec-WebSocket-Protocol if `subprotocol` is not empty, then each of `extra`
// verbatim, then the empty line. Names and values are written as given: they must
// not contain CR or LF.
void write_upgrade_response(buffer& out, std::string_view key, std::string_view subprotocol = {},
                            std::span<const http::header> extra = {});

// Appends a complete refusal: "HTTP/1.1 <status> <http_reason_phrase(status)>",
// Connection: close, Content-Type: text/plain, Content-Length, each of `extra`,
// Sec-WebSocket-Version: 13 when status is 426 (RFC 6455 §4.4), Allow: GET when
// it is 405, and `text` plus a newline as the body. The caller closes the
// connection once it is sent.
void write_refusal(buffer& out, int status, std::string_view text, std::span<const http::header> extra = {});

// write_refusal with http_status_of(e) (400 if e has none) and describe(e) as the text.
void write_refusal(buffer& out, error e);

// ---- client ---------------------------------------------------------------

// Encodes 16 random bytes (the I/O layer draws them with getrandom) as a key.
client_key make_client_key(std::span<const std::uint8_t, 16> nonce) noexcept;

struct upgrade_request_options {
  std::string_view host{};                           // Host value: "example.com" or "example.com:8080"
  std::string_view target = "/";                     // path and query: "/chat?room=1" ("?q": "/?q")
  std::string_view origin{};                         // sent as Origin when not empty
  std::span<const std::string_view> subprotocols{};  // offered in this order, when not empty
  std::span<const http::header> extra{};             // appended verbatim (no CR or LF inside)
};

// Appends "GET <target> HTTP/1.1" with Host, Upgrade: websocket,
// Connection: Upgrade, Sec-WebSocket-Key: key, Sec-WebSocket-Version: 13, then
// Origin, Sec-WebSocket-Protocol and the extra headers when given, and the empty line.
void write_upgrade_request(buffer& out, const upgrade_request_options& opts, const client_key& key);

// Checks a parsed response against RFC 6455 §4.1 for the request sent with `key`
// and `offered` subprotocols, returning the first rule broken, or error::none:
//   status 101 (bad_status); Upgrade lists "websocket" and Connection lists
//   "upgrade" (bad_upgrade_response); Sec-WebSocket-Accept matches key
//   (bad_accept); Sec-WebSocket-Protocol absent or exactly one of `offered`
//   (bad_subprotocol); no Sec-WebSocket-Extensions at all (bad_extension) unless
//   `extensions_offered`: then the caller checks them (check_deflate_answer).
//   The chosen subprotocol, if any, is resp.headers.find("Sec-WebSocket-Protocol").
error verify_upgrade_response(const http::response& resp, const client_key& key,
                              std::span<const std::string_view> offered = {},
                              bool extensions_offered = false) noexcept;

}  // namespace zws
