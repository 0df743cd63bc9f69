// lib/endpoint/shared_frame.hpp — one encoded frame held by many output queues.
//
// Internal. A publish or a broadcast encodes its frame once (per loop and shared
// deflater when compressed); each subscriber whose kernel does not take it at once
// keeps a frame_ref in its out_queue instead of a copy. A shared_frame is immutable
// once made and counted with an atomic reference count: the loops of run(n) hold
// the same plain frame, and the last reference, on whichever thread, frees it.
//
// out_queue is the part of a connection's output that sits in front of out_:
// segments of owned bytes (what out_ held when a frame was queued behind it,
// moved, not copied) and frame references, in the order they go out. A frame
// never spans two segments, so each segment starts at a frame boundary, except
// the first one, which may be the rest of a frame already started.
//
// out_queue_ptr is what a connection keeps of it: nothing, a lone frame, or an
// out_queue. A publish to a subscriber with nothing else waiting, the usual case
// of a fan-out, queues one frame until the end of the loop's batch: held in the
// pointer's place, it costs no allocation (an out_queue and its segments were two
// per subscriber per publish, most of a delivery's instructions in the server).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "zws/buffer.hpp"

namespace zws::detail {

class shared_frame;

// A counted reference to a shared_frame, or null. Copying adds a reference.
class frame_ref {
 public:
  frame_ref() noexcept = default;
  frame_ref(const frame_ref& other) noexcept;
  frame_ref(frame_ref&& other) noexcept : f_(std::exchange(other.f_, nullptr)) {}
  frame_ref& operator=(frame_ref other) noexcept {
    std::swap(f_, other.f_);
    return *this;
  }
  ~frame_ref();

  // A new shared frame of `head` followed by `body`, in one allocation of exactly
  // their size (a buffer would round a 1 MiB frame up to 2 MiB). Throws bad_alloc
  // only when out of memory, as a buffer does.
  static frame_ref make(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body = {});
  explicit operator bool() const noexcept { return f_ != nullptr; }
  // The whole frame; empty for a null reference.
  std::span<const std::uint8_t> bytes() const noexcept;
  std::size_t size() const noexcept { return bytes().size(); }

  // Bytes of every shared frame alive in the process, and how many frames: for
  // tests and measurements only (nothing decides anything by them).
  static std::size_t live_bytes() noexcept;
  static std::size_t live_frames() noexcept;

 private:
  friend class out_queue_ptr;
  explicit frame_ref(shared_frame* f) noexcept : f_(f) {}
  shared_frame* f_ = nullptr;
};

struct out_segment {
  frame_ref frame;         // a shared frame; when null, `owned` holds the bytes
  buffer owned;
  std::uint32_t sent = 0;  // bytes of `frame` already sent
  std::span<const std::uint8_t> rest() const noexcept {
    return frame ? frame.bytes().subspan(sent) : owned.bytes();
  }
};

struct out_queue {
  std::vector<out_segment> segs;
  std::size_t head = 0;     // first live segment
  std::size_t pending = 0;  // bytes not yet sent, over every live segment
  // What the segments keep: owned capacity, and each referenced frame in full.
  std::size_t held = 0;

  bool empty() const noexcept { return head == segs.size(); }
  out_segment& front() noexcept { return segs[head]; }
  void push_owned(buffer&& bytes);
  // `sent`: bytes of it already sent (keep_latest keeps a frame on its way).
  void push_frame(frame_ref frame, std::uint32_t sent = 0);
  // Drops the front segment (sent, or dropped whole).
  void pop() noexcept;
  // Takes `n` bytes off the front segment (n <= its rest()).
  void consume_front(std::size_t n) noexcept;

 private:
  void make_room();
};

// Null, a lone frame none of which is sent (its reference kept in the pointer's
// place, tagged by the low bit), or an owned out_queue.
class out_queue_ptr {
 public:
  out_queue_ptr() noexcept = default;
  out_queue_ptr(const out_queue_ptr&) = delete;
  out_queue_ptr& operator=(const out_queue_ptr&) = delete;
  ~out_queue_ptr() { reset(); }

  explicit operator bool() const noexcept { return p_ != nullptr; }
  bool lone() const noexcept { return (reinterpret_cast<std::uintptr_t>(p_) & 1) != 0; }
  // Holds `frame` alone; the queue must be empty.
  void hold_lone(frame_ref frame) noexcept;
  // The out_queue, made first (from the lone frame, or empty) when there is none.
  out_queue& queue();
  void adopt(std::unique_ptr<out_queue> q) noexcept;
  void reset() noexcept;

  // Bytes not yet sent; memory kept (a frame counted in full).
  std::size_t pending() const noexcept;
  std::size_t held() const noexcept;
  // The rest of each segment, in order, into at most `max` iovecs; how many.
  int gather(iovec* iov, int max) const noexcept;
  // The lone frame's bytes (lone() only).
  std::span<const std::uint8_t> lone_bytes() const noexcept;

 private:
  out_queue* owned() const noexcept { return reinterpret_cast<out_queue*>(p_); }
  shared_frame* frame() const noexcept { return reinterpret_cast<shared_frame*>(p_ - 1); }
  // The out_queue, or the shared_frame's address plus one (both are aligned).
  char* p_ = nullptr;
};

}  // namespace zws::detail
