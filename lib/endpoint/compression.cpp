// lib/endpoint/compression.cpp — see compression.hpp.
#include "endpoint/compression.hpp"

#include <utility>

#include "zws/writer.hpp"

namespace zws::detail {
namespace {

// Compressed output waits here for its frame header (whose length it decides).
// One per thread, like the loop it serves; kept only while small.
constexpr std::size_t scratch_keep = std::size_t{256} << 10;
thread_local buffer scratch;

inflater_config inflate_config(const deflate_stream_params& p, zlib_budget* budget) noexcept {
  inflater_config c;
  c.window_bits = p.inflate_window_bits;
  c.no_context_takeover = p.inflate_no_context_takeover;
  c.release_when_idle = p.inflate_no_context_takeover;
  c.budget = budget;
  return c;
}

deflater_config deflate_config(const deflate_stream_params& p, const deflate_options& o, zlib_budget* budget) noexcept {
  deflater_config c;
  c.level = o.level;
  c.window_bits = can_deflate(p.deflate_window_bits) ? p.deflate_window_bits : 9;
  c.mem_level = o.mem_level;
  c.no_context_takeover = p.deflate_no_context_takeover;
  c.release_when_idle = p.deflate_no_context_takeover;
  c.budget = budget;
  return c;
}

}  // namespace

deflate_link::deflate_link(const deflate_params& agreed, role side, const deflate_options& opts,
                           std::shared_ptr<zlib_budget> b, deflater* shared_deflater)
    : budget(std::move(b)),
      params(stream_params(agreed, side)),
      in(inflate_config(params, budget.get())),
      own(deflate_config(params, opts, budget.get())),
      shared(shared_deflater),
      threshold(opts.threshold),
      can_send(can_deflate(params.deflate_window_bits)) {}

std::size_t zlib_bytes_to_admit(const deflate_params& agreed, role side, const deflate_options& opts) noexcept {
  const deflate_stream_params p = stream_params(agreed, side);
  std::size_t n = inflater_state_bytes(p.inflate_window_bits);
  if (!p.deflate_no_context_takeover && can_deflate(p.deflate_window_bits)) {
    n += deflater_state_bytes(p.deflate_window_bits, opts.mem_level);
  }
  return n;
}

bool append_compressed_frame(buffer& to, deflater& d, opcode op, std::span<const std::uint8_t> payload,
                             const mask_key* key) {
  scratch.clear();
  bool ok = d.compress(payload, scratch) == error::none;
  if (ok) {
    const std::size_t at = to.size();
    write_frame(to, op, scratch.bytes(), key);
    to.data()[at] |= 0x40;  // RSV1: this message is compressed (RFC 7692 §6)
  }
  if (scratch.capacity() > scratch_keep) scratch.release();
  return ok;
}

const frame_ref& broadcast_frames::frame_for(deflater& d) {
  for (const auto& [by, frame] : compressed) {
    if (by == &d) return frame;
  }
  buffer frame;
  const bool ok = append_compressed_frame(frame, d, op, data, nullptr);
  // Copied once into a frame of its exact size: compressed frames are small, and
  // the buffer's capacity may be up to twice its size.
  compressed.emplace_back(&d, ok ? frame_ref::make(frame.bytes()) : frame_ref());
  return compressed.back().second;
}

}  // namespace zws::detail
