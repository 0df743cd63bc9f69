// The head parsers never crash or read outside their input (ASan), give the same
// answer whether the input comes whole or in chunks (each chunk a fresh
// exact-size copy, so the buffer also moves), and what they accept is well formed.
//
// Input: byte 0 selects request/response and the limits, byte 1 seeds the chunk
// sizes, the rest is the head.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>

#include "zws/http.hpp"

namespace {

using zws::http::parse_result;
using zws::http::parse_status;

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Offset of a view within its buffer, so results from different buffers compare.
std::size_t at(std::string_view part, std::string_view whole) {
  check(inside(part, whole));
  return static_cast<std::size_t>(part.data() - whole.data());
}

bool same(std::string_view a, std::string_view abuf, std::string_view b, std::string_view bbuf) {
  return a == b && at(a, abuf) == at(b, bbuf);
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// Reference classes, byte by byte (RFC 9110 §5.5 and §5.6.2).
bool value_byte(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u == '\t' || (u >= 0x20 && u != 0x7f);
}
bool token_byte(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool all(std::string_view s, bool (*pred)(char)) {
  for (char c : s) {
    if (!pred(c)) return false;
  }
  return true;
}

void check_fields(const zws::http::headers& h, std::string_view buf, const zws::http::limits& lim) {
  check(h.size() <= lim.max_headers && h.size() <= zws::http::max_header_capacity);
  for (const auto& f : h) {
    check(!f.name.empty() && inside(f.name, buf) && (f.value.empty() || inside(f.value, buf)));
    check(all(f.name, token_byte) && all(f.value, value_byte));
    check(f.value.empty() || (!is_ows(f.value.front()) && !is_ows(f.value.back())));
    check(h.find(f.name).has_value());
  }
}

bool same_fields(const zws::http::headers& a, std::string_view abuf, const zws::http::headers& b,
                 std::string_view bbuf) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same(a[i].name, abuf, b[i].name, bbuf) || !same(a[i].value, abuf, b[i].value, bbuf)) return false;
  }
  return true;
}

bool same_head(const zws::http::request& a, std::string_view abuf, const zws::http::request& b,
               std::string_view bbuf) {
  return same(a.method, abuf, b.method, bbuf) && same(a.target, abuf, b.target, bbuf) && a.path == b.path &&
         a.query == b.query && a.minor_version == b.minor_version && same_fields(a.headers, abuf, b.headers, bbuf);
}

bool same_head(const zws::http::response& a, std::string_view abuf, const zws::http::response& b,
               std::string_view bbuf) {
  return a.status == b.status && a.reason == b.reason && a.minor_version == b.minor_version &&
         same_fields(a.headers, abuf, b.headers, bbuf);
}

void check_result(const parse_result& r, std::string_view buf, const zws::http::limits& lim) {
  switch (r.status) {
    case parse_status::need_more: check(buf.size() <= lim.max_head_size); break;
    case parse_status::done:
      check(r.head_size <= buf.size() && r.head_size <= lim.max_head_size);
      check(buf.substr(0, r.head_size).ends_with("\r\n\r\n"));
      break;
    case parse_status::failed: check(r.error != zws::error::none); break;
  }
}

template <class Parser>
void run(std::string_view input, const zws::http::limits& lim, std::uint8_t seed, bool byte_by_byte) {
  Parser whole(lim);
  const parse_result w = whole.parse(input);
  check_result(w, input, lim);
  if (w.status == parse_status::done) {
    const auto& head = whole.get();
    check_fields(head.headers, input, lim);
    if constexpr (std::is_same_v<Parser, zws::http::request_parser>) {
      check(!head.method.empty() && !head.target.empty() && !head.path.empty());
    } else {
      check(head.status >= 100 && head.status <= 999 && all(head.reason, value_byte));
    }
  }

  // The same bytes in growing prefixes; a fresh allocation for each call.
  Parser chunked(lim);
  std::uint32_t state = seed * 2654435761u + 1;
  std::size_t n = 0;
  parse_result c;
  std::unique_ptr<char[]> copy;
  do {
    state = state * 1103515245u + 12345u;
    const std::size_t step = byte_by_byte ? 1 : 1 + (state >> 8) % (input.size() / 8 + 1);
    n = std::min(input.size(), n + step);
    copy = std::make_unique<char[]>(n);
    if (n != 0) std::memcpy(copy.get(), input.data(), n);
    c = chunked.parse(std::string_view(copy.get(), n));
  } while (c.status == parse_status::need_more && n < input.size());

  const std::string_view cbuf(copy.get(), n);
  check(c.status == w.status && c.head_size == w.head_size && c.error == w.error);
  if (c.status == parse_status::done) check(same_head(whole.get(), input, chunked.get(), cbuf));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::uint8_t flags = data[0];
  const std::uint8_t seed = data[1];
  const std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);
  zws::http::limits lim;
  if (flags & 2) lim.max_head_size = 16 + seed * 4u;
  if (flags & 4) lim.max_headers = ((flags >> 3) & 7) + 1u;
  const bool byte_by_byte = (flags & 0x40) && input.size() <= 512;
  if (flags & 1) {
    run<zws::http::response_parser>(input, lim, seed, byte_by_byte);
  } else {
    run<zws::http::request_parser>(input, lim, seed, byte_by_byte);
  }
  return 0;
}
