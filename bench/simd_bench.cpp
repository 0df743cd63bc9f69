// Benchmarks of lib/simd: mask and UTF-8 validation for every instruction set
// this CPU has, next to memcpy of the same sizes as the yardstick. Kernels are
// called through their tables, so each ISA is measured in one process; the
// "zws_active_isa" context line names what dispatch would pick.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "base/simd/kernels.hpp"
#include "zws/simd.hpp"

namespace {

using zws::isa;
using zws::detail::kernels;

constexpr std::size_t sizes[] = {1024, 16384, 1 << 20};

// A 64-byte aligned buffer (like the loop's receive buffer).
struct buffer {
  explicit buffer(std::size_t n) : p(static_cast<std::uint8_t*>(std::aligned_alloc(64, (n + 63) / 64 * 64))) {}
  ~buffer() { std::free(p); }
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  std::uint8_t* p;
};

void fill_ascii(std::uint8_t* p, std::size_t n) {
  const std::string_view text = "The quick brown fox jumps over the lazy dog; {\"id\": 42, \"ok\": true}\n";
  for (std::size_t i = 0; i < n; ++i) p[i] = static_cast<std::uint8_t>(text[i % text.size()]);
}

// Chinese and Japanese with emoji and a little ASCII punctuation, cut at a code
// point boundary and padded with spaces to exactly n bytes.
void fill_cjk(std::uint8_t* p, std::size_t n) {
  const std::string_view text =
      "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xF0\x9F\x98\x80 "
      "\xE3\x81\x93\xE3\x82\x93\xE3\x81\xAB\xE3\x81\xA1\xE3\x81\xAF\xF0\x9F\x8E\x89, "
      "\xE6\xB5\x8B\xE8\xAF\x95\xE6\x95\xB0\xE6\x8D\xAE\xF0\x9F\x9A\x80\xE3\x80\x82";
  std::size_t i = 0;
  while (i + text.size() <= n) {
    std::memcpy(p + i, text.data(), text.size());
    i += text.size();
  }
  std::size_t k = 0;
  while (i + k < n && k < text.size()) ++k;
  while (k > 0 && (static_cast<std::uint8_t>(text[k]) & 0xC0) == 0x80) --k;  // back to a boundary
  std::memcpy(p + i, text.data(), k);
  std::memset(p + i + k, ' ', n - i - k);
}

void bench_memcpy(benchmark::State& state, std::size_t n) {
  buffer src(n), dst(n);
  fill_ascii(src.p, n);
  for (auto _ : state) {
    std::memcpy(dst.p, src.p, n);
    benchmark::DoNotOptimize(dst.p);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

// `offset` shifts the payload off the buffer's alignment, as a frame header
// does in the receive buffer (6 bytes: a masked frame of up to 125 bytes).
void bench_mask(benchmark::State& state, const kernels* k, std::size_t n, bool in_place, std::size_t offset) {
  buffer src(n + offset), dst(n + offset);
  fill_ascii(src.p, n + offset);
  std::uint8_t* in = src.p + offset;
  std::uint8_t* out = in_place ? in : dst.p + offset;
  std::size_t phase = 0;
  for (auto _ : state) {
    phase = k->mask(out, in, n, 0x3d21fa37u, phase);
    benchmark::DoNotOptimize(out);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

void bench_utf8(benchmark::State& state, const kernels* k, std::size_t n, bool cjk) {
  buffer src(n);
  (cjk ? fill_cjk : fill_ascii)(src.p, n);
  if (!k->utf8_valid(src.p, n)) {
    state.SkipWithError("benchmark text is not valid UTF-8");
    return;
  }
  for (auto _ : state) {
    bool ok = k->utf8_valid(src.p, n);
    benchmark::DoNotOptimize(ok);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * n));
}

std::string name(std::string_view what, std::string_view isa_name, std::size_t n) {
  std::string s(what);
  if (!isa_name.empty()) (s += '/') += isa_name;
  return s + '/' + std::to_string(n);
}

const bool registered = [] {
  benchmark::AddCustomContext("zws_active_isa", std::string(zws::isa_name(zws::active_isa())));
  for (std::size_t n : sizes)
    benchmark::RegisterBenchmark(name("memcpy", "", n).c_str(), [n](benchmark::State& s) { bench_memcpy(s, n); });
  for (isa i : {isa::scalar, isa::sse2, isa::avx2, isa::avx512}) {
    const kernels* k = zws::detail::kernels_for(i);
    if (k == nullptr) continue;
    const std::string_view in = zws::isa_name(i);
    for (std::size_t n : sizes) {
      benchmark::RegisterBenchmark(name("mask", in, n).c_str(),
                                   [=](benchmark::State& s) { bench_mask(s, k, n, false, 0); });
      benchmark::RegisterBenchmark(name("mask_inplace", in, n).c_str(),
                                   [=](benchmark::State& s) { bench_mask(s, k, n, true, 0); });
      benchmark::RegisterBenchmark(name("mask_inplace_off6", in, n).c_str(),
                                   [=](benchmark::State& s) { bench_mask(s, k, n, true, 6); });
      benchmark::RegisterBenchmark(name("utf8_ascii", in, n).c_str(),
                                   [=](benchmark::State& s) { bench_utf8(s, k, n, false); });
      benchmark::RegisterBenchmark(name("utf8_cjk", in, n).c_str(),
                                   [=](benchmark::State& s) { bench_utf8(s, k, n, true); });
    }
  }
  return true;
}();

}  // namespace
