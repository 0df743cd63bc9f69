#include "zws/reader.hpp"

#include <algorithm>
#include <cstring>
#include <new>

namespace zws {

namespace {

// A zws::buffer indexes with 32 bits, so no reassembled message can be larger.
constexpr std::uint64_t buffer_limit = 0xFFFFFFFFu;

// The rules the first two header bytes decide, checked before the extended
// length and mask key arrive. `open` says whether a fragmented message is open.
error check_start(std::uint8_t b0, std::uint8_t b1, role r, bool open) noexcept {
  if ((b0 & 0x70) != 0) return error::reserved_bits;
  const std::uint8_t op = b0 & 0x0F;
  if (!is_known_opcode(op)) return error::unknown_opcode;
  if ((op & 0x8) != 0) {
    if ((b0 & 0x80) == 0) return error::fragmented_control;
    if ((b1 & 0x7F) > max_control_payload) return error::control_too_long;
  }
  const bool masked = (b1 & 0x80) != 0;
  if (r == role::server && !masked) return error::unmasked_client_frame;
  if (r == role::client && masked) return error::masked_server_frame;
  if (op == 0 && !open) return error::unexpected_continuation;
  if ((op == 1 || op == 2) && open) return error::expected_continuation;
  return error::none;
}

// Results are built field by field, in the caller's return slot: designated
// initialisers that skip a member trip -Wmissing-field-initializers, and a
// result assembled elsewhere and copied costs a store-forwarding stall per frame.
read_result result(std::size_t consumed, event_kind kind, std::span<const std::uint8_t> data = {}) noexcept {
  read_result r;
  r.consumed = consumed;
  r.ev.kind = kind;
  r.ev.data = data;
  return r;
}

read_result need_more(std::size_t need) noexcept {
  read_result r = result(0, event_kind::need_more);
  r.ev.need = need;
  return r;
}

read_result error_result(error e) noexcept {
  read_result r = result(0, event_kind::error);
  r.ev.err = e;
  return r;
}

read_result close_result(std::size_t consumed, std::uint16_t code, std::span<const std::uint8_t> reason) noexcept {
  read_result r = result(consumed, event_kind::close, reason);
  r.ev.code = code;
  return r;
}

read_result message_result(std::size_t consumed, opcode op, std::span<const std::uint8_t> data) noexcept {
  read_result r = result(consumed, event_kind::message, data);
  r.ev.op = op;
  return r;
}

}  // namespace

reader::reader(role r, const reader_limits& limits) noexcept : limits_(&limits), role_(r) {}

read_result reader::fail(error e) noexcept {
  state_ = state::finished;
  err_ = e;
  assembly_.release();
  return error_result(e);
}

// The rules that need the whole header: the length and the limits. Runs before
// any payload byte is looked at, so an oversized frame is refused from its header.
error reader::check_length(const frame_header& h) const noexcept {
  if ((h.payload_length >> 63) != 0) return error::length_msb_set;
  if (is_control(static_cast<opcode>(h.op))) return error::none;
  const bool open = state_ == state::fragmented;
  const std::uint64_t max = std::min(limits_->max_message_size, buffer_limit);
  const std::uint64_t before = open ? assembly_.size() : 0;
  if (before > max || h.payload_length > max - before) return error::message_too_big;
  if (open || !h.fin) {
    const std::uint64_t count = (open ? std::uint64_t{fragments_} : 0) + 1;
    if (count > limits_->max_fragments) return error::too_many_fragments;
  }
  return error::none;
}

read_result reader::next(std::span<std::uint8_t> bytes) noexcept {
  if (state_ == state::finished) {
    return err_ != error::none ? error_result(err_) : close_result(0, close_code_, {});
  }
  // A reassembled message yielded by the previous call is no longer needed, and
  // an idle connection keeps no memory.
  if (state_ == state::idle && assembly_.capacity() != 0) assembly_.release();

  // The common case, decided from the first bytes alone: a whole, final text or
  // binary frame with a 7- or 16-bit length, masked as our role requires, while
  // no fragmented message is open. For such a frame every rule of check_start
  // and check_length reduces to the tests below; anything else (and an
  // incomplete frame) takes the general path.
  if (state_ == state::idle && bytes.size() >= 4) {
    const std::uint8_t b0 = bytes[0], b1 = bytes[1];
    const bool masked = (b1 & 0x80) != 0;
    std::size_t len = b1 & 0x7F;
    std::size_t hs = 2;
    if (len == 126) {
      len = std::size_t{bytes[2]} << 8 | bytes[3];
      hs = 4;
    }
    if (masked) hs += 4;
    if ((b0 == 0x81 || b0 == 0x82) && (b1 & 0x7F) != 127 && masked == (role_ == role::server) &&
        len <= limits_->max_message_size && bytes.size() >= hs + len) {
      const auto payload = bytes.subspan(hs, len);
      if (masked) {
        mask_key key;
        std::memcpy(key.bytes, bytes.data() + hs - 4, 4);
        mask(payload, key);
      }
      const auto op = static_cast<opcode>(b0 & 0x0F);
      if (op == opcode::text && !utf8_valid(payload)) return fail(error::invalid_utf8);
      return message_result(hs + len, op, payload);
    }
  }

  if (bytes.size() < 2) return need_more(0);
  if (const error e = check_start(bytes[0], bytes[1], role_, state_ == state::fragmented); e != error::none) {
    return fail(e);
  }
  frame_header h;
  if (decode_header(bytes, h) == 0) return need_more(0);
  if (const error e = check_length(h); e != error::none) return fail(e);
  const std::size_t frame_size = h.header_size + static_cast<std::size_t>(h.payload_length);
  if (bytes.size() < frame_size) return need_more(frame_size);

  const auto payload = bytes.subspan(h.header_size, static_cast<std::size_t>(h.payload_length));
  if (h.masked) mask(payload, h.key);
  const auto op = static_cast<opcode>(h.op);
  if (is_control(op)) return on_control(op, payload, frame_size);
  if (state_ == state::idle && h.fin) {
    // The common case: a whole message in one frame, yielded in place.
    if (op == opcode::text && !utf8_valid(payload)) return fail(error::invalid_utf8);
    return message_result(frame_size, op, payload);
  }
  return on_fragment(op, h.fin, payload, frame_size);
}

read_result reader::on_control(opcode op, std::span<std::uint8_t> payload, std::size_t frame_size) noexcept {
  if (op == opcode::ping) return result(frame_size, event_kind::ping, payload);
  if (op == opcode::pong) return result(frame_size, event_kind::pong, payload);
  const close_payload c = decode_close_payload(payload);
  if (c.err != error::none) return fail(c.err);
  state_ = state::finished;
  close_code_ = c.code;
  assembly_.release();
  const std::span<const std::uint8_t> reason(reinterpret_cast<const std::uint8_t*>(c.reason.data()), c.reason.size());
  return close_result(frame_size, c.code, reason);
}

read_result reader::on_fragment(opcode op, bool fin, std::span<std::uint8_t> payload, std::size_t frame_size) noexcept {
  if (state_ == state::idle) {
    state_ = state::fragmented;
    message_op_ = op;
    fragments_ = 0;
    utf8_.reset();
  }
  ++fragments_;
  // Fail fast: a text message is refused at the first fragment that cannot be
  // the prefix of valid UTF-8, not only when it ends.
  if (message_op_ == opcode::text && !utf8_.write(payload)) return fail(error::invalid_utf8);
  try {
    assembly_.append(payload);
  } catch (const std::bad_alloc&) {
    // check_length bounds the size; running out of memory below that bound is
    // still the peer's message being too big for this process.
    return fail(error::message_too_big);
  }
  if (!fin) return result(frame_size, event_kind::none);
  if (message_op_ == opcode::text && !utf8_.finish()) return fail(error::invalid_utf8);
  state_ = state::idle;
  return message_result(frame_size, message_op_, assembly_.bytes());
}

}  // namespace zws
