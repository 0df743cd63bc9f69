// zws/redis.hpp — joining the topics of several servers through Redis pub/sub.
//
//   zws::Server server;
//   server.route("/chat", ...);                       // ws.subscribe(room), ws.publish(room, ...)
//   if (auto err = server.bridge_redis({.host = "127.0.0.1", .port = 6379})) { ... err.message() ... }
//   server.listen(8080);
//   server.run(4);
//
// What it does. Every server bridged to the same Redis (and prefix) shares its
// topics: a publish on any of them (Server::publish or WebSocket::publish)
// reaches the subscribers of all of them. The bridge runs on the server's first
// loop, non-blocking and edge-triggered like a connection, over two Redis
// connections (RESP2 forbids PUBLISH on a connection in subscribed mode): one
// that SUBSCRIBEs, one that PUBLISHes. It speaks RESP with zws's own encoder
// and hiredis's reply parser (redisReader, no hiredis I/O), reading until
// EAGAIN so a burst of messages never waits for the next edge.
//
// Channels. Topic T is Redis channel prefix + T, one channel per topic (not a
// pattern): an instance SUBSCRIBEs a channel while at least one of its
// connections, on any loop, is subscribed to the topic, and UNSUBSCRIBEs when
// the last one leaves, so Redis sends each instance only the topics it serves.
//
// Exactly once per instance. A bridged publish is delivered to the local
// subscribers at once (as without a bridge) and PUBLISHed to Redis, which sends
// it back to this instance too. Each payload on the channel is an envelope:
//   "zws\x01" · 8 bytes: the publishing instance's id (random per bridge) ·
//   1 byte: 't' text or 'b' binary · the message
// and an instance drops what carries its own id. A message another program
// PUBLISHes without the envelope is delivered as it is: as text when it is
// valid UTF-8, else as binary (so `redis-cli PUBLISH zws:room hi` reaches a room).
//
// Guarantee: at most once. Redis pub/sub stores nothing. While the link to Redis
// is down (Redis not started yet, restarted, the connection cut, even mid-reply),
// local publish and delivery work as ever, but what is published meanwhile on
// one instance does not reach the others, and is not replayed later; a message
// cut off mid-reply is lost. The bridge reconnects by itself (after 100 ms, then
// doubling up to 5 s; reset once connected) and resubscribes every topic that
// has local subscribers. Messages from one publisher arrive in order at every
// instance; messages of different instances may interleave differently on each.
// Publishes made while the publishing connection is being (re)established wait
// in a queue of at most max_pending bytes, then are dropped.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace zws {

struct RedisOptions {
  std::string host = "127.0.0.1";  // numeric, or "localhost" (resolved once, at bridge_redis)
  std::uint16_t port = 6379;
  std::string prefix = "zws:";     // channel = prefix + topic; different prefixes do not meet
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5'000};
  std::size_t max_pending = std::size_t{16} << 20;  // bytes of PUBLISH queued for Redis, then dropped
};

// Whether this build has the Redis bridge (make REDIS=1). Without it
// Server::bridge_redis fails with "zws was built without the Redis bridge:
// rebuild with make REDIS=1".
bool redis_available() noexcept;

}  // namespace zws
