#include "zws/reader.hpp"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

namespace zws {

namespace {

// A zws::buffer indexes with 32 bits, so no reassembled message can be larger.
constexpr std::uint64_t buffer_limit = 0xFFFFFFFFu;

// Compressed bytes a message of at most `max` inflated bytes may take, so that an
// incompressible one still fits: zlib ends a block whenever its symbol buffer is
// full (1 << (memLevel + 6) symbols), and a stored block costs 5 bytes, so at
// memLevel 1 it grows by 5/128 (3.9%; Python websockets compresses at memLevel 5,
// 0.24%, which the 1/1024 allowed before did not cover). 1/16 covers every level.
std::uint64_t compressed_limit(std::uint64_t max) noexcept {
  const std::uint64_t slack = max / 16 + 1024;
  constexpr std::uint64_t top = std::numeric_limits<std::uint64_t>::max();
  return max > top - slack ? top : max + slack;
}

// The rules the first two header bytes decide, checked before the extended
// length and mask key arrive. `open` says whether a fragmented message is open.
// `deflate`: RSV1 may mark the first frame of a data message (RFC 7692 §6), and
// nothing else: not a control frame, not a continuation.
error check_start(std::uint8_t b0, std::uint8_t b1, role r, bool open, bool deflate) noexcept {
  const std::uint8_t op = b0 & 0x0F;
  if ((b0 & 0x30) != 0 || ((b0 & 0x40) != 0 && (!deflate || (op != 1 && op != 2)))) return error::reserved_bits;
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

// What only an open message needs: the reassembly buffer, or the position in a
// streamed frame. Allocated when a message spans frames or reads, freed after it.
struct reader::open_message {
  buffer assembly;               // default mode: the message so far
  std::uint64_t total = 0;       // streaming: payload bytes of the message so far
  std::uint64_t frame_left = 0;  // streaming: payload bytes of the current frame still to come
  mask_key key{};
  std::uint8_t phase = 0;        // key phase of the next payload byte
  bool masked = false;
  bool fin = false;
  bool in_frame = false;         // streaming: inside a data frame's payload
  bool delivered = false;        // streaming: a piece of this message was yielded
};

reader::reader(role r, const reader_limits& limits) noexcept : limits_(&limits), role_(r) {}

reader::reader(reader&& o) noexcept
    : limits_(o.limits_), msg_(std::exchange(o.msg_, nullptr)), fragments_(o.fragments_), checked_(o.checked_),
      utf8_(o.utf8_), role_(o.role_), state_(o.state_), message_op_(o.message_op_), err_(o.err_),
      close_code_(o.close_code_), deflate_(o.deflate_), compressed_(o.compressed_) {}

reader& reader::operator=(reader&& o) noexcept {
  if (this != &o) {
    delete msg_;
    limits_ = o.limits_;
    msg_ = std::exchange(o.msg_, nullptr);
    fragments_ = o.fragments_;
    checked_ = o.checked_;
    utf8_ = o.utf8_;
    role_ = o.role_;
    state_ = o.state_;
    message_op_ = o.message_op_;
    err_ = o.err_;
    close_code_ = o.close_code_;
    deflate_ = o.deflate_;
    compressed_ = o.compressed_;
  }
  return *this;
}

reader::~reader() { delete msg_; }

std::size_t reader::memory_held() const noexcept {
  return msg_ == nullptr ? 0 : sizeof(open_message) + msg_->assembly.capacity();
}

std::uint64_t reader::payload_left() const noexcept {
  return msg_ != nullptr && msg_->in_frame ? msg_->frame_left : 0;
}

reader::open_message* reader::open() noexcept {
  if (msg_ == nullptr) msg_ = new (std::nothrow) open_message;
  return msg_;
}

read_result reader::fail(error e) noexcept {
  state_ = state::finished;
  err_ = e;
  checked_ = 0;
  delete std::exchange(msg_, nullptr);
  return error_result(e);
}

// The rules that need the whole header: the length and the limits. Runs before
// any payload byte is looked at, so an oversized frame is refused from its header.
error reader::check_length(const frame_header& h) const noexcept {
  if ((h.payload_length >> 63) != 0) return error::length_msb_set;
  if (is_control(static_cast<opcode>(h.op))) return error::none;
  const bool open = state_ == state::fragmented;
  const bool compressed = open ? compressed_ : (h.rsv & 4) != 0;
  const bool streaming = limits_->streaming || compressed;
  const std::uint64_t max = compressed  ? compressed_limit(limits_->max_message_size)
                            : streaming ? limits_->max_message_size
                                        : std::min(limits_->max_message_size, buffer_limit);
  const std::uint64_t before = !open ? 0 : streaming ? msg_->total : msg_->assembly.size();
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
  if (msg_ != nullptr) {
    if (state_ == state::idle) delete std::exchange(msg_, nullptr);
    else if (msg_->in_frame) return stream_payload(bytes, 0);
  }

  // The common case, decided from the first bytes alone: a whole, final text or
  // binary frame with a 7- or 16-bit length, masked as our role requires, while
  // no fragmented message is open. For such a frame every rule of check_start
  // and check_length reduces to the tests below; anything else (and an
  // incomplete frame) takes the general path.
  if (state_ == state::idle && checked_ == 0 && bytes.size() >= 4) {
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
      return whole(hs + len, op, payload);
    }
  }

  if (bytes.size() < 2) return need_more(0);
  if (const error e = check_start(bytes[0], bytes[1], role_, state_ == state::fragmented, deflate_);
      e != error::none) {
    return fail(e);
  }
  frame_header h;
  if (decode_header(bytes, h) == 0) return need_more(0);
  if (const error e = check_length(h); e != error::none) return fail(e);
  const auto op = static_cast<opcode>(h.op);
  const bool control = is_control(op);
  // A compressed message always goes the streaming way: the caller inflates it.
  const bool compressed = !control && (state_ == state::fragmented ? compressed_ : (h.rsv & 4) != 0);
  if (compressed || (!control && limits_->streaming &&
                     (state_ == state::fragmented || !h.fin || bytes.size() - h.header_size < h.payload_length))) {
    return stream_start(h, bytes);
  }
  const std::size_t frame_size = h.header_size + static_cast<std::size_t>(h.payload_length);
  if (bytes.size() < frame_size) return control ? need_more(frame_size) : on_partial(h, bytes);

  const auto payload = bytes.subspan(h.header_size, static_cast<std::size_t>(h.payload_length));
  if (h.masked) mask(payload, h.key);
  if (control) return on_control(op, payload, frame_size);
  if (state_ == state::idle && h.fin) {
    // The common case: a whole message in one frame, yielded in place. Its
    // first checked_ bytes were validated while it arrived.
    if (op == opcode::text) {
      const bool ok =
          checked_ == 0 ? utf8_valid(payload) : utf8_.write(payload.subspan(checked_)) && utf8_.finish();
      checked_ = 0;
      if (!ok) return fail(error::invalid_utf8);
    }
    return whole(frame_size, op, payload);
  }
  return on_fragment(op, h.fin, payload, frame_size);
}

read_result reader::whole(std::size_t consumed, opcode op, std::span<const std::uint8_t> payload) noexcept {
  if (!limits_->streaming) return message_result(consumed, op, payload);
  read_result r = message_result(consumed, op, payload);
  r.ev.kind = event_kind::piece;
  r.ev.first = true;
  r.ev.last = true;
  return r;
}

bool reader::text_frame(const frame_header& h) const noexcept {
  const auto op = static_cast<opcode>(h.op);
  return state_ == state::idle ? op == opcode::text : message_op_ == opcode::text && op == opcode::continuation;
}

// A data frame whose header is complete and whose payload is not: its text is
// validated as far as it has arrived (on an unmasked copy: the frame stays as it
// is until it is whole), so invalid UTF-8 is refused at once, not when it ends.
read_result reader::on_partial(const frame_header& h, std::span<std::uint8_t> bytes) noexcept {
  const std::size_t frame_size = h.header_size + static_cast<std::size_t>(h.payload_length);
  const std::size_t arrived = bytes.size() - h.header_size;
  if (!text_frame(h) || arrived <= checked_) return need_more(frame_size);
  if (checked_ == 0 && state_ == state::idle) utf8_.reset();
  auto rest = std::span<const std::uint8_t>(bytes).subspan(h.header_size + checked_, arrived - checked_);
  if (!h.masked) {
    if (!utf8_.write(rest)) return fail(error::invalid_utf8);
  } else {
    std::uint8_t plain[4096];
    std::size_t phase = checked_ & 3;
    while (!rest.empty()) {
      const std::size_t n = std::min(rest.size(), sizeof plain);
      phase = mask_copy({plain, n}, rest.first(n), h.key, phase);
      if (!utf8_.write({plain, n})) return fail(error::invalid_utf8);
      rest = rest.subspan(n);
    }
  }
  checked_ = static_cast<std::uint32_t>(arrived);  // below frame_size, which fits a zws::buffer
  return need_more(frame_size);
}

// Streaming: a data frame that is incomplete, or part of a fragmented message.
// Its payload is yielded as it arrives (stream_payload).
read_result reader::stream_start(const frame_header& h, std::span<std::uint8_t> bytes) noexcept {
  open_message* m = open();
  if (m == nullptr) return fail(error::message_too_big);
  if (state_ == state::idle) {
    state_ = state::fragmented;
    message_op_ = static_cast<opcode>(h.op);
    compressed_ = (h.rsv & 4) != 0;
    fragments_ = 0;
    m->total = 0;
    m->delivered = false;
    utf8_.reset();
  }
  ++fragments_;
  m->frame_left = h.payload_length;
  m->key = h.key;
  m->masked = h.masked;
  m->phase = 0;
  m->fin = h.fin;
  m->in_frame = true;
  return stream_payload(bytes, h.header_size);
}

// Streaming: as much of the current frame's payload as `bytes` holds after
// `header_size` bytes, unmasked in place and validated, as one piece.
read_result reader::stream_payload(std::span<std::uint8_t> bytes, std::size_t header_size) noexcept {
  open_message& m = *msg_;
  const auto n = static_cast<std::size_t>(std::min<std::uint64_t>(bytes.size() - header_size, m.frame_left));
  const auto piece = bytes.subspan(header_size, n);
  if (m.masked) m.phase = static_cast<std::uint8_t>(mask(piece, m.key, m.phase));
  m.frame_left -= n;
  m.total += n;
  const bool frame_done = m.frame_left == 0;
  const bool last = frame_done && m.fin;
  if (message_op_ == opcode::text && !compressed_ && (!utf8_.write(piece) || (last && !utf8_.finish()))) {
    return fail(error::invalid_utf8);
  }
  if (frame_done) m.in_frame = false;
  if (n == 0 && !last) return header_size != 0 ? result(header_size, event_kind::none) : need_more(0);
  read_result r = message_result(header_size + n, message_op_, piece);
  r.ev.kind = event_kind::piece;
  r.ev.first = !m.delivered;
  r.ev.last = last;
  r.ev.compressed = compressed_;
  m.delivered = true;
  if (last) state_ = state::idle;
  return r;
}

read_result reader::on_control(opcode op, std::span<std::uint8_t> payload, std::size_t frame_size) noexcept {
  if (op == opcode::ping) return result(frame_size, event_kind::ping, payload);
  if (op == opcode::pong) return result(frame_size, event_kind::pong, payload);
  const close_payload c = decode_close_payload(payload);
  if (c.err != error::none) return fail(c.err);
  state_ = state::finished;
  close_code_ = c.code;
  delete std::exchange(msg_, nullptr);
  const std::span<const std::uint8_t> reason(reinterpret_cast<const std::uint8_t*>(c.reason.data()), c.reason.size());
  return close_result(frame_size, c.code, reason);
}

read_result reader::on_fragment(opcode op, bool fin, std::span<std::uint8_t> payload, std::size_t frame_size) noexcept {
  open_message* m = open();
  if (m == nullptr) return fail(error::message_too_big);
  if (state_ == state::idle) {
    state_ = state::fragmented;
    message_op_ = op;
    compressed_ = false;
    fragments_ = 0;
    if (checked_ == 0) utf8_.reset();
  }
  ++fragments_;
  // Fail fast: a text message is refused at the first fragment that cannot be
  // the prefix of valid UTF-8, not only when it ends.
  const bool valid = message_op_ != opcode::text || utf8_.write(payload.subspan(checked_));
  checked_ = 0;
  if (!valid) return fail(error::invalid_utf8);
  try {
    m->assembly.append(payload);
  } catch (const std::bad_alloc&) {
    // check_length bounds the size; running out of memory below that bound is
    // still the peer's message being too big for this process.
    return fail(error::message_too_big);
  }
  if (!fin) return result(frame_size, event_kind::none);
  if (message_op_ == opcode::text && !utf8_.finish()) return fail(error::invalid_utf8);
  state_ = state::idle;
  return message_result(frame_size, message_op_, m->assembly.bytes());
}

}  // namespace zws
