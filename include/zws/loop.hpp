// zws/loop.hpp — the event loop: one edge-triggered epoll instance per thread.
//
// A Loop runs on one thread at a time. Everything it calls back (socket events,
// timers, posted and deferred functions) runs on that thread, so user code needs
// no locks as long as it stays there. Only `post`, `stop` and WebSocket handles
// may be used from other threads.
//
// One iteration ("batch"): wait for readiness (the nearest timer deadline is the
// wait's timeout) → dispatch socket events → serve connections that used up
// their read budget last time → fire due timers → run posted functions → run
// deferred functions → flush every connection that queued output (one send or
// writev each) → free what was closed during the batch. A connection's answers
// to its own input leave earlier, in one send right after that input.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace zws {

namespace detail {
class reactor;
}

// The result of a set-up call (Loop construction, Server::listen, ...): empty on
// success, else a readable message ("bind 0.0.0.0:8080: Address already in use").
// Converts to true when something failed, so `if (auto err = f()) ...` reads well.
class failure {
 public:
  failure() = default;
  failure(int code, std::string message) : code_(code), message_(std::move(message)) {}
  explicit operator bool() const noexcept { return code_ != 0; }
  // The errno behind the failure, or -1 when it has none (a bad URL, ...).
  int code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }

 private:
  int code_ = 0;
  std::string message_;
};

// Identifies a user timer; 0 is never a valid id.
using timer_id = std::uint64_t;

class Loop {
 public:
  using clock = std::chrono::steady_clock;

  // Creates the epoll instance, the wake-up eventfd and the shared receive
  // buffer. Never throws for system failures: check `error()`.
  Loop();
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Empty unless the constructor could not create its descriptors.
  const failure& error() const noexcept;

  // Runs batches until stop() is called. Can be called again afterwards.
  void run();
  // Runs one batch, waiting at most `max_wait` for something to happen.
  // Returns false once stop() has been called (the flag is then cleared).
  bool run_once(std::chrono::milliseconds max_wait = std::chrono::milliseconds(1000));
  // Thread-safe: makes run() return after the current batch.
  void stop();

  // Thread-safe: runs `fn` on the loop's thread during a coming batch, in the
  // order posted. Wakes the loop if it is waiting.
  void post(std::function<void()> fn);
  // Loop thread only: runs `fn` after the current batch's events and timers,
  // before output is flushed (so what it sends is corked with the rest).
  void defer(std::function<void()> fn);

  // Loop thread only. One-shot and repeating user timers; timers due at the same
  // time fire in the order they were set. Returns a fresh id.
  timer_id set_timeout(std::chrono::milliseconds delay, std::function<void()> fn);
  timer_id set_interval(std::chrono::milliseconds period, std::function<void()> fn);
  // Returns false when the timer already fired (one-shot) or was cancelled.
  // A timer may cancel itself from its own callback.
  bool cancel(timer_id id);

  // The time the current batch started (cheap; no syscall).
  clock::time_point now() const noexcept;
  // True on the thread currently running this loop.
  bool in_loop_thread() const noexcept;

  // Internal: the reactor behind this loop (lib/io/reactor.hpp).
  detail::reactor& reactor() noexcept { return *impl_; }

 private:
  std::unique_ptr<detail::reactor> impl_;
};

}  // namespace zws
