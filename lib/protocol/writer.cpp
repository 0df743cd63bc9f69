#include "zws/writer.hpp"

#include <cstring>

namespace zws {

namespace {

frame_header header_of(opcode op, std::uint64_t payload_size, const mask_key* key, bool fin) noexcept {
  frame_header h;
  h.fin = fin;
  h.op = static_cast<std::uint8_t>(op);
  h.payload_length = payload_size;
  if (key != nullptr) {
    h.masked = true;
    h.key = *key;
  }
  return h;
}

}  // namespace

bool write_frame(buffer& out, opcode op, std::span<const std::uint8_t> payload, const mask_key* key, bool fin) {
  if (is_control(op) && (!fin || payload.size() > max_control_payload)) return false;
  const frame_header h = header_of(op, payload.size(), key, fin);
  // One prepare for header and payload: a single growth check, and the payload
  // lands right after the header it belongs to.
  std::uint8_t* p = out.prepare(max_frame_header + payload.size());
  const std::size_t n = encode_header(h, std::span<std::uint8_t, max_frame_header>(p, max_frame_header));
  if (!payload.empty()) {
    if (key != nullptr) {
      mask_copy({p + n, payload.size()}, payload, *key);
    } else {
      std::memcpy(p + n, payload.data(), payload.size());
    }
  }
  out.commit(n + payload.size());
  return true;
}

void write_close(buffer& out, std::uint16_t code, std::string_view reason, const mask_key* key) {
  std::uint8_t payload[max_control_payload];
  const std::size_t n = encode_close_payload(payload, code, reason);
  write_frame(out, opcode::close, std::span<const std::uint8_t>(payload, n), key);
}

}  // namespace zws
