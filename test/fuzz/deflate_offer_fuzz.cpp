// Fuzzes the permessage-deflate negotiation (lib/protocol/deflate_offer.cpp). The first
// byte picks both sides' options; the rest, cut at '\n', is a set of
// Sec-WebSocket-Extensions lines, each in an allocation of its exact size so ASan
// catches a one-byte over-read. Read by the server, an accepted offer must yield a
// bounded answer within the RFC's ranges, never asking zlib for an 8-bit compressor,
// which the client accepts with the same parameters. Read by the client as an answer,
// anything accepted must respect what was offered.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "zws/deflate.hpp"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

bool in_range(std::uint8_t bits) { return bits >= 8 && bits <= 15; }

zws::deflate_options options_of(std::uint8_t b) {
  static constexpr std::uint8_t windows[] = {8, 9, 11, 15};
  zws::deflate_options o;
  o.enable = true;
  o.server_no_context_takeover = b & 1;
  o.client_no_context_takeover = b & 2;
  static constexpr zws::compressor_mode modes[] = {zws::compressor_mode::dedicated, zws::compressor_mode::shared,
                                                   zws::compressor_mode::lean, zws::compressor_mode::shared};
  o.mode = modes[((b >> 2) & 1) | ((b >> 6) & 2)];
  o.server_max_window_bits = windows[(b >> 3) & 3];
  o.client_max_window_bits = windows[(b >> 5) & 3];
  return o;
}

void server_side(std::span<const std::string_view> lines, const zws::deflate_options& opts) {
  const zws::deflate_accept a = zws::negotiate_deflate(lines, opts);
  if (!a.accepted) {
    check(a.value.empty());
    return;
  }
  const std::string_view v = a.value.view();
  check(v.size() < a.value.chars.size() && v.starts_with("permessage-deflate"));
  check(in_range(a.params.server_max_window_bits) && in_range(a.params.client_max_window_bits));
  check(zws::can_deflate(a.params.server_max_window_bits));
  if (opts.mode != zws::compressor_mode::dedicated || opts.server_no_context_takeover) {
    check(a.params.server_no_context_takeover);
  }
  if (opts.mode == zws::compressor_mode::lean || opts.client_no_context_takeover) {
    check(a.params.client_no_context_takeover);
  }
  // The answer read back by a client that offered everything a server may answer.
  zws::deflate_offer permissive;
  permissive.client_max_window_bits = true;
  const std::string_view answer[] = {v};
  const zws::deflate_answer r = zws::check_deflate_answer(answer, permissive);
  check(r.err == zws::error::none && r.accepted && r.params == a.params);
}

void client_side(std::span<const std::string_view> lines, const zws::deflate_options& opts) {
  const zws::deflate_offer offer = zws::make_deflate_offer(opts);
  const zws::deflate_answer r = zws::check_deflate_answer(lines, offer);
  if (r.err != zws::error::none) {
    check(!r.accepted);
    check(r.err == zws::error::bad_extension || r.err == zws::error::bad_extension_params);
    return;
  }
  if (!r.accepted) return;
  check(in_range(r.params.server_max_window_bits) && in_range(r.params.client_max_window_bits));
  if (offer.server_max_window_bits != 0) check(r.params.server_max_window_bits <= offer.server_max_window_bits);
  if (offer.client_max_window_bits_value != 0) {
    check(r.params.client_max_window_bits <= offer.client_max_window_bits_value);
  }
  if (offer.server_no_context_takeover) check(r.params.server_no_context_takeover);
  if (offer.client_no_context_takeover) check(r.params.client_no_context_takeover);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const zws::deflate_options opts = options_of(data[0]);
  std::vector<std::unique_ptr<char[]>> owned;
  std::vector<std::string_view> lines;
  const char* p = reinterpret_cast<const char*>(data + 1);
  const char* end = reinterpret_cast<const char*>(data + size);
  while (p <= end && lines.size() < 8) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* stop = nl != nullptr ? nl : end;
    const auto n = static_cast<std::size_t>(stop - p);
    owned.emplace_back(new char[n == 0 ? 1 : n]);
    if (n != 0) std::memcpy(owned.back().get(), p, n);
    lines.emplace_back(owned.back().get(), n);
    if (nl == nullptr) break;
    p = nl + 1;
  }
  server_side(lines, opts);
  client_side(lines, opts);
  return 0;
}
