#include "base/base64.hpp"

#include <array>

namespace zws::detail {
namespace {

constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::uint8_t invalid = 0xFF;

// Value of each character of the alphabet; 0xFF for everything else, '=' included.
constexpr std::array<std::uint8_t, 256> decode_table = [] {
  std::array<std::uint8_t, 256> t{};
  t.fill(invalid);
  for (std::uint8_t i = 0; i < 64; ++i) t[static_cast<unsigned char>(alphabet[i])] = i;
  return t;
}();

std::uint8_t value(char c) noexcept { return decode_table[static_cast<unsigned char>(c)]; }

}  // namespace

std::size_t base64_encode(std::span<const std::uint8_t> in, char* out) noexcept {
  const std::uint8_t* p = in.data();
  std::size_t n = in.size();
  char* o = out;
  for (; n >= 3; n -= 3, p += 3, o += 4) {
    const std::uint32_t v = (std::uint32_t(p[0]) << 16) | (std::uint32_t(p[1]) << 8) | p[2];
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[(v >> 12) & 63];
    o[2] = alphabet[(v >> 6) & 63];
    o[3] = alphabet[v & 63];
  }
  if (n) {
    const std::uint32_t v = (std::uint32_t(p[0]) << 16) | (n == 2 ? std::uint32_t(p[1]) << 8 : 0);
    o[0] = alphabet[v >> 18];
    o[1] = alphabet[(v >> 12) & 63];
    o[2] = n == 2 ? alphabet[(v >> 6) & 63] : '=';
    o[3] = '=';
    o += 4;
  }
  return static_cast<std::size_t>(o - out);
}

std::ptrdiff_t base64_decode(std::string_view in, std::span<std::uint8_t> out) noexcept {
  const std::size_t n = in.size();
  if (n % 4 != 0) return -1;
  if (n == 0) return 0;
  // Only the last quantum may carry padding: "xx==" (one byte) or "xxx=" (two).
  const std::size_t pad = in[n - 1] != '=' ? 0 : in[n - 2] != '=' ? 1 : 2;
  const std::size_t size = n / 4 * 3 - pad;
  if (size > out.size()) return -1;

  std::uint8_t* o = out.data();
  const std::size_t full = pad ? n - 4 : n;  // quanta with four data characters
  for (std::size_t i = 0; i < full; i += 4) {
    const std::uint32_t a = value(in[i]), b = value(in[i + 1]), c = value(in[i + 2]), d = value(in[i + 3]);
    if ((a | b | c | d) > 63) return -1;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6) | d;
    *o++ = static_cast<std::uint8_t>(v >> 16);
    *o++ = static_cast<std::uint8_t>(v >> 8);
    *o++ = static_cast<std::uint8_t>(v);
  }
  if (pad) {
    const std::uint32_t a = value(in[n - 4]), b = value(in[n - 3]);
    const std::uint32_t c = pad == 1 ? value(in[n - 2]) : 0;
    if ((a | b | c) > 63) return -1;
    const std::uint32_t v = (a << 18) | (b << 12) | (c << 6);
    // Canonical form: the bits below the last whole byte must be zero.
    if ((pad == 2 ? v & 0xFFFF : v & 0xFF) != 0) return -1;
    *o++ = static_cast<std::uint8_t>(v >> 16);
    if (pad == 1) *o++ = static_cast<std::uint8_t>(v >> 8);
  }
  return static_cast<std::ptrdiff_t>(size);
}

}  // namespace zws::detail
