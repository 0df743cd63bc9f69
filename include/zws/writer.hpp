// zws/writer.hpp — frames going out.
//
// Two ways to send. `write_frame` appends header + payload to an output buffer
// (masking while it copies, for a client). `make_frame_head` only encodes the
// header, so a server can hand header and the caller's payload to one writev
// without copying the payload. Mask keys come from the caller (the I/O layer
// draws them from getrandom); nothing here makes a syscall.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "zws/buffer.hpp"
#include "zws/frame.hpp"
#include "zws/simd.hpp"

namespace zws {

// Appends one frame to `out`: a client passes a fresh key (the payload is
// masked while copied), a server passes nullptr. `fin` false starts or continues
// a fragmented message (op is then opcode::continuation after the first frame).
// `payload` must not point into `out`. Returns false and appends nothing when
// the frame would break RFC 6455 §5.5: a control frame with more than 125
// payload bytes or with fin false. The payload of a text frame is sent as is
// (UTF-8 validity is the sender's promise). Grows `out`, which throws
// std::bad_alloc only when memory runs out.
bool write_frame(buffer& out, opcode op, std::span<const std::uint8_t> payload, const mask_key* key = nullptr,
                 bool fin = true);
inline bool write_frame(buffer& out, opcode op, std::string_view payload, const mask_key* key = nullptr,
                        bool fin = true) {
  return write_frame(out, op, {reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size()}, key, fin);
}

// Appends a Close frame carrying `code` and `reason` (cut to 123 bytes at a
// UTF-8 boundary; see encode_close_payload). close_code::no_status (1005) sends
// an empty payload.
void write_close(buffer& out, std::uint16_t code, std::string_view reason, const mask_key* key = nullptr);

// The header of a frame whose `payload_size` payload bytes follow unchanged,
// in a small array, for writev(head, payload). Pass a key only if the payload
// that follows is already masked with it. Constructed in place
// (`frame_head head(opcode::binary, n);`) so the encoded bytes are not copied
// around on the way to the iovec.
struct frame_head {
  frame_head(opcode op, std::uint64_t payload_size, const mask_key* key = nullptr, bool fin = true) noexcept {
    frame_header h;
    h.fin = fin;
    h.op = static_cast<std::uint8_t>(op);
    h.payload_length = payload_size;
    if (key != nullptr) {
      h.masked = true;
      h.key = *key;
    }
    size = static_cast<std::uint8_t>(encode_header(h, bytes));
  }
  std::span<const std::uint8_t> span() const noexcept { return {bytes, size}; }

  std::uint8_t bytes[max_frame_header];
  std::uint8_t size;
};

// The same, as a function.
inline frame_head make_frame_head(opcode op, std::uint64_t payload_size, const mask_key* key = nullptr,
                                  bool fin = true) noexcept {
  return frame_head(op, payload_size, key, fin);
}

}  // namespace zws
