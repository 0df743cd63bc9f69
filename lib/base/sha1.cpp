#include "base/sha1.hpp"

#include <cstdlib>
#include <cstring>

#include "base/cpu.hpp"

namespace zws::detail {
namespace {

constexpr std::uint32_t initial_state[5] = {0x67452301u, 0xEFCDAB89u, 0x98BADCFEu, 0x10325476u, 0xC3D2E1F0u};

constexpr std::uint32_t rotl(std::uint32_t x, int n) noexcept { return (x << n) | (x >> (32 - n)); }

std::uint32_t load_be32(const std::uint8_t* p) noexcept {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}

struct kernel {
  sha1_compress_fn compress;
  std::string_view name;
};

kernel choose_kernel() noexcept {
  const char* force = std::getenv("ZWS_FORCE_ISA");
  const bool force_scalar = force != nullptr && std::string_view(force) == "scalar";
  if (!force_scalar && sha1_shani_supported()) return {sha1_compress_shani, "shani"};
  return {sha1_compress_scalar, "scalar"};
}

const kernel& active() noexcept {
  static const kernel k = choose_kernel();
  return k;
}

// Appends the padding and the bit length to the final partial block
// `tail[0..n)` (n < 64), compresses the one or two blocks that makes, and
// returns the digest of `state`.
sha1_digest finish_tail(std::uint32_t state[5], const std::uint8_t* tail, std::size_t n, std::uint64_t total,
                        sha1_compress_fn compress) noexcept {
  std::uint8_t last[128] = {};
  if (n) std::memcpy(last, tail, n);
  last[n] = 0x80;
  const std::size_t len = n < 56 ? 64 : 128;
  const std::uint64_t bits = total * 8;
  for (int i = 0; i < 8; ++i) last[len - 1 - i] = static_cast<std::uint8_t>(bits >> (8 * i));
  compress(state, last, len / 64);

  sha1_digest d;
  for (int i = 0; i < 5; ++i)
    for (int j = 0; j < 4; ++j) d[4 * i + j] = static_cast<std::uint8_t>(state[i] >> (24 - 8 * j));
  return d;
}

}  // namespace

void sha1_compress_scalar(std::uint32_t state[5], const std::uint8_t* blocks, std::size_t nblocks) noexcept {
  for (; nblocks != 0; --nblocks, blocks += 64) {
    std::uint32_t w[80];
    for (int t = 0; t < 16; ++t) w[t] = load_be32(blocks + std::size_t{4} * std::size_t(t));
    for (int t = 16; t < 80; ++t) w[t] = rotl(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);

    std::uint32_t a = state[0], b = state[1], c = state[2], d = state[3], e = state[4];
    // One loop per round function, so that no round branches on t.
    auto round = [&](std::uint32_t f, std::uint32_t k, std::uint32_t wt) {
      const std::uint32_t tmp = rotl(a, 5) + f + e + k + wt;
      e = d, d = c, c = rotl(b, 30), b = a, a = tmp;
    };
#pragma GCC unroll 20
    for (int t = 0; t < 20; ++t) round(d ^ (b & (c ^ d)), 0x5A827999u, w[t]);
#pragma GCC unroll 20
    for (int t = 20; t < 40; ++t) round(b ^ c ^ d, 0x6ED9EBA1u, w[t]);
#pragma GCC unroll 20
    for (int t = 40; t < 60; ++t) round((b & c) | (d & (b | c)), 0x8F1BBCDCu, w[t]);
#pragma GCC unroll 20
    for (int t = 60; t < 80; ++t) round(b ^ c ^ d, 0xCA62C1D6u, w[t]);
    state[0] += a, state[1] += b, state[2] += c, state[3] += d, state[4] += e;
  }
}

bool sha1_shani_supported() noexcept {
  const cpu_features& f = cpu();
  return f.sha && f.sse41 && f.ssse3;
}

std::string_view sha1_kernel_name() noexcept { return active().name; }

sha1::sha1() noexcept { std::memcpy(state_, initial_state, sizeof state_); }

void sha1::update(std::span<const std::uint8_t> bytes) noexcept {
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  length_ += n;
  if (nblock_ != 0) {
    const std::size_t take = n < 64 - nblock_ ? n : 64 - nblock_;
    std::memcpy(block_ + nblock_, p, take);
    nblock_ += take, p += take, n -= take;
    if (nblock_ < 64) return;
    active().compress(state_, block_, 1);
    nblock_ = 0;
  }
  // Whole blocks are hashed straight from the caller's memory.
  if (n >= 64) {
    active().compress(state_, p, n / 64);
    p += n / 64 * 64, n %= 64;
  }
  if (n) std::memcpy(block_, p, n);
  nblock_ = n;
}

void sha1::update(std::string_view s) noexcept {
  update(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

sha1_digest sha1::finish() noexcept { return finish_tail(state_, block_, nblock_, length_, active().compress); }

sha1_digest sha1_of(std::span<const std::uint8_t> bytes, sha1_compress_fn kernel) noexcept {
  std::uint32_t state[5];
  std::memcpy(state, initial_state, sizeof state);
  const std::size_t whole = bytes.size() / 64;
  if (whole) kernel(state, bytes.data(), whole);
  return finish_tail(state, bytes.data() + whole * 64, bytes.size() % 64, bytes.size(), kernel);
}

sha1_digest sha1_of(std::span<const std::uint8_t> bytes) noexcept { return sha1_of(bytes, active().compress); }

sha1_digest sha1_of(std::string_view s) noexcept {
  return sha1_of(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

}  // namespace zws::detail
