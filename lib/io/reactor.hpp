// lib/io/reactor.hpp — the machinery behind zws::Loop.
//
// Internal. An io_handle is anything with a descriptor the reactor watches. It
// is registered once with EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET and never modified:
// a handle that wants to write just writes, and learns from EPOLLOUT when the
// kernel has room again. Edge-triggered readiness is reported once, so a handle
// reads until EAGAIN — or, when it used its per-wake budget, asks for
// `read_later` and is served again before the next wait.
//
// A handle closed during a batch is marked dead, its descriptor is closed at once,
// and its memory is released (`on_free`) only after the batch, so events already
// collected for it — or a pointer some callback still holds — never reach freed
// memory. Nothing is dispatched to a dead handle.
#pragma once

#include <sys/epoll.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "zws/buffer.hpp"
#include "zws/loop.hpp"

namespace zws::detail {

// Readiness bits given to io_handle::on_io.
namespace ev {
inline constexpr unsigned in = 1;
inline constexpr unsigned out = 2;
inline constexpr unsigned hup = 4;  // peer shut down its side or the connection broke
inline constexpr unsigned err = 8;
}  // namespace ev

class reactor;

class io_handle {
 public:
  io_handle(const io_handle&) = delete;
  io_handle& operator=(const io_handle&) = delete;

  int fd() const noexcept { return fd_; }
  bool dead() const noexcept { return (flags_ & dead_flag) != 0; }
  // The peer shut its side down or the connection broke (sticky): a read that
  // returns less than asked no longer means more input will raise an edge.
  bool hung_up() const noexcept { return (flags_ & hup_flag) != 0; }

  // Readiness (ev:: bits). Called only while the handle is alive.
  virtual void on_io(unsigned events) = 0;
  // After the batch, for a handle that asked with reactor::flush_later.
  virtual void on_flush() {}
  // The wheel deadline set with reactor::set_deadline passed.
  virtual void on_timeout() {}
  // In reactor::close, dead already, just before the descriptor is closed: the
  // last bytes a handle owes its peer (TLS's close_notify) go now or never.
  virtual void on_closing() {}
  // After the batch in which the handle was closed. Deletes by default.
  virtual void on_free() { delete this; }

 protected:
  io_handle() = default;
  virtual ~io_handle() = default;

 private:
  friend class reactor;
  static constexpr std::uint8_t dead_flag = 1, ready_flag = 2, flush_flag = 4, hup_flag = 8;

  io_handle* wnext_ = nullptr;   // timing wheel slot list
  io_handle** wprev_ = nullptr;  // the pointer that points at this handle; null when unlinked
  std::uint32_t deadline_ = 0;   // wheel tick; meaningful only while linked
  int fd_ = -1;

 protected:
  // Derived classes may keep small state in the tail of this base: the flags
  // byte is the only thing the reactor uses here.
  std::uint8_t flags_ = 0;
};

class reactor {
 public:
  using clock = std::chrono::steady_clock;
  static constexpr std::size_t recv_buffer_size = std::size_t{256} << 10;
  static constexpr unsigned read_budget = 4;  // reads of up to recv_buffer_size per wake
  static constexpr int tick_ms = 10;           // timing wheel resolution
  static constexpr std::size_t wheel_slots = 1024;

  reactor();
  ~reactor();
  reactor(const reactor&) = delete;
  reactor& operator=(const reactor&) = delete;

  const failure& error() const noexcept { return error_; }

  // Registers `fd` for `h` (edge-triggered, all events). On success the handle
  // owns the descriptor: reactor::close closes it. Returns 0 or -errno (the fd
  // is then left open for the caller).
  int add(io_handle* h, int fd) noexcept;
  // Closes the handle's descriptor, drops its timers and marks it dead; its
  // on_free runs after the current batch (or at once outside a batch).
  // Idempotent.
  void close(io_handle* h);
  // Unregisters and closes the descriptor but keeps the handle alive, so it can
  // be registered again with another one (a client trying the next address).
  void detach(io_handle* h) noexcept;

  void read_later(io_handle* h);
  void flush_later(io_handle* h);

  // Coarse one-per-handle deadline (handshake, idle, close timeouts): after at
  // least `delay` (rounded up to the tick), on_timeout is called. Setting a new
  // deadline replaces the old one. Pushing a deadline later is O(1) and touches
  // nothing but the handle.
  void set_deadline(io_handle* h, std::chrono::milliseconds delay) noexcept;
  void clear_deadline(io_handle* h) noexcept;

  timer_id add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                     std::function<void()> fn);
  bool cancel_timer(timer_id id);

  void post(std::function<void()> fn);
  void defer(std::function<void()> fn);
  void stop() noexcept;

  bool run_once(int max_wait_ms);
  void run();

  clock::time_point now() const noexcept { return now_; }
  bool in_loop_thread() const noexcept { return std::this_thread::get_id() == owner_.load(); }
  bool in_batch() const noexcept { return in_batch_; }

  // The receive buffer every connection of this loop reads into. Its contents
  // are valid until the next read by anyone.
  std::span<std::uint8_t> recv_buffer() noexcept { return {recv_.get(), recv_buffer_size}; }

  // The output of the one handle whose input is being handled (`corked`): what
  // it answers gathers here and leaves in one send when its input is done, so
  // a busy connection needs no output memory of its own. Empty between uses.
  buffer& cork_buffer() noexcept { return cork_; }
  io_handle* corked() const noexcept { return corked_; }
  void set_corked(io_handle* h) noexcept { corked_ = h; }

  // Input buffers of frames left incomplete by a read, and TLS ciphertext of large
  // flushes, are recycled through the loop. A buffer that grows as its frame
  // arrives copies itself at every doubling (about one copy of the whole frame);
  // a recycled buffer that already holds the frame's size costs none. Handing one
  // out adds no memory, so it may be sized by what a header announces. Freeing
  // buffers of this size after each message would also make malloc trim the top
  // of the heap and the next message fault it in again. At most spare_count
  // buffers, spare_bytes together, are kept between uses; when that is full, the
  // largest are kept. spare_min is the least input room a connection reads into.
  static constexpr std::size_t spare_min = std::size_t{64} << 10;
  static constexpr std::size_t spare_count = 4;
  static constexpr std::size_t spare_bytes = std::size_t{32} << 20;
  // The smallest kept buffer with capacity of at least `n` bytes and at most
  // `most`, or an empty one.
  buffer take_spare(std::size_t n, std::size_t most = SIZE_MAX) noexcept;
  // Empties `b`: its memory is kept for take_spare when large enough and there
  // is room (made by releasing smaller spares), else released.
  void give_spare(buffer& b) noexcept;

  // Output buffers of a first allocation (a few tiny frames queued behind another)
  // are recycled too. A publish queues a tiny frame or two for each of thousands of
  // subscribers and the batch's flush frees them all: freed together they make
  // malloc give the top of the heap back to the kernel, and the next batch faults
  // it in again (about a tenth of a fan-out's server CPU). At most small_count are
  // kept (256 KiB per loop).
  static constexpr std::size_t small_count = 1024;
  // An empty buffer with buffer::first_capacity, or a null one when none is kept.
  buffer take_small() noexcept;
  // Empties `b`: kept for take_small when it has buffer::first_capacity and there is room.
  void give_small(buffer& b) noexcept;

  // A table of live objects for cross-thread handles: an id plus a generation
  // that changes when the slot is reused, so a stale handle finds nothing.
  struct slot_ref {
    std::uint32_t id = 0;
    std::uint32_t generation = 0;
  };
  // Objects in slots must be io_handles: the reactor closes leftovers when it goes.
  slot_ref acquire_slot(void* object);
  void release_slot(std::uint32_t id) noexcept;
  void* lookup_slot(slot_ref ref) const noexcept;
  std::uint32_t slot_generation(std::uint32_t id) const noexcept { return slots_[id].generation; }
  // Every live object, for broadcasts (nulls are free slots).
  template <class F>
  void for_each_slot(F&& f) const {
    for (std::size_t i = 0; i < slots_.size(); ++i)
      if (slots_[i].object != nullptr) f(slots_[i].object);
  }

 private:
  struct wake_handle final : io_handle {
    reactor* owner = nullptr;
    void on_io(unsigned) override;
    void on_free() override {}
  };
  struct timer_entry {
    clock::time_point when;
    timer_id id;
    bool operator>(const timer_entry& o) const noexcept { return when != o.when ? when > o.when : id > o.id; }
  };
  struct timer_job {
    std::function<void()> fn;
    std::chrono::milliseconds period;
  };
  struct slot {
    void* object = nullptr;
    std::uint32_t generation = 0;
  };

  std::uint32_t tick_of(clock::time_point t) const noexcept;
  int wait_timeout(int max_wait_ms) noexcept;
  void dispatch(const epoll_event& e);
  void serve_ready();
  void run_wheel();
  void run_timers();
  void run_posted();
  void run_deferred();
  void run_flushes();
  void reap();
  void link(io_handle* h, std::uint32_t tick) noexcept;
  static void unlink(io_handle* h) noexcept;

  failure error_;
  int epfd_ = -1;
  wake_handle wake_;
  bool in_batch_ = false;
  std::atomic<bool> stop_{false};
  std::atomic<std::thread::id> owner_{};
  clock::time_point epoch_;
  clock::time_point now_;
  std::unique_ptr<std::uint8_t[]> recv_;
  buffer cork_;
  io_handle* corked_ = nullptr;
  std::vector<buffer> spares_;
  std::size_t spare_held_ = 0;  // capacity of spares_, in bytes
  std::vector<buffer> smalls_;

  std::vector<io_handle*> ready_, flush_, dead_;
  std::vector<std::function<void()>> deferred_;

  std::mutex post_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> wake_pending_{false};

  std::vector<timer_entry> heap_;
  std::unordered_map<timer_id, timer_job> timers_;
  timer_id next_timer_ = 1;

  std::array<io_handle*, wheel_slots> wheel_{};
  std::array<std::uint64_t, wheel_slots / 64> wheel_bits_{};
  std::uint32_t wheel_tick_ = 0;  // every tick up to this one has been processed

  std::vector<slot> slots_;
  std::vector<std::uint32_t> free_slots_;
};

}  // namespace zws::detail
