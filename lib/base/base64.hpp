// lib/base64.hpp — Base64 of RFC 4648 §4 (standard alphabet, '=' padding).
//
// Internal. Used for Sec-WebSocket-Key / Sec-WebSocket-Accept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace zws::detail {

constexpr std::size_t base64_encoded_size(std::size_t n) noexcept { return (n + 2) / 3 * 4; }

// Writes base64_encoded_size(in.size()) characters to `out`; returns that count.
std::size_t base64_encode(std::span<const std::uint8_t> in, char* out) noexcept;

// Strict decoding: only the standard alphabet, correct '=' padding, length a
// multiple of 4, no whitespace, zero unused bits. Writes at most `out.size()`
// bytes. Returns the decoded length, or -1 when `in` is not canonical base64 or
// `out` is too small.
std::ptrdiff_t base64_decode(std::string_view in, std::span<std::uint8_t> out) noexcept;

}  // namespace zws::detail
