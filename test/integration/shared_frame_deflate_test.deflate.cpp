// Shared frames with permessage-deflate: a publish to subscribers that agreed on
// it without our context takeover is compressed once per loop and shared deflater,
// and their queues hold that one compressed frame.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "endpoint/shared_frame.hpp"
#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::detail::frame_ref;

TEST(SharedFrameDeflate, OneCompressedFrameServesEverySharedModeSubscriber) {
  zws::Loop loop;
  zws::Server server(loop);
  zws::Behavior b;
  b.max_backpressure = std::size_t{64} << 20;
  b.deflate = {.enable = true, .mode = zws::compressor_mode::shared};
  b.on_open = [](zws::WebSocket& ws) { ws.subscribe("feed"); };
  server.route("/", b);
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  constexpr int count = 3;
  std::vector<std::vector<std::string>> got(count);
  int closed = 0;
  zws::ClientOptions co;
  co.deflate = {.enable = true};
  for (int i = 0; i < count; ++i) {
    zws::Behavior cb;
    cb.max_message_size = std::size_t{16} << 20;
    cb.on_message = [&got, i](zws::WebSocket&, const zws::Message& m) { got[std::size_t(i)].emplace_back(m.data); };
    cb.on_close = [&closed](zws::WebSocket&, std::uint16_t, std::string_view) { ++closed; };
    cb.on_error = [&closed](std::string_view) { ++closed; };
    zws::connect(loop, url(server.port()), cb, co);
  }
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("feed") == count; }));

  // Letters from a small alphabet: compressible, but not to nothing.
  std::mt19937 rng(7);
  std::string message(std::size_t{8} << 20, ' ');
  for (char& c : message) c = static_cast<char>('a' + rng() % 12);
  const std::size_t frames_before = frame_ref::live_frames();
  server.publish("feed", message, zws::opcode::text);
  loop.run_once(std::chrono::milliseconds(0));
  // The plain frame is gone with the publish; the compressed one is queued, once.
  EXPECT_EQ(frame_ref::live_frames() - frames_before, 1u);
  EXPECT_LT(frame_ref::live_bytes(), message.size());
  ASSERT_TRUE(run_until(loop, [&] {
    for (const auto& g : got)
      if (g.empty()) return false;
    return true;
  }, std::chrono::milliseconds(20000)));
  EXPECT_EQ(closed, 0);
  for (const auto& g : got) {
    ASSERT_EQ(g.size(), 1u);
    EXPECT_TRUE(g[0] == message);
  }
  EXPECT_EQ(frame_ref::live_frames(), frames_before);
}

}  // namespace
