// zws/client.hpp — connecting to a WebSocket server.
//
//   zws::Loop loop;
//   zws::connect(loop, "ws://127.0.0.1:8080/chat", {
//       .on_open = [](zws::WebSocket& ws) { ws.send_text("hello"); },
//       .on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.close(); },
//       .on_close = [&](zws::WebSocket&, std::uint16_t, std::string_view) { loop.stop(); },
//       .on_error = [&](std::string_view why) { loop.stop(); }});
//   loop.run();
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zws/loop.hpp"
#include "zws/tls.hpp"
#include "zws/websocket.hpp"

namespace zws {

struct ClientOptions {
  // Sent as the Origin header when not empty.
  std::string origin{};
  // Extra request headers, sent verbatim (no CR or LF inside).
  std::vector<std::pair<std::string, std::string>> headers{};
  // TCP connect, per address tried; the handshake has behavior.handshake_timeout.
  std::chrono::milliseconds connect_timeout{10'000};
  // wss:// only: trust, client certificate, SNI (see zws/tls.hpp). By default
  // the server's chain is verified against the system store, and the URL's host
  // against the certificate.
  tls_client_options tls{};
  // permessage-deflate: with .enable, offer it (never in a build without zlib); an
  // answer the offer does not allow fails the connection (on_error).
  deflate_options deflate{};
};

// Starts connecting to a ws:// or wss:// URL (numeric hosts and "localhost" resolve
// without blocking; other names through a blocking getaddrinfo). Loop thread
// only (or before the loop runs). Returns at once; the outcome arrives on the
// loop: on_open, then messages and exactly one on_close — or a single on_error
// with a readable reason ("connect 127.0.0.1:9: Connection refused", "handshake:
// Sec-WebSocket-Accept mismatch", "invalid URL", "TLS handshake: certificate
// verify failed: certificate has expired", ...). A build without TLS fails
// wss:// through on_error: "wss://: zws was built without TLS: rebuild with make TLS=1".
void connect(Loop& loop, std::string_view url, Behavior behavior, ClientOptions options = {});

}  // namespace zws
