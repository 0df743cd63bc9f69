// Reader and writer throughput: frames per second for small frames, payload
// bytes per second for large ones, against a memcpy of the same size.
//
// Unmasking is in place, so a buffer parsed twice has had its payloads XORed
// twice, i.e. restored. Every pass therefore does the full work (decode,
// validate, unmask); payloads are binary, so their alternating content changes
// nothing the reader checks.
#include <benchmark/benchmark.h>

#include <cstring>
#include <string>
#include <vector>

#include "zws/reader.hpp"
#include "zws/simd.hpp"
#include "zws/writer.hpp"

namespace {

// `count` masked binary frames of `payload` bytes each, with varying keys, as a client sends them.
std::vector<std::uint8_t> client_frames(std::size_t payload, std::size_t count) {
  zws::buffer out;
  std::vector<std::uint8_t> data(payload);
  for (std::size_t i = 0; i < payload; ++i) data[i] = static_cast<std::uint8_t>(i * 7);
  for (std::size_t i = 0; i < count; ++i) {
    const auto k = static_cast<std::uint8_t>(i * 31 + 1);
    const zws::mask_key key = {{k, static_cast<std::uint8_t>(k + 1), static_cast<std::uint8_t>(k ^ 0x5A), 0x3C}};
    zws::write_frame(out, zws::opcode::binary, data, &key);
  }
  return {out.data(), out.data() + out.size()};
}

// Parses every frame of `wire` once; returns how many messages it saw.
std::size_t parse_all(zws::reader& rd, std::vector<std::uint8_t>& wire) {
  std::size_t off = 0, messages = 0;
  const std::size_t n = wire.size();
  while (off < n) {
    const auto r = rd.next(std::span<std::uint8_t>(wire.data() + off, n - off));
    benchmark::DoNotOptimize(r.ev.data.data());
    messages += r.ev.kind == zws::event_kind::message;
    off += r.consumed;
    if (r.consumed == 0) break;
  }
  return messages;
}

void label(benchmark::State& state) { state.SetLabel(std::string(zws::isa_name(zws::active_isa()))); }

void reader_masked16(benchmark::State& state) {
  const std::size_t frame = zws::header_size(16, true) + 16;
  auto wire = client_frames(16, (64 * 1024) / frame);  // packed in 64 KiB
  zws::reader rd(zws::role::server);
  std::size_t frames = 0;
  for (auto _ : state) frames += parse_all(rd, wire);
  if (frames != state.iterations() * ((64 * 1024) / frame)) state.SkipWithError("reader refused a frame");
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.SetBytesProcessed(static_cast<std::int64_t>(frames * 16));
  label(state);
}
BENCHMARK(reader_masked16)->Name("reader/masked16");

void reader_masked64k(benchmark::State& state) {
  auto wire = client_frames(65536, 1);
  zws::reader rd(zws::role::server);
  std::size_t frames = 0;
  for (auto _ : state) frames += parse_all(rd, wire);
  if (frames != static_cast<std::size_t>(state.iterations())) state.SkipWithError("reader refused a frame");
  state.SetItemsProcessed(static_cast<std::int64_t>(frames));
  state.SetBytesProcessed(static_cast<std::int64_t>(frames * 65536));
  label(state);
}
BENCHMARK(reader_masked64k)->Name("reader/masked64k");

// The yardstick for reader/masked64k: copying the same payload once.
void reader_memcpy(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> src(n, 0x5A), dst(n);
  for (auto _ : state) {
    std::memcpy(dst.data(), src.data(), n);
    benchmark::DoNotOptimize(dst.data());
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n));
}
BENCHMARK(reader_memcpy)->Name("reader_memcpy")->Arg(65536);

// Writes `payload`-byte binary frames into a buffer that is emptied (not freed)
// every 64 KiB, so the buffer stays in cache and never regrows.
void write_frames(benchmark::State& state, std::size_t payload, bool client) {
  std::vector<std::uint8_t> data(payload, 0x42);
  const zws::mask_key key = {{0x12, 0x34, 0x56, 0x78}};
  zws::buffer out;
  for (auto _ : state) {
    zws::write_frame(out, zws::opcode::binary, data, client ? &key : nullptr);
    if (out.size() >= 64 * 1024) out.clear();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(payload));
  label(state);
}

void writer_server16(benchmark::State& state) { write_frames(state, 16, false); }
void writer_client16(benchmark::State& state) { write_frames(state, 16, true); }
void writer_client64k(benchmark::State& state) { write_frames(state, 65536, true); }
BENCHMARK(writer_server16)->Name("writer/server16");
BENCHMARK(writer_client16)->Name("writer/client16");
BENCHMARK(writer_client64k)->Name("writer/client64k");

// The writev path: only the header is encoded, the payload is not touched.
void writer_head(benchmark::State& state) {
  std::uint64_t len = 65536;
  for (auto _ : state) {
    zws::frame_head h(zws::opcode::binary, len);
    std::uint8_t* p = h.bytes;
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
    len ^= 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(writer_head)->Name("writer/head64k");

}  // namespace
