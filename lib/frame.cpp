#include "zws/frame.hpp"

#include <cstring>

namespace zws {

std::size_t decode_header(std::span<const std::uint8_t> bytes, frame_header& out) noexcept {
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

std::size_t encode_header(const frame_header& h, std::span<std::uint8_t, max_frame_header> out) noexcept {
  out[0] = static_cast<std::uint8_t>((h.fin ? 0x80 : 0) | ((h.rsv & 0x7) << 4) | (h.op & 0x0F));
  const std::uint8_t mask_bit = h.masked ? 0x80 : 0;
  std::size_t n = 2;
  if (h.payload_length < 126) {
    out[1] = static_cast<std::uint8_t>(mask_bit | h.payload_length);
  } else if (h.payload_length <= 0xFFFF) {
    out[1] = mask_bit | 126;
    out[2] = static_cast<std::uint8_t>(h.payload_length >> 8);
    out[3] = static_cast<std::uint8_t>(h.payload_length);
    n = 4;
  } else {
    out[1] = mask_bit | 127;
    for (int i = 0; i < 8; ++i) out[2 + i] = static_cast<std::uint8_t>(h.payload_length >> (56 - 8 * i));
    n = 10;
  }
  if (h.masked) {
    std::memcpy(out.data() + n, h.key.bytes, 4);
    n += 4;
  }
  return n;
}

std::string_view utf8_truncate(std::string_view s, std::size_t max) noexcept {
  if (s.size() <= max) return s;
  // Step back over at most 3 continuation bytes (10xxxxxx) so the cut falls
  // before a lead byte; a longer run is not UTF-8 anyway and is cut where it is.
  std::size_t cut = max;
  for (int i = 0; i < 3 && cut > 0 && (static_cast<std::uint8_t>(s[cut]) & 0xC0) == 0x80; ++i) --cut;
  if ((static_cast<std::uint8_t>(s[cut]) & 0xC0) == 0x80) cut = max;
  return s.substr(0, cut);
}

std::size_t encode_close_payload(std::span<std::uint8_t, max_control_payload> out, std::uint16_t code,
                                 std::string_view reason) noexcept {
  if (code == close_code::no_status) return 0;
  out[0] = static_cast<std::uint8_t>(code >> 8);
  out[1] = static_cast<std::uint8_t>(code);
  const std::string_view r = utf8_truncate(reason, max_close_reason);
  if (!r.empty()) std::memcpy(out.data() + 2, r.data(), r.size());
  return 2 + r.size();
}

close_payload decode_close_payload(std::span<const std::uint8_t> payload) noexcept {
  close_payload c;
  if (payload.empty()) return c;
  if (payload.size() == 1) {
    c.err = error::close_payload_one_byte;
    return c;
  }
  c.code = static_cast<std::uint16_t>((payload[0] << 8) | payload[1]);
  if (!is_valid_close_code(c.code)) {
    c.err = error::invalid_close_code;
    return c;
  }
  const auto reason = payload.subspan(2);
  if (!utf8_valid(reason)) {
    c.err = error::invalid_utf8;
    return c;
  }
  c.reason = {reinterpret_cast<const char*>(reason.data()), reason.size()};
  return c;
}

}  // namespace zws
