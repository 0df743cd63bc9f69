// A build without the Redis bridge: bridging fails its call with the stand-in's
// message, never at link time; topics work on their own.
#include <gtest/gtest.h>

#include "harness.hpp"

namespace {

TEST(RedisStub, ABuildWithoutItSaysHowToGetIt) {
  EXPECT_FALSE(zws::redis_available());
  zws::Server server;
  const zws::failure err = server.bridge_redis("127.0.0.1", 6379);
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "zws was built without the Redis bridge: rebuild with make REDIS=1");
}

}  // namespace
