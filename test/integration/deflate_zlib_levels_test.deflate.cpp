// Messages compressed the way other implementations compress them: every zlib
// memLevel ends blocks at its own size, and an incompressible message of exactly
// max_message_size must still pass in any of them (Python websockets, memLevel 5,
// once got 1009 for a 16 MiB random message: stored blocks every 2 KiB).
#include <gtest/gtest.h>
#include <zlib.h>

#include <random>
#include <string>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

// `data` as one permessage-deflate message from zlib at `mem_level`: raw deflate,
// level 6, a sync flush, the 00 00 ff ff tail removed (RFC 7692 §7.2.1).
std::string compress_at(const std::string& data, int mem_level) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, -15, mem_level, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, data.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_SYNC_FLUSH), Z_OK);
  EXPECT_EQ(z.avail_in, 0u);
  out.resize(out.size() - z.avail_out - 4);
  deflateEnd(&z);
  return out;
}

TEST(DeflatePeers, AnIncompressibleMessageAtTheLimitPassesAtEveryMemLevel) {
  constexpr std::size_t limit = std::size_t{1} << 20;
  std::string data(limit, '\0');
  std::mt19937_64 rng(7);
  for (char& c : data) c = static_cast<char>(rng());

  zws::Loop loop;
  zws::Server server(loop);
  zws::Behavior b;
  b.max_message_size = limit;
  b.deflate.enable = true;
  std::size_t got = 0;
  b.on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
    got += m.data == data ? 1 : 0;
    ws.send_text("ok");
  };
  server.route("/", std::move(b));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  for (int mem_level = 1; mem_level <= 9; ++mem_level) {
    const std::string z = compress_at(data, mem_level);
    EXPECT_GT(z.size(), limit) << "memLevel " << mem_level << ": stored blocks make it larger";
    raw_peer p(loop, server.port());
    const std::string head = p.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate\r\n");
    ASSERT_NE(head.find("permessage-deflate"), std::string::npos) << head;
    std::string frame = client_frame(opcode::binary, z);
    frame[0] = static_cast<char>(frame[0] | 0x40);  // RSV1: compressed
    p.write(frame);
    auto f = p.read_frame();
    ASSERT_TRUE(f) << "memLevel " << mem_level;
    EXPECT_EQ(f->op, opcode::text) << "memLevel " << mem_level << ": close " << close_code_of_payload(f->payload);
    EXPECT_EQ(got, static_cast<std::size_t>(mem_level));
  }
}

}  // namespace
