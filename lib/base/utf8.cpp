// lib/utf8.cpp — the streaming validator and the scalar error locator.
//
// The validator hands whole code points to the dispatched kernel and keeps only
// an incomplete code point at the end of a write (at most 3 bytes) for the next
// one, checking that those bytes can still begin a valid sequence so that it
// fails as early as the input allows.
#include "zws/utf8.hpp"

#include <algorithm>

#include "zws/simd.hpp"

namespace zws {
namespace {

// Length of the sequence led by `b` and the allowed range of its second byte
// (RFC 3629 section 4). len == 0: `b` cannot lead a sequence.
struct lead_info {
  std::uint8_t len, lo, hi;
};

lead_info lead(std::uint8_t b) noexcept {
  if (b >= 0xC2 && b <= 0xDF) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b >= 0xE1 && b <= 0xEF) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b >= 0xF1 && b <= 0xF3) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

bool is_continuation(std::uint8_t b) noexcept { return (b & 0xC0) == 0x80; }

// True when p[0..n), 1 <= n <= 4, is the start (or the whole) of one valid sequence.
bool valid_prefix(const std::uint8_t* p, std::size_t n) noexcept {
  const lead_info l = lead(p[0]);
  if (l.len == 0 || n > l.len) return false;
  if (n > 1 && (p[1] < l.lo || p[1] > l.hi)) return false;
  for (std::size_t k = 2; k < n; ++k)
    if (!is_continuation(p[k])) return false;
  return true;
}

// How many bytes at the end of p[0..n) form a code point that is not finished
// yet (0..3). Bytes that can never be valid are left to the kernel or to
// valid_prefix to reject.
std::size_t open_tail(const std::uint8_t* p, std::size_t n) noexcept {
  for (std::size_t k = 1; k <= 3 && k <= n; ++k) {
    const std::uint8_t b = p[n - k];
    if (is_continuation(b)) continue;
    if (b < 0x80) return 0;
    const std::size_t len = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
    return len > k ? k : 0;
  }
  return 0;
}

}  // namespace

bool utf8_validator::write(std::span<const std::uint8_t> bytes) noexcept {
  if (!ok_) return false;
  const std::uint8_t* p = bytes.data();
  std::size_t n = bytes.size();
  if (npending_ != 0) {
    const std::size_t need = lead(pending_[0]).len - npending_;
    const std::size_t take = std::min(need, n);
    std::uint8_t seq[4];
    std::copy_n(pending_, npending_, seq);
    std::copy_n(p, take, seq + npending_);
    if (!valid_prefix(seq, npending_ + take)) return ok_ = false;
    if (take < need) {
      std::copy_n(seq, npending_ + take, pending_);
      npending_ = static_cast<std::uint8_t>(npending_ + take);
      return true;
    }
    npending_ = 0;
    p += take;
    n -= take;
  }
  const std::size_t tail = open_tail(p, n);
  if (!utf8_valid({p, n - tail})) return ok_ = false;
  if (tail != 0 && !valid_prefix(p + n - tail, tail)) return ok_ = false;
  std::copy_n(p + n - tail, tail, pending_);
  npending_ = static_cast<std::uint8_t>(tail);
  return true;
}

bool utf8_validator::finish() const noexcept { return ok_ && npending_ == 0; }

void utf8_validator::reset() noexcept {
  npending_ = 0;
  ok_ = true;
}

std::size_t utf8_error_offset(std::span<const std::uint8_t> bytes) noexcept {
  const std::uint8_t* p = bytes.data();
  const std::size_t n = bytes.size();
  std::size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const lead_info l = lead(p[i]);
    if (l.len == 0) return i;
    if (i + 1 == n) return i;
    if (p[i + 1] < l.lo || p[i + 1] > l.hi) return i + 1;
    for (std::size_t k = 2; k < l.len; ++k) {
      if (i + k == n) return i;
      if (!is_continuation(p[i + k])) return i + k;
    }
    i += l.len;
  }
  return n;
}

}  // namespace zws
