// lib/endpoint/compression.hpp — a connection's permessage-deflate state (RFC 7692),
// built from what the handshake agreed on.
//
// Internal. It lives behind one pointer in connection_extras, which only connections
// that need it allocate, so a connection without compression costs nothing more and
// sizeof(connection) does not change. Not in the reader's heap state: that exists
// only while a message is open, and an inflater that keeps context (or the buffer a
// message is inflated into) must outlive every message.
//
// Memory, per mode (zlib 1.2.13, window 15, mem level 8; see zws/deflate.hpp and
// deflate_stream.hpp):
//  - the inflater keeps zlib's state (~40 KiB) between messages only when the peer
//    keeps its context; otherwise it is freed after every message (release_when_idle),
//    and so is the buffer a message was inflated into;
//  - our compressor: with context takeover a dedicated deflater (~262 KiB, held from
//    the first compressed send on); without it, a server compresses through the
//    route's shared deflaters (one per window size and loop, whatever the mode: a
//    connection that keeps no context gains nothing from a state of its own), and a
//    client's own deflater is freed after every message.
// What a connection keeps between messages is reserved in the loop's budget when the
// link is made (zlib_bytes_to_reserve), so the cap counts it before it is held. A
// link that keeps nothing (lean) holds no streams while idle: 40 bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "endpoint/shared_frame.hpp"
#include "protocol/deflate_stream.hpp"
#include "zws/buffer.hpp"
#include "zws/deflate.hpp"
#include "zws/frame.hpp"

namespace zws::detail {

struct deflate_link;

// A link's zlib streams and the reservation they count against.
struct deflate_streams {
  explicit deflate_streams(const deflate_link& link) noexcept;
  zlib_budget reserved;  // first: the streams give back to it when destroyed
  inflater in;
  deflater own;          // unused while the link has a shared deflater
  buffer message;        // a message being inflated (or one streamed piece)
};

// A connection's permessage-deflate state. When its mode keeps zlib state between
// messages, the streams are made with the link (reserving that state in the loop's
// budget at once); when it keeps none (lean: the peer resets its context, and we
// compress through a shared deflater or reset ours), an idle link holds no streams:
// they are made for a message and freed after it (idle()).
struct deflate_link {
  deflate_link(const deflate_params& agreed, role side, const deflate_options& opts, zlib_budget* loop_budget,
               deflater* shared);

  // Whether a message of `size` bytes goes out compressed.
  bool compresses(std::size_t size) const noexcept { return can_send && size >= threshold; }
  // The streams, made if need be; null when memory for them ran out.
  deflate_streams* streams() noexcept;
  // The compressor for our messages; null when memory ran out (send it plain).
  deflater* compressor() noexcept;
  // After a message either way: frees the streams when nothing is kept between
  // messages and no received message is half inflated.
  void idle() noexcept;
  bool keeps_nothing() const noexcept {
    return params.inflate_no_context_takeover && (shared != nullptr || params.deflate_no_context_takeover);
  }

  zlib_budget* loop;             // the loop's budget (null for a client); outlives the link
  deflater* shared;              // the endpoint's shared deflater for our window, or null
  std::unique_ptr<deflate_streams> s;
  deflate_stream_params params;
  std::uint32_t threshold;
  std::uint8_t level;            // 0..9
  std::uint8_t mem_level;
  bool can_send;                 // our agreed window is one zlib can compress with (9..15)
};

// Zlib memory a connection keeps between messages once it has used it (the states
// that keep context): reserved in the loop's budget for as long as the link exists.
std::size_t zlib_bytes_to_reserve(const deflate_stream_params& p, int mem_level) noexcept;
// Zlib memory the server's budget must have room for before agreeing: the reservation;
// when that does not hold it, an inflater, which every compressed message the
// connection receives needs while it arrives; and the shared deflater it will compress
// through, if `shared` (the route's, or null when none yet) has not reserved it yet.
std::size_t zlib_bytes_to_admit(const deflate_params& agreed, role side, const deflate_options& opts,
                                const shared_deflaters* shared) noexcept;
// Whether a connection of `side` that agreed on `p` compresses through shared deflaters.
bool uses_shared_deflater(const deflate_stream_params& p, role side) noexcept;

// What a broadcast or a publish shares between the recipients of one loop: the
// plain frame (made once for every loop), and the compressed frame per shared
// deflater of the loop (one per window size in use), made on first need. The
// recipients' queues keep references to them (connection::send_shared).
struct broadcast_frames {
  opcode op;
  std::span<const std::uint8_t> data;  // the payload: the plain frame's tail
  frame_ref plain;
  std::vector<std::pair<deflater*, frame_ref>> compressed;
  // The compressed frame `d` makes of `data` (RSV1, unmasked); null if it failed.
  const frame_ref& frame_for(deflater& d);
};

// Appends `payload` compressed by `d` as one frame with RSV1 (masked with `key` when
// given) to `to`. False, with nothing appended, when compressing failed (the budget
// refused zlib memory): the caller sends it uncompressed instead.
bool append_compressed_frame(buffer& to, deflater& d, opcode op, std::span<const std::uint8_t> payload,
                             const mask_key* key);

}  // namespace zws::detail
