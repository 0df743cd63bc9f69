// tools/load/payload.hpp — what zws-load sends.
//
// A message is cut into blocks of pattern::block_size bytes (a message up to
// that size is one block). Every block is the same fixed pseudo-random `base`
// except for its first (up to) 8 bytes, the stamp, which spell the block's
// number on its connection, 6 bits per printable character: block k of message
// `seq` is number seq * blocks() + k. So an echo that is reordered, repeated, cut
// or shifted is caught (a whole block moved carries the wrong number; anything
// else breaks the random bytes), text stays ASCII, and the reference that a
// large echo is compared with stays in L1 cache however large the message is.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "zws/simd.hpp"

namespace zws_load {

inline constexpr std::size_t stamp_bytes = 8;

inline std::uint64_t load64(const std::uint8_t* p) noexcept {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}
inline void store64(std::uint8_t* p, std::uint64_t v) noexcept { std::memcpy(p, &v, 8); }

// A mask key repeated over 8 bytes: the mask of any 8 payload bytes whose
// offset is a multiple of 4.
inline std::uint64_t key_word(zws::mask_key key) noexcept {
  std::uint32_t k4;
  std::memcpy(&k4, key.bytes, 4);
  return std::uint64_t{k4} << 32 | k4;
}

// Whether a[0, n) equals b[0, n). Up to 16 bytes in two (possibly overlapping)
// loads per side, never outside the ranges; longer ones through memcmp.
inline bool equal_bytes(const std::uint8_t* a, const std::uint8_t* b, std::size_t n) noexcept {
  if (n >= 8 && n <= 16) return load64(a) == load64(b) && load64(a + n - 8) == load64(b + n - 8);
  return n == 0 || std::memcmp(a, b, n) == 0;
}

class pattern {
 public:
  // A multiple of 8, so that every block starts at key phase 0 and stamps are
  // 8-byte aligned within the payload.
  static constexpr std::size_t block_size = 16 * 1024;

  pattern(std::size_t size, bool text) : base_(std::min(size, block_size)), size_(size) {
    std::uint64_t x = 0x9E3779B97F4A7C15ull;  // fixed xorshift seed: runs are comparable
    for (auto& b : base_) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = text ? static_cast<std::uint8_t>(' ' + x % 95) : static_cast<std::uint8_t>(x >> 32);
    }
  }
  std::size_t size() const noexcept { return size_; }
  std::size_t blocks() const noexcept { return (size_ + block_size - 1) / block_size; }
  const std::uint8_t* base() const noexcept { return base_.data(); }

  // The 8 stamp bytes of block number `n` as they lie in memory (little-endian
  // load order): the low 48 bits of n, 6 bits per byte from the least
  // significant, each plus '0', so 0x30..0x6F, printable. Shifts and masks
  // spread the bits (24 per 32-bit half, 12 per 16-bit quarter, 6 per byte);
  // no byte carries into the next when '0' is added.
  static constexpr std::uint64_t stamp_word(std::uint64_t n) noexcept {
    std::uint64_t x = n & 0xFFFF'FFFF'FFFFull;
    x = (x & 0x0000'0000'00FF'FFFFull) | (x & 0x0000'FFFF'FF00'0000ull) << 8;
    x = (x & 0x0000'0FFF'0000'0FFFull) | (x & 0x00FF'F000'00FF'F000ull) << 4;
    x = (x & 0x003F'003F'003F'003Full) | (x & 0x0FC0'0FC0'0FC0'0FC0ull) << 2;
    return x + 0x3030'3030'3030'3030ull;
  }
  static constexpr std::uint8_t stamp_byte(std::uint64_t n, std::size_t j) noexcept {
    return static_cast<std::uint8_t>('0' + ((n >> (6 * j)) & 63));
  }
  std::uint64_t block_number(std::uint64_t seq, std::size_t off) const noexcept {
    return seq * blocks() + off / block_size;
  }

  // Writes message `seq` (size() bytes) to dst.
  void write(std::uint8_t* dst, std::uint64_t seq) const noexcept {
    for (std::size_t off = 0; off < size_; off += block_size) {
      const std::size_t k = std::min(block_size, size_ - off);
      std::memcpy(dst + off, base_.data(), k);
      const std::uint64_t w = stamp_word(block_number(seq, off));
      std::memcpy(dst + off, &w, std::min(k, stamp_bytes));
    }
  }

  // Writes bytes [off, off + n) of message `seq`, masked with `key` as they
  // are in the frame (byte i with key byte i % 4), to dst[0, n): one pass of
  // the masking kernel per block, then the block's stamp, masked, over its start.
  void write_masked(std::uint8_t* dst, std::uint64_t seq, std::size_t off, std::size_t n,
                    zws::mask_key key) const noexcept {
    for (const std::size_t end = off + n; off < end;) {
      const std::size_t in = off % block_size;  // where in its block
      const std::size_t k = std::min(end - off, block_size - in);
      zws::mask_copy({dst, k}, {base_.data() + in, k}, key, in % 4);
      if (in < stamp_bytes) {
        const std::uint64_t number = block_number(seq, off);
        if (in == 0 && k >= stamp_bytes) {
          store64(dst, stamp_word(number) ^ key_word(key));
        } else {
          for (std::size_t j = in; j < stamp_bytes && j < in + k; ++j)
            dst[j - in] = static_cast<std::uint8_t>(stamp_byte(number, j) ^ key.bytes[j % 4]);
        }
      }
      dst += k, off += k;
    }
  }

  // Whether got[0, n) equals bytes [off, off + n) of message `seq`.
  bool matches(std::uint64_t seq, std::size_t off, const std::uint8_t* got, std::size_t n) const noexcept {
    while (n) {
      const std::size_t in = off % block_size;
      const std::size_t k = std::min(n, block_size - in);
      const std::uint64_t number = block_number(seq, off);
      std::size_t j = in;
      for (; j < stamp_bytes && j < in + k; ++j)
        if (got[j - in] != stamp_byte(number, j)) return false;
      if (!equal_bytes(got + (j - in), base_.data() + j, in + k - j)) return false;
      got += k, off += k, n -= k;
    }
    return true;
  }

  // Whether got[0, size()) is message `seq`: the common case, inline. A
  // message of 9 to 24 bytes takes three 64-bit compares.
  bool matches_whole(std::uint64_t seq, const std::uint8_t* got) const noexcept {
    if (size_ < stamp_bytes || size_ > block_size) return matches(seq, 0, got, size_);
    return load64(got) == stamp_word(seq) &&
           equal_bytes(got + stamp_bytes, base_.data() + stamp_bytes, size_ - stamp_bytes);
  }

 private:
  std::vector<std::uint8_t> base_;  // min(size, block_size) bytes
  std::size_t size_;
};

static_assert(pattern::stamp_word(0) == 0x3030'3030'3030'3030ull);
static_assert(pattern::stamp_word(1) == 0x3030'3030'3030'3031ull);
static_assert(pattern::stamp_word(63) == 0x3030'3030'3030'306Full);
static_assert(pattern::stamp_word(64) == 0x3030'3030'3030'3130ull);
static_assert(pattern::stamp_word(0xFFFF'FFFF'FFFFull) == 0x6F6F'6F6F'6F6F'6F6Full);
static_assert(pattern::stamp_word(std::uint64_t{1} << 42) == 0x3130'3030'3030'3030ull);
static_assert(pattern::stamp_word(0x0123'4567'89AB) ==
              [] {
                std::uint64_t w = 0;
                for (std::size_t j = 0; j < stamp_bytes; ++j)
                  w |= std::uint64_t{pattern::stamp_byte(0x0123'4567'89AB, j)} << (8 * j);
                return w;
              }());

// --raw: the byte stream of one connection is messages 0, 1, 2 ... back to back.
// It is laid out once, `count` messages long, and both sent from (no copy per
// message) and compared against, at the stream offset modulo its size; the
// stamps then count modulo `count`, which still catches reordered, repeated or
// lost bytes within a window of `count` messages.
struct stream_image {
  std::vector<std::uint8_t> bytes;

  explicit stream_image(const pattern& p) {
    const std::size_t s = std::max<std::size_t>(p.size(), 1);
    // Small enough to stay in L2 while every connection streams through it.
    const std::size_t count = std::clamp<std::size_t>((std::size_t{256} << 10) / s, 4, 4096);
    bytes.resize(count * p.size());
    for (std::size_t k = 0; k < count; ++k) p.write(bytes.data() + k * p.size(), k);
  }
  std::size_t size() const noexcept { return bytes.size(); }
  // Whether got[0, n) equals the stream from offset `at`.
  bool matches(std::uint64_t at, const std::uint8_t* got, std::size_t n) const noexcept {
    while (n) {
      const std::size_t o = static_cast<std::size_t>(at % bytes.size());
      const std::size_t k = std::min(n, bytes.size() - o);
      if (std::memcmp(got, bytes.data() + o, k) != 0) return false;
      at += k, got += k, n -= k;
    }
    return true;
  }
};

}  // namespace zws_load
