// lib/endpoint/compression.hpp — a connection's permessage-deflate state (RFC 7692),
// built from what the handshake agreed on.
//
// Internal. It lives behind one pointer in connection_extras, which only connections
// that need it allocate, so a connection without compression costs nothing more and
// sizeof(connection) does not change. Not in the reader's heap state: that exists
// only while a message is open, and an inflater that keeps context (or the buffer a
// message is inflated into) must outlive every message.
//
// Memory, per mode (zlib 1.2.13, window 15, mem level 8; see deflate_stream.hpp):
//  - the inflater keeps zlib's state (~40 KiB) between messages only when the peer
//    keeps its context; otherwise it is freed after every message (release_when_idle);
//  - our compressor: with context takeover a dedicated deflater (~262 KiB, held from
//    the first compressed send on); without it, a server compresses through the
//    route's shared deflaters (one per window size and loop, whatever the mode: a
//    connection that keeps no context gains nothing from a state of its own), and a
//    client's own deflater is freed after every message.
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

struct deflate_link {
  deflate_link(const deflate_params& agreed, role side, const deflate_options& opts,
               std::shared_ptr<zlib_budget> budget, deflater* shared);

  // Whether a message of `size` bytes goes out compressed.
  bool compresses(std::size_t size) const noexcept { return can_send && size >= threshold; }
  // The compressor for our messages.
  deflater& compressor() noexcept { return shared != nullptr ? *shared : own; }

  std::shared_ptr<zlib_budget> budget;  // first: the streams give back to it when destroyed
  deflate_stream_params params;
  inflater in;
  deflater own;                  // unused while `shared` is set
  deflater* shared;              // the endpoint's shared deflater for our window, or null
  buffer message;                // a message being inflated (or one streamed piece)
  std::size_t threshold;
  bool can_send;                 // our agreed window is one zlib can compress with (9..15)
};

// Zlib memory the server's budget must have room for before agreeing: what the
// connection holds while idle (the states that keep context) and its inflater,
// which every compressed message it receives needs while it arrives.
std::size_t zlib_bytes_to_admit(const deflate_params& agreed, role side, const deflate_options& opts) noexcept;

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
