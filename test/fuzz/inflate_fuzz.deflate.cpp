// Fuzzes the permessage-deflate streams (lib/protocol/deflate_stream.deflate.cpp). The
// first four bytes pick the window, context takeover, text or binary, the size limit,
// zlib's output chunk and how many messages; the rest is either taken as compressed
// messages (random streams) or, one time in four, as plain text that our deflater
// compresses first (then the round trip must be exact within the limit). Each set of
// messages is inflated whole and again in chunks drawn from the input: the verdicts and
// the output must be the same whatever the chunking, the output never over the limit
// plus one byte, and zlib's memory never over its measured bound.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "protocol/deflate_stream.hpp"

namespace {

using zws::error;
using zws::detail::inflater;
using zws::detail::inflater_config;

void check(bool ok) {
  if (!ok) std::abort();
}

struct setup {
  inflater_config cfg;
  std::uint64_t max = 0;
  bool text = false;
  bool plain = false;  // the body is plain text to compress first
  std::size_t messages = 1;
};

struct outcome {
  error err = error::none;
  std::string out;  // on error: only the error counts, and only as much output as the limit allows
  bool operator==(const outcome&) const = default;
};

std::uint64_t next(std::uint64_t& s) {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

// Inflates each message, fed in pieces of at most `piece` bytes (0: whole), each piece
// in an allocation of its exact size.
std::vector<outcome> run(const setup& st, const std::vector<std::vector<std::uint8_t>>& messages, std::uint64_t seed,
                         bool chunked) {
  inflater inf(st.cfg);
  std::vector<outcome> results;
  for (const auto& m : messages) {
    zws::buffer out;
    inf.begin(st.max, st.text);
    error e = error::none;
    for (std::size_t pos = 0; pos < m.size() && e == error::none;) {
      std::size_t n = m.size() - pos;
      if (chunked) n = std::min<std::size_t>(n, (next(seed) & 3) == 0 ? next(seed) % 257 : next(seed) % 9);
      std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[n == 0 ? 1 : n]);
      if (n != 0) std::memcpy(exact.get(), m.data() + pos, n);
      e = inf.write({exact.get(), n}, out);
      pos += n;
    }
    if (e == error::none) e = inf.finish(out);
    check(out.size() <= st.max + 1);
    check(inf.memory_held() <= zws::detail::inflater_state_bytes(std::max<int>(st.cfg.window_bits, 8)));
    outcome o{e, {}};
    if (e == error::none) o.out.assign(reinterpret_cast<const char*>(out.data()), out.size());
    results.push_back(std::move(o));
    if (e != error::none) break;
  }
  return results;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return 0;
  setup st;
  st.cfg.window_bits = static_cast<std::uint8_t>(8 + (data[0] & 7));
  st.cfg.no_context_takeover = data[0] & 8;
  st.cfg.release_when_idle = data[0] & 16;
  st.text = data[0] & 32;
  st.plain = (data[0] >> 6) == 0;
  st.max = std::uint64_t{1} << (data[1] & 15);  // 1 B .. 32 KiB
  st.cfg.chunk = 1 + data[2] % 64;
  st.messages = 1 + (data[3] & 3);
  const std::span<const std::uint8_t> body(data + 4, size - 4);

  std::uint64_t seed = 1469598103934665603ull;
  for (std::size_t i = 0; i < size; ++i) seed = (seed ^ data[i]) * 1099511628211ull;
  seed |= 1;

  // Cut the body into the messages.
  std::vector<std::span<const std::uint8_t>> parts;
  for (std::size_t i = 0, pos = 0; i < st.messages; ++i) {
    const std::size_t n = i + 1 == st.messages ? body.size() - pos : next(seed) % (body.size() - pos + 1);
    parts.push_back(body.subspan(pos, n));
    pos += n;
  }

  std::vector<std::vector<std::uint8_t>> messages;
  if (st.plain) {
    zws::detail::deflater_config dc;
    dc.window_bits = std::max<std::uint8_t>(st.cfg.window_bits, 9);
    st.cfg.window_bits = dc.window_bits;
    dc.no_context_takeover = st.cfg.no_context_takeover;
    dc.release_when_idle = st.cfg.release_when_idle;
    dc.level = data[2] % 10;
    zws::detail::deflater d(dc);
    for (auto p : parts) {
      zws::buffer out;
      check(d.compress(p, out) == error::none);
      messages.emplace_back(out.data(), out.data() + out.size());
    }
  } else {
    for (auto p : parts) messages.emplace_back(p.begin(), p.end());
  }

  const auto whole = run(st, messages, seed, false);
  const auto chunked = run(st, messages, seed, true);
  check(whole == chunked);

  if (st.plain && !st.text) {
    for (std::size_t i = 0; i < whole.size(); ++i) {
      const std::string original(reinterpret_cast<const char*>(parts[i].data()), parts[i].size());
      if (original.size() <= st.max) {
        check(whole[i].err == error::none && whole[i].out == original);
      } else {
        check(whole[i].err == error::message_too_big);
      }
    }
  }
  return 0;
}
