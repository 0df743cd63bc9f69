// zws/server.hpp — a WebSocket server: routes, listeners, loops.
//
//   zws::Server server;
//   server.route("/", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); }});
//   if (auto err = server.listen(8080)) { ... err.message() ... }
//   server.run();
//
// Set-up calls (route, on_http, listen) come before run(). Routes match the
// request path exactly ("/chat" does not match "/chat/x") unless they end in
// '*'; an unknown path gets 404. stop(), broadcast(), publish(), subscribers() and adopt() may be called from any thread. Until the
// path is known a request runs under the smallest handshake_timeout and the
// largest head limits of all routes; the route's own head limits apply after.
// A Server on the caller's Loop must be destroyed before that Loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zws/loop.hpp"
#include "zws/redis.hpp"
#include "zws/tls.hpp"
#include "zws/websocket.hpp"

namespace zws {

// The answer to a plain (non-upgrade) HTTP request.
struct Response {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  // More header fields (Cache-Control ...). No CR or LF inside.
  std::vector<std::pair<std::string, std::string>> headers{};
};

namespace detail {
struct server_state;
}

class Server {
 public:
  // A server with its own loop (run() drives it).
  Server();
  // A server on the caller's loop: the caller runs the loop; run(threads) adds
  // loops of its own for threads beyond the first.
  explicit Server(Loop& loop);
  ~Server();
  // Destroy only after run() has returned, or, on the caller's loop, on its
  // thread (a callback of the loop is fine); open connections are cut without
  // callbacks.
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Adds (or replaces) the behavior for a path. An exact path wins; a pattern
  // ending in '*' matches every path with that prefix ("/api/*"; "*" alone is a
  // catch-all), the longest one first. On such a route WebSocket::path() is the
  // request's path (kept for the connection); on an exact one it is the route's.
  Server& route(std::string path, Behavior behavior);
  // Answers plain HTTP requests (no Upgrade header) on the same port; without
  // it they get 426 Upgrade Required.
  Server& on_http(std::function<void(const Request&, Response&)> handler);
  // Most open connections over all routes; past it new ones are refused (503).
  Server& max_connections(std::size_t n);
  // Most bytes queued for slow readers over all connections (each loop of run(n)
  // holds 1/n of it). Past it, the backpressure policy of each route applies to
  // the largest queues first: their queued messages are discarded, and under
  // backpressure_policy::close they are closed with 1008. 0: no server-wide cap.
  // A published or broadcast frame that several subscribers hold by reference counts
  // in full for each of them (as a copy would), so the cap bounds the worst case and
  // the memory really used is at most that.
  static constexpr std::size_t default_max_backpressure_total = std::size_t{256} << 20;
  Server& max_backpressure_total(std::size_t bytes);
  // Most zlib memory (permessage-deflate) over all connections (each loop of run(n)
  // holds 1/n of it). A new connection whose compression state would not fit is
  // answered without the extension (not refused); a compressed message that needs
  // memory past it is sent uncompressed, and one received closes with 1011.
  static constexpr std::size_t default_max_zlib_memory = std::size_t{256} << 20;
  Server& max_zlib_memory(std::size_t bytes);

  // Listens on every IPv4 address (and IPv6 when available) or on `host`, which
  // must be numeric or "localhost". Port 0 picks a free port: see port().
  failure listen(std::uint16_t port);
  failure listen(std::string_view host, std::uint16_t port);
  // The same for wss:// (TLS, make TLS=1): plain and TLS listeners of one server
  // share its routes, behaviors and on_http. The server has one set of
  // certificates: the first TLS listen loads them, a later one's options replace
  // them (as reload_tls does). A failure names the file and OpenSSL's reason; a
  // build without TLS fails with "zws was built without TLS: rebuild with make TLS=1".
  failure listen(std::uint16_t port, const tls_server_options& tls);
  failure listen(std::string_view host, std::uint16_t port, const tls_server_options& tls);
  // Thread-safe, at any time: loads the TLS listeners' certificates again (the
  // same files: renewed in place), or those of `tls`. New connections get them;
  // open ones keep theirs. On failure nothing changes.
  failure reload_tls();
  failure reload_tls(const tls_server_options& tls);
  // The port of the first listener (0 before listen).
  std::uint16_t port() const noexcept;
  // The port of the first TLS listener (0 when none).
  std::uint16_t tls_port() const noexcept;
  // Every address listened on: "0.0.0.0:8080", "[::]:8080".
  std::vector<std::string> addresses() const;

  // Runs the server's loop on this thread until stop() completes.
  void run();
  // Runs `threads` loops, this thread being one of them, each with its own
  // SO_REUSEPORT listeners; returns when stop() completes.
  void run(unsigned threads);
  // Thread-safe: stop accepting, send Close 1001 to every connection, and let
  // run() return once they are gone or the longest close_timeout has passed.
  // Not async-signal-safe: for signals use stop_on_signals.
  void stop();
  // Calls stop() when one of `signals` (SIGINT, SIGTERM ...) arrives. Blocks
  // them in the calling thread, so call it before run() and before starting
  // other threads (they inherit the mask); the loop reads them from a signalfd.
  failure stop_on_signals(std::initializer_list<int> signals);

  // Thread-safe: takes over `fd`, a connected socket accepted by the
  // application's own HTTP server, plus the bytes it already read of the
  // request, and continues the WebSocket upgrade as if zws had accepted it.
  // The server owns the fd from here on (even on failure).
  failure adopt(int fd, std::string_view already_read = {});

  // Thread-safe: sends one message to every open connection of the route
  // `path` (its pattern, "/room/*") or whose request path is `path`.
  void broadcast(std::string_view path, std::string_view data, zws::opcode op = zws::opcode::text);

  // Thread-safe: sends one message to every connection subscribed to `topic`
  // (WebSocket::subscribe) on every loop of the server. The frame is encoded once
  // and appended to each subscriber's queue, where each subscriber's route
  // applies its own backpressure policy (close, drop_new, keep_latest), so a
  // stalled reader delays nobody else. Messages published by one thread (or one
  // loop) reach each subscriber in the order published. From a loop thread of
  // this server, that loop's subscribers get the message during the call; the
  // other loops get it through post. A publish nobody is subscribed to costs
  // one encoding and one post per loop.
  void publish(std::string_view topic, std::string_view data, zws::opcode op = zws::opcode::text);
  // Thread-safe: subscriptions to `topic` over all loops (exact when nobody is
  // subscribing or unsubscribing it, approximate while they do).
  std::size_t subscribers(std::string_view topic) const;

  // Joins this server's topics to those of every server bridged to the same
  // Redis and prefix (zws/redis.hpp: channels, envelope, at-most-once). Set-up
  // call: before run(), at most once. Fails when the host does not resolve, when
  // called twice, or when zws was built without REDIS=1; Redis being down is no
  // failure: the bridge connects when it can, and reconnects.
  failure bridge_redis(const RedisOptions& options);
  failure bridge_redis(std::string_view host, std::uint16_t port);

  // Open WebSocket connections (all loops; approximate while running).
  std::size_t connections() const noexcept;
  // The first loop (for timers and post); valid for the server's lifetime.
  Loop& loop() noexcept;

 private:
  std::unique_ptr<detail::server_state> state_;
};

}  // namespace zws
