#include "zws/error.hpp"

namespace zws {

std::string_view describe(error e) noexcept {
  switch (e) {
    case error::none: return "no error";
    case error::reserved_bits: return "reserved bits set";
    case error::unknown_opcode: return "unknown opcode";
    case error::fragmented_control: return "fragmented control frame";
    case error::control_too_long: return "control frame longer than 125 bytes";
    case error::unmasked_client_frame: return "client frame not masked";
    case error::masked_server_frame: return "server frame masked";
    case error::length_msb_set: return "64-bit length with most significant bit set";
    case error::unexpected_continuation: return "continuation frame without a message";
    case error::expected_continuation: return "new message while a fragmented one is open";
    case error::close_payload_one_byte: return "close payload of one byte";
    case error::invalid_close_code: return "invalid close code";
    case error::invalid_utf8: return "invalid UTF-8";
    case error::message_too_big: return "message too big";
    case error::too_many_fragments: return "too many fragments";
    case error::backpressure_exceeded: return "peer is not reading: backpressure limit";
    case error::idle_timeout: return "idle timeout";
    case error::close_timeout: return "close handshake timed out";
    case error::head_too_large: return "request head too large";
    case error::too_many_headers: return "too many header fields";
    case error::malformed_head: return "malformed HTTP head";
    case error::bad_method: return "method must be GET";
    case error::bad_http_version: return "HTTP/1.1 or later required";
    case error::missing_host: return "missing Host header";
    case error::missing_upgrade: return "missing Upgrade: websocket";
    case error::missing_connection: return "Connection header lacks upgrade";
    case error::missing_key: return "missing Sec-WebSocket-Key";
    case error::bad_key: return "Sec-WebSocket-Key is not 16 bytes of base64";
    case error::bad_version: return "Sec-WebSocket-Version must be 13";
    case error::unknown_path: return "no endpoint at this path";
    case error::forbidden: return "upgrade refused";
    case error::handshake_timeout: return "handshake timed out";
    case error::bad_status: return "server did not answer 101 Switching Protocols";
    case error::bad_upgrade_response: return "response lacks Upgrade/Connection headers";
    case error::bad_accept: return "Sec-WebSocket-Accept mismatch";
    case error::bad_subprotocol: return "server chose a subprotocol not offered";
    case error::bad_extension: return "server chose an extension not offered";
    case error::bad_extension_params: return "server's permessage-deflate parameters are malformed or not offered";
    case error::bad_compressed_data: return "compressed message does not inflate";
    case error::deflate_memory: return "compression memory limit reached";
    case error::deflate_unavailable: return "zws was built without permessage-deflate (make DEFLATE=1)";
  }
  return "unknown error";
}

std::uint16_t close_code_of(error e) noexcept {
  switch (e) {
    case error::reserved_bits:
    case error::unknown_opcode:
    case error::fragmented_control:
    case error::control_too_long:
    case error::unmasked_client_frame:
    case error::masked_server_frame:
    case error::length_msb_set:
    case error::unexpected_continuation:
    case error::expected_continuation:
    case error::close_payload_one_byte:
    case error::invalid_close_code: return close_code::protocol_error;
    case error::invalid_utf8:
    case error::bad_compressed_data: return close_code::invalid_payload;
    case error::message_too_big:
    case error::too_many_fragments: return close_code::message_too_big;
    case error::backpressure_exceeded: return close_code::policy_violation;
    case error::idle_timeout: return close_code::going_away;
    case error::close_timeout: return close_code::abnormal;
    case error::deflate_memory:
    case error::deflate_unavailable: return close_code::internal_error;
    default: return 0;
  }
}

int http_status_of(error e) noexcept {
  switch (e) {
    case error::head_too_large:
    case error::too_many_headers: return 431;
    case error::malformed_head:
    case error::bad_http_version:
    case error::missing_host:
    case error::missing_connection:
    case error::missing_key:
    case error::bad_key: return 400;
    case error::bad_method: return 405;
    case error::missing_upgrade:
    case error::bad_version: return 426;
    case error::unknown_path: return 404;
    case error::forbidden: return 403;
    case error::handshake_timeout: return 408;
    default: return 0;
  }
}

std::string_view http_reason_phrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Error";
  }
}

}  // namespace zws
