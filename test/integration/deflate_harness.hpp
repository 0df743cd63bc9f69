// test/integration/deflate_harness.hpp — what the permessage-deflate integration
// tests share (builds with DEFLATE=1 only).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "protocol/deflate_stream.hpp"
#include "zws/buffer.hpp"

namespace zws_test {

// `text` as one compressed message body (tail stripped, as it goes in a frame),
// from a fresh deflater with zws's defaults.
inline std::string deflated(std::string_view text) {
  zws::detail::deflater d;
  zws::buffer out;
  EXPECT_EQ(d.compress({reinterpret_cast<const std::uint8_t*>(text.data()), text.size()}, out), zws::error::none);
  return {reinterpret_cast<const char*>(out.data()), out.size()};
}

}  // namespace zws_test
