#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "guarded.hpp"
#include "protocol/resp.hpp"

namespace {

using namespace std::string_view_literals;
using zws::resp::event;
using zws::resp::event_kind;
using zws::resp::resp_reader;
using zws::resp::status;
using zws::test::guarded;

std::string describe(const event& e) {
  static constexpr const char* names[] = {"message", "pmessage", "subscribed", "unsubscribed", "psubscribed",
                                          "punsubscribed", "pong", "integer", "status", "error", "other"};
  std::string s = names[static_cast<int>(e.kind)];
  s += '|';
  s += e.pattern;
  s += '|';
  s += e.channel;
  s += '|';
  s += e.payload;
  s += '|';
  s += std::to_string(e.count);
  return s;
}

struct outcome {
  std::vector<std::string> events;
  status end = status::need_more;  // need_more when every byte was taken cleanly
  bool operator==(const outcome&) const = default;
};

// Feeds `pieces` one after the other, each from guarded memory, draining events
// after each as the bridge does after each read.
outcome run(resp_reader& r, const std::vector<std::string_view>& pieces) {
  outcome o;
  for (const std::string_view piece : pieces) {
    guarded g(piece);
    std::span<const std::uint8_t> bytes = g.bytes();
    for (;;) {
      const auto res = r.next(bytes);
      EXPECT_LE(res.consumed, bytes.size());
      bytes = bytes.subspan(res.consumed);
      if (res.st == status::need_more) {
        EXPECT_TRUE(bytes.empty());
        break;
      }
      if (res.st != status::event) {
        o.end = res.st;
        return o;
      }
      o.events.push_back(describe(res.ev));
    }
  }
  return o;
}

outcome whole(std::string_view in, std::size_t max = resp_reader::default_max_reply) {
  resp_reader r(max);
  return run(r, {in});
}

outcome bytewise(std::string_view in, std::size_t max = resp_reader::default_max_reply) {
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < in.size(); ++i) pieces.push_back(in.substr(i, 1));
  resp_reader r(max);
  return run(r, pieces);
}

// Whole, byte by byte, and split in two at every offset: the same outcome.
void expect_everywhere(std::string_view in, const outcome& want) {
  EXPECT_EQ(whole(in), want) << "whole";
  EXPECT_EQ(bytewise(in), want) << "byte by byte";
  for (std::size_t cut = 0; cut <= in.size(); ++cut) {
    resp_reader r;
    EXPECT_EQ(run(r, {in.substr(0, cut), in.substr(cut)}), want) << "split at " << cut;
  }
}

std::string message(std::string_view channel, std::string_view payload) {
  return "*3\r\n$7\r\nmessage\r\n$" + std::to_string(channel.size()) + "\r\n" + std::string(channel) + "\r\n$" +
         std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\n";
}

TEST(RespReader, PubSubReplies) {
  const std::string in = "*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n"
                         "*3\r\n$9\r\nsubscribe\r\n$5\r\nother\r\n:2\r\n" +
                         message("room", "hello") +
                         "*4\r\n$8\r\npmessage\r\n$5\r\nzws:*\r\n$8\r\nzws:room\r\n$2\r\nhi\r\n"
                         "*3\r\n$11\r\nunsubscribe\r\n$4\r\nroom\r\n:1\r\n"
                         "*3\r\n$10\r\npsubscribe\r\n$5\r\nzws:*\r\n:2\r\n"
                         "*3\r\n$12\r\npunsubscribe\r\n$5\r\nzws:*\r\n:1\r\n"
                         "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n"
                         "*2\r\n$4\r\npong\r\n$2\r\n42\r\n"
                         "*2\r\n$4\r\npong\r\n$0\r\n\r\n";
  expect_everywhere(in, {{"subscribed||room||1", "subscribed||other||2", "message||room|hello|0",
                          "pmessage|zws:*|zws:room|hi|0", "unsubscribed||room||1", "psubscribed||zws:*||2",
                          "punsubscribed||zws:*||1", "unsubscribed||||0", "pong|||42|0", "pong||||0"},
                         status::need_more});
}

TEST(RespReader, PlainReplies) {
  const std::string in = "+PONG\r\n+OK\r\n:42\r\n:-7\r\n-ERR unknown command 'X'\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n"
                         "*2\r\n:1\r\n:2\r\n*2\r\n$7\r\nmessage\r\n$1\r\na\r\n"  // a message without a payload
                         "*3\r\n$7\r\nmessage\r\n:1\r\n$1\r\nb\r\n";           // channel not a string
  expect_everywhere(in, {{"pong||||0", "status|||OK|0", "integer||||42", "integer||||-7",
                          "error|||ERR unknown command 'X'|0", "other||||0", "other||||0", "other||||0", "other||||0",
                          "other||||0", "other||||0", "other||||0"},
                         status::need_more});
  // An incomplete reply waits for more, whatever it is.
  EXPECT_EQ(whole("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n"), outcome{});
}

TEST(RespReader, BinaryPayloads) {
  const std::string payload("line\r\nwith\0nul\r\n$3\r\n", 20);
  const std::string in = message("ch\r\nx", payload) + message("", "");
  expect_everywhere(in, {{"message||ch\r\nx|" + payload + "|0", "message||||0"}, status::need_more});
}

TEST(RespReader, BurstOfAThousandMessagesInOneFeed) {
  std::string in;
  for (int i = 0; i < 1000; ++i) in += message("room", "payload number " + std::to_string(i));
  resp_reader r;
  std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(in.data()), in.size());
  int seen = 0;
  for (;;) {
    const auto res = r.next(bytes);
    bytes = bytes.subspan(res.consumed);
    if (res.st == status::need_more) break;
    ASSERT_EQ(res.st, status::event);
    ASSERT_EQ(res.ev.kind, event_kind::message);
    ASSERT_EQ(res.ev.payload, "payload number " + std::to_string(seen));
    ++seen;
  }
  EXPECT_EQ(seen, 1000);  // every reply of the read, before need_more
  EXPECT_TRUE(bytes.empty());
  // And the same burst with a large message in the middle and the tail of the
  // next one at the end: everything complete is yielded, the rest waits.
  const std::string big(200000, 'B');
  const std::string burst = message("a", "1") + message("a", big) + message("a", "3") + message("a", "4").substr(0, 20);
  resp_reader r2;
  const outcome o = run(r2, {burst});
  ASSERT_EQ(o.events.size(), 3u);
  EXPECT_EQ(o.events[1], "message||a|" + big + "|0");
  EXPECT_EQ(o.end, status::need_more);
}

TEST(RespReader, LargeMessageAcrossManyReads) {
  const std::string big(3 << 20, 'x');
  const std::string in = message("room", big);
  std::vector<std::string_view> pieces;
  for (std::size_t i = 0; i < in.size(); i += 65536) pieces.push_back(std::string_view(in).substr(i, 65536));
  resp_reader r;
  const outcome o = run(r, pieces);
  ASSERT_EQ(o.events.size(), 1u);
  EXPECT_EQ(o.events[0].size(), big.size() + 16);
}

TEST(RespReader, OversizeReplyIsRefused) {
  constexpr std::size_t max = 4096;
  // A message that fits, then one that does not: the first is still yielded.
  const std::string fits = message("c", std::string(2000, 'a'));
  const std::string huge = message("c", std::string(5000, 'b'));
  for (const auto& o : {whole(fits + huge, max), bytewise(fits + huge, max)}) {
    ASSERT_EQ(o.events.size(), 1u);
    EXPECT_EQ(o.end, status::too_large);
  }
  // A bulk length far past the limit is refused once the limit's worth of it is
  // buffered, long before the announced size.
  std::string liar = "$999999999999\r\n" + std::string(max + 10, 'z');
  EXPECT_EQ(bytewise(liar, max).end, status::too_large);
  EXPECT_EQ(whole(liar, max).end, status::too_large);
  // An array count whose slots alone are past the limit is refused at its header.
  EXPECT_EQ(whole("*2147483647\r\n", max).end, status::too_large);
  EXPECT_EQ(whole("*600\r\n", max).end, status::too_large);  // 600 slots of 8 bytes
  // A status line that never ends.
  EXPECT_EQ(whole("+" + std::string(max + 1, 'k'), max).end, status::too_large);
  // The refusal is sticky and explained.
  resp_reader r(max);
  EXPECT_EQ(r.next(huge).st, status::too_large);
  EXPECT_EQ(r.next(std::string_view("+OK\r\n")).st, status::too_large);
  EXPECT_NE(r.error().find("larger than 4096"), std::string_view::npos) << r.error();
}

TEST(RespReader, MalformedInputIsBad) {
  for (const std::string_view in : {"?\r\n"sv, "hello\r\n"sv, "$abc\r\n"sv, "$-2\r\n"sv, ":12a\r\n"sv, "*x\r\n"sv,
                                    "*-5\r\n"sv, "*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"sv}) {
    const outcome w = whole(in), b = bytewise(in);
    EXPECT_EQ(w.end, status::bad) << in;
    EXPECT_EQ(b.end, status::bad) << in;
    EXPECT_TRUE(w.events.empty()) << in;
    resp_reader r;
    r.next(in);
    EXPECT_FALSE(r.error().empty());
    EXPECT_EQ(r.next(std::string_view("+OK\r\n")).st, status::bad);  // sticky
  }
  // Good replies before the bad byte are still yielded.
  expect_everywhere("+OK\r\n:1\r\n!", {{"status|||OK|0", "integer||||1"}, status::bad});
}

TEST(RespReader, NestingWithinHiredisLimitIsOther) {
  expect_everywhere("*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", {{"other||||0"}, status::need_more});
}

TEST(RespReader, EventsViewTheReaderUntilTheNextCall) {
  resp_reader r;
  const std::string in = message("a", "first") + message("b", "second");
  auto res = r.next(in);
  ASSERT_EQ(res.st, status::event);
  const std::string_view first = res.ev.payload;
  EXPECT_EQ(first, "first");
  res = r.next(std::string_view(in).substr(res.consumed));
  ASSERT_EQ(res.st, status::event);
  EXPECT_EQ(res.ev.payload, "second");
  EXPECT_EQ(r.next(std::string_view{}).st, status::need_more);
  EXPECT_TRUE(resp_reader::available());
}

}  // namespace
