// tools/cli.hpp — the little the command-line tools share: option values and
// a clean stop on SIGINT/SIGTERM. Header-only, public API only.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <thread>

namespace zws_tools {

// Walks argv. `is(name)` matches "--name" and takes its value from the next
// argument; anything malformed prints to stderr and exits with status 1.
class args {
 public:
  args(int argc, char** argv, const char* usage) : argc_(argc), argv_(argv), usage_(usage) {}

  bool next() { return ++i_ < argc_; }
  std::string_view current() const { return argv_[i_]; }
  bool is(std::string_view name) const { return current() == name; }

  std::string_view value() {
    if (i_ + 1 >= argc_) fail("missing value after", current());
    return argv_[++i_];
  }
  template <class T>
  T number(T min, T max) {
    std::string_view name = current();
    std::string_view v = value();
    T out{};
    auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
    if (ec != std::errc{} || end != v.data() + v.size() || out < min || out > max) fail("bad number for", name);
    return out;
  }
  [[noreturn]] void fail(const char* what, std::string_view arg) const {
    std::fprintf(stderr, "%s %.*s\n\n%s", what, int(arg.size()), arg.data(), usage_);
    std::exit(1);
  }
  [[noreturn]] void unknown() const { fail("unknown option", current()); }

 private:
  int argc_;
  char** argv_;
  const char* usage_;
  int i_ = 0;
};

// Blocks SIGINT and SIGTERM in this thread (and every thread started after)
// and calls `fn` once, from a helper thread, when one of them arrives; a second
// signal ends the process at once. Call it before starting other threads. `fn`
// runs outside signal context, so it may do anything (Server::stop, Loop::stop).
inline void on_stop_signal(std::function<void()> fn) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, fn = std::move(fn)] {
    int sig = 0;
    sigwait(&set, &sig);
    fn();
    sigwait(&set, &sig);
    std::_Exit(128 + sig);
  }).detach();
}

}  // namespace zws_tools
