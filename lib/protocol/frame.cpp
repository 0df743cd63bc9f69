#include "zws/frame.hpp"

// Network byte order is big-endian; zws targets little-endian Linux (x86-64, AArch64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the length encoding below byte-swaps");

#include <cstring>

namespace zws {

std::size_t encode_header(const frame_header& h, std::span<std::uint8_t, max_frame_header> out) noexcept {
  out[0] = static_cast<std::uint8_t>((h.fin ? 0x80 : 0) | ((h.rsv & 0x7) << 4) | (h.op & 0x0F));
  const std::uint8_t mask_bit = h.masked ? 0x80 : 0;
  std::size_t n = 2;
  if (h.payload_length < 126) {
    out[1] = static_cast<std::uint8_t>(mask_bit | h.payload_length);
  } else if (h.payload_length <= 0xFFFF) {
    out[1] = mask_bit | 126;
    const std::uint16_t be = __builtin_bswap16(static_cast<std::uint16_t>(h.payload_length));
    std::memcpy(out.data() + 2, &be, 2);
    n = 4;
  } else {
    out[1] = mask_bit | 127;
    const std::uint64_t be = __builtin_bswap64(h.payload_length);
    std::memcpy(out.data() + 2, &be, 8);
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
