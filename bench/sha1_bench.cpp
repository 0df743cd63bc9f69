// SHA-1 per kernel at the handshake's size (60 bytes: a 24-character key plus
// the RFC 6455 GUID) and at 4096 bytes, and base64 of a 20-byte digest.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/base64.hpp"
#include "base/sha1.hpp"

namespace {

void bench_sha1(benchmark::State& state, zws::detail::sha1_compress_fn kernel, bool supported) {
  if (!supported) {
    state.SkipWithError("kernel not supported by this CPU");
    return;
  }
  std::vector<std::uint8_t> input(static_cast<std::size_t>(state.range(0)));
  for (std::size_t i = 0; i < input.size(); ++i) input[i] = static_cast<std::uint8_t>(i * 131 + 7);
  for (auto _ : state) {
    benchmark::DoNotOptimize(input.data());
    auto d = zws::detail::sha1_of(input, kernel);
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
  state.SetLabel(std::string(zws::detail::sha1_kernel_name()) + " dispatched");
}

void bench_base64_encode(benchmark::State& state) {
  std::uint8_t digest[20];
  for (int i = 0; i < 20; ++i) digest[i] = static_cast<std::uint8_t>(i * 37);
  char out[zws::detail::base64_encoded_size(20)];
  for (auto _ : state) {
    benchmark::DoNotOptimize(digest);
    benchmark::DoNotOptimize(zws::detail::base64_encode(digest, out));
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(state.iterations() * 20);
}

const int registered = [] {
  const bool shani = zws::detail::sha1_shani_supported();
  benchmark::RegisterBenchmark("sha1/scalar", bench_sha1, zws::detail::sha1_compress_scalar, true)->Arg(60)->Arg(4096);
  benchmark::RegisterBenchmark("sha1/shani", bench_sha1, zws::detail::sha1_compress_shani, shani)->Arg(60)->Arg(4096);
  benchmark::RegisterBenchmark("base64_encode/20", bench_base64_encode);
  return 0;
}();

}  // namespace
