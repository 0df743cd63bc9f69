// Messages as streams: delivered in pieces to a route with on_piece, sent in
// pieces with send_piece, and text refused at its first invalid byte while the
// frame is still arriving, in both roles.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using namespace std::chrono_literals;

// A large frame's header (masked with the harness's fixed key {1,2,3,4}).
std::string client_header(zws::opcode op, std::uint64_t length, bool fin = true) {
  zws::frame_header h;
  h.fin = fin;
  h.op = static_cast<std::uint8_t>(op);
  h.masked = true;
  h.key = {{1, 2, 3, 4}};
  h.payload_length = length;
  std::uint8_t head[zws::max_frame_header];
  return std::string(reinterpret_cast<char*>(head), zws::encode_header(h, head));
}

// Payload bytes masked as the harness's key does, starting at payload offset `at`.
std::string masked(std::string plain, std::uint64_t at) {
  static constexpr std::uint8_t key[4] = {1, 2, 3, 4};
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<char>(plain[i] ^ key[(at + i) % 4]);
  return plain;
}

// Sends `payload` 1 KiB at a time until a frame comes back (or all is sent);
// returns that frame and how many bytes had gone out.
std::pair<std::optional<raw_peer::frame>, std::size_t> trickle_until_close(raw_peer& peer, std::string_view payload) {
  std::size_t sent = 0;
  std::optional<raw_peer::frame> answer;
  while (sent < payload.size() && !answer) {
    if (!peer.write(payload.substr(sent, 1024))) break;
    sent += 1024;
    answer = peer.read_frame(20ms);
  }
  return {answer, sent};
}

// A route that streams: counts bytes and checks the pieces' flags; answers
// "<bytes> <pieces>" when a message ends.
zws::Behavior counting_route(std::size_t max_message = std::size_t{1} << 30) {
  struct tally {
    std::uint64_t bytes = 0, pieces = 0;
    bool open = false, flags_ok = true;
  };
  zws::Behavior b{
      .on_open = [](zws::WebSocket& ws) { ws.emplace<tally>(); },
      .on_piece =
          [](zws::WebSocket& ws, const zws::MessagePiece& p) {
            auto& t = ws.data<tally>();
            t.flags_ok = t.flags_ok && p.first == !t.open;
            t.open = !p.last;
            t.bytes += p.data.size();
            ++t.pieces;
            if (p.last) {
              ws.send_text(std::to_string(t.bytes) + " " + std::to_string(t.pieces) + (t.flags_ok ? "" : " bad flags"));
              t = tally{};
            }
          },
  };
  b.max_message_size = max_message;
  return b;
}

TEST(Stream, A256MiBMessageStreamsThroughWithBoundedMemory) {
  child_server server([](zws::Server& s) { s.route("/", counting_route()); });
  ASSERT_NE(server.port(), 0);
  zws::Loop loop;
  raw_peer peer(loop, server.port());
  ASSERT_TRUE(peer.ok());
  ASSERT_NE(peer.handshake().find("101"), std::string::npos);
  const std::string chunk = masked(std::string(std::size_t{1} << 20, 'x'), 0);  // 1 MiB keeps the key phase
  auto stream = [&](std::uint64_t total) {
    EXPECT_TRUE(peer.write(client_header(zws::opcode::binary, total)));
    for (std::uint64_t sent = 0; sent < total; sent += chunk.size()) EXPECT_TRUE(peer.write(chunk, 30000ms));
    return peer.read_frame(30000ms);
  };
  // A first message warms the loop's shared receive buffer (its pages become
  // resident once reads fill it); what the 256 MiB one costs is measured after.
  ASSERT_TRUE(stream(std::uint64_t{16} << 20));
  std::this_thread::sleep_for(100ms);
  const std::size_t before = server.status_kib("VmRSS");
  constexpr std::uint64_t total = std::uint64_t{256} << 20;
  auto answer = stream(total);
  ASSERT_TRUE(answer);
  const std::size_t after = server.status_kib("VmRSS");
  std::printf("256 MiB streamed: server RSS %zu -> %zu KiB, answer '%s'\n", before, after, answer->payload.c_str());
  EXPECT_EQ(answer->payload.substr(0, answer->payload.find(' ')), std::to_string(total));
  EXPECT_EQ(answer->payload.find("bad"), std::string::npos);
  EXPECT_LE(after, before + 64);
}

TEST(Stream, FragmentsAndControlFramesInterleave) {
  zws::Loop loop;
  zws::Server server(loop);
  std::vector<std::string> pieces;
  std::string pinged;
  server.route("/", {
      .on_piece = [&](zws::WebSocket&, const zws::MessagePiece& p) {
        pieces.push_back(std::string(p.first ? "[" : "") + std::string(p.data) + (p.last ? "]" : ""));
      },
      .on_ping = [&](zws::WebSocket&, std::string_view p) { pinged = p; },
  });
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer peer(loop, server.port());
  ASSERT_NE(peer.handshake().find("101"), std::string::npos);
  ASSERT_TRUE(peer.write(client_frame(zws::opcode::text, "one ", false) + client_frame(zws::opcode::ping, "p") +
                         client_frame(zws::opcode::continuation, "", false) +
                         client_frame(zws::opcode::continuation, "two") + client_frame(zws::opcode::binary, "solo")));
  auto pong = peer.read_frame();
  ASSERT_TRUE(pong);
  EXPECT_EQ(pong->op, zws::opcode::pong);
  EXPECT_TRUE(run_until(loop, [&] { return pieces.size() >= 3; }));
  EXPECT_EQ(pinged, "p");
  EXPECT_EQ(pieces, (std::vector<std::string>{"[one ", "two]", "[solo]"}));
}

TEST(Stream, TheLimitCrossedMidStreamCloses1009) {
  zws::Loop loop;
  zws::Server server(loop);
  std::uint64_t delivered = 0;
  zws::Behavior b = counting_route(1 << 20);
  b.on_piece = [&](zws::WebSocket&, const zws::MessagePiece& p) { delivered += p.data.size(); };
  server.route("/", b);
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer peer(loop, server.port());
  ASSERT_NE(peer.handshake().find("101"), std::string::npos);
  // 768 KiB in one fragment, then a second fragment whose header crosses 1 MiB.
  const std::string first = client_header(zws::opcode::binary, 768 << 10, false) +
                            masked(std::string(768 << 10, 'a'), 0);
  ASSERT_TRUE(peer.write(first + client_header(zws::opcode::continuation, 512 << 10)));
  auto close = peer.read_frame();
  ASSERT_TRUE(close);
  EXPECT_EQ(close->op, zws::opcode::close);
  EXPECT_EQ(close_code_of_payload(close->payload), 1009);
  EXPECT_EQ(delivered, std::uint64_t{768} << 10);
}

TEST(Stream, SendPieceMakesOneFragmentedMessage) {
  zws::Loop loop;
  zws::Server server(loop);
  std::vector<zws::send_status> statuses;
  server.route("/", {.on_open = [&](zws::WebSocket& ws) {
    statuses.push_back(ws.send_piece("Hello, ", false, zws::opcode::text));
    statuses.push_back(ws.send_text("refused while a message is open"));
    statuses.push_back(ws.ping("between"));
    statuses.push_back(ws.send_piece("", false));
    statuses.push_back(ws.send_piece("world", true));
    statuses.push_back(ws.send_text("after"));
  }});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::vector<std::string> got;
  zws::connect(loop, url(server.port()), {.on_message = [&](zws::WebSocket&, const zws::Message& m) {
    got.push_back(std::string(m.is_text() ? "text:" : "binary:") + std::string(m.data));
  }});
  EXPECT_TRUE(run_until(loop, [&] { return got.size() == 2; }));
  EXPECT_EQ(got, (std::vector<std::string>{"text:Hello, world", "text:after"}));
  ASSERT_EQ(statuses.size(), 6u);
  EXPECT_EQ(statuses[1], zws::send_status::dropped);
  EXPECT_NE(statuses[0], zws::send_status::dropped);
  EXPECT_NE(statuses[4], zws::send_status::dropped);
  // On the wire: text (FIN 0), ping, continuation (FIN 0), continuation (FIN 1).
  raw_peer peer(loop, server.port());
  ASSERT_NE(peer.handshake().find("101"), std::string::npos);
  std::vector<std::pair<zws::opcode, bool>> frames;
  for (int i = 0; i < 5; ++i) {
    auto f = peer.read_frame();
    ASSERT_TRUE(f);
    frames.emplace_back(f->op, f->fin);
  }
  EXPECT_EQ(frames, (std::vector<std::pair<zws::opcode, bool>>{{zws::opcode::text, false},
                                                               {zws::opcode::ping, true},
                                                               {zws::opcode::continuation, false},
                                                               {zws::opcode::continuation, true},
                                                               {zws::opcode::text, true}}));
}

// A 1 MiB text frame whose 10th byte is invalid, sent 1 KiB at a time: the
// server closes with 1007 as soon as that byte has arrived.
TEST(Stream, InvalidUtf8ClosesAtOnceWhileAServerReceivesTheFrame) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {.on_message = [](zws::WebSocket&, const zws::Message&) {}});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer peer(loop, server.port());
  ASSERT_NE(peer.handshake().find("101"), std::string::npos);
  std::string text(std::size_t{1} << 20, 't');
  text[9] = '\xFF';
  const std::string payload = masked(text, 0);
  ASSERT_TRUE(peer.write(client_header(zws::opcode::text, text.size())));
  const auto [close, sent] = trickle_until_close(peer, payload);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->op, zws::opcode::close);
  EXPECT_EQ(close_code_of_payload(close->payload), 1007);
  std::printf("server: 1007 after %zu KiB of the frame\n", sent / 1024);
  EXPECT_LE(sent, std::size_t{10} << 10);
}

TEST(Stream, InvalidUtf8ClosesAtOnceWhileAClientReceivesTheFrame) {
  zws::Loop loop;
  raw_server srv;
  std::uint16_t code = 0;
  zws::connect(loop, url(srv.port()), {
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { code = c; },
      .on_error = [&](std::string_view why) { ADD_FAILURE() << why; },
  });
  int fd = srv.accept(loop);
  ASSERT_GE(fd, 0);
  raw_peer peer(loop, fd, 0);
  std::string req = peer.read_until([](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
  const auto key_at = req.find("Sec-WebSocket-Key: ");
  ASSERT_NE(key_at, std::string::npos);
  const std::string key = req.substr(key_at + 19, 24);
  peer.take(req.size());
  ASSERT_TRUE(peer.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         "Sec-WebSocket-Accept: " + std::string(zws::as_view(zws::accept_key(key))) + "\r\n\r\n"));
  std::string text(std::size_t{1} << 20, 't');
  text[9] = '\xFF';
  zws::frame_header h;
  h.op = 1;
  h.payload_length = text.size();
  std::uint8_t head[zws::max_frame_header];
  ASSERT_TRUE(peer.write(std::string(reinterpret_cast<char*>(head), zws::encode_header(h, head))));
  const auto [close, sent] = trickle_until_close(peer, text);
  ASSERT_TRUE(close);
  EXPECT_EQ(close->op, zws::opcode::close);
  std::printf("client: 1007 after %zu KiB of the frame\n", sent / 1024);
  EXPECT_LE(sent, std::size_t{10} << 10);
  EXPECT_TRUE(run_until(loop, [&] { return code != 0; }));
  EXPECT_EQ(code, 1007);
}

}  // namespace
