// zws-echo: echoes every text and binary message with its opcode. Also the
// benchmark server, so the echo is all it does per message. With --fanout it is
// a fan-out server instead: every connection subscribes to the topic named by
// its path, and every message is published to that topic (sender included),
// across every zws-echo bridged to the same Redis with --redis.
#include <zws/zws.hpp>

#include <cstdio>
#include <string>

#include "cli.hpp"

namespace {

constexpr const char* usage =
    "usage: zws-echo --port N [--host H] [--threads N] [--max-message BYTES]\n"
    "                [--handshake-timeout S] [--idle-timeout S] [--tls-cert F --tls-key F]\n"
    "                [--deflate [--deflate-mode M] [--max-zlib-memory BYTES]]\n"
    "                [--fanout [--redis HOST:PORT]]\n"
    "Echoes every text and binary message, on every path, with the same opcode.\n"
    "  --port N               port to listen on (0: any free port)\n"
    "  --host H               numeric address or localhost (default: every address)\n"
    "  --threads N            event loops, one per thread (default 1)\n"
    "  --max-message BYTES    larger messages close with 1009 (default 16 MiB)\n"
    "  --handshake-timeout S  seconds to complete the upgrade (default 10)\n"
    "  --idle-timeout S       close silent connections after S seconds (default: never)\n"
    "  --tls-cert F           wss:// instead of ws://: certificate chain (PEM, leaf first)\n"
    "  --tls-key F            its private key (PEM); both or neither\n"
    "  --deflate              accept permessage-deflate (a build with zlib: make DEFLATE=1)\n"
    "  --deflate-mode M       with --deflate: what zlib state each connection keeps\n"
    "                         (zws/deflate.hpp, compressor_mode):\n"
    "                           shared     (default) one compressor per loop, each message\n"
    "                                      compressed alone (server_no_context_takeover);\n"
    "                                      the client's context kept: ~40 KiB a connection\n"
    "                           dedicated  a compressor per connection, both contexts\n"
    "                                      kept: best ratio, ~300 KiB a connection\n"
    "                           lean       no context either way (asks\n"
    "                                      client_no_context_takeover too): no zlib state\n"
    "                                      between messages\n"
    "  --max-zlib-memory BYTES  zlib memory over all connections (default 256 MiB); past\n"
    "                         it new connections are answered without the extension\n"
    "  --fanout               instead of echoing: each connection subscribes to the topic\n"
    "                         named by its path (\"/room\"); each message it sends is\n"
    "                         published to that topic, to every subscriber, sender included\n"
    "  --redis HOST:PORT      with --fanout: share the topics with every zws-echo bridged to\n"
    "                         this Redis (a build with hiredis: make REDIS=1)\n"
    "Stops cleanly on SIGINT or SIGTERM (Close 1001 to every client).\n";

struct options {
  int port = -1;
  std::string host;
  unsigned threads = 1;
  zws::tls_server_options tls{};
  bool fanout = false;
  std::string redis;  // HOST:PORT
  std::size_t max_zlib = zws::Server::default_max_zlib_memory;
  zws::Behavior echo{
      .on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); },
  };
};

options parse(int argc, char** argv) {
  options o;
  zws_tools::args a(argc, argv, usage);
  bool mode_set = false;
  while (a.next()) {
    if (a.is("--help") || a.is("-h")) {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a.is("--port")) {
      o.port = a.number<int>(0, 65535);
    } else if (a.is("--host")) {
      o.host = a.value();
    } else if (a.is("--threads")) {
      o.threads = a.number<unsigned>(1, 1024);
    } else if (a.is("--max-message")) {
      o.echo.max_message_size = a.number<std::size_t>(1, std::size_t{1} << 40);
    } else if (a.is("--handshake-timeout")) {
      o.echo.handshake_timeout = std::chrono::seconds(a.number<unsigned>(1, 86400));
    } else if (a.is("--idle-timeout")) {
      o.echo.idle_timeout = std::chrono::seconds(a.number<unsigned>(0, 86400));
    } else if (a.is("--tls-cert")) {
      o.tls.cert_chain_file = a.value();
    } else if (a.is("--tls-key")) {
      o.tls.key_file = a.value();
    } else if (a.is("--deflate")) {
      o.echo.deflate.enable = true;
    } else if (a.is("--max-zlib-memory")) {
      o.max_zlib = a.number<std::size_t>(1, std::size_t{1} << 44);
    } else if (a.is("--deflate-mode")) {
      const std::string_view m = a.value();
      if (m == "shared") {
        o.echo.deflate.mode = zws::compressor_mode::shared;
      } else if (m == "dedicated") {
        o.echo.deflate.mode = zws::compressor_mode::dedicated;
      } else if (m == "lean") {
        o.echo.deflate.mode = zws::compressor_mode::lean;
      } else {
        a.fail("want shared, dedicated or lean for", "--deflate-mode");
      }
      mode_set = true;
    } else if (a.is("--fanout")) {
      o.fanout = true;
    } else if (a.is("--redis")) {
      o.redis = a.value();
      const std::size_t colon = o.redis.rfind(':');
      if (colon == std::string::npos || colon == 0) a.fail("want HOST:PORT for", "--redis");
    } else {
      a.unknown();
    }
  }
  if (o.port < 0) a.fail("missing", "--port");
  if (mode_set && !o.echo.deflate.enable) a.fail("needs --deflate:", "--deflate-mode");
  if (!o.redis.empty() && !o.fanout) a.fail("needs --fanout:", "--redis");
  if (o.fanout) {
    o.echo.on_open = [](zws::WebSocket& ws) { ws.subscribe(ws.path()); };
    o.echo.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.publish(ws.path(), m.data, m.opcode); };
  }
  if (o.tls.cert_chain_file.empty() != o.tls.key_file.empty())
    a.fail("missing", o.tls.key_file.empty() ? "--tls-key" : "--tls-cert");
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  zws::Server server;
  server.max_zlib_memory(o.max_zlib);
  server.route("*", o.echo);  // every path
  if (!o.redis.empty()) {
    const std::size_t colon = o.redis.rfind(':');
    const int rport = std::atoi(o.redis.c_str() + colon + 1);
    zws::failure err = rport > 0 && rport <= 65535
                           ? server.bridge_redis(o.redis.substr(0, colon), static_cast<std::uint16_t>(rport))
                           : zws::failure(-1, "--redis wants HOST:PORT, got '" + o.redis + "'");
    if (err) {
      std::fprintf(stderr, "zws-echo: %s\n", err.message().c_str());
      return 1;
    }
  }
  auto port = static_cast<std::uint16_t>(o.port);
  const bool secure = !o.tls.cert_chain_file.empty();
  zws::failure err = secure ? (o.host.empty() ? server.listen(port, o.tls) : server.listen(o.host, port, o.tls))
                       : (o.host.empty() ? server.listen(port) : server.listen(o.host, port));
  if (err) {
    std::fprintf(stderr, "zws-echo: %s\n", err.message().c_str());
    return 1;
  }
  zws_tools::on_stop_signal([&server] { server.stop(); });
  std::printf("zws-echo listening on %s://%s:%u/ (isa %s, %u thread%s%s%s)\n", secure ? "wss" : "ws",
              o.host.empty() ? "0.0.0.0" : o.host.c_str(), unsigned(server.port()),
              std::string(zws::isa_name(zws::active_isa())).c_str(), o.threads, o.threads == 1 ? "" : "s",
              o.fanout ? ", fan-out" : "", o.redis.empty() ? "" : (", redis " + o.redis).c_str());
  std::fflush(stdout);
  server.run(o.threads);
  return 0;
}
