// protocol/deflate_stream.hpp — the inflate and deflate streams of permessage-deflate
// (RFC 7692 §7.2), sans-IO, over zlib. zlib.h is not included here: the zlib state
// lives behind a pointer, created when a message needs it and freed when the chosen
// mode lets it go. Built from deflate_stream.deflate.cpp with DEFLATE=1; without it,
// deflate_stream.no-deflate.cpp makes every call fail with error::deflate_unavailable
// ("zws was built without permessage-deflate (make DEFLATE=1)").
//
// Errors are zws::error values: message_too_big (1009), invalid_utf8 (1007),
// bad_compressed_data (1007), deflate_memory (1011, the budget refused zlib an
// allocation or malloc failed), deflate_unavailable (1011). A stream that failed
// keeps returning its error: the connection is closing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <span>

#include "zws/buffer.hpp"
#include "zws/error.hpp"

namespace zws::detail {

// Counts the heap bytes zlib holds for every stream that names this budget, against a
// cap: one per loop (a loop is one thread; this is not thread-safe). Past the cap, an
// allocation zlib asks for fails (deflate_memory); `admits` lets the handshake answer
// without the extension before that happens.
//
// A connection's budget is a reservation within its loop's (its parent): the state the
// connection keeps between messages is counted in the parent from the handshake on,
// held or not yet, so the cap is checked against what admitted connections may come to
// hold, not only what they hold now. Its streams are counted within the reservation;
// what they hold beyond it is taken from the parent (and may be refused there).
class zlib_budget {
 public:
  explicit zlib_budget(std::size_t cap = std::numeric_limits<std::size_t>::max()) noexcept : cap_(cap) {}
  // A reservation of `reserved` bytes in `parent` (not owned; must outlive this). When
  // the parent cannot spare them, nothing is reserved (reserved() is 0) and every
  // allocation is taken from the parent as it comes. A null parent: no cap at all.
  zlib_budget(zlib_budget* parent, std::size_t reserved) noexcept;
  // Gives the reservation back; the streams counted here must be gone first.
  ~zlib_budget();
  zlib_budget(const zlib_budget&) = delete;
  zlib_budget& operator=(const zlib_budget&) = delete;

  std::size_t cap() const noexcept { return cap_; }
  std::size_t used() const noexcept { return used_; }  // held by streams (and, in a parent, reserved)
  std::size_t peak() const noexcept { return peak_; }
  std::size_t reserved() const noexcept { return reserved_; }
  // Whether `bytes` more stay within the cap.
  bool admits(std::size_t bytes) const noexcept { return bytes <= cap_ && used_ <= cap_ - bytes; }
  // Counts `bytes` if admitted; false (nothing counted) otherwise.
  bool take(std::size_t bytes) noexcept;
  void give(std::size_t bytes) noexcept;

 private:
  std::size_t cap_ = std::numeric_limits<std::size_t>::max();
  std::size_t used_ = 0;
  std::size_t peak_ = 0;
  zlib_budget* parent_ = nullptr;
  std::size_t reserved_ = 0;
};

// Upper bounds of what one stream holds (memory_held) while it has zlib state, measured
// on zlib 1.2.13 (x86-64), for the budget check at negotiation time. Window 15, mem level
// 8: an inflater 40,096 bytes, a deflater 268,312.
std::size_t inflater_state_bytes(int window_bits) noexcept;
std::size_t deflater_state_bytes(int window_bits, int mem_level) noexcept;

struct inflater_config {
  std::uint8_t window_bits = 15;     // the peer's sending window, 8..15
  bool no_context_takeover = false;  // the peer resets its compressor after every message
  // With no_context_takeover: free zlib's state after every message (an idle inflater
  // then holds nothing; each message pays an inflateInit2) instead of resetting it.
  bool release_when_idle = false;
  zlib_budget* budget = nullptr;     // not owned; must outlive the inflater
  // Output granted to zlib per call (or the room `out` already has, when that is 4 KiB
  // or more): a message stops at its limit plus at most one byte, and `out` grows by
  // at most this much beyond what it holds.
  std::uint32_t chunk = 16384;
};

// Inflates the messages of one connection, in order.
//   begin(max, text); write(payload piece, out) for each frame (or part of one),
//   finish(out) at the message's last frame.
// Output is appended to `out`, whose size counts only what this call added: the
// limit applies to the decoded bytes of the message, checked after every zlib call.
class inflater {
 public:
  explicit inflater(const inflater_config& c = {}) noexcept;
  ~inflater();
  inflater(inflater&& other) noexcept;
  inflater& operator=(inflater&& other) noexcept;
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;

  // Starts a message allowed `max_size` decoded bytes (values above 0xFFFFFFFE act as
  // 0xFFFFFFFE: a zws::buffer holds at most 4 GiB); `text`: check UTF-8 as it is produced.
  void begin(std::uint64_t max_size, bool text) noexcept;
  // Inflates the next piece of the compressed payload (empty is fine: RFC 7692
  // §7.2.3.6), appending to `out`. none, or an error (see the top of this file).
  error write(std::span<const std::uint8_t> in, buffer& out) noexcept;
  // Ends the message: inflates the 00 00 ff ff tail RFC 7692 removed, checks the text
  // is complete UTF-8, then keeps the context, resets it or frees it per the config.
  error finish(buffer& out) noexcept;

  std::uint64_t produced() const noexcept { return produced_; }  // decoded bytes of this message
  bool open() const noexcept { return open_; }                   // begun, not yet finished
  error failed() const noexcept { return err_; }
  // Heap bytes held: zlib's state and window plus this stream's own small state.
  std::size_t memory_held() const noexcept;
  // Frees zlib's state between messages when no context is kept (the next message
  // creates it again); does nothing while context is kept or a message is open.
  void release() noexcept;

  struct impl;

 private:
  error fail(error e) noexcept;
  inflater_config cfg_;
  impl* impl_ = nullptr;
  std::uint64_t max_ = 0;
  std::uint64_t produced_ = 0;
  bool text_ = false;
  bool open_ = false;
  error err_ = error::none;
};

struct deflater_config {
  int level = 6;                     // 0..9
  std::uint8_t window_bits = 15;     // our sending window, 9..15 (see can_deflate)
  std::uint8_t mem_level = 8;        // 1..9
  bool no_context_takeover = false;  // reset after every message
  // With no_context_takeover: free zlib's state after every message instead of
  // resetting it (an idle dedicated deflater then holds nothing).
  bool release_when_idle = false;
  zlib_budget* budget = nullptr;     // not owned; must outlive the deflater
};

// Compresses whole messages. With no_context_takeover, every message is independent
// of the others, so one deflater can compress for any number of connections of a
// loop whose agreed sending window is at least its window_bits (see shared_deflaters).
class deflater {
 public:
  explicit deflater(const deflater_config& c = {}) noexcept;
  ~deflater();
  deflater(deflater&& other) noexcept;
  deflater& operator=(deflater&& other) noexcept;
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;

  // Compresses `in` as one message and appends its RFC 7692 payload (the sync flush's
  // trailing 00 00 ff ff removed; an empty message gives one 00 byte) to `out`. none,
  // deflate_memory or deflate_unavailable. `in` must not lie inside `out`.
  error compress(std::span<const std::uint8_t> in, buffer& out) noexcept;

  const deflater_config& config() const noexcept { return cfg_; }
  std::size_t memory_held() const noexcept;
  // Frees zlib's state now when no context is kept; otherwise does nothing.
  void release() noexcept;

  struct impl;

 private:
  deflater_config cfg_;
  impl* impl_ = nullptr;
  error err_ = error::none;
};

// A loop's shared compressors: one no-context-takeover deflater per window size, made
// when first asked for. A connection that agreed on server_no_context_takeover (its
// deflate_no_context_takeover) with window w compresses through for_window(w); a
// broadcast compresses once per window size in use and sends the same bytes to all.
//
// The first for_window(w) reserves that deflater's state in the budget (it is kept
// between messages, for every connection of the loop), as a connection's link reserves
// what it keeps; reserved(w) tells the handshake whether that is still to come.
class shared_deflaters {
 public:
  shared_deflaters(int level, std::uint8_t mem_level, zlib_budget* budget = nullptr) noexcept;
  deflater& for_window(std::uint8_t window_bits) noexcept;  // 9..15 (others clamped)
  bool reserved(std::uint8_t window_bits) const noexcept;
  std::size_t memory_held() const noexcept;
  void release() noexcept;

 private:
  static std::size_t index(std::uint8_t window_bits) noexcept;
  zlib_budget* budget_;
  int level_;
  std::uint8_t mem_level_;
  std::array<std::unique_ptr<zlib_budget>, 7> reservations_;  // before the deflaters they count
  std::array<deflater, 7> by_bits_;                           // windows 9..15
};

}  // namespace zws::detail
