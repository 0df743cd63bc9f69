// What permessage-deflate costs a server per connection, in each compressor_mode
// (zws/deflate.hpp), against an idle plain connection, in a zws server in a child
// process, after N connections each negotiated the extension and had one compressed
// message echoed (compressed) back: the growth of its resident memory, and of its heap
// in use (mallinfo2, asked over HTTP), which also counts what is allocated but not yet
// touched (a zlib window only part of which one short message has used). N is
// ZM_CONNECTIONS (default 1,000; the figures stated in zws/deflate.hpp are from 10,000).
#include <gtest/gtest.h>
#include <malloc.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "deflate_harness.hpp"
#include "harness.hpp"
#include "protocol/deflate_stream.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

// ASan's allocator and quarantine make resident memory meaningless there.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool rss_is_meaningful = false;
#else
constexpr bool rss_is_meaningful = true;
#endif

std::string rsv1(std::string frame) {
  frame[0] = static_cast<char>(frame[0] | 0x40);
  return frame;
}

// A JSON-like kilobyte, compressible but not trivially so.
std::string json_kilobyte() {
  std::string s;
  for (unsigned x = 7; s.size() < 1000; x = x * 1103515245u + 12345u)
    s += "{\"id\":" + std::to_string(x % 100000) + ",\"name\":\"item\"},";
  s.resize(1000);
  return s;
}

std::size_t connections() {
  const char* n = std::getenv("ZM_CONNECTIONS");
  return n != nullptr && std::atoi(n) > 0 ? static_cast<std::size_t>(std::atoi(n)) : 1000;
}

// The child's heap in use: GET /heap answers mallinfo2's allocated bytes (the server
// runs one loop on its main thread, so the main arena and mmapped chunks are all of it).
std::size_t heap_of(std::uint16_t port) {
  const int fd = connect_loopback(port);
  if (fd < 0) return 0;
  const std::string req = "GET /heap HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  std::string got;
  if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
    char b[512];
    for (ssize_t n; (n = ::recv(fd, b, sizeof b, 0)) > 0;) got.append(b, static_cast<std::size_t>(n));
  }
  ::close(fd);
  const std::size_t at = got.find("\r\n\r\n");
  return at == std::string::npos ? 0 : std::stoul(got.substr(at + 4));
}

struct measured {
  std::size_t heap = 0;    // heap growth per connection
  std::size_t bytes = 0;   // RSS growth per connection
  std::size_t agreed = 0;  // connections whose 101 carried the extension
  std::size_t echoed = 0;  // connections whose message came back (compressed when agreed)
};

// A server whose echo route has `deflate` (disabled: plain connections); `n` raw
// clients offer plain permessage-deflate (as browsers do) unless plain, send 1,000
// bytes (compressed when agreed) and read the echo, then stay open and idle.
measured per_connection(const zws::deflate_options& deflate, std::size_t n) {
  child_server server([deflate](zws::Server& s) {
    s.max_zlib_memory(std::size_t{4} << 30);  // room for every connection: the cap is tested elsewhere
    s.on_http([](const zws::Request&, zws::Response& r) {
      const struct mallinfo2 m = mallinfo2();
      r.body = std::to_string(m.uordblks + m.hblkhd);
    });
    s.route("/", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); },
                  .deflate = deflate});
  });
  measured r;
  if (server.port() == 0) return r;
  zws::Loop loop;
  std::vector<std::unique_ptr<raw_peer>> peers;
  const std::string text = json_kilobyte();
  const std::string compressed = rsv1(client_frame(opcode::text, deflated(text)));
  const std::string plain = client_frame(opcode::text, text);
  auto one = [&](bool count) {
    auto p = std::make_unique<raw_peer>(loop, server.port());
    const std::string head = p->handshake("/", deflate.enable ? "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
    const bool agreed = head.find("Sec-WebSocket-Extensions: permessage-deflate") != std::string::npos;
    p->write(agreed ? compressed : plain);
    const auto f = p->read_frame();
    if (count) {
      r.agreed += agreed ? 1 : 0;
      r.echoed += f && f->op == opcode::text && (agreed ? f->payload.size() < text.size() : f->payload == text) ? 1 : 0;
    }
    peers.push_back(std::move(p));
  };
  for (int i = 0; i < 50; ++i) one(false);  // the loop's buffers, a shared deflater, the allocator's arenas
  const std::size_t before = server.status_kib("VmRSS");
  const std::size_t heap_before = heap_of(server.port());
  for (std::size_t i = 0; i < n; ++i) one(true);
  const std::size_t heap_after = heap_of(server.port());
  const std::size_t after = server.status_kib("VmRSS");
  r.bytes = after > before ? (after - before) * 1024 / n : 0;
  r.heap = heap_after > heap_before ? (heap_after - heap_before) / n : 0;
  return r;
}

zws::deflate_options mode(zws::compressor_mode m) {
  zws::deflate_options o;
  o.enable = true;
  o.mode = m;
  return o;
}

TEST(DeflateMemory, SharedIsTheDefaultMode) {
  EXPECT_EQ(zws::deflate_options{}.mode, zws::compressor_mode::shared);
}

// The bar (issue 14): the default mode within 64 KiB a connection, the leanest within
// twice an idle plain connection; dedicated stated, not bounded.
TEST(DeflateMemory, PerConnectionInEachModeAgainstAnIdlePlainConnection) {
  if (!rss_is_meaningful) GTEST_SKIP() << "ASan's allocator makes RSS per connection meaningless";
  const std::size_t n = connections();
  const measured plain = per_connection({}, n);
  const measured lean = per_connection(mode(zws::compressor_mode::lean), n);
  const measured shared = per_connection(mode(zws::compressor_mode::shared), n);
  const measured dedicated = per_connection(mode(zws::compressor_mode::dedicated), n);
  std::printf("ZM, server per connection after one compressed echo, %zu connections, heap / RSS: "
              "plain %zu / %zu B, lean %zu / %zu B, shared (default) %zu / %zu B, dedicated %zu / %zu B\n",
              n, plain.heap, plain.bytes, lean.heap, lean.bytes, shared.heap, shared.bytes, dedicated.heap,
              dedicated.bytes);
  EXPECT_EQ(plain.agreed, 0u);
  EXPECT_EQ(plain.echoed, n);
  for (const measured* m : {&lean, &shared, &dedicated}) {
    EXPECT_EQ(m->agreed, n);
    EXPECT_EQ(m->echoed, n);
  }
  // Heap: everything allocated, touched or not. RSS: what was touched, and rounds to
  // pages, so an idle plain connection's few hundred bytes show as little as 0.
  EXPECT_GT(plain.heap, 0u);
  EXPECT_LE(lean.heap, 2 * plain.heap);
  EXPECT_LE(shared.heap, std::size_t{64} << 10);
  EXPECT_GT(dedicated.heap, std::size_t{256} << 10);
  EXPECT_LE(lean.bytes, 2 * plain.bytes + 256);
  EXPECT_LE(shared.bytes, std::size_t{64} << 10);
  EXPECT_GT(dedicated.bytes, shared.bytes);
}

}  // namespace
