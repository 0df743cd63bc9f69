// A build without TLS: a TLS listener, a certificate reload and a wss:// URL
// fail their call with the stand-in's message, never at link time.
#include <gtest/gtest.h>

#include <string>

#include "harness.hpp"

namespace zws_test {
namespace {

constexpr std::string_view unavailable = "zws was built without TLS: rebuild with make TLS=1";

TEST(TlsStub, ListenFailsWithTheMessage) {
  EXPECT_FALSE(zws::tls_available());
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {});
  zws::tls_server_options o;
  o.cert_chain_file = "server.pem";
  o.key_file = "server.key";
  auto f = server.listen("127.0.0.1", 0, o);
  ASSERT_TRUE(f);
  EXPECT_EQ(f.message(), unavailable);
  auto g = server.listen(0, o);
  ASSERT_TRUE(g);
  EXPECT_EQ(g.message(), unavailable);
  EXPECT_EQ(server.tls_port(), 0);
  auto r = server.reload_tls();
  ASSERT_TRUE(r);
  EXPECT_EQ(r.message(), unavailable);
}

TEST(TlsStub, WssFailsThroughOnError) {
  zws::Loop loop;
  std::string error;
  bool opened = false;
  zws::connect(loop, "wss://127.0.0.1:9/", {
      .on_open = [&](zws::WebSocket&) { opened = true; },
      .on_error = [&](std::string_view why) { error = why; }});
  ASSERT_TRUE(run_until(loop, [&] { return !error.empty(); }));
  EXPECT_FALSE(opened);
  EXPECT_NE(error.find(unavailable), std::string::npos) << error;
}

}  // namespace
}  // namespace zws_test
