// Shared frames to wss:// subscribers: queued references are encrypted from
// where they lie (large ones) or gathered into one record (small ones), in order.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "endpoint/shared_frame.hpp"
#include "tls_harness.hpp"

namespace {

using namespace zws_test;
using zws::detail::frame_ref;

struct subscriber {
  zws::WebSocket* ws = nullptr;
  std::vector<std::string> got;
  bool closed = false;
};

TEST(SharedFrameTls, SubscribersGetLargeAndSmallFramesInOrder) {
  zws::Loop loop;
  zws::Server server(loop);
  zws::Behavior b;
  b.max_backpressure = std::size_t{64} << 20;
  b.on_open = [](zws::WebSocket& ws) { ws.subscribe("feed"); };
  server.route("/", b);
  ASSERT_FALSE(server.listen("127.0.0.1", 0, server_tls()));
  constexpr int count = 4;
  std::vector<std::unique_ptr<subscriber>> subs;
  for (int i = 0; i < count; ++i) {
    subs.push_back(std::make_unique<subscriber>());
    subscriber* s = subs.back().get();
    zws::Behavior cb;
    cb.max_message_size = std::size_t{4} << 20;
    cb.on_open = [s](zws::WebSocket& ws) { s->ws = &ws; };
    cb.on_message = [s](zws::WebSocket&, const zws::Message& m) { s->got.emplace_back(m.data); };
    cb.on_close = [s](zws::WebSocket&, std::uint16_t, std::string_view) { s->closed = true; };
    cb.on_error = [s](std::string_view) { s->closed = true; };
    zws::connect(loop, wss(server.tls_port()), cb, client_tls());
  }
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == count; }));

  // Published without running the loop between: everything queues behind the first.
  std::vector<std::string> want;
  for (int round = 0; round < 3; ++round) {
    std::string big(std::size_t{1} << 20, static_cast<char>('A' + round));
    for (std::size_t i = 0; i < big.size(); i += 1000) big[i] = static_cast<char>('0' + (i / 1000) % 10);
    want.push_back(big);
    for (int j = 0; j < 300; ++j) want.push_back(std::to_string(round) + ":" + std::to_string(j) + std::string(80, '.'));
    want.push_back(std::string(20 << 10, static_cast<char>('a' + round)));
  }
  for (const std::string& m : want) server.publish("feed", m, zws::opcode::binary);
  ASSERT_TRUE(run_until(loop, [&] {
    for (auto& s : subs)
      if (s->got.size() < want.size() && !s->closed) return false;
    return true;
  }, std::chrono::milliseconds(20000)));
  for (auto& s : subs) {
    ASSERT_FALSE(s->closed);
    ASSERT_EQ(s->got.size(), want.size());
    for (std::size_t i = 0; i < want.size(); ++i) ASSERT_TRUE(s->got[i] == want[i]) << "message " << i;
  }
  EXPECT_EQ(frame_ref::live_frames(), 0u);
}

}  // namespace
