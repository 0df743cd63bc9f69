// A build without zlib (make DEFLATE=0) never offers permessage-deflate and never
// accepts it, whatever the options say.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace {

using namespace zws_test;

TEST(DeflateStub, ServerNeverAcceptsTheExtension) {
  EXPECT_FALSE(zws::deflate_available());
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {.deflate = {.enable = true}});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer p(loop, server.port());
  const std::string head = p.handshake("/", "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
  EXPECT_NE(head.find(" 101 "), std::string::npos) << head;
  EXPECT_EQ(head.find("Sec-WebSocket-Extensions"), std::string::npos) << head;
  // Not negotiated: RSV1 is a protocol error (1002).
  std::string frame = client_frame(zws::opcode::text, "hello");
  frame[0] = static_cast<char>(frame[0] | 0x40);
  p.write(frame);
  auto f = p.read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->op, zws::opcode::close);
  EXPECT_EQ(close_code_of_payload(f->payload), 1002);
}

TEST(DeflateStub, ClientNeverOffersTheExtension) {
  zws::Loop loop;
  raw_server rs;
  zws::ClientOptions co;
  co.deflate.enable = true;
  zws::connect(loop, url(rs.port()), {}, co);
  int fd = rs.accept(loop);
  ASSERT_GE(fd, 0);
  raw_peer p(loop, fd, 0);
  const std::string req = p.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  EXPECT_NE(req.find("GET / HTTP/1.1"), std::string::npos) << req;
  EXPECT_EQ(req.find("Sec-WebSocket-Extensions"), std::string::npos) << req;
}

}  // namespace
