// zws/utf8.hpp — streaming UTF-8 validation across fragments and reads.
//
// A text message may arrive in many frames, and a code point may be split
// between two of them. The validator keeps at most 3 pending bytes of an open
// code point; everything else is checked by the dispatched SIMD kernel.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace zws {

class utf8_validator {
 public:
  // Feeds the next piece. Returns false as soon as the bytes seen so far cannot
  // be a prefix of valid UTF-8 (fail fast); after that it keeps returning false
  // until reset().
  bool write(std::span<const std::uint8_t> bytes) noexcept;

  // True when everything written so far is complete, valid UTF-8 (no code point
  // left open). Does not change the state.
  bool finish() const noexcept;

  void reset() noexcept;

 private:
  std::uint8_t pending_[3] = {};
  std::uint8_t npending_ = 0;
  bool ok_ = true;
};

// Offset of the first byte that makes `bytes` invalid UTF-8, i.e. the first
// byte at which the input stops being the start of valid UTF-8 (for E0 80 that
// is the 80; for a stray continuation byte, that byte); for a code point cut
// short by the end of the input, the offset of its lead byte; bytes.size() when
// the whole input is valid. Scalar; meant for error reporting, not the hot path.
std::size_t utf8_error_offset(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace zws
