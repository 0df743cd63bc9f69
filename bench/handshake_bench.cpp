// The server's share of an opening handshake: parse a browser's upgrade request,
// validate it, compute Sec-WebSocket-Accept and write the 101 into a reused
// buffer (items/s); and the head parser alone (items/s and bytes/s).
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>

#include "sha1.hpp"
#include "zws/handshake.hpp"
#include "zws/http.hpp"

namespace {

// A Chromium upgrade request, 12 fields.
constexpr std::string_view browser_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: DBt3Ac1rvSXkYdyx5UMiYg==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

void server_handshake(benchmark::State& state) {
  const std::string in(browser_request);
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
  const std::string in(browser_request);
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
