// The TLS stand-in of a build without TLS: every call fails with one readable message.
#include <gtest/gtest.h>

#include "io/tls.hpp"
#include "zws/tls.hpp"

namespace zws::detail::tls {
namespace {

constexpr std::string_view message = "zws was built without TLS: rebuild with make TLS=1";

TEST(TlsStub, NotAvailable) { EXPECT_FALSE(zws::tls_available()); }

TEST(TlsStub, ServerContextFailsWithTheMessage) {
  server_context ctx(tls_server_options{.cert_chain_file = "server.pem", .key_file = "server.key"});
  ASSERT_TRUE(ctx.error());
  EXPECT_EQ(ctx.error().message(), message);
  EXPECT_EQ(ctx.reload().message(), message);
  EXPECT_EQ(ctx.current(), nullptr);
}

TEST(TlsStub, ClientContextFailsWithTheMessage) {
  client_context ctx(tls_client_options{});
  ASSERT_TRUE(ctx.error());
  EXPECT_EQ(ctx.error().message(), message);
}

TEST(TlsStub, SessionsFailWithTheMessage) {
  server_context sctx(tls_server_options{});
  client_context cctx(tls_client_options{});
  buffer wire;
  session c = session::client(cctx, "localhost");
  EXPECT_TRUE(c.failed());
  EXPECT_EQ(c.reason(), message);
  EXPECT_EQ(c.start(wire), status::failed);
  session s = session::server(sctx);
  EXPECT_TRUE(s.failed());
  EXPECT_EQ(s.reason(), message);
  std::uint8_t bytes[4] = {22, 3, 1, 0};
  EXPECT_EQ(s.receive(bytes, bytes, wire).state, status::failed);
  EXPECT_EQ(s.send(bytes, wire).state, status::failed);
  EXPECT_EQ(s.shutdown(wire), status::failed);
  EXPECT_TRUE(wire.empty());
  session moved = std::move(s);
  EXPECT_EQ(moved.reason(), message);
}

}  // namespace
}  // namespace zws::detail::tls
