// zws/frame.hpp — the RFC 6455 §5.2 frame header and the §5.5.1 close payload.
//
// Stateless codecs over caller-owned bytes: nothing here allocates, keeps
// state or validates protocol rules beyond the layout itself. The rules
// (reserved bits, opcodes, masking direction ...) live in zws::reader, which
// applies them the moment a header is complete.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "zws/error.hpp"
#include "zws/simd.hpp"

namespace zws {

enum class opcode : std::uint8_t { continuation = 0, text = 1, binary = 2, close = 8, ping = 9, pong = 10 };

// The side this endpoint plays. A server receives masked frames and sends
// unmasked ones; a client the reverse (RFC 6455 §5.3).
enum class role : std::uint8_t { server, client };

// Close, ping and pong (and the reserved 0xB-0xF) have the high opcode bit set.
constexpr bool is_control(opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

// Whether a raw 4-bit opcode is one RFC 6455 defines (0-2, 8-10).
constexpr bool is_known_opcode(std::uint8_t raw) noexcept { return raw <= 2 || (raw >= 8 && raw <= 10); }

inline constexpr std::size_t max_frame_header = 14;     // 2 + 8 (64-bit length) + 4 (mask key)
inline constexpr std::size_t max_control_payload = 125;  // RFC 6455 §5.5
inline constexpr std::size_t max_close_reason = 123;     // a control payload less the 2-byte code

// A decoded header, exactly as on the wire. `op` is the raw 4-bit opcode
// (possibly one RFC 6455 does not define); `rsv` holds RSV1..RSV3 as bits 2..0.
struct frame_header {
  bool fin = true;
  std::uint8_t rsv = 0;
  std::uint8_t op = 0;
  bool masked = false;
  mask_key key = {};
  std::uint64_t payload_length = 0;
  std::uint8_t header_size = 0;  // 2..14, set by decode_header and encode_header
};

// The number of header bytes a frame with this payload length needs (2..14).
constexpr std::size_t header_size(std::uint64_t payload_length, bool masked) noexcept {
  return (payload_length < 126 ? 2 : payload_length <= 0xFFFF ? 4 : 10) + (masked ? 4 : 0);
}

// Decodes the header at the front of `bytes` into `out`. Returns its size
// (2..14) once every header byte is present, 0 when more bytes are needed (out
// is then unspecified); call again with a longer prefix. Reads only
// bytes[0 .. returned size). Checks no protocol rule: a 64-bit length with its
// top bit set is returned as is. Inline: the reader runs it once per frame.
inline std::size_t decode_header(std::span<const std::uint8_t> bytes, frame_header& out) noexcept {
  if (bytes.size() < 2) return 0;
  const std::uint8_t b0 = bytes[0];
  const std::uint8_t b1 = bytes[1];
  const std::uint8_t len7 = b1 & 0x7F;
  const bool masked = (b1 & 0x80) != 0;
  const std::size_t ext = len7 < 126 ? 0 : len7 == 126 ? 2 : 8;
  const std::size_t size = 2 + ext + (masked ? 4 : 0);
  if (bytes.size() < size) return 0;

  std::uint64_t len = len7;
  if (ext != 0) {
    len = 0;
    for (std::size_t i = 0; i < ext; ++i) len = (len << 8) | bytes[2 + i];
  }
  out.fin = (b0 & 0x80) != 0;
  out.rsv = static_cast<std::uint8_t>((b0 >> 4) & 0x7);
  out.op = b0 & 0x0F;
  out.masked = masked;
  if (masked) std::memcpy(out.key.bytes, bytes.data() + 2 + ext, 4);
  out.payload_length = len;
  out.header_size = static_cast<std::uint8_t>(size);
  return size;
}

// Writes `h` (fin, rsv, op, masked, key, payload_length; h.header_size is
// ignored) into `out` using the shortest length encoding. Returns the number of
// bytes written, header_size(h.payload_length, h.masked). Any field value is
// written as given, so tests can build frames that break the rules.
std::size_t encode_header(const frame_header& h, std::span<std::uint8_t, max_frame_header> out) noexcept;

// Whether a Close frame may carry `code` on the wire (RFC 6455 §7.4): 1000-1003,
// 1007-1014 and 3000-4999. 1004-1006, 1015, the rest below 3000 and anything
// from 5000 up are refused.
constexpr bool is_valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}

// The longest prefix of `s` of at most `max` bytes that does not end inside a
// UTF-8 sequence (only the cut is moved; `s` is not otherwise validated).
std::string_view utf8_truncate(std::string_view s, std::size_t max) noexcept;

// Writes a close payload: the code big-endian, then `reason` cut by
// utf8_truncate to max_close_reason bytes. A `code` of close_code::no_status
// (1005) writes an empty payload, which is how "no status" travels. Returns the
// payload size (0 or 2..125). The code is written as given; sending only codes
// that pass is_valid_close_code is the caller's job.
std::size_t encode_close_payload(std::span<std::uint8_t, max_control_payload> out, std::uint16_t code,
                                 std::string_view reason) noexcept;

// A decoded close payload. On success `err` is error::none, `code` is the code
// (close_code::no_status for an empty payload) and `reason` views the caller's
// bytes. Otherwise `err` is close_payload_one_byte, invalid_close_code or
// invalid_utf8 (reason not UTF-8) and the other fields are unspecified.
struct close_payload {
  error err = error::none;
  std::uint16_t code = close_code::no_status;
  std::string_view reason;
};

// Decodes and validates an (already unmasked) close payload of at most 125 bytes.
close_payload decode_close_payload(std::span<const std::uint8_t> payload) noexcept;

}  // namespace zws
