// tools/load/payload.hpp — what zws-load sends.
//
// A message is a fixed pattern whose first (up to) 8 bytes are replaced by the
// message's sequence number on its connection, 6 bits per printable character,
// so an echo that is reordered, repeated or cut is caught, and text stays ASCII.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "zws/simd.hpp"

namespace zws_load {

inline constexpr char seq_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
inline constexpr std::size_t seq_bytes = 8;

struct pattern {
  std::vector<std::uint8_t> bytes;

  pattern(std::size_t size, bool text) : bytes(size) {
    std::uint64_t x = 0x9E3779B97F4A7C15ull;  // fixed xorshift seed: runs are comparable
    for (auto& b : bytes) {
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      b = text ? static_cast<std::uint8_t>(' ' + x % 95) : static_cast<std::uint8_t>(x >> 32);
    }
  }
  std::size_t size() const noexcept { return bytes.size(); }
  std::size_t stamp_size() const noexcept { return std::min(seq_bytes, bytes.size()); }

  static std::uint8_t stamp_byte(std::uint64_t seq, std::size_t j) noexcept {
    return static_cast<std::uint8_t>(seq_alphabet[(seq >> (6 * j)) & 63]);
  }
  // The 8 stamp bytes of `seq` as they lie in memory (little-endian load order).
  static std::uint64_t stamp_word(std::uint64_t seq) noexcept {
    std::uint64_t w = 0;
    for (std::size_t j = 0; j < seq_bytes; ++j) w |= std::uint64_t{stamp_byte(seq, j)} << (8 * j);
    return w;
  }
  void stamp(std::uint8_t* dst, std::uint64_t seq) const noexcept {
    for (std::size_t j = 0; j < stamp_size(); ++j) dst[j] = stamp_byte(seq, j);
  }
  // Writes the stamp of `seq` masked with `key` (phase 0) over dst[0, stamp_size()).
  void stamp_masked(std::uint8_t* dst, std::uint64_t seq, zws::mask_key key) const noexcept {
    std::uint32_t k4;
    std::memcpy(&k4, key.bytes, 4);
    const std::uint64_t w = stamp_word(seq) ^ (std::uint64_t{k4} << 32 | k4);
    std::memcpy(dst, &w, stamp_size());
  }
  // Whether `got` equals bytes [off, off + n) of message `seq`.
  bool matches(std::uint64_t seq, std::size_t off, const std::uint8_t* got, std::size_t n) const noexcept {
    if (off == 0 && n == bytes.size() && n >= seq_bytes) {  // a whole message: the common case
      const std::uint64_t w = stamp_word(seq);
      return std::memcmp(got, &w, seq_bytes) == 0 &&
             std::memcmp(got + seq_bytes, bytes.data() + seq_bytes, n - seq_bytes) == 0;
    }
    std::size_t j = off;
    for (; j < stamp_size() && j < off + n; ++j)
      if (got[j - off] != stamp_byte(seq, j)) return false;
    return std::memcmp(got + (j - off), bytes.data() + j, off + n - j) == 0;
  }
};

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
    for (std::size_t k = 0; k < count; ++k) {
      std::memcpy(bytes.data() + k * p.size(), p.bytes.data(), p.size());
      p.stamp(bytes.data() + k * p.size(), k);
    }
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
