// Fuzzes zws::reader: for both roles and two sets of limits, the input is read
// whole and in chunks derived from the input (the connection's way: keep what
// was not consumed, append the next chunk, call next() until it needs more).
// Both ways must yield the same events; every view must lie in the bytes given
// or in the reader's own buffer; nothing may crash or read out of bounds. In
// streaming mode the pieces, joined, must make the same messages as the default
// mode yields whole, whatever the chunking.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "zws/reader.hpp"

namespace {

struct rec {
  zws::event_kind kind;
  zws::opcode op;
  std::uint16_t code;
  zws::error err;
  std::string data;
  bool operator==(const rec&) const = default;
};

void check(bool ok) {
  if (!ok) std::abort();
}

bool inside(std::span<const std::uint8_t> inner, std::span<const std::uint8_t> outer) {
  if (inner.empty()) return true;
  const auto b = reinterpret_cast<std::uintptr_t>(outer.data());
  const auto p = reinterpret_cast<std::uintptr_t>(inner.data());
  return p >= b && p + inner.size() <= b + outer.size();
}

// Calls next() until it needs more or the reader is finished. `in` is exactly
// the unconsumed bytes, heap-allocated to their size so ASan catches over-reads.
// Returns the number of bytes consumed; false in `more` once finished.
std::size_t drain(zws::reader& rd, std::span<std::uint8_t> in, std::vector<rec>& out, bool& more,
                  std::string& joined, bool streaming) {
  std::size_t off = 0;
  for (;;) {
    const auto rest = in.subspan(off);
    const bool was_open = rd.in_message();
    const auto r = rd.next(rest);
    const auto& e = r.ev;
    check(r.consumed <= rest.size());
    if (e.kind == zws::event_kind::need_more) {
      check(r.consumed == 0);
      check(e.need == 0 || e.need > rest.size());
      return off;
    }
    if (e.kind == zws::event_kind::piece) {
      // Pieces are views of the input, joined into the message they make.
      check(inside(e.data, rest.first(r.consumed)));
      check(e.first == joined.empty() || !e.first);
      joined += e.text();
      off += r.consumed;
      if (e.last) out.push_back({zws::event_kind::message, e.op, 0, zws::error::none, std::exchange(joined, {})});
      continue;
    }
    // Streaming: whether a header alone is consumed depends on the chunking.
    if (e.kind == zws::event_kind::none && streaming) {
      off += r.consumed;
      continue;
    }
    // A view points into the input, or (a reassembled message) into the reader.
    if (e.kind == zws::event_kind::message && was_open) {
      check(e.data.empty() || (!inside(e.data, rest) && rd.memory_held() >= e.data.size()));
    } else {
      check(inside(e.data, rest.first(r.consumed)) || e.data.empty());
    }
    rec x{e.kind, zws::opcode::binary, 0, zws::error::none, std::string(e.text())};
    if (e.kind == zws::event_kind::message) x.op = e.op;
    if (e.kind == zws::event_kind::close) x.code = e.code;
    if (e.kind == zws::event_kind::error) x.err = e.err;
    out.push_back(std::move(x));
    off += r.consumed;
    if (e.kind == zws::event_kind::error || e.kind == zws::event_kind::close) {
      check(rd.finished());
      more = false;
      return off;
    }
  }
}

std::vector<rec> feed(zws::role role, const zws::reader_limits& limits, const std::uint8_t* data,
                      const std::vector<std::size_t>& chunks) {
  zws::reader rd(role, limits);
  std::vector<rec> out;
  std::string joined;
  std::vector<std::uint8_t> pending;
  std::size_t pos = 0;
  bool more = true;
  for (std::size_t c : chunks) {
    pending.insert(pending.end(), data + pos, data + pos + c);
    pos += c;
    // An exact-size copy: one byte past its end is outside the allocation.
    std::unique_ptr<std::uint8_t[]> exact(new std::uint8_t[pending.size()]);
    if (!pending.empty()) std::memcpy(exact.get(), pending.data(), pending.size());
    const std::size_t used = drain(rd, {exact.get(), pending.size()}, out, more, joined, limits.streaming);
    if (!more) break;
    pending.erase(pending.begin(), pending.begin() + static_cast<std::ptrdiff_t>(used));
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // Chunk sizes drawn from a generator seeded by the input itself.
  std::uint64_t seed = 1469598103934665603ull;
  for (std::size_t i = 0; i < size; ++i) seed = (seed ^ data[i]) * 1099511628211ull;
  std::vector<std::size_t> chunks;
  for (std::size_t left = size; left > 0;) {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    const std::size_t limit = (seed & 3) == 0 ? 64 : 7;
    const std::size_t c = std::min<std::size_t>(left, 1 + (seed >> 8) % limit);
    chunks.push_back(c);
    left -= c;
  }
  const std::vector<std::size_t> whole{size};

  zws::reader_limits tight;
  tight.max_message_size = 100;
  tight.max_fragments = 4;
  for (const zws::reader_limits* limits : {&zws::default_reader_limits, static_cast<const zws::reader_limits*>(&tight)}) {
    for (zws::role role : {zws::role::server, zws::role::client}) {
      auto a = feed(role, *limits, data, whole);
      const auto b = feed(role, *limits, data, chunks);
      check(a == b);
      zws::reader_limits streaming = *limits;
      streaming.streaming = true;
      std::erase_if(a, [](const rec& x) { return x.kind == zws::event_kind::none; });
      check(feed(role, streaming, data, whole) == a);
      check(feed(role, streaming, data, chunks) == a);
    }
  }
  return 0;
}
