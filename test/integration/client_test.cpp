// The zws client: every way connecting can fail arrives as one on_error with a
// readable reason; subprotocols, headers and address forms.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

struct outcome {
  bool opened = false;
  std::string error;
  int errors = 0;
  std::uint16_t close_code = 0;
  std::string close_reason;
  bool done() const { return errors > 0 || close_code != 0; }
};

zws::Behavior observe(outcome& o, zws::Behavior b = {}) {
  b.on_open = [&o](zws::WebSocket&) { o.opened = true; };
  b.on_close = [&o](zws::WebSocket&, std::uint16_t c, std::string_view r) {
    o.close_code = c;
    o.close_reason = r;
  };
  b.on_error = [&o](std::string_view why) {
    o.error = why;
    ++o.errors;
  };
  return b;
}

TEST(Client, ConnectionRefusedIsAnError) {
  zws::Loop loop;
  std::uint16_t port;
  {
    raw_server gone;
    port = gone.port();
  }
  outcome o;
  zws::connect(loop, url(port), observe(o));
  ASSERT_TRUE(run_until(loop, [&] { return o.done(); }));
  EXPECT_FALSE(o.opened);
  EXPECT_NE(o.error.find("Connection refused"), std::string::npos) << o.error;
  run_until(loop, [] { return false; }, 20ms);
  EXPECT_EQ(o.errors, 1);
}

TEST(Client, InvalidUrlIsAnError) {
  zws::Loop loop;
  outcome o, p;
  zws::connect(loop, "http://example.com/", observe(o));
  zws::connect(loop, "ws://bad host/", observe(p));
  ASSERT_TRUE(run_until(loop, [&] { return o.done() && p.done(); }));
  EXPECT_NE(o.error.find("invalid URL"), std::string::npos) << o.error;
  EXPECT_NE(p.error.find("invalid URL"), std::string::npos) << p.error;
}

TEST(Client, Non101StatusIsAnError) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/here", {});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  outcome o;
  zws::connect(loop, url(server.port(), "/elsewhere"), observe(o));
  ASSERT_TRUE(run_until(loop, [&] { return o.done(); }));
  EXPECT_NE(o.error.find("404"), std::string::npos) << o.error;
}

TEST(Client, RefusedUpgradeIsAnErrorWithTheStatus) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {.on_upgrade = [](const zws::Request& req, zws::Upgrade& up) {
    if (req.origin() != "https://good.example") up.refuse(403, "bad origin");
  }});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  outcome bad, good;
  zws::connect(loop, url(server.port()), observe(bad), {.origin = "https://evil.example"});
  zws::connect(loop, url(server.port()), observe(good), {.origin = "https://good.example"});
  ASSERT_TRUE(run_until(loop, [&] { return bad.done() && good.opened; }));
  EXPECT_NE(bad.error.find("403"), std::string::npos) << bad.error;
}

TEST(Client, BadAcceptIsAnError) {
  zws::Loop loop;
  raw_server fake;
  outcome o;
  zws::connect(loop, url(fake.port()), observe(o));
  raw_peer s(loop, fake.accept(loop), 0);
  s.read_until([](const std::string& r) { return r.find("\r\n\r\n") != std::string::npos; });
  s.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
  ASSERT_TRUE(run_until(loop, [&] { return o.done(); }));
  EXPECT_FALSE(o.opened);
  EXPECT_NE(o.error.find("Sec-WebSocket-Accept"), std::string::npos) << o.error;
}

TEST(Client, HandshakeTimeoutIsAnError) {
  zws::Loop loop;
  raw_server silent;
  outcome o;
  zws::Behavior b;
  b.handshake_timeout = 50ms;
  zws::connect(loop, url(silent.port()), observe(o, b));
  int fd = silent.accept(loop);
  ASSERT_TRUE(run_until(loop, [&] { return o.done(); }));
  EXPECT_NE(o.error.find("timed out"), std::string::npos) << o.error;
  ::close(fd);
}

TEST(Client, MaskedServerFrameClosesWith1002) {
  zws::Loop loop;
  raw_server fake;
  outcome o;
  zws::connect(loop, url(fake.port()), observe(o));
  raw_peer s(loop, fake.accept(loop), 0);
  std::string req = s.read_until([](const std::string& r) { return r.find("\r\n\r\n") != std::string::npos; });
  auto key_at = req.find("Sec-WebSocket-Key: ");
  ASSERT_NE(key_at, std::string::npos);
  std::string key = req.substr(key_at + 19, 24);
  s.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " + std::string(zws::as_view(zws::accept_key(key))) + "\r\n\r\n" +
          client_frame(opcode::text, "masked!"));
  ASSERT_TRUE(run_until(loop, [&] { return o.done(); }));
  EXPECT_TRUE(o.opened);
  EXPECT_EQ(o.close_code, 1002);
  EXPECT_FALSE(o.close_reason.empty());
}

TEST(Client, SubprotocolHeadersAndQueryReachTheServer) {
  zws::Loop loop;
  zws::Server server(loop);
  std::string seen_token, seen_query, server_protocol;
  server.route("/chat", {
      .on_upgrade = [&](const zws::Request& req, zws::Upgrade& up) {
        seen_token = req.header("X-Token").value_or("");
        seen_query = req.query();
        EXPECT_EQ(up.protocol(), "chat.v1");  // the client's first offer the server supports
      },
      .on_open = [&](zws::WebSocket& ws) { server_protocol = ws.protocol(); },
      .protocols = {"chat.v2", "chat.v1"},
  });
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::string client_protocol;
  zws::Behavior b;
  b.on_open = [&](zws::WebSocket& ws) { client_protocol = ws.protocol(); };
  b.protocols = {"chat.v1", "chat.v2"};
  zws::connect(loop, url(server.port(), "/chat?room=7"), b, {.headers = {{"X-Token", "s3cret"}}});
  ASSERT_TRUE(run_until(loop, [&] { return !client_protocol.empty(); }));
  EXPECT_EQ(seen_token, "s3cret");
  EXPECT_EQ(seen_query, "room=7");
  EXPECT_EQ(client_protocol, server_protocol);
  EXPECT_FALSE(client_protocol.empty());
}

TEST(Client, AQueryWithoutAPathIsSentAsSlashQuery) {
  zws::Loop loop;
  zws::Server server(loop);
  std::string seen_path, seen_query;
  bool opened = false;
  server.route("/", {.on_upgrade = [&](const zws::Request& req, zws::Upgrade&) {
                       seen_path = req.path();
                       seen_query = req.query();
                     }});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  zws::connect(loop, "ws://127.0.0.1:" + std::to_string(server.port()) + "?room=7",
               {.on_open = [&](zws::WebSocket&) { opened = true; }});
  ASSERT_TRUE(run_until(loop, [&] { return opened; }));
  EXPECT_EQ(seen_path, "/");
  EXPECT_EQ(seen_query, "room=7");
}

TEST(Client, Ipv6LiteralAndLocalhost) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); }});
  if (server.listen("::1", 0)) GTEST_SKIP() << "no IPv6 loopback";
  std::vector<std::string> got;
  auto echo_once = [&](std::string u) {
    zws::Behavior b;
    b.on_open = [](zws::WebSocket& ws) { ws.send_text("v6"); };
    b.on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
      got.emplace_back(m.data);
      ws.close();
    };
    b.on_error = [&](std::string_view why) { got.emplace_back(why); };
    zws::connect(loop, u, b);
  };
  echo_once("ws://[::1]:" + std::to_string(server.port()) + "/");
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 1; }));
  echo_once("ws://localhost:" + std::to_string(server.port()) + "/");  // 127.0.0.1 refused, then ::1
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 2; }));
  EXPECT_EQ(got, (std::vector<std::string>{"v6", "v6"}));
}

}  // namespace
