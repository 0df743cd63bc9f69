#include "protocol/resp.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;

std::string str(const zws::buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

TEST(RespEncode, CommandIsAnArrayOfBulkStrings) {
  zws::buffer out;
  zws::resp::append_command(out, {"SET", "key", "value"});
  EXPECT_EQ(str(out), "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n");
}

TEST(RespEncode, ArgumentsAreBinarySafe) {
  zws::buffer out;
  const std::string payload("a\r\n\0b", 5);
  zws::resp::append_publish(out, "room\r\n1", payload);
  EXPECT_EQ(str(out), "*3\r\n$7\r\nPUBLISH\r\n$7\r\nroom\r\n1\r\n$5\r\na\r\n\0b\r\n"sv);
}

TEST(RespEncode, EmptyArgumentsAndNone) {
  zws::buffer out;
  zws::resp::append_publish(out, "", "");
  EXPECT_EQ(str(out), "*3\r\n$7\r\nPUBLISH\r\n$0\r\n\r\n$0\r\n\r\n");
  out.clear();
  zws::resp::append_command(out, std::span<const std::string_view>{});
  EXPECT_EQ(str(out), "*0\r\n");
}

TEST(RespEncode, SubscribeFamily) {
  zws::buffer out;
  const std::array<std::string_view, 2> two{"a", "bc"};
  zws::resp::append_subscribe(out, two);
  EXPECT_EQ(str(out), "*3\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$2\r\nbc\r\n");
  out.clear();
  zws::resp::append_unsubscribe(out, two);
  EXPECT_EQ(str(out), "*3\r\n$11\r\nUNSUBSCRIBE\r\n$1\r\na\r\n$2\r\nbc\r\n");
  out.clear();
  zws::resp::append_unsubscribe(out, {});
  EXPECT_EQ(str(out), "*1\r\n$11\r\nUNSUBSCRIBE\r\n");
  out.clear();
  const std::array<std::string_view, 1> pattern{"zws:*"};
  zws::resp::append_psubscribe(out, pattern);
  EXPECT_EQ(str(out), "*2\r\n$10\r\nPSUBSCRIBE\r\n$5\r\nzws:*\r\n");
  out.clear();
  zws::resp::append_punsubscribe(out, pattern);
  EXPECT_EQ(str(out), "*2\r\n$12\r\nPUNSUBSCRIBE\r\n$5\r\nzws:*\r\n");
}

TEST(RespEncode, Ping) {
  zws::buffer out;
  zws::resp::append_ping(out);
  EXPECT_EQ(str(out), "*1\r\n$4\r\nPING\r\n");
  out.clear();
  zws::resp::append_ping(out, "42");
  EXPECT_EQ(str(out), "*2\r\n$4\r\nPING\r\n$2\r\n42\r\n");
}

TEST(RespEncode, LengthsAcrossDigitCounts) {
  for (const std::size_t n : {0u, 9u, 10u, 99u, 100u, 999u, 1000u, 65536u, 1000000u}) {
    const std::string arg(n, 'x');
    const std::array<std::string_view, 1> args{arg};
    zws::buffer out;
    zws::resp::append_command(out, args);
    const std::string want = "*1\r\n$" + std::to_string(n) + "\r\n" + arg + "\r\n";
    EXPECT_EQ(str(out), want) << n;
    EXPECT_EQ(zws::resp::command_size(args), want.size());
    std::vector<std::uint8_t> raw(want.size());
    EXPECT_EQ(zws::resp::encode_command(args, raw), want.size());
    EXPECT_EQ(std::string(raw.begin(), raw.end()), want);
  }
}

TEST(RespEncode, PublishHeadThenPayloadEqualsPublish) {
  for (const std::size_t n : {0u, 5u, 123456u}) {
    const std::string payload(n, 'p');
    zws::buffer whole;
    zws::resp::append_publish(whole, "zws:room", payload);
    std::vector<std::uint8_t> head(zws::resp::publish_head_size("zws:room"));
    const std::size_t h = zws::resp::encode_publish_head("zws:room", payload.size(), head);
    EXPECT_LE(h, head.size());
    const std::string joined = std::string(head.begin(), head.begin() + static_cast<std::ptrdiff_t>(h)) + payload + "\r\n";
    EXPECT_EQ(joined, str(whole)) << n;
  }
}

}  // namespace
