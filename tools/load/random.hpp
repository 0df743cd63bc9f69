// tools/load/random.hpp — the randomness zws-load masks frames with.
//
// RFC 6455 §10.3 wants every frame's mask key fresh and unpredictable, and
// zws-load sends millions of frames a second, so a syscall per key is out and
// even getrandom() 64 KiB at a time spends more than the framing itself in the
// kernel's one-block-at-a-time ChaCha20. Keys come instead from ChaCha20
// (RFC 8439) run here, four blocks at a time in 128-bit vectors (GCC vector
// extensions: plain SSE2 on x86-64, no ISA-specific file needed), about twice
// as fast per byte as getrandom() and without the syscalls:
//  - the first key is read from getrandom(), and a new one again every
//    reseed_every refills (1 MiB of output), so the stream is never long;
//  - each 4 KiB refill starts with the next key ("fast key erasure"): the key
//    that made bytes already handed out is overwritten at once, so they cannot
//    be recomputed from the process's memory;
//  - a known-answer test (RFC 8439 §2.3.2) runs once before the first use.
#pragma once

#include <sys/random.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "zws/simd.hpp"

namespace zws_load {
namespace detail {

using u32x4 = std::uint32_t __attribute__((vector_size(16)));
static_assert(std::endian::native == std::endian::little, "ChaCha20 output is stored as little-endian words");

inline u32x4 rotl(u32x4 x, int n) noexcept { return (x << n) | (x >> (32 - n)); }

inline void quarter_round(u32x4& a, u32x4& b, u32x4& c, u32x4& d) noexcept {
  a += b, d ^= a, d = rotl(d, 16);
  c += d, b ^= c, b = rotl(b, 12);
  a += b, d ^= a, d = rotl(d, 8);
  c += d, b ^= c, b = rotl(b, 7);
}

// Writes the ChaCha20 blocks `counter` .. `counter` + 3 of `key` and `nonce`
// (RFC 8439 §2.3) to out[0, 256), one after the other. Lane b of every vector
// works on block counter + b.
inline void chacha20_x4(const std::uint32_t (&key)[8], std::uint32_t counter, const std::uint32_t (&nonce)[3],
                        std::uint8_t* out) noexcept {
  auto all = [](std::uint32_t v) { return u32x4{v, v, v, v}; };
  const u32x4 init[16] = {all(0x61707865), all(0x3320646e), all(0x79622d32), all(0x6b206574),
                          all(key[0]),     all(key[1]),     all(key[2]),     all(key[3]),
                          all(key[4]),     all(key[5]),     all(key[6]),     all(key[7]),
                          u32x4{counter, counter + 1, counter + 2, counter + 3},
                          all(nonce[0]),   all(nonce[1]),   all(nonce[2])};
  u32x4 x[16];
  std::copy(init, init + 16, x);
  for (int i = 0; i < 10; ++i) {  // 20 rounds: a column round and a diagonal round each time
    quarter_round(x[0], x[4], x[8], x[12]);
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }
  // Transpose 4x4 words at a time: from "word w of blocks 0..3" to "words
  // w..w+3 of block b", stored as 16 bytes (the host is little-endian, as the
  // ChaCha20 byte order is).
  for (int w = 0; w < 16; w += 4) {
    const u32x4 a = x[w] + init[w], b = x[w + 1] + init[w + 1];
    const u32x4 c = x[w + 2] + init[w + 2], d = x[w + 3] + init[w + 3];
    const u32x4 ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5), ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
    const u32x4 cd_lo = __builtin_shufflevector(c, d, 0, 4, 1, 5), cd_hi = __builtin_shufflevector(c, d, 2, 6, 3, 7);
    const u32x4 block[4] = {__builtin_shufflevector(ab_lo, cd_lo, 0, 1, 4, 5),
                            __builtin_shufflevector(ab_lo, cd_lo, 2, 3, 6, 7),
                            __builtin_shufflevector(ab_hi, cd_hi, 0, 1, 4, 5),
                            __builtin_shufflevector(ab_hi, cd_hi, 2, 3, 6, 7)};
    for (int k = 0; k < 4; ++k) std::memcpy(out + 64 * k + 4 * w, &block[k], 16);
  }
}

// RFC 8439 §2.3.2: key 00 01 .. 1f, nonce 00 00 00 09 00 00 00 4a 00 00 00 00, block 1.
inline bool chacha20_known_answer() noexcept {
  static constexpr std::uint8_t expect[64] = {
      0x10, 0xf1, 0xe7, 0xe4, 0xd1, 0x3b, 0x59, 0x15, 0x50, 0x0f, 0xdd, 0x1f, 0xa3, 0x20, 0x71, 0xc4,
      0xc7, 0xd1, 0xf4, 0xc7, 0x33, 0xc0, 0x68, 0x03, 0x04, 0x22, 0xaa, 0x9a, 0xc3, 0xd4, 0x6c, 0x4e,
      0xd2, 0x82, 0x64, 0x46, 0x07, 0x9f, 0xaa, 0x09, 0x14, 0xc2, 0xd7, 0x05, 0xd9, 0x8b, 0x02, 0xa2,
      0xb5, 0x12, 0x9c, 0xd1, 0xde, 0x16, 0x4e, 0xb9, 0xcb, 0xd0, 0x83, 0xe8, 0xa2, 0x50, 0x3c, 0x4e};
  std::uint32_t key[8];
  for (std::uint32_t i = 0; i < 8; ++i) key[i] = 0x03020100u + 0x04040404u * i;
  const std::uint32_t nonce[3] = {0x09000000, 0x4a000000, 0};
  std::uint8_t out[256];
  chacha20_x4(key, 1, nonce, out);
  return std::memcmp(out, expect, 64) == 0;
}

}  // namespace detail

// Random bytes for mask keys and handshake keys. One per worker thread (not
// shared: no locking).
class random_pool {
 public:
  random_pool() {
    static const bool known_answer_ok = detail::chacha20_known_answer();
    if (!known_answer_ok) {
      std::fputs("zws-load: ChaCha20 known-answer test failed\n", stderr);
      std::exit(1);
    }
    reseed();
  }
  random_pool(const random_pool&) = delete;
  random_pool& operator=(const random_pool&) = delete;
  ~random_pool() { std::memset(key_, 0, sizeof key_); }

  zws::mask_key key() {
    if (pos_ + 4 > sizeof buf_) refill();
    zws::mask_key k;
    std::memcpy(k.bytes, buf_ + pos_, 4);
    pos_ += 4;
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
  static constexpr unsigned reseed_every = 256;

  void refill() {
    if (++refills_ % reseed_every == 0) reseed();
    static constexpr std::uint32_t nonce[3] = {0, 0, 0};  // each key makes one buffer only
    for (std::uint32_t block = 0; block < sizeof buf_ / 64; block += 4)
      detail::chacha20_x4(key_, block, nonce, buf_ + 64 * block);
    std::memcpy(key_, buf_, sizeof key_);  // the next key, never handed out
    std::memset(buf_, 0, sizeof key_);
    pos_ = sizeof key_;
  }
  void reseed() {
    auto* p = reinterpret_cast<std::uint8_t*>(key_);
    std::size_t got = 0;
    while (got < sizeof key_) {
      const ssize_t r = getrandom(p + got, sizeof key_ - got, 0);
      if (r > 0) got += static_cast<std::size_t>(r);
      else if (errno != EINTR) {
        std::perror("zws-load: getrandom");
        std::exit(1);
      }
    }
  }

  std::uint32_t key_[8];
  unsigned refills_ = 0;
  std::uint8_t buf_[4096];
  std::size_t pos_ = sizeof buf_;
};

}  // namespace zws_load
