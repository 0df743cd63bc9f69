// zws/reader.hpp — turns received bytes into messages, one event per call.
//
// Pull-style and sans-IO: the connection hands `next` the bytes it holds, acts
// on the returned event, drops `consumed` bytes and calls again. The reader never
// calls user code, allocates only to reassemble a fragmented message, and checks
// every rule of RFC 6455 §5 and §7 as soon as a frame header is complete, before
// any payload has to be buffered. RSV2-3 must be 0; RSV1 too unless permessage-deflate
// was negotiated (set_deflate), and then only on the first frame of a data message.
// Text is validated as its bytes arrive: a frame whose payload is still incomplete
// is refused at the first invalid byte that has arrived (fail fast), not when it ends.
//
// Two ways to deliver data. By default a message is yielded whole (reassembled
// when fragmented). With reader_limits::streaming, payload is yielded in pieces as
// it arrives, unmasked and validated, and nothing is reassembled: memory stays
// bounded by what the caller passes in, whatever the message size.
//
// A compressed message (RSV1, RFC 7692) is always yielded as pieces marked
// `compressed`, in both modes, as its bytes arrive: the caller inflates them
// (lib/protocol/deflate_stream.hpp), so nothing compressed is reassembled and the
// inflater's running cap, not the wire size, decides 1009. Its payload is not
// checked as UTF-8 here (the inflater checks the inflated text); its compressed
// size is bounded by max_message_size plus 1/16 of it and 1 KiB (room for an
// incompressible message's stored blocks at any zlib memLevel; an endless stream
// of empty deflate blocks ends there), and its frames count toward max_fragments.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "zws/buffer.hpp"
#include "zws/error.hpp"
#include "zws/frame.hpp"
#include "zws/utf8.hpp"

namespace zws {

struct reader_limits {
  // Largest message payload accepted, whole or reassembled (error::message_too_big).
  // Values above 0xFFFFFFFF act as 0xFFFFFFFF (a zws::buffer holds at most that).
  std::uint64_t max_message_size = std::uint64_t{16} << 20;
  // Most frames a fragmented message may span (error::too_many_fragments).
  std::uint32_t max_fragments = std::uint32_t{1} << 20;
  // Deliver data as event_kind::piece events instead of whole messages. Then
  // max_message_size may exceed 4 GiB (nothing is buffered).
  bool streaming = false;
};

inline constexpr reader_limits default_reader_limits{};

enum class event_kind : std::uint8_t {
  none,       // a data fragment went into reassembly; call again
  need_more,  // the next frame is incomplete; `need` says how many bytes it takes
  message,    // a whole text or binary message: `op`, `data`
  piece,      // streaming: the next part of a message: `op`, `data`, `first`, `last`
  ping,       // `data` (0..125 bytes)
  pong,       // `data` (0..125 bytes)
  close,      // `code` (1005 when the payload was empty) and `data` = the UTF-8 reason
  error,      // `err`: the peer broke a rule; close with close_code_of(err)
};

struct event {
  event_kind kind = event_kind::none;
  opcode op = opcode::binary;     // message: opcode::text or opcode::binary
  std::uint16_t code = 0;         // close
  error err = error::none;        // error
  // piece: the message's first piece / its last one (both for a one-piece
  // message). A message yields at least one piece; `data` may be empty.
  bool first = false;
  bool last = false;
  // piece: the message was compressed (RSV1): `data` is deflated payload.
  bool compressed = false;
  // need_more: the whole frame's size (header + payload) once its header is
  // complete, so the caller can reserve; 0 while even the header is incomplete
  // (and always 0 when streaming, where payload is never waited for).
  std::size_t need = 0;
  // message, ping, pong, close: the payload (unmasked), a view into the bytes
  // passed to next() or into the reader's reassembly buffer; valid until the
  // next call to next() and while those bytes are neither moved nor changed.
  std::span<const std::uint8_t> data;

  std::string_view text() const noexcept { return {reinterpret_cast<const char*>(data.data()), data.size()}; }
};

struct read_result {
  std::size_t consumed = 0;  // bytes of the input to drop before the next call
  event ev;
};

class reader {
 public:
  // `r` is the role of this endpoint: a server reader requires masked frames, a
  // client reader unmasked ones. `limits` is kept by reference and must outlive
  // the reader (one limits object typically serves every connection).
  explicit reader(role r, const reader_limits& limits = default_reader_limits) noexcept;

  // Processes at most one frame at the front of `bytes`, and only a whole one:
  //  - frame incomplete: {0, need_more} (see event::need); call again with the
  //    same bytes plus more;
  //  - data fragment absorbed: {frame size, none};
  //  - message / ping / pong / close: {frame size, event}; a whole unfragmented
  //    message is a view into `bytes` itself (no copy), a fragmented one a view
  //    into the reader's buffer;
  //  - rule broken: {0, error}.
  //  - streaming: a data frame's payload, whole or as much as has arrived, as
  //    {header + those bytes, piece}; the rest of the frame follows in later calls.
  // Masked payloads are unmasked in place, so `bytes` is modified and a consumed
  // frame must not be passed again. An incomplete frame is left as it is (its text
  // is checked on a copy), so it is passed again, with more bytes behind it. After an error or a close the
  // reader is finished: every later call returns {0, that error} or {0, close
  // with the same code and no reason}.
  read_result next(std::span<std::uint8_t> bytes) noexcept;

  // Ends the stream with `e` as if a frame had broken a rule: for a caller that
  // cannot hold a frame the reader accepted (out of memory). Every later call
  // returns {0, e}.
  void abandon(error e) noexcept { (void)fail(e); }

  // permessage-deflate was negotiated: RSV1 is allowed on the first frame of a
  // data message (set after the handshake, before the first frame).
  void set_deflate(bool on) noexcept { deflate_ = on; }

  // Whether an error or a close has been returned.
  bool finished() const noexcept { return state_ == state::finished; }

  // Streaming (and compressed messages): payload bytes of the current frame not
  // yet yielded; 0 between frames.
  std::uint64_t payload_left() const noexcept;

  // Whether a fragmented message is open (its first frame was absorbed).
  bool in_message() const noexcept { return state_ == state::fragmented; }

  // Heap bytes the reader holds: the reassembly buffer of an open fragmented
  // message, or of the one just yielded until the next call, and the state of a
  // streamed frame; otherwise 0.
  std::size_t memory_held() const noexcept;

  reader(reader&&) noexcept;
  reader& operator=(reader&&) noexcept;
  ~reader();

 private:
  enum class state : std::uint8_t { idle, fragmented, finished };
  struct open_message;  // what only an open message needs, allocated for it

  error check_length(const frame_header& h) const noexcept;
  read_result on_control(opcode op, std::span<std::uint8_t> payload, std::size_t frame_size) noexcept;
  read_result on_fragment(opcode op, bool fin, std::span<std::uint8_t> payload, std::size_t frame_size) noexcept;
  read_result on_partial(const frame_header& h, std::span<std::uint8_t> bytes) noexcept;
  read_result whole(std::size_t consumed, opcode op, std::span<const std::uint8_t> payload) noexcept;
  read_result stream_start(const frame_header& h, std::span<std::uint8_t> bytes) noexcept;
  read_result stream_payload(std::span<std::uint8_t> bytes, std::size_t header_size) noexcept;
  bool text_frame(const frame_header& h) const noexcept;
  open_message* open() noexcept;
  read_result fail(error e) noexcept;

  const reader_limits* limits_;
  open_message* msg_ = nullptr;  // a fragmented or streamed message, or null
  std::uint32_t fragments_ = 0;  // frames of the open fragmented message
  std::uint32_t checked_ = 0;    // payload bytes of the incomplete frame in front already validated
  utf8_validator utf8_;          // state of the text being validated
  role role_;
  state state_ = state::idle;
  opcode message_op_ = opcode::binary;  // opcode of the open fragmented message
  error err_ = error::none;             // once finished: the error, or none after a close
  std::uint16_t close_code_ = 0;        // once finished by a close: its code
  bool deflate_ = false;                // RSV1 allowed on a message's first frame
  bool compressed_ = false;             // the open message is compressed
};

}  // namespace zws
