// lib/endpoint/compression.cpp — see compression.hpp.
#include "endpoint/compression.hpp"

#include <algorithm>
#include <new>
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

deflater_config deflate_config(const deflate_link& l, zlib_budget* budget) noexcept {
  deflater_config c;
  c.level = l.level;
  c.window_bits = can_deflate(l.params.deflate_window_bits) ? l.params.deflate_window_bits : 9;
  c.mem_level = l.mem_level;
  c.no_context_takeover = l.params.deflate_no_context_takeover;
  c.release_when_idle = l.params.deflate_no_context_takeover;
  c.budget = budget;
  return c;
}

}  // namespace

deflate_streams::deflate_streams(const deflate_link& l) noexcept
    : reserved(l.loop, zlib_bytes_to_reserve(l.params, l.mem_level)),
      in(inflate_config(l.params, &reserved)),
      own(deflate_config(l, &reserved)) {}

deflate_link::deflate_link(const deflate_params& agreed, role side, const deflate_options& opts,
                           zlib_budget* loop_budget, deflater* shared_deflater)
    : loop(loop_budget),
      shared(shared_deflater),
      params(stream_params(agreed, side)),
      threshold(static_cast<std::uint32_t>(std::min<std::size_t>(opts.threshold, 0xFFFFFFFFu))),
      level(static_cast<std::uint8_t>(std::clamp(opts.level, 0, 9))),
      mem_level(opts.mem_level),
      can_send(can_deflate(params.deflate_window_bits)) {
  // What is kept between messages is reserved now, held or not yet.
  if (!keeps_nothing()) streams();
}

deflate_streams* deflate_link::streams() noexcept {
  if (s == nullptr) s.reset(new (std::nothrow) deflate_streams(*this));
  return s.get();
}

deflater* deflate_link::compressor() noexcept {
  if (shared != nullptr) return shared;
  deflate_streams* st = streams();
  return st != nullptr ? &st->own : nullptr;
}

void deflate_link::idle() noexcept {
  if (s != nullptr && keeps_nothing() && !s->in.open()) s.reset();
}

std::size_t zlib_bytes_to_reserve(const deflate_stream_params& p, int mem_level) noexcept {
  std::size_t n = 0;
  if (!p.inflate_no_context_takeover) n += inflater_state_bytes(p.inflate_window_bits);
  if (!p.deflate_no_context_takeover && can_deflate(p.deflate_window_bits)) {
    n += deflater_state_bytes(p.deflate_window_bits, mem_level);
  }
  return n;
}

bool uses_shared_deflater(const deflate_stream_params& p, role side) noexcept {
  return side == role::server && p.deflate_no_context_takeover && can_deflate(p.deflate_window_bits);
}

std::size_t zlib_bytes_to_admit(const deflate_params& agreed, role side, const deflate_options& opts,
                                const shared_deflaters* shared) noexcept {
  const deflate_stream_params p = stream_params(agreed, side);
  std::size_t n = zlib_bytes_to_reserve(p, opts.mem_level);
  if (p.inflate_no_context_takeover) n += inflater_state_bytes(p.inflate_window_bits);
  if (uses_shared_deflater(p, side) && (shared == nullptr || !shared->reserved(p.deflate_window_bits))) {
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
