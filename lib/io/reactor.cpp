#include "io/reactor.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

namespace zws::detail {
namespace {

constexpr int max_events = 256;

unsigned translate(std::uint32_t e) noexcept {
  unsigned r = 0;
  if (e & EPOLLIN) r |= ev::in;
  if (e & EPOLLOUT) r |= ev::out;
  if (e & (EPOLLRDHUP | EPOLLHUP)) r |= ev::hup;
  if (e & EPOLLERR) r |= ev::err;
  return r;
}

failure sys_failure(const char* what) { return failure(errno, std::string(what) + ": " + std::strerror(errno)); }

}  // namespace

reactor::reactor() : epoch_(clock::now()), now_(epoch_), recv_(new std::uint8_t[recv_buffer_size]) {
  spares_.reserve(spare_count);
  smalls_.reserve(small_count);
  wake_.owner = this;
  epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd_ < 0) {
    error_ = sys_failure("epoll_create1");
    return;
  }
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) {
    error_ = sys_failure("eventfd");
    return;
  }
  if (int rc = add(&wake_, efd); rc < 0) {
    errno = -rc;
    error_ = sys_failure("epoll_ctl");
    ::close(efd);
  }
}

reactor::~reactor() {
  // Whatever still holds a slot (connections nobody closed) goes with the loop.
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i].object != nullptr) close(static_cast<io_handle*>(slots_[i].object));
  reap();
  if (wake_.fd_ >= 0) ::close(wake_.fd_);
  if (epfd_ >= 0) ::close(epfd_);
}

int reactor::add(io_handle* h, int fd) noexcept {
  epoll_event e{};
  e.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  e.data.ptr = h;
  if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &e) < 0) return -errno;
  h->fd_ = fd;
  return 0;
}

void reactor::close(io_handle* h) {
  if (h->dead()) return;
  h->flags_ |= io_handle::dead_flag;
  unlink(h);
  // The handle may be freed before the ready or flush list is next served (at
  // once outside a batch, at reap() inside one): forget it there. Rare, so a scan.
  if (h->flags_ & io_handle::ready_flag) std::replace(ready_.begin(), ready_.end(), h, static_cast<io_handle*>(nullptr));
  if (h->flags_ & io_handle::flush_flag) std::replace(flush_.begin(), flush_.end(), h, static_cast<io_handle*>(nullptr));
  h->flags_ &= static_cast<std::uint8_t>(~(io_handle::ready_flag | io_handle::flush_flag));
  if (h->fd_ >= 0) {
    h->on_closing();
    // Closing removes the registration too, unless the descriptor was duplicated
    // (fork, dup): deleting it first keeps a stray copy from waking us.
    ::epoll_ctl(epfd_, EPOLL_CTL_DEL, h->fd_, nullptr);
    ::close(h->fd_);
    h->fd_ = -1;
  }
  if (in_batch_) {
    dead_.push_back(h);
  } else {
    h->on_free();
  }
}

void reactor::detach(io_handle* h) noexcept {
  if (h->fd_ < 0) return;
  ::epoll_ctl(epfd_, EPOLL_CTL_DEL, h->fd_, nullptr);
  ::close(h->fd_);
  h->fd_ = -1;
}

// --- recycled input buffers --------------------------------------------------------

buffer reactor::take_spare(std::size_t n, std::size_t most) noexcept {
  auto best = spares_.end();
  for (auto it = spares_.begin(); it != spares_.end(); ++it)
    if (it->capacity() >= n && it->capacity() <= most && (best == spares_.end() || it->capacity() < best->capacity()))
      best = it;
  if (best == spares_.end()) return {};
  buffer b = std::move(*best);
  spares_.erase(best);
  spare_held_ -= b.capacity();
  return b;
}

void reactor::give_spare(buffer& b) noexcept {
  const std::size_t cap = b.capacity();
  if (cap < spare_min || cap > spare_bytes) {
    b.release();
    return;
  }
  // When the pool is full, a larger buffer takes the place of smaller ones: kept
  // small buffers serve only small frames, and if they never gave way, large
  // frames would be grown by doubling (a copy of each frame) ever after.
  while (spares_.size() == spare_count || spare_held_ + cap > spare_bytes) {
    auto smallest = std::min_element(spares_.begin(), spares_.end(),
                                     [](const buffer& x, const buffer& y) { return x.capacity() < y.capacity(); });
    if (smallest->capacity() >= cap) {
      b.release();
      return;
    }
    spare_held_ -= smallest->capacity();
    smallest->release();
    spares_.erase(smallest);
  }
  b.clear();
  spares_.push_back(std::move(b));  // no allocation: reserved for spare_count
  spare_held_ += cap;
}

buffer reactor::take_small() noexcept {
  if (smalls_.empty()) return {};
  buffer b = std::move(smalls_.back());
  smalls_.pop_back();
  return b;
}

void reactor::give_small(buffer& b) noexcept {
  if (b.capacity() != buffer::first_capacity || smalls_.size() == small_count) {
    b.release();
    return;
  }
  b.clear();
  smalls_.push_back(std::move(b));  // no allocation: reserved for small_count
}

void reactor::read_later(io_handle* h) {
  if (h->flags_ & (io_handle::ready_flag | io_handle::dead_flag)) return;
  h->flags_ |= io_handle::ready_flag;
  ready_.push_back(h);
}

void reactor::flush_later(io_handle* h) {
  if (h->flags_ & (io_handle::flush_flag | io_handle::dead_flag)) return;
  h->flags_ |= io_handle::flush_flag;
  flush_.push_back(h);
}

// --- timing wheel --------------------------------------------------------------

std::uint32_t reactor::tick_of(clock::time_point t) const noexcept {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(t - epoch_).count();
  return static_cast<std::uint32_t>(ms / tick_ms);
}

void reactor::link(io_handle* h, std::uint32_t tick) noexcept {
  std::size_t s = tick % wheel_slots;
  h->deadline_ = tick;
  h->wnext_ = wheel_[s];
  if (h->wnext_ != nullptr) h->wnext_->wprev_ = &h->wnext_;
  h->wprev_ = &wheel_[s];
  wheel_[s] = h;
  wheel_bits_[s / 64] |= std::uint64_t(1) << (s % 64);
}

void reactor::unlink(io_handle* h) noexcept {
  if (h->wprev_ == nullptr) return;
  *h->wprev_ = h->wnext_;
  if (h->wnext_ != nullptr) h->wnext_->wprev_ = h->wprev_;
  h->wnext_ = nullptr;
  h->wprev_ = nullptr;
}

void reactor::set_deadline(io_handle* h, std::chrono::milliseconds delay) noexcept {
  if (h->dead()) return;
  auto ticks = (std::max<std::int64_t>(delay.count(), 1) + tick_ms - 1) / tick_ms;
  std::uint32_t tick = tick_of(now_) + static_cast<std::uint32_t>(ticks) + 1;
  // Later than the slot it sits in: just remember it; the slot visit relinks it.
  if (h->wprev_ != nullptr && tick >= h->deadline_) {
    h->deadline_ = tick;
    return;
  }
  unlink(h);
  link(h, tick);
}

void reactor::clear_deadline(io_handle* h) noexcept { unlink(h); }

void reactor::run_wheel() {
  std::uint32_t now = tick_of(now_);
  std::uint32_t steps = std::min<std::uint32_t>(now - wheel_tick_, wheel_slots);
  for (std::uint32_t i = 1; i <= steps; ++i) {
    std::size_t s = (wheel_tick_ + i) % wheel_slots;
    io_handle* list = wheel_[s];
    wheel_[s] = nullptr;
    wheel_bits_[s / 64] &= ~(std::uint64_t(1) << (s % 64));
    if (list != nullptr) list->wprev_ = &list;
    // Pop from the head each time: a callback may unlink (close) any other entry.
    while (list != nullptr) {
      io_handle* h = list;
      unlink(h);
      if (h->deadline_ <= now) {
        h->on_timeout();
      } else {
        link(h, h->deadline_);
      }
    }
  }
  wheel_tick_ = now;
}

// --- user timers ---------------------------------------------------------------

timer_id reactor::add_timer(std::chrono::milliseconds delay, std::chrono::milliseconds period,
                            std::function<void()> fn) {
  timer_id id = next_timer_++;
  timers_.emplace(id, timer_job{std::move(fn), period});
  // Outside a batch the cached time may be old (the loop slept, or has not run yet).
  heap_.push_back({(in_batch_ ? now_ : clock::now()) + delay, id});
  std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
  return id;
}

bool reactor::cancel_timer(timer_id id) { return timers_.erase(id) != 0; }

void reactor::run_timers() {
  while (!heap_.empty() && heap_.front().when <= now_) {
    timer_entry top = heap_.front();
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    heap_.pop_back();
    auto it = timers_.find(top.id);
    if (it == timers_.end()) continue;  // cancelled
    auto period = it->second.period;
    // The callback may cancel itself or add timers (rehashing the map), so it runs
    // from a local copy and is put back only if still wanted.
    std::function<void()> fn = std::move(it->second.fn);
    if (period.count() <= 0) timers_.erase(it);
    fn();
    if (period.count() > 0) {
      auto again = timers_.find(top.id);
      if (again == timers_.end()) continue;
      again->second.fn = std::move(fn);
      heap_.push_back({std::max(top.when + period, now_), top.id});
      std::push_heap(heap_.begin(), heap_.end(), std::greater<>());
    }
  }
  // Cancelled entries at the top would shorten the wait for nothing.
  while (!heap_.empty() && timers_.find(heap_.front().id) == timers_.end()) {
    std::pop_heap(heap_.begin(), heap_.end(), std::greater<>());
    heap_.pop_back();
  }
}

// --- posting and deferring -------------------------------------------------------

void reactor::post(std::function<void()> fn) {
  {
    std::lock_guard lock(post_mutex_);
    posted_.push_back(std::move(fn));
  }
  if (!wake_pending_.exchange(true)) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_.fd_, &one, sizeof one);
  }
}

void reactor::wake_handle::on_io(unsigned) {
  std::uint64_t count;
  while (::read(fd(), &count, sizeof count) > 0) {
  }
}

void reactor::run_posted() {
  if (!wake_pending_.load()) return;
  wake_pending_.store(false);
  std::vector<std::function<void()>> jobs;
  {
    std::lock_guard lock(post_mutex_);
    jobs.swap(posted_);
  }
  for (auto& fn : jobs) fn();
}

void reactor::defer(std::function<void()> fn) { deferred_.push_back(std::move(fn)); }

void reactor::run_deferred() {
  // Deferred functions may defer more; those run in the same pass.
  for (std::size_t i = 0; i < deferred_.size(); ++i) {
    auto fn = std::move(deferred_[i]);
    fn();
  }
  deferred_.clear();
}

void reactor::stop() noexcept {
  stop_.store(true);
  if (!wake_pending_.exchange(true)) {
    std::uint64_t one = 1;
    [[maybe_unused]] auto r = ::write(wake_.fd_, &one, sizeof one);
  }
}

// --- the batch -------------------------------------------------------------------

int reactor::wait_timeout(int max_wait_ms) noexcept {
  if (!ready_.empty() || !deferred_.empty() || !flush_.empty()) return 0;
  auto until = now_ + std::chrono::milliseconds(max_wait_ms);
  if (!heap_.empty()) until = std::min(until, heap_.front().when);
  // The nearest possibly non-empty wheel slot (bits are cleared lazily).
  std::uint32_t base = wheel_tick_;
  for (std::uint32_t i = 1; i <= wheel_slots; ++i) {
    std::size_t s = (base + i) % wheel_slots;
    std::uint64_t word = wheel_bits_[s / 64] >> (s % 64);
    if (word == 0) {
      i += 63 - static_cast<std::uint32_t>(s % 64);
      continue;
    }
    i += static_cast<std::uint32_t>(std::countr_zero(word));
    if (i > wheel_slots) break;
    s = (base + i) % wheel_slots;
    if (wheel_[s] == nullptr) {
      wheel_bits_[s / 64] &= ~(std::uint64_t(1) << (s % 64));
      continue;
    }
    until = std::min(until, epoch_ + std::chrono::milliseconds(std::int64_t(base + i) * tick_ms));
    break;
  }
  if (until <= now_) return 0;
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(until - now_).count();
  return static_cast<int>((ns + 999'999) / 1'000'000);
}

void reactor::dispatch(const epoll_event& e) {
  auto* h = static_cast<io_handle*>(e.data.ptr);
  if (h == &wake_) {
    wake_.on_io(ev::in);
    return;
  }
  // An earlier callback of this batch may have closed it.
  if (h->dead()) return;
  unsigned events = translate(e.events);
  if (events & (ev::hup | ev::err)) h->flags_ |= io_handle::hup_flag;
  h->on_io(events);
}

void reactor::serve_ready() {
  if (ready_.empty()) return;
  std::vector<io_handle*> batch;
  batch.swap(ready_);
  for (io_handle* h : batch)
    if (h) h->flags_ &= static_cast<std::uint8_t>(~io_handle::ready_flag);
  // Inside the batch a handle closed meanwhile is dead, not yet freed.
  for (io_handle* h : batch)
    if (h && !h->dead()) h->on_io(ev::in);
  if (ready_.empty()) {
    batch.clear();
    ready_.swap(batch);  // keep the capacity
  }
}

void reactor::run_flushes() {
  // A flush may queue another (a close after the last send): loop until quiet.
  for (std::size_t i = 0; i < flush_.size(); ++i) {
    io_handle* h = flush_[i];
    if (h == nullptr) continue;  // closed since it asked
    h->flags_ &= static_cast<std::uint8_t>(~io_handle::flush_flag);
    if (!h->dead()) h->on_flush();
  }
  flush_.clear();
}

void reactor::reap() {
  while (!dead_.empty()) {
    std::vector<io_handle*> batch;
    batch.swap(dead_);
    for (io_handle* h : batch) h->on_free();
  }
}

bool reactor::run_once(int max_wait_ms) {
  owner_.store(std::this_thread::get_id());
  if (epfd_ < 0) return false;
  now_ = clock::now();
  epoll_event events[max_events];
  int n = ::epoll_wait(epfd_, events, max_events, stop_.load() ? 0 : wait_timeout(max_wait_ms));
  now_ = clock::now();
  in_batch_ = true;
  for (int i = 0; i < n; ++i) dispatch(events[i]);
  serve_ready();
  run_wheel();
  run_timers();
  run_posted();
  run_deferred();
  run_flushes();
  // A flush may defer work too (a connection it ends: its on_close); that runs
  // before the batch's dead are freed, or the deferred call would find no one.
  while (!deferred_.empty()) {
    run_deferred();
    run_flushes();
  }
  in_batch_ = false;
  reap();
  return !stop_.exchange(false);
}

void reactor::run() {
  while (run_once(60'000)) {
  }
}

// --- slots -----------------------------------------------------------------------

reactor::slot_ref reactor::acquire_slot(void* object) {
  std::uint32_t id;
  if (!free_slots_.empty()) {
    id = free_slots_.back();
    free_slots_.pop_back();
  } else {
    id = static_cast<std::uint32_t>(slots_.size());
    slots_.push_back({});
  }
  slots_[id].object = object;
  return {id, slots_[id].generation};
}

void reactor::release_slot(std::uint32_t id) noexcept {
  slots_[id].object = nullptr;
  ++slots_[id].generation;
  free_slots_.push_back(id);
}

void* reactor::lookup_slot(slot_ref ref) const noexcept {
  if (ref.id >= slots_.size()) return nullptr;
  const slot& s = slots_[ref.id];
  return s.generation == ref.generation ? s.object : nullptr;
}

}  // namespace zws::detail
