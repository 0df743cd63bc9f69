// Without REDIS=1 the reply reader is a stand-in that says how to get the real one.
#include <gtest/gtest.h>

#include <string>

#include "protocol/resp.hpp"

TEST(RespStub, ReaderReportsTheMissingPart) {
  EXPECT_FALSE(zws::resp::resp_reader::available());
  zws::resp::resp_reader reader;
  const auto r = reader.next(std::string_view("+PONG\r\n"));
  EXPECT_EQ(r.st, zws::resp::status::missing);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(reader.error(), "zws was built without the Redis bridge: rebuild with make REDIS=1");
}
