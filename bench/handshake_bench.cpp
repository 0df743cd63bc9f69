// The server's share of an opening handshake: parse a browser's upgrade request,
// validate it, compute Sec-WebSocket-Accept and write the 101 into a reused
// buffer (items/s); and the head parser alone (items/s and bytes/s).
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "base/sha1.hpp"
#include "zws/handshake.hpp"
#include "zws/http.hpp"
#include "../test/unit/sample_requests.hpp"

namespace {

using zws::test::chromium_request;

void server_handshake(benchmark::State& state) {
  const std::string in(chromium_request);
  zws::http::request_parser parser;
  zws::buffer out;
  for (auto _ : state) {
    parser.reset();
    out.clear();
    benchmark::DoNotOptimize(in.data());
    const auto r = parser.parse(in);
    const zws::http::request& req = parser.get();
    if (r.status != zws::http::parse_status::done || zws::validate_upgrade(req) != zws::error::none) {
      state.SkipWithError("request refused");
      break;
    }
    zws::write_upgrade_response(out, *req.headers.find("Sec-WebSocket-Key"));
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size()));
  state.SetLabel(std::to_string(in.size()) + " B request, sha1 " + std::string(zws::detail::sha1_kernel_name()));
}

void parse_request(benchmark::State& state) {
  const std::string in(chromium_request);
  zws::http::request_parser parser;
  for (auto _ : state) {
    parser.reset();
    benchmark::DoNotOptimize(in.data());
    auto r = parser.parse(in);
    benchmark::DoNotOptimize(r);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(in.size()));
  state.SetLabel(std::to_string(in.size()) + " B request");
}

void accept_key(benchmark::State& state) {
  std::string_view key = "DBt3Ac1rvSXkYdyx5UMiYg==";
  for (auto _ : state) {
    benchmark::DoNotOptimize(key);
    auto a = zws::accept_key(key);
    benchmark::DoNotOptimize(a);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(server_handshake)->Name("handshake/server");
BENCHMARK(accept_key)->Name("handshake/accept_key");
BENCHMARK(parse_request)->Name("http/parse_request");

}  // namespace
