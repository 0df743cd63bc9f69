// bench/zlib_bench.deflate.cpp — the compression yardstick: zlib alone, per message.
//
// The zlib work a permessage-deflate echo server must do, and nothing else: inflate
// each client message and deflate its echo, for the JSON documents zws-load
// --payload json sends (tools/load/json.hpp, the same generator), at the settings
// both ends use (include/zws/deflate.hpp: level 6, raw window 15, memLevel 8, default
// strategy), each message ended with Z_SYNC_FLUSH and its 00 00 FF FF tail dropped
// (RFC 7692 7.2.1), with the context kept between messages ("kept", zws's dedicated
// compressor) or reset after each one ("reset", no_context_takeover).
//
// As in the end-to-end Z rows, the messages belong to several connections, each with
// its own streams and its own context: every connection sends documents 0, 1, 2, ...
// in order (as zws-load does; here 256 of them, then again), and the connections take
// turns, each with the messages it keeps in flight, as a server reads them. Their
// number and depth are the Z row's for that size (Z1: 1 KiB, 100 connections, depth
// 16; Z2: 16 KiB, 10 connections, depth 4), so zlib's state is as cold in the cache as
// the server's: a hundred deflaters of ~260 KiB do not fit in a core's L2, one does.
// The `hot` rows (the yardstick before) run one stream, every message in a warm context.
// The inflater is given the message's room plus 258 bytes, so every byte takes zlib's
// fast path, as a server granting it a larger chunk does. Timing starts once every
// connection has filled its window.
// The end-to-end Z rows compare zws-echo's CPU per message with the sum of one
// deflate, one inflate and a plain echo of the same size (bench/e2e.sh).
//
//   zlib/deflate/bytes:<n>/reset:<0|1>          one message compressed; items/s = messages/s
//   zlib/inflate/bytes:<n>/reset:<0|1>          one message inflated
//   zlib/hot/deflate/..., zlib/hot/inflate/...  the same through one stream, context kept
// Counters: "ratio": plaintext bytes per compressed byte; "conns", "depth": the load.
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
constexpr std::size_t messages = 256;  // distinct documents each connection cycles through
using bytes = std::vector<Bytef>;

// The connections of the end-to-end row for a message size, and the messages each
// keeps in flight (bench/e2e.sh Z1: -c 100 -d 16, Z2: -c 10 -d 4).
struct load {
  std::size_t conns, depth;
};
load load_for(std::size_t size, bool hot) {
  if (hot) return {1, 1};
  return size <= 1024 ? load{100, 16} : load{10, 4};
}

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
  deflater(const deflater&) = delete;
  deflater& operator=(const deflater&) = delete;
  // Compresses `in` into out[0, cap) (cap from bound()); returns the size without the
  // 4-byte sync-flush tail.
  std::size_t compress(const std::string& in, Bytef* out, std::size_t cap, bool reset) {
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out;
    z.avail_out = static_cast<uInt>(cap);
    deflate(&z, Z_SYNC_FLUSH);
    const std::size_t n = cap - z.avail_out;
    if (reset) deflateReset(&z);
    return n >= 4 ? n - 4 : 0;
  }
  std::size_t bound(std::size_t size) { return deflateBound(&z, size) + 16; }
};

struct inflater {
  z_stream z{};
  inflater() { inflateInit2(&z, -window_bits); }
  ~inflater() { inflateEnd(&z); }
  inflater(const inflater&) = delete;
  inflater& operator=(const inflater&) = delete;
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

// Which connection message `n` belongs to, and which document it is on that connection:
// the connections take turns, each with the `depth` messages it has in flight.
struct turn {
  std::size_t conn, doc;
};
turn turn_of(std::size_t n, load l) {
  const std::size_t burst = n / l.depth;
  return {burst % l.conns, ((burst / l.conns) * l.depth + n % l.depth) % messages};
}

// Messages sent before timing starts: enough for every connection to fill its window
// (and fault in zlib's state), as on a server that has been running for a while.
std::size_t warm_up(std::size_t size, load l) {
  return l.conns * l.depth * ((std::size_t{1} << window_bits) / size / l.depth + 2);
}

void bm_deflate(benchmark::State& state, bool hot) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bool reset = state.range(1) != 0;
  const load l = load_for(size, hot);
  const std::vector<std::string> docs = documents(size);
  std::vector<std::unique_ptr<deflater>> d(l.conns);
  for (auto& p : d) p = std::make_unique<deflater>();
  bytes out(d[0]->bound(size));
  std::size_t n = 0, wire = 0;
  for (const std::size_t warm = warm_up(size, l); n < warm; ++n) {
    const turn t = turn_of(n, l);
    d[t.conn]->compress(docs[t.doc], out.data(), out.size(), reset);
  }
  const std::size_t first = n;
  for (auto _ : state) {
    const turn t = turn_of(n, l);
    wire += d[t.conn]->compress(docs[t.doc], out.data(), out.size(), reset);
    benchmark::DoNotOptimize(out.data());
    ++n;
  }
  n -= first;
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.SetBytesProcessed(static_cast<std::int64_t>(n * size));
  state.counters["ratio"] = wire ? double(n * size) / double(wire) : 0.0;
  state.counters["conns"] = double(l.conns);
  state.counters["depth"] = double(l.depth);
}

void bm_inflate(benchmark::State& state, bool hot) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const bool reset = state.range(1) != 0;
  const load l = load_for(size, hot);
  const std::vector<std::string> docs = documents(size);
  // Every connection sends the same documents in the same order with the same settings,
  // so its messages are the same bytes: compressed once, by one stream, in order. When
  // a connection's cycle wraps, document 0 (compressed with no history) and the ones
  // after it refer only to this cycle's bytes, which its inflater has just produced.
  std::vector<bytes> packed(messages);
  {
    deflater d;
    bytes out(d.bound(size));
    for (std::size_t k = 0; k < messages; ++k) {
      const std::size_t got = d.compress(docs[k], out.data(), out.size(), reset);
      packed[k].assign(out.data(), out.data() + got);
    }
  }
  std::vector<std::unique_ptr<inflater>> in(l.conns);
  for (auto& p : in) p = std::make_unique<inflater>();
  std::vector<char> out(size + 258);
  std::size_t n = 0, wire = 0;
  for (const std::size_t warm = warm_up(size, l); n < warm; ++n) {
    const turn t = turn_of(n, l);
    in[t.conn]->expand(packed[t.doc], out.data(), out.size(), reset);
  }
  const std::size_t first = n;
  for (auto _ : state) {
    const turn t = turn_of(n, l);
    const std::size_t got = in[t.conn]->expand(packed[t.doc], out.data(), out.size(), reset);
    // The content is compared once a cycle (a wrong window would corrupt every later message).
    if (got != size || (t.doc == messages - 1 && std::memcmp(out.data(), docs[t.doc].data(), size) != 0)) {
      state.SkipWithError("inflate did not give the document back");
      break;
    }
    wire += packed[t.doc].size();
    ++n;
  }
  n -= first;
  state.SetItemsProcessed(static_cast<std::int64_t>(n));
  state.SetBytesProcessed(static_cast<std::int64_t>(n * size));
  state.counters["ratio"] = wire ? double(n * size) / double(wire) : 0.0;
  state.counters["conns"] = double(l.conns);
  state.counters["depth"] = double(l.depth);
}

void args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "reset"});
  for (std::int64_t size : {1024, 16384})
    for (std::int64_t reset : {0, 1}) b->Args({size, reset});
}

void hot_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"bytes", "reset"});
  for (std::int64_t size : {1024, 16384}) b->Args({size, 0});
}

BENCHMARK_CAPTURE(bm_deflate, conns, false)->Name("zlib/deflate")->Apply(args);
BENCHMARK_CAPTURE(bm_inflate, conns, false)->Name("zlib/inflate")->Apply(args);
BENCHMARK_CAPTURE(bm_deflate, hot, true)->Name("zlib/hot/deflate")->Apply(hot_args);
BENCHMARK_CAPTURE(bm_inflate, hot, true)->Name("zlib/hot/inflate")->Apply(hot_args);

}  // namespace
