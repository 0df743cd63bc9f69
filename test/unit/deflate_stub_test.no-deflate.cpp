// Tests of lib/protocol/deflate_stream.no-deflate.cpp: a build without zlib fails every
// stream call with a message that names the switch, and never claims the extension.
#include <gtest/gtest.h>

#include "protocol/deflate_stream.hpp"
#include "zws/deflate.hpp"

namespace {

using zws::error;

TEST(DeflateStub, ReportsTheBuildSwitch) {
  EXPECT_FALSE(zws::deflate_available());
  EXPECT_EQ(zws::describe(error::deflate_unavailable), "zws was built without permessage-deflate (make DEFLATE=1)");
  EXPECT_EQ(zws::close_code_of(error::deflate_unavailable), 1011);
}

TEST(DeflateStub, EveryStreamCallFails) {
  zws::buffer out;
  const std::uint8_t data[] = {1, 2, 3};
  zws::detail::inflater inf;
  EXPECT_EQ(inf.failed(), error::deflate_unavailable);
  inf.begin(100, true);
  EXPECT_EQ(inf.write(data, out), error::deflate_unavailable);
  EXPECT_EQ(inf.finish(out), error::deflate_unavailable);
  EXPECT_EQ(inf.memory_held(), 0u);
  zws::detail::deflater def;
  EXPECT_EQ(def.compress(data, out), error::deflate_unavailable);
  EXPECT_EQ(def.memory_held(), 0u);
  zws::detail::shared_deflaters shared(6, 8);
  EXPECT_EQ(shared.for_window(15).compress(data, out), error::deflate_unavailable);
  EXPECT_TRUE(out.empty());
  zws::detail::zlib_budget budget(1 << 20);
  EXPECT_FALSE(budget.take(1));
}

}  // namespace
