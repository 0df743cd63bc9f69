#include "zws/loop.hpp"

#include <gtest/gtest.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "io/reactor.hpp"

namespace {

using namespace std::chrono_literals;

// Runs batches until `done` or `limit` passes; returns done().
template <class F>
bool run_until(zws::Loop& loop, F done, std::chrono::milliseconds limit = 3000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (!done() && std::chrono::steady_clock::now() < end) loop.run_once(10ms);
  return done();
}

TEST(Loop, ConstructsWithoutError) {
  zws::Loop loop;
  EXPECT_FALSE(loop.error());
}

TEST(Loop, TimersFireInDeadlineOrder) {
  zws::Loop loop;
  std::vector<int> order;
  loop.set_timeout(30ms, [&] { order.push_back(3); });
  loop.set_timeout(10ms, [&] { order.push_back(1); });
  loop.set_timeout(20ms, [&] { order.push_back(2); });
  loop.set_timeout(20ms, [&] { order.push_back(22); });  // same deadline: order set
  ASSERT_TRUE(run_until(loop, [&] { return order.size() == 4; }));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 22, 3}));
}

TEST(Loop, TimerDoesNotFireEarly) {
  zws::Loop loop;
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point fired;
  loop.set_timeout(50ms, [&] { fired = std::chrono::steady_clock::now(); });
  ASSERT_TRUE(run_until(loop, [&] { return fired != std::chrono::steady_clock::time_point{}; }));
  EXPECT_GE(fired - start, 50ms);
}

TEST(Loop, CancelledTimerNeverFires) {
  zws::Loop loop;
  bool a = false, b = false;
  auto id = loop.set_timeout(10ms, [&] { a = true; });
  loop.set_timeout(30ms, [&] { b = true; });
  EXPECT_TRUE(loop.cancel(id));
  EXPECT_FALSE(loop.cancel(id));
  ASSERT_TRUE(run_until(loop, [&] { return b; }));
  EXPECT_FALSE(a);
}

TEST(Loop, IntervalRepeatsAndCancelsItself) {
  zws::Loop loop;
  int count = 0;
  zws::timer_id id = 0;
  id = loop.set_interval(5ms, [&] {
    if (++count == 3) loop.cancel(id);
  });
  bool later = false;
  loop.set_timeout(60ms, [&] { later = true; });
  ASSERT_TRUE(run_until(loop, [&] { return later; }));
  EXPECT_EQ(count, 3);
}

TEST(Loop, PostFromAnotherThreadWakesTheLoop) {
  zws::Loop loop;
  std::atomic<bool> ran{false};
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    loop.post([&] { ran = true; });
  });
  // One long wait: only the eventfd can end it early.
  auto start = std::chrono::steady_clock::now();
  while (!ran && std::chrono::steady_clock::now() - start < 5s) loop.run_once(10s);
  t.join();
  EXPECT_TRUE(ran);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

TEST(Loop, PostedFunctionsRunInOrderFromManyThreads) {
  zws::Loop loop;
  std::vector<int> seen;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < 100; ++i) loop.post([&seen, t, i] { seen.push_back(t * 1000 + i); });
    });
  for (auto& t : threads) t.join();
  ASSERT_TRUE(run_until(loop, [&] { return seen.size() == 400; }));
  for (int t = 0; t < 4; ++t) {
    int last = -1;
    for (int v : seen)
      if (v / 1000 == t) {
        EXPECT_GT(v, last);
        last = v;
      }
  }
}

TEST(Loop, StopFromAnotherThreadEndsRun) {
  zws::Loop loop;
  std::thread t([&] {
    std::this_thread::sleep_for(20ms);
    loop.stop();
  });
  loop.run();
  t.join();
  SUCCEED();
}

TEST(Loop, DeferRunsAfterTheBatch) {
  zws::Loop loop;
  std::vector<std::string> log;
  loop.set_timeout(5ms, [&] {
    loop.defer([&] { log.push_back("deferred"); });
    log.push_back("timer");
  });
  loop.set_timeout(5ms, [&] { log.push_back("timer2"); });
  ASSERT_TRUE(run_until(loop, [&] { return log.size() == 3; }));
  EXPECT_EQ(log, (std::vector<std::string>{"timer", "timer2", "deferred"}));
}

// A readable eventfd that counts its callbacks and frees.
struct counter_handle final : zws::detail::io_handle {
  zws::detail::reactor* r = nullptr;
  counter_handle* victim = nullptr;
  int calls = 0;
  int* freed = nullptr;
  int timeouts = 0;
  void on_io(unsigned events) override {
    if (!(events & zws::detail::ev::in)) return;
    ++calls;
    if (victim != nullptr && !victim->dead()) r->close(victim);
  }
  void on_timeout() override { ++timeouts; }
  void on_free() override { ++*freed; }
};

TEST(Reactor, HandleClosedMidBatchReceivesNothingMore) {
  zws::Loop loop;
  auto& r = loop.reactor();
  int freed = 0;
  counter_handle a, b;
  a.r = b.r = &r;
  a.freed = b.freed = &freed;
  a.victim = &b;
  b.victim = &a;
  int fa = ::eventfd(1, EFD_NONBLOCK), fb = ::eventfd(1, EFD_NONBLOCK);
  ASSERT_EQ(r.add(&a, fa), 0);
  ASSERT_EQ(r.add(&b, fb), 0);
  // Both are readable in the same batch; whichever runs first closes the other.
  loop.run_once(100ms);
  EXPECT_EQ(a.calls + b.calls, 1);
  EXPECT_EQ(freed, 1);  // the victim, after the batch
  // The survivor still works.
  counter_handle* alive = a.dead() ? &b : &a;
  alive->victim = nullptr;
  std::uint64_t one = 1;
  ASSERT_EQ(::write(alive->fd(), &one, sizeof one), 8);
  loop.run_once(100ms);
  EXPECT_EQ(a.calls + b.calls, 2);
  r.close(alive);
  EXPECT_EQ(freed, 2);
}

// Always has more to read: uses its budget and asks to be served again.
struct greedy_handle final : zws::detail::io_handle {
  zws::detail::reactor* r = nullptr;
  int calls = 0;
  void on_io(unsigned events) override {
    if (!(events & zws::detail::ev::in)) return;
    ++calls;
    r->read_later(this);
  }
  void on_free() override {}
};

TEST(Reactor, ABusyHandleDoesNotStarveOthers) {
  zws::Loop loop;
  auto& r = loop.reactor();
  greedy_handle greedy;
  greedy.r = &r;
  counter_handle quiet;
  int freed = 0;
  quiet.r = &r;
  quiet.freed = &freed;
  ASSERT_EQ(r.add(&greedy, ::eventfd(1, EFD_NONBLOCK)), 0);
  ASSERT_EQ(r.add(&quiet, ::eventfd(0, EFD_NONBLOCK)), 0);
  loop.run_once(10ms);
  std::uint64_t one = 1;
  ASSERT_EQ(::write(quiet.fd(), &one, sizeof one), 8);
  // The ready list makes the next wait a poll, so the quiet handle's event is
  // picked up in the very next batch although the greedy one never finishes.
  loop.run_once(1000ms);
  EXPECT_EQ(quiet.calls, 1);
  EXPECT_GE(greedy.calls, 2);
  r.close(&greedy);
  r.close(&quiet);
}

TEST(Reactor, WheelDeadlineFiresOnceAndCanBePushedBack) {
  zws::Loop loop;
  auto& r = loop.reactor();
  int freed = 0;
  counter_handle h;
  h.r = &r;
  h.freed = &freed;
  ASSERT_EQ(r.add(&h, ::eventfd(0, EFD_NONBLOCK)), 0);
  auto start = std::chrono::steady_clock::now();
  r.set_deadline(&h, 30ms);
  r.set_deadline(&h, 80ms);  // pushed later: must not fire at 30 ms
  ASSERT_TRUE(run_until(loop, [&] { return h.timeouts > 0; }));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 80ms);
  loop.run_once(50ms);
  EXPECT_EQ(h.timeouts, 1);
  r.set_deadline(&h, 10ms);
  r.clear_deadline(&h);
  loop.run_once(50ms);
  EXPECT_EQ(h.timeouts, 1);
  r.close(&h);
}

TEST(Reactor, SlotsRejectStaleGenerations) {
  zws::detail::reactor r;
  int x = 0, y = 0;
  auto a = r.acquire_slot(&x);
  EXPECT_EQ(r.lookup_slot(a), &x);
  r.release_slot(a.id);
  auto b = r.acquire_slot(&y);
  EXPECT_EQ(b.id, a.id);
  EXPECT_EQ(r.lookup_slot(a), nullptr);
  EXPECT_EQ(r.lookup_slot(b), &y);
  r.release_slot(b.id);
}

}  // namespace

namespace {

zws::buffer sized(std::size_t cap) {
  zws::buffer b;
  b.prepare(cap);
  b.commit(1);  // a live byte: give_spare must empty it
  return b;
}

}  // namespace

TEST(Reactor, SpareBuffersAreReusedSmallestFitFirst) {
  zws::detail::reactor r;
  EXPECT_EQ(r.take_spare(1).capacity(), 0u);  // none kept yet
  zws::buffer a = sized(1 << 20), b = sized(4 << 20);
  const std::uint8_t* pa = a.data();
  r.give_spare(b);
  r.give_spare(a);
  EXPECT_EQ(a.capacity(), 0u);  // the memory moved into the loop
  zws::buffer got = r.take_spare(600 << 10);
  EXPECT_EQ(got.capacity(), std::size_t{1} << 20);  // the smallest that holds it
  EXPECT_EQ(got.data(), pa);                         // the same memory, not a copy
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(r.take_spare(2 << 20).capacity(), std::size_t{4} << 20);
  EXPECT_EQ(r.take_spare(1).capacity(), 0u);  // both handed out
}

TEST(Reactor, SpareBuffersCanBeAskedForWithinABound) {
  // A TLS flush of 17 KiB must not take (and, blocked, hold) the spare a 16 MiB frame left.
  zws::detail::reactor r;
  zws::buffer a = sized(1 << 20), b = sized(4 << 20);
  r.give_spare(b);
  r.give_spare(a);
  EXPECT_EQ(r.take_spare(1, 2 << 20).capacity(), std::size_t{1} << 20);
  EXPECT_EQ(r.take_spare(1, 2 << 20).capacity(), 0u);  // only the 4 MiB one is left: too large
  EXPECT_EQ(r.take_spare(3 << 20, 4 << 20).capacity(), std::size_t{4} << 20);  // the bound is inclusive
}

TEST(Reactor, SpareBuffersAreBoundedInCountSizeAndTotal) {
  using zws::detail::reactor;
  reactor r;
  zws::buffer small = sized(reactor::spare_min / 2);
  r.give_spare(small);
  EXPECT_EQ(small.capacity(), 0u);  // released, not kept
  EXPECT_EQ(r.take_spare(1).capacity(), 0u);
  for (std::size_t i = 0; i < reactor::spare_count + 2; ++i) {
    zws::buffer b = sized(reactor::spare_min);
    r.give_spare(b);
  }
  std::size_t kept = 0;
  while (r.take_spare(1).capacity() != 0) ++kept;
  EXPECT_EQ(kept, reactor::spare_count);
  zws::buffer huge = sized(reactor::spare_bytes);
  zws::buffer more = sized(reactor::spare_min);
  r.give_spare(huge);
  r.give_spare(more);  // would exceed spare_bytes together
  EXPECT_EQ(r.take_spare(1).capacity(), reactor::spare_bytes);
  EXPECT_EQ(r.take_spare(1).capacity(), 0u);
}

TEST(Reactor, ALargerSpareTakesThePlaceOfSmallerOnesWhenThePoolIsFull) {
  // Small buffers filling the pool must not lock larger frames out of it for good.
  using zws::detail::reactor;
  reactor r;
  for (std::size_t i = 0; i < reactor::spare_count; ++i) {
    zws::buffer b = sized(reactor::spare_min);
    r.give_spare(b);
  }
  zws::buffer big = sized(std::size_t{2} << 20);
  const std::uint8_t* p = big.data();
  r.give_spare(big);
  EXPECT_EQ(big.capacity(), 0u);  // kept: a small one made way
  zws::buffer got = r.take_spare(std::size_t{1} << 20);
  EXPECT_EQ(got.data(), p);
  std::size_t small = 0;
  while (r.take_spare(1).capacity() == reactor::spare_min) ++small;
  EXPECT_EQ(small, reactor::spare_count - 1);

  // Over spare_bytes together: the smaller spares go, the larger buffer stays.
  zws::buffer a = sized(reactor::spare_bytes / 2), b = sized(reactor::spare_bytes / 2), c = sized(reactor::spare_bytes / 4);
  r.give_spare(c);
  r.give_spare(a);
  r.give_spare(b);  // a + b + c > spare_bytes: c is released
  EXPECT_EQ(r.take_spare(1).capacity(), reactor::spare_bytes / 2);
  EXPECT_EQ(r.take_spare(1).capacity(), reactor::spare_bytes / 2);
  EXPECT_EQ(r.take_spare(1).capacity(), 0u);
}

TEST(Reactor, SmallOutputBuffersAreRecycledUpToSmallCount) {
  using zws::detail::reactor;
  reactor r;
  EXPECT_EQ(r.take_small().capacity(), 0u);  // none kept yet
  zws::buffer a = sized(1);
  ASSERT_EQ(a.capacity(), zws::buffer::first_capacity);
  const std::uint8_t* pa = a.data();
  r.give_small(a);
  EXPECT_EQ(a.capacity(), 0u);  // the memory moved into the loop
  zws::buffer got = r.take_small();
  EXPECT_EQ(got.capacity(), zws::buffer::first_capacity);
  EXPECT_EQ(got.data(), pa);  // the same memory, emptied
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(r.take_small().capacity(), 0u);

  zws::buffer grown = sized(zws::buffer::first_capacity + 1);
  r.give_small(grown);  // not a first allocation: released
  EXPECT_EQ(grown.capacity(), 0u);
  EXPECT_EQ(r.take_small().capacity(), 0u);

  for (std::size_t i = 0; i < reactor::small_count + 3; ++i) {
    zws::buffer b = sized(1);
    r.give_small(b);
    EXPECT_EQ(b.capacity(), 0u);  // kept or released, never left behind
  }
  std::size_t kept = 0;
  while (r.take_small().capacity() != 0) ++kept;
  EXPECT_EQ(kept, reactor::small_count);
}
