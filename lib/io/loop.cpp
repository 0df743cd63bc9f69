#include "zws/loop.hpp"

#include "io/reactor.hpp"

namespace zws {

Loop::Loop() : impl_(std::make_unique<detail::reactor>()) {}
Loop::~Loop() = default;

const failure& Loop::error() const noexcept { return impl_->error(); }
void Loop::run() { impl_->run(); }
bool Loop::run_once(std::chrono::milliseconds max_wait) { return impl_->run_once(static_cast<int>(max_wait.count())); }
void Loop::stop() { impl_->stop(); }
void Loop::post(std::function<void()> fn) { impl_->post(std::move(fn)); }
void Loop::defer(std::function<void()> fn) { impl_->defer(std::move(fn)); }

timer_id Loop::set_timeout(std::chrono::milliseconds delay, std::function<void()> fn) {
  return impl_->add_timer(delay, std::chrono::milliseconds(0), std::move(fn));
}

timer_id Loop::set_interval(std::chrono::milliseconds period, std::function<void()> fn) {
  return impl_->add_timer(period, period, std::move(fn));
}

bool Loop::cancel(timer_id id) { return impl_->cancel_timer(id); }
Loop::clock::time_point Loop::now() const noexcept { return impl_->now(); }
bool Loop::in_loop_thread() const noexcept { return impl_->in_loop_thread(); }

}  // namespace zws
