#include "zws/error.hpp"

#include <gtest/gtest.h>

namespace {

using zws::error;

TEST(Error, EveryValueHasAReadableReasonThatFitsACloseFrame) {
  for (int i = 1; i <= static_cast<int>(error::bad_extension); ++i) {
    auto e = static_cast<error>(i);
    auto r = zws::describe(e);
    EXPECT_FALSE(r.empty()) << i;
    EXPECT_NE(r, "unknown error") << i;
    EXPECT_LE(r.size(), 123u) << i;
  }
}

TEST(Error, FrameViolationsMapToTheRfcCloseCodes) {
  EXPECT_EQ(zws::close_code_of(error::reserved_bits), 1002);
  EXPECT_EQ(zws::close_code_of(error::unmasked_client_frame), 1002);
  EXPECT_EQ(zws::close_code_of(error::invalid_close_code), 1002);
  EXPECT_EQ(zws::close_code_of(error::invalid_utf8), 1007);
  EXPECT_EQ(zws::close_code_of(error::message_too_big), 1009);
  EXPECT_EQ(zws::close_code_of(error::too_many_fragments), 1009);
  EXPECT_EQ(zws::close_code_of(error::backpressure_exceeded), 1008);
  EXPECT_EQ(zws::close_code_of(error::bad_key), 0);
}

TEST(Error, HandshakeFailuresMapToHttpStatuses) {
  EXPECT_EQ(zws::http_status_of(error::malformed_head), 400);
  EXPECT_EQ(zws::http_status_of(error::bad_version), 426);
  EXPECT_EQ(zws::http_status_of(error::unknown_path), 404);
  EXPECT_EQ(zws::http_status_of(error::forbidden), 403);
  EXPECT_EQ(zws::http_status_of(error::head_too_large), 431);
  EXPECT_EQ(zws::http_status_of(error::invalid_utf8), 0);
  EXPECT_EQ(zws::http_reason_phrase(426), "Upgrade Required");
}

}  // namespace
