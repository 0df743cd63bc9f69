// lib/endpoint/redis_bridge.no-redis.cpp — the Redis bridge in a build without it:
// bridge_redis fails with a message that says how to get it.
#include "zws/redis.hpp"
#include "zws/server.hpp"

namespace zws {

bool redis_available() noexcept { return false; }

failure Server::bridge_redis(const RedisOptions&) {
  return failure(-1, "zws was built without the Redis bridge: rebuild with make REDIS=1");
}

}  // namespace zws
