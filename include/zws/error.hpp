// zws/error.hpp — every rule a peer can break, and what it costs the connection.
//
// One value per rule. `close_code_of` maps a frame-level violation to the close
// code RFC 6455 §7.4.1 prescribes; `http_status_of` maps a handshake failure to
// the HTTP status the server answers with. `describe` is a short readable reason,
// suitable for a close frame (always under 123 bytes) or a log line.
#pragma once

#include <cstdint>
#include <string_view>

namespace zws {

// Close codes of RFC 6455 §7.4.1 that zws sends or reports.
namespace close_code {
inline constexpr std::uint16_t normal = 1000;
inline constexpr std::uint16_t going_away = 1001;
inline constexpr std::uint16_t protocol_error = 1002;
inline constexpr std::uint16_t unsupported_data = 1003;
inline constexpr std::uint16_t no_status = 1005;      // reported only: the Close frame had no code
inline constexpr std::uint16_t abnormal = 1006;       // reported only: TCP ended without a Close frame
inline constexpr std::uint16_t invalid_payload = 1007;
inline constexpr std::uint16_t policy_violation = 1008;
inline constexpr std::uint16_t message_too_big = 1009;
inline constexpr std::uint16_t mandatory_extension = 1010;
inline constexpr std::uint16_t internal_error = 1011;
}  // namespace close_code

enum class error : std::uint8_t {
  none = 0,

  // Frame rules, RFC 6455 §5 and §7 (close code in parentheses).
  reserved_bits,           // RSV1-3 set without a negotiated extension (1002)
  unknown_opcode,          // opcode 3-7 or 0xB-0xF (1002)
  fragmented_control,      // control frame with FIN clear (1002)
  control_too_long,        // control frame payload over 125 bytes (1002)
  unmasked_client_frame,   // a client sent an unmasked frame (1002)
  masked_server_frame,     // a server sent a masked frame (1002)
  length_msb_set,          // 64-bit payload length with its top bit set (1002)
  unexpected_continuation, // continuation frame with no message in progress (1002)
  expected_continuation,   // new data frame while a fragmented message is open (1002)
  close_payload_one_byte,  // close payload of exactly one byte (1002)
  invalid_close_code,      // close code not allowed on the wire (1002)
  invalid_utf8,            // text message or close reason is not UTF-8 (1007)
  message_too_big,         // message exceeds max_message_size (1009)
  too_many_fragments,      // fragmented message exceeds max_fragments (1009)

  // Connection-level policies (close code in parentheses).
  backpressure_exceeded,   // peer does not read; output queue over its limit (1008)
  idle_timeout,            // nothing heard within idle_timeout (1001)
  close_timeout,           // peer did not answer our Close in time (1006, TCP is cut)

  // Server-side handshake, RFC 6455 §4.2.1 (HTTP status in parentheses).
  head_too_large,          // request head over max_head_size (431)
  too_many_headers,        // more header fields than max_headers (431)
  malformed_head,          // not a parseable HTTP/1.1 head (400)
  bad_method,              // not GET (405)
  bad_http_version,        // older than HTTP/1.1 (400)
  missing_host,            // no Host header (400)
  missing_upgrade,         // no "Upgrade: websocket" (426)
  missing_connection,      // Connection does not list "upgrade" (400)
  missing_key,             // no Sec-WebSocket-Key (400)
  bad_key,                 // key is not base64 of 16 bytes (400)
  bad_version,             // Sec-WebSocket-Version is not 13 (426)
  unknown_path,            // no route for the request path (404)
  forbidden,               // the application refused (Origin, auth ...) (403)
  handshake_timeout,       // handshake not complete within handshake_timeout (408)

  // Client-side handshake, RFC 6455 §4.1 (no status: the client just fails).
  bad_status,              // response status is not 101
  bad_upgrade_response,    // response lacks Upgrade: websocket / Connection: upgrade
  bad_accept,              // Sec-WebSocket-Accept does not match our key
  bad_subprotocol,         // server chose a subprotocol we did not offer
  bad_extension,           // server chose an extension we did not offer

  // permessage-deflate, RFC 7692 (close code in parentheses; 0: the client's handshake fails).
  bad_extension_params,    // server's permessage-deflate answer is malformed or not what we offered (0)
  bad_compressed_data,     // a compressed message does not inflate (1007)
  deflate_memory,          // zlib memory over the loop's cap (1011)
  deflate_unavailable,     // built without permessage-deflate (1011)
};

// A short human-readable reason; never empty for a value other than none.
std::string_view describe(error e) noexcept;

// The close code for a frame or connection error; 0 for handshake errors.
std::uint16_t close_code_of(error e) noexcept;

// The HTTP status for a server-side handshake error; 0 for other errors.
int http_status_of(error e) noexcept;

// The standard reason phrase of an HTTP status ("Not Found"), "Error" if unknown.
std::string_view http_reason_phrase(int status) noexcept;

}  // namespace zws
