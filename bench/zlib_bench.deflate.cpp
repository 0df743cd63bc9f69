// bench/zlib_bench.deflate.cpp — the compression yardstick: zlib alone, per message.
//
// What permessage-deflate costs at the least: zlib's own deflate and inflate of
// the JSON documents zws-load --payload json sends (tools/load/json.hpp, the
// same generator), at the settings zws-echo --deflate uses (include/zws/deflate.hpp:
// level 6, raw window 15, memLevel 8, default strategy), each message ended with
// Z_SYNC_FLUSH and its 00 00 FF FF tail dropped (RFC 7692 7.2.1), with the
// context kept between messages ("kept", zws's default dedicated compressor)
// or reset after each one ("reset", no_context_takeover, the shared compressor).
// The end-to-end Z rows compare zws-echo's CPU per message with the sum of one
// deflate, one inflate and a plain echo of the same size (bench/e2e.sh).
//
//   zlib/deflate/<bytes>/<kept|reset>   one message compressed; items/s = messages/s
//   zlib/inflate/<bytes>/<kept|reset>   one message inflated
// Counter "ratio": plaintext bytes per compressed byte.
#include <benchmark/benchmark.h>
#include <zlib.h>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "../tools/load/json.hpp"

namespace {

constexpr int level = 6;
constexpr int window_bits = 15;
constexpr int mem_level = 8;
constexpr std::size_t messages = 256;  // distinct documents cycled through
using bytes = std::vector<Bytef>;

std::vector<std::string> documents(std::size_t size) {
  const zws_load::json_payload gen(size);
  std::vector<std::string> out(messages, std::string(size, '\0'));
  for (std::size_t i = 0; i < messages; ++i) gen.write(reinterpret_cast<std::uint8_t*>(out[i].data()), i);
  return out;
}

struct deflater {
  z_stream z{};
  deflater() { deflateInit2(&z, level, Z_DEFLATED, -window_bits, mem_level, Z_DEFAULT_STRATEGY); }
  ~deflater() { deflateEnd(&z); }
  // Compresses `in` into `out` (resized to fit), without the 4-byte sync-flush tail.
  void compress(const std::string& in, bytes& out, bool reset) {
    out.resize(deflateBound(&z, in.size()) + 16);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_SYNC_FLUSH);
    const std::size_t n = out.size() - z.avail_out;
    out.resize(n >= 4 ? n - 4 : 0);
    if (reset) deflateReset(&z);
  }
};

struct inflater {
  z_stream z{};
  inflater() { inflateInit2(&z, -window_bits); }
  ~inflater() { inflateEnd(&z); }
  // Inflates `in` (a message without its tail) into out[0, cap); returns the size.
  std::size_t expand(const bytes& in, char* out, std::size_t cap, bool reset) {
    static const Bytef tail[4] = {0, 0, 0xff, 0xff};
    z.next_out = reinterpret_cast<Bytef*>(out);
    z.avail_out = static_cast<uInt>(cap);
    z.next_in = const_cast<Bytef*>(in.data());
    z.avail_in = static_cast<uInt>(in.size());
    inflate(&z, Z_SYNC_FLUSH);
    z.next_in = const_cast<Bytef*>(tail);
    z.avail_in = 4;
    inflate(&z, Z_SYNC_FLUSH);
    const std::size_t n = cap - z.avail_out;
    if (reset) inflateReset(&z);
    return n;
  }
};

void bm_deflate(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bool reset = state.range(1) != 0;
  const std::vector<std::string> docs = documents(size);
  deflater d;
  bytes out;
  std::size_t i = 0, wire = 0, n = 0;
  for (auto _ : state) {
    d.compress(docs[i], out, reset);
    benchmark::DoNotOptimize(out.data());
    wire += out.size();
    ++n;
    i = (i + 1) % messages;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.SetBytesProcessed(static_cast<std::int64_t>(n * size));
  state.counters["ratio"] = wire ? double(n * size) / double(wire) : 0.0;
}

void bm_inflate(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bool reset = state.range(1) != 0;
  const std::vector<std::string> docs = documents(size);
  // The messages compressed in order by one stream, as a peer sends them; the
  // inflater starts afresh when the cycle wraps (with context kept, the next
  // message refers to the ones before it).
  std::vector<bytes> packed(messages);
  {
    deflater d;
    for (std::size_t k = 0; k < messages; ++k) d.compress(docs[k], packed[k], reset);
  }
  std::vector<char> out(size + 64);
  auto in = std::make_unique<inflater>();
  std::size_t i = 0, n = 0, wire = 0;
  for (auto _ : state) {
    const std::size_t got = in->expand(packed[i], out.data(), out.size(), reset);
    if (got != size || std::memcmp(out.data(), docs[i].data(), size) != 0) {
      state.SkipWithError("inflate did not give the document back");
      break;
    }
    wire += packed[i].size();
    ++n;
    if (++i == messages) {
      i = 0;
      state.PauseTiming();
      in = std::make_unique<inflater>();
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.SetBytesProcessed(static_cast<std::int64_t>(n * size));
  state.counters["ratio"] = wire ? double(n * size) / double(wire) : 0.0;
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "reset"});
  for (std::int64_t size : {1024, 16384})
    for (std::int64_t reset : {0, 1}) b->Args({size, reset});
}

BENCHMARK(bm_deflate)->Name("zlib/deflate")->Apply(args);
BENCHMARK(bm_inflate)->Name("zlib/inflate")->Apply(args);

}  // namespace
