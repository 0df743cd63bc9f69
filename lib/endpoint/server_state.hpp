// lib/endpoint/server_state.hpp — what a Server keeps: routes, and per loop its listeners
// and endpoints.
//
// Internal. Routes are shared read-only by every loop once running; each loop
// has an endpoint per route (so a connection reaches its behaviour, limits and
// loop through one pointer) and its own SO_REUSEPORT listeners.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "endpoint/connection.hpp"
#include "endpoint/topics.hpp"
#include "io/net.hpp"
#include "zws/server.hpp"

namespace zws::detail {

struct server_state;
struct server_loop;

struct route_entry {
  std::string path;
  Behavior behavior;
  std::atomic<std::uint32_t> open{0};
};

struct listener final : io_handle {
  server_loop* owner = nullptr;
  tls::server_context* tls = nullptr;  // a TLS listener's certificates (the server's)
  bool paused = false;  // accept hit EMFILE: retry on a timer or when a connection goes
  void on_io(unsigned events) override;
  void on_timeout() override;
};

struct signal_watch final : io_handle {
  Server* server = nullptr;
  void on_io(unsigned events) override;
};

struct server_loop {
  server_state* s = nullptr;
  Loop* loop = nullptr;
  std::unique_ptr<Loop> owned;
  bool stop_loop_when_done = false;
  std::vector<listener*> listeners;
  signal_watch* signals = nullptr;
  endpoint pending;  // handshake phase: server-wide limits, no route yet
  std::vector<std::unique_ptr<endpoint>> routes;
  std::size_t live = 0;  // connections of this server on this loop, any phase
  std::size_t backlog = 0;  // bytes held by the out_ queues of this loop's connections
  // zlib memory of this loop's connections, against its share of max_zlib_memory
  // (made with the first endpoint, once the number of loops is known).
  std::shared_ptr<zlib_budget> zlib;
  bool stopping = false;
  timer_id stop_timer = 0;
  // Who is subscribed to what on this loop (subscriber = the connection's slot).
  std::unique_ptr<topic_registry> topics;

  reactor& r() noexcept { return loop->reactor(); }
  endpoint* endpoint_for(std::size_t route_index);
  int add_listener(const net::address& a, const char** what, tls::server_context* tls = nullptr);
  void accept_all(listener* l);
  void start_connection(int fd, std::string_view already_read, tls::server_context* tls = nullptr);
  void begin_stop();
  void finish_stop();
  void maybe_finish_stop();
  // Cuts every connection; `notify`: call on_close (not from ~Server).
  void close_all(bool notify);
  // The backlog passed this loop's share of max_backpressure_total: the policy
  // of each route applies to the largest queues first, until it is 7/8 of it.
  void shed_backlog(connection* trigger);
};

// Whether a route pattern ends in '*' and so matches every path with its prefix.
bool is_wildcard(std::string_view pattern) noexcept;

// Where local publishes go besides the local subscribers (the Redis bridge).
// relay() is called from any thread, with the publish's arguments.
struct topic_relay {
  virtual ~topic_relay() = default;
  virtual void relay(std::string_view topic, std::string_view data, opcode op) = 0;
};

struct server_state {
  // Before `loops`: their registries give their topics back to it when they go.
  topic_census census;
  // Set before run (Server::bridge_redis); outlives every loop's use of it.
  std::unique_ptr<topic_relay> relay;
  std::vector<std::unique_ptr<route_entry>> routes;
  std::function<void(const Request&, Response&)> http;
  std::size_t max_connections = 0;
  std::size_t max_backlog = Server::default_max_backpressure_total;
  std::size_t max_zlib = Server::default_max_zlib_memory;
  std::atomic<std::size_t> open{0};
  Behavior defaults;  // handshake limits over all routes
  std::vector<net::address> bound;
  std::vector<bool> bound_tls;  // per entry of bound: a TLS listener
  // The certificates of every TLS listener; made by the first listen with TLS
  // options, reloaded by reload_tls (and by a later listen's options).
  std::unique_ptr<tls::server_context> tls;
  std::mutex mutex;  // guards loops and stop_requested against stop() from other threads
  std::vector<std::unique_ptr<server_loop>> loops;
  bool stop_requested = false;
  // Cleared first thing in ~Server. Work posted to a loop (stop, adopt,
  // broadcast) checks it, since a caller's Loop outlives the Server.
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  void refresh_defaults();
  const route_entry* find_route(std::string_view path, std::size_t& index) const;
};

// Delivers `data` to the subscribers of `topic` on every loop of `s` (not to
// the relay): encoded once, directly on the calling loop, by post on the others.
// `except` is a subscriber of loop `origin` left out (topic_registry::none: nobody).
void publish_local(server_state& s, std::string_view topic, std::string_view data, opcode op,
                   const server_loop* origin = nullptr, subscriber_id except = topic_registry::none);
// A connection leaves every topic (before its slot is released or reused).
void forget_subscriber(server_loop& sl, std::uint32_t slot);

}  // namespace zws::detail
