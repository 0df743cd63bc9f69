// resp_reader never crashes or reads outside what it is given (ASan), and the
// chunking of its input changes nothing: the same events come out whether the
// bytes arrive at once, in random pieces or one by one, and the reader fails
// (too_large or bad) for all three or for none. A chunking may only change which
// of the two failures is seen first: a line too long to buffer may also be
// malformed further on.
//
// Input: byte 0 picks max_reply (64 B .. 16 KiB), bytes 1-4 seed the piece
// sizes, the rest is what Redis sent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "protocol/resp.hpp"

namespace {

using zws::resp::resp_reader;
using zws::resp::status;

struct outcome {
  std::vector<std::string> events;
  bool failed = false;
};

void check(bool ok) {
  if (!ok) std::abort();
}

std::string describe(const zws::resp::event& e) {
  std::string s(1, static_cast<char>('a' + static_cast<int>(e.kind)));
  for (const std::string_view part : {e.pattern, e.channel, e.payload}) {
    s += std::to_string(part.size());
    s += ':';
    s += part;
  }
  return s + std::to_string(e.count);
}

outcome run(std::span<const std::uint8_t> in, std::size_t max_reply, const std::vector<std::size_t>& cuts) {
  resp_reader r(max_reply);
  outcome o;
  std::size_t at = 0;
  for (std::size_t k = 0; k <= cuts.size(); ++k) {
    const std::size_t end = k < cuts.size() ? cuts[k] : in.size();
    // Each piece in its own allocation of exactly its size, so ASan sees an over-read.
    const std::vector<std::uint8_t> piece(in.begin() + static_cast<std::ptrdiff_t>(at),
                                          in.begin() + static_cast<std::ptrdiff_t>(end));
    at = end;
    std::span<const std::uint8_t> bytes(piece);
    for (;;) {
      const auto res = r.next(bytes);
      check(res.consumed <= bytes.size());
      bytes = bytes.subspan(res.consumed);
      if (res.st == status::need_more) {
        check(bytes.empty());
        break;
      }
      if (res.st != status::event) {
        check(res.st == status::too_large || res.st == status::bad);
        check(!r.error().empty());
        o.failed = true;
        return o;
      }
      // A reply never decodes to more than the budget allows.
      check(res.ev.channel.size() + res.ev.pattern.size() + res.ev.payload.size() <= max_reply);
      o.events.push_back(describe(res.ev));
    }
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 5) return 0;
  const std::size_t max_reply = std::size_t{64} << (data[0] % 9);
  std::mt19937 rng(static_cast<std::uint32_t>(data[1] | data[2] << 8 | data[3] << 16 | data[4] << 24));
  const std::span<const std::uint8_t> in(data + 5, size - 5);

  const outcome whole = run(in, max_reply, {});
  std::vector<std::size_t> random_cuts, every_byte;
  for (std::size_t at = 0; at < in.size();) {
    at += 1 + rng() % 64;
    if (at < in.size()) random_cuts.push_back(at);
  }
  for (std::size_t at = 1; at < in.size(); ++at) every_byte.push_back(at);
  for (const auto* cuts : {&random_cuts, &every_byte}) {
    const outcome o = run(in, max_reply, *cuts);
    check(o.failed == whole.failed);
    check(o.events == whole.events);
  }
  return 0;
}
