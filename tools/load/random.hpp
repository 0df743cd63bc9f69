// tools/load/random.hpp — the randomness zws-load masks frames with.
#pragma once

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "zws/simd.hpp"

namespace zws_load {

// Random bytes for mask keys and handshake keys, drawn from getrandom() 64 KiB
// at a time so that a fresh key per frame costs a copy, not a syscall.

class random_pool {
 public:
  zws::mask_key key() {
    zws::mask_key k;
    fill(k.bytes, 4);
    return k;
  }
  void fill(std::uint8_t* dst, std::size_t n) {
    while (n) {
      if (pos_ == sizeof buf_) refill();
      const std::size_t k = std::min(n, sizeof buf_ - pos_);
      std::memcpy(dst, buf_ + pos_, k);
      pos_ += k, dst += k, n -= k;
    }
  }

 private:
  void refill() {
    std::size_t got = 0;
    while (got < sizeof buf_) {
      const ssize_t r = getrandom(buf_ + got, sizeof buf_ - got, 0);
      if (r > 0) got += static_cast<std::size_t>(r);
      else if (errno != EINTR) {
        std::perror("zws-load: getrandom");
        std::exit(1);
      }
    }
    pos_ = 0;
  }
  std::uint8_t buf_[64 * 1024];
  std::size_t pos_ = sizeof buf_;
};

}  // namespace zws_load
