// lib/endpoint/shared_frame.cpp — see shared_frame.hpp.
#include "endpoint/shared_frame.hpp"

#include <atomic>
#include <cstring>
#include <memory>
#include <new>
#include <utility>

namespace zws::detail {
namespace {

std::atomic<std::size_t> live_bytes_{0};
std::atomic<std::size_t> live_frames_{0};

}  // namespace

// The header of a frame; its bytes follow it in the same allocation.
class shared_frame {
 public:
  explicit shared_frame(std::size_t n) noexcept : size(n) {
    live_bytes_.fetch_add(n, std::memory_order_relaxed);
    live_frames_.fetch_add(1, std::memory_order_relaxed);
  }
  ~shared_frame() {
    live_bytes_.fetch_sub(size, std::memory_order_relaxed);
    live_frames_.fetch_sub(1, std::memory_order_relaxed);
  }
  shared_frame(const shared_frame&) = delete;
  shared_frame& operator=(const shared_frame&) = delete;

  std::uint8_t* data() noexcept { return reinterpret_cast<std::uint8_t*>(this + 1); }

  // Starts at 1: the reference make() returns.
  std::atomic<std::uint32_t> refs{1};
  const std::size_t size;
};

frame_ref::frame_ref(const frame_ref& other) noexcept : f_(other.f_) {
  if (f_ != nullptr) f_->refs.fetch_add(1, std::memory_order_relaxed);
}

frame_ref::~frame_ref() {
  // acq_rel: the thread that frees the frame sees every other thread's reads of it done.
  if (f_ == nullptr || f_->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  f_->~shared_frame();
  ::operator delete(static_cast<void*>(f_));
}

frame_ref frame_ref::make(std::span<const std::uint8_t> head, std::span<const std::uint8_t> body) {
  const std::size_t n = head.size() + body.size();
  auto* f = new (::operator new(sizeof(shared_frame) + n)) shared_frame(n);
  if (!head.empty()) std::memcpy(f->data(), head.data(), head.size());
  if (!body.empty()) std::memcpy(f->data() + head.size(), body.data(), body.size());
  return frame_ref(f);
}

std::span<const std::uint8_t> frame_ref::bytes() const noexcept {
  return f_ != nullptr ? std::span<const std::uint8_t>(f_->data(), f_->size) : std::span<const std::uint8_t>{};
}

std::size_t frame_ref::live_bytes() noexcept { return live_bytes_.load(std::memory_order_relaxed); }
std::size_t frame_ref::live_frames() noexcept { return live_frames_.load(std::memory_order_relaxed); }

void out_queue::make_room() {
  // Sent segments are popped from the front by index; a queue that never empties
  // while it streams moves its live segments down instead of growing forever.
  if (head >= 8 && head * 2 >= segs.size()) {
    segs.erase(segs.begin(), segs.begin() + static_cast<std::ptrdiff_t>(head));
    head = 0;
  }
}

void out_queue::push_owned(buffer&& bytes) {
  make_room();
  pending += bytes.size();
  held += bytes.capacity();
  segs.emplace_back();
  segs.back().owned = std::move(bytes);
}

void out_queue::push_frame(frame_ref frame, std::uint32_t sent) {
  make_room();
  pending += frame.size() - sent;
  held += frame.size();
  segs.emplace_back();
  segs.back().frame = std::move(frame);
  segs.back().sent = sent;
}

void out_queue::pop() noexcept {
  out_segment& s = segs[head];
  pending -= s.rest().size();
  held -= s.frame ? s.frame.size() : s.owned.capacity();
  s.frame = frame_ref();
  s.owned.release();
  s.sent = 0;
  if (++head == segs.size()) {
    segs.clear();
    head = 0;
  }
}

void out_queue::consume_front(std::size_t n) noexcept {
  out_segment& s = segs[head];
  if (n == s.rest().size()) {
    pop();
    return;
  }
  pending -= n;
  if (s.frame) {
    s.sent += static_cast<std::uint32_t>(n);
  } else {
    s.owned.consume(n);
  }
}

// --- out_queue_ptr -------------------------------------------------------------------

static_assert(alignof(shared_frame) > 1 && alignof(out_queue) > 1, "the low bit tags a lone frame");

void out_queue_ptr::hold_lone(frame_ref frame) noexcept {
  p_ = reinterpret_cast<char*>(std::exchange(frame.f_, nullptr)) + 1;
}

out_queue& out_queue_ptr::queue() {
  if (p_ != nullptr && !lone()) return *owned();
  auto q = std::make_unique<out_queue>();
  if (lone()) q->push_frame(frame_ref(frame()));  // the reference moves into the queue
  p_ = reinterpret_cast<char*>(q.release());
  return *owned();
}

void out_queue_ptr::adopt(std::unique_ptr<out_queue> q) noexcept {
  reset();
  p_ = reinterpret_cast<char*>(q.release());
}

void out_queue_ptr::reset() noexcept {
  if (lone()) {
    frame_ref dropped(frame());  // releases the reference held
  } else {
    delete owned();
  }
  p_ = nullptr;
}

std::span<const std::uint8_t> out_queue_ptr::lone_bytes() const noexcept {
  return {frame()->data(), frame()->size};
}

std::size_t out_queue_ptr::pending() const noexcept {
  if (p_ == nullptr) return 0;
  return lone() ? frame()->size : owned()->pending;
}

std::size_t out_queue_ptr::held() const noexcept {
  if (p_ == nullptr) return 0;
  return lone() ? frame()->size : owned()->held;
}

int out_queue_ptr::gather(iovec* iov, int max) const noexcept {
  if (p_ == nullptr || max == 0) return 0;
  if (lone()) {
    const auto b = lone_bytes();
    iov[0] = {const_cast<std::uint8_t*>(b.data()), b.size()};
    return 1;
  }
  const out_queue& q = *owned();
  int k = 0;
  for (std::size_t i = q.head; i < q.segs.size() && k < max; ++i) {
    const auto rest = q.segs[i].rest();
    iov[k++] = {const_cast<std::uint8_t*>(rest.data()), rest.size()};
  }
  return k;
}

}  // namespace zws::detail
