// Server and client of zws against each other on one loop, driven step by step.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;

struct echo_fixture : ::testing::Test {
  zws::Loop loop;
  zws::Server server{loop};

  void SetUp() override {
    server.route("/echo", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); }});
    ASSERT_FALSE(server.listen("127.0.0.1", 0));
    ASSERT_NE(server.port(), 0);
  }
};

TEST_F(echo_fixture, EveryCallbackFiresInOrder) {
  std::vector<std::string> log;
  server.route("/all", {
      .on_upgrade = [&](const zws::Request& req, zws::Upgrade&) { log.push_back("upgrade " + std::string(req.path())); },
      .on_open = [&](zws::WebSocket& ws) {
        log.push_back("open " + std::string(ws.path()));
        ws.send_text("hello");
      },
      .on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
        log.push_back("message " + std::string(m.data));
        ws.ping("p");
      },
      .on_ping = [&](zws::WebSocket&, std::string_view p) { log.push_back("ping " + std::string(p)); },
      .on_pong = [&](zws::WebSocket& ws, std::string_view p) {
        log.push_back("pong " + std::string(p));
        ws.close(4000, "done");
      },
      .on_close = [&](zws::WebSocket&, std::uint16_t code, std::string_view reason) {
        log.push_back("close " + std::to_string(code) + " " + std::string(reason));
      },
  });
  std::vector<std::string> client_log;
  bool closed = false;
  zws::connect(loop, url(server.port(), "/all"), {
      .on_open = [&](zws::WebSocket&) { client_log.push_back("open"); },
      .on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
        client_log.push_back("message " + std::string(m.data));
        ws.ping("c");
        ws.send_text("back");
      },
      .on_close = [&](zws::WebSocket&, std::uint16_t code, std::string_view reason) {
        client_log.push_back("close " + std::to_string(code) + " " + std::string(reason));
        closed = true;
      },
      .on_error = [&](std::string_view why) { ADD_FAILURE() << why; },
  });
  ASSERT_TRUE(run_until(loop, [&] { return closed && log.size() == 6; }));
  EXPECT_EQ(log, (std::vector<std::string>{"upgrade /all", "open /all", "ping c", "message back", "pong p",
                                           "close 4000 "}));
  EXPECT_EQ(client_log, (std::vector<std::string>{"open", "message hello", "close 4000 done"}));
}

TEST_F(echo_fixture, TextAndBinaryOfManySizes) {
  std::vector<std::size_t> sizes = {0, 1, 125, 126, 127, 65535, 65536, 70000, 1 << 20, 16 << 20};
  std::size_t next = 0;
  std::vector<std::pair<zws::opcode, std::string>> got;
  std::string expect_last;
  bool closed = false;
  auto payload = [](std::size_t n, std::size_t salt) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7 + salt) % 26);
    return s;
  };
  zws::connect(loop, url(server.port(), "/echo"), {
      .on_open = [&](zws::WebSocket& ws) {
        for (std::size_t i = 0; i < sizes.size(); ++i)
          ws.send(payload(sizes[i], i), i % 2 ? zws::opcode::binary : zws::opcode::text);
      },
      .on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
        got.emplace_back(m.opcode, std::string(m.data));
        if (++next == sizes.size()) ws.close();
      },
      .on_close = [&](zws::WebSocket&, std::uint16_t, std::string_view) { closed = true; },
      .on_error = [&](std::string_view why) { ADD_FAILURE() << why; },
  });
  ASSERT_TRUE(run_until(loop, [&] { return closed; }, 20000ms));
  ASSERT_EQ(got.size(), sizes.size());
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(got[i].first, i % 2 ? zws::opcode::binary : zws::opcode::text);
    EXPECT_TRUE(got[i].second == payload(sizes[i], i)) << "size " << sizes[i];
  }
}

TEST_F(echo_fixture, CloseCodesAndReasonsBothWays) {
  std::uint16_t server_code = 0, client_code = 0;
  std::string server_reason, client_reason;
  server.route("/closer", {
      .on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.close(4100, m.data); },
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view r) {
        server_code = c;
        server_reason = r;
      },
  });
  zws::connect(loop, url(server.port(), "/closer"), {
      .on_open = [](zws::WebSocket& ws) { ws.send_text("server says bye"); },
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view r) {
        client_code = c;
        client_reason = r;
      },
  });
  ASSERT_TRUE(run_until(loop, [&] { return server_code != 0 && client_code != 0; }));
  EXPECT_EQ(client_code, 4100);
  EXPECT_EQ(client_reason, "server says bye");
  EXPECT_EQ(server_code, 4100);  // the client's echo

  // And the client closing first.
  server_code = client_code = 0;
  server.route("/listener", {.on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view r) {
    server_code = c;
    server_reason = r;
  }});
  zws::connect(loop, url(server.port(), "/listener"), {
      .on_open = [](zws::WebSocket& ws) { ws.close(3001, "client leaves"); },
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { client_code = c; },
  });
  ASSERT_TRUE(run_until(loop, [&] { return server_code != 0 && client_code != 0; }));
  EXPECT_EQ(server_code, 3001);
  EXPECT_EQ(server_reason, "client leaves");
  EXPECT_EQ(client_code, 3001);
  EXPECT_EQ(server.connections(), 0u);
}

TEST_F(echo_fixture, TerminateIsAbnormalClosureOnBothSides) {
  int server_closes = 0, client_closes = 0;
  std::uint16_t server_code = 0, client_code = 0;
  server.route("/cut", {
      .on_message = [](zws::WebSocket& ws, zws::Message) { ws.terminate(); },
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) {
        ++server_closes;
        server_code = c;
      },
  });
  zws::connect(loop, url(server.port(), "/cut"), {
      .on_open = [](zws::WebSocket& ws) { ws.send_text("cut me"); },
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) {
        ++client_closes;
        client_code = c;
      },
  });
  ASSERT_TRUE(run_until(loop, [&] { return client_closes > 0; }));
  run_until(loop, [] { return false; }, 20ms);
  EXPECT_EQ(server_closes, 1);
  EXPECT_EQ(client_closes, 1);
  EXPECT_EQ(server_code, 1006);
  EXPECT_EQ(client_code, 1006);
}

TEST_F(echo_fixture, AutoPongCanBeTurnedOff) {
  std::vector<std::string> server_pings;
  server.route("/quiet", {
      .on_ping = [&](zws::WebSocket&, std::string_view p) { server_pings.emplace_back(p); },
      .auto_pong = false,
  });
  std::vector<std::string> pongs;
  zws::connect(loop, url(server.port(), "/quiet"), {
      .on_open = [](zws::WebSocket& ws) { ws.ping("one"); },
      .on_pong = [&](zws::WebSocket&, std::string_view p) { pongs.emplace_back(p); },
  });
  zws::connect(loop, url(server.port(), "/echo"), {
      .on_open = [](zws::WebSocket& ws) { ws.ping("two"); },
      .on_pong = [&](zws::WebSocket&, std::string_view p) { pongs.emplace_back(p); },
  });
  ASSERT_TRUE(run_until(loop, [&] { return server_pings.size() == 1 && pongs.size() == 1; }));
  run_until(loop, [] { return false; }, 20ms);
  EXPECT_EQ(server_pings, std::vector<std::string>{"one"});
  EXPECT_EQ(pongs, std::vector<std::string>{"two"});  // only the auto-pong route answered
}

// The README's first program, with the server on its own thread.
TEST(Readme, FirstProgramServesAClient) {
  zws::Server server;
  server.route("/", {
      .on_open = [](zws::WebSocket& ws) { ws.send_text("something"); },
      .on_message = [](zws::WebSocket& ws, const zws::Message& msg) { ws.send(msg.data, msg.opcode); },
  });
  if (auto err = server.listen(0)) FAIL() << err.message();
  std::thread runner([&] { server.run(); });
  zws::Loop loop;
  std::vector<std::string> got;
  zws::connect(loop, url(server.port()), {
      .on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
        got.emplace_back(m.data);
        if (got.size() == 1) ws.send_text("echo me");
      },
  });
  bool ok = run_until(loop, [&] { return got.size() == 2; });
  server.stop();
  run_until(loop, [] { return false; }, 50ms);
  runner.join();
  ASSERT_TRUE(ok);
  EXPECT_EQ(got, (std::vector<std::string>{"something", "echo me"}));
}

}  // namespace
