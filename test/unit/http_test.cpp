// Tests of lib/protocol/http.cpp. Every parser case runs whole, byte by byte and split at
// every offset, each time from a buffer that ends right against a PROT_NONE page.
#include "zws/http.hpp"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "guarded.hpp"
#include "sample_requests.hpp"

namespace {

using zws::error;
using zws::http::limits;
using zws::http::parse_status;
using zws::test::guarded;

// An owned copy of what a parser returned, comparable across feeding modes.
struct snapshot {
  parse_status status = parse_status::need_more;
  std::size_t head_size = 0;
  error err = error::none;
  std::string a, b, c, d;  // method, target, path, query | -, -, reason, status
  int minor = -1;
  std::vector<std::pair<std::string, std::string>> fields;
  bool operator==(const snapshot&) const = default;
};

bool inside(std::string_view v, std::string_view buf) {
  return v.empty() || (v.data() >= buf.data() && v.data() + v.size() <= buf.data() + buf.size());
}

template <class Parser>
snapshot take(const Parser& p, zws::http::parse_result r, std::string_view buf) {
  snapshot s;
  s.status = r.status, s.head_size = r.head_size, s.err = r.error;
  if (r.status != parse_status::done) return s;
  const auto& m = p.get();
  const zws::http::headers* h = &m.headers;
  if constexpr (std::is_same_v<Parser, zws::http::request_parser>) {
    s.a = m.method, s.b = m.target, s.c = m.path, s.d = m.query;
    EXPECT_TRUE(inside(m.method, buf) && inside(m.target, buf) && inside(m.query, buf));
  } else {
    s.c = m.reason, s.d = std::to_string(m.status);
    EXPECT_TRUE(inside(m.reason, buf));
  }
  s.minor = m.minor_version;
  for (const auto& f : *h) {
    EXPECT_TRUE(inside(f.name, buf) && inside(f.value, buf));
    s.fields.emplace_back(f.name, f.value);
  }
  return s;
}

// Parses `in` whole, then byte by byte, then split in two at every offset, each
// chunk being a fresh guarded copy (so the buffer also moves between calls).
// Expects the three to agree and returns the whole-input result.
template <class Parser>
snapshot run(std::string_view in, limits lim = {}) {
  Parser whole_parser(lim);
  guarded whole(in);
  const snapshot expected = take(whole_parser, whole_parser.parse(whole.str()), whole.str());

  Parser p(lim);
  snapshot got;
  for (std::size_t n = 1; n <= in.size(); ++n) {
    guarded g(in.substr(0, n));
    const auto r = p.parse(g.str());
    got = take(p, r, g.str());
    if (r.status != parse_status::need_more) break;
  }
  if (!in.empty()) {
    EXPECT_EQ(got, expected) << "byte by byte";
  }

  for (std::size_t k = 0; k <= in.size(); ++k) {
    Parser q(lim);
    snapshot s;
    {
      guarded g(in.substr(0, k));
      const auto r = q.parse(g.str());
      s = take(q, r, g.str());
    }
    if (s.status == parse_status::need_more) {
      guarded g(in);
      s = take(q, q.parse(g.str()), g.str());
    }
    EXPECT_EQ(s, expected) << "split at " << k;
  }
  return expected;
}

snapshot req(std::string_view in, limits lim = {}) { return run<zws::http::request_parser>(in, lim); }
snapshot resp(std::string_view in, limits lim = {}) { return run<zws::http::response_parser>(in, lim); }

error req_error(std::string_view in, limits lim = {}) {
  const snapshot s = req(in, lim);
  return s.status == parse_status::failed ? s.err : error::none;
}

using fields = std::vector<std::pair<std::string, std::string>>;

// ---- request line -----------------------------------------------------------

TEST(HttpParser, ParsesMinimalRequest) {
  const std::string in = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const snapshot s = req(in);
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.head_size, in.size());
  EXPECT_EQ(s.a, "GET");
  EXPECT_EQ(s.b, "/");
  EXPECT_EQ(s.c, "/");
  EXPECT_EQ(s.d, "");
  EXPECT_EQ(s.minor, 1);
  EXPECT_EQ(s.fields, (fields{{"Host", "a"}}));
}

TEST(HttpParser, AcceptsRequestWithoutHeaders) {
  const snapshot s = req("GET / HTTP/1.1\r\n\r\n");
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_TRUE(s.fields.empty());
}

TEST(HttpParser, SplitsTargetIntoPathAndQuery) {
  snapshot s = req("GET /chat/room?id=7&x=%20 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s.b, "/chat/room?id=7&x=%20");
  EXPECT_EQ(s.c, "/chat/room");
  EXPECT_EQ(s.d, "id=7&x=%20");
  s = req("GET /p? HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s.c, "/p");
  EXPECT_EQ(s.d, "");
}

TEST(HttpParser, TakesPathFromAbsoluteFormTarget) {
  snapshot s = req("GET ws://example.com:80/chat?a=1 HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s.c, "/chat");
  EXPECT_EQ(s.d, "a=1");
  s = req("GET http://example.com HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s.c, "/");
  s = req("GET http://example.com?q HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s.c, "/");
  EXPECT_EQ(s.d, "q");
}

TEST(HttpParser, ReportsMinorVersion) {
  EXPECT_EQ(req("GET / HTTP/1.0\r\n\r\n").minor, 0);
  EXPECT_EQ(req("GET / HTTP/1.9\r\n\r\n").minor, 9);
}

TEST(HttpParser, RejectsMajorVersionOtherThanOne) {
  EXPECT_EQ(req_error("GET / HTTP/2.0\r\n\r\n"), error::bad_http_version);
  EXPECT_EQ(req_error("GET / HTTP/0.9\r\n\r\n"), error::bad_http_version);
}

TEST(HttpParser, RejectsMalformedRequestLine) {
  for (std::string_view line : {"GET /  HTTP/1.1", "GET  / HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 ",
                                "GET /", "GET / ", "GET", "/ HTTP/1.1", "GET / http/1.1", "GET / HTTP/1.",
                                "GET / HTTP/11", "GET / HTTP/1.1x", "GET / HTTP/1.10", "G(T / HTTP/1.1",
                                "GET /a\x01 HTTP/1.1", "GET /a\x7f HTTP/1.1", "GET\t/ HTTP/1.1"}) {
    SCOPED_TRACE(line);
    EXPECT_EQ(req_error(std::string(line) + "\r\nHost: a\r\n\r\n"), error::malformed_head);
  }
}

TEST(HttpParser, RejectsEmptyLineBeforeRequestLine) {
  EXPECT_EQ(req_error("\r\nGET / HTTP/1.1\r\n\r\n"), error::malformed_head);
}

// ---- line endings ----------------------------------------------------------

TEST(HttpParser, RejectsBareLfLineEndings) {
  EXPECT_EQ(req_error("GET / HTTP/1.1\nHost: a\r\n\r\n"), error::malformed_head);
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nHost: a\n\r\n"), error::malformed_head);
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nHost: a\r\n\n"), error::malformed_head);
  EXPECT_EQ(req_error("\n"), error::malformed_head);
}

TEST(HttpParser, RejectsBareCrInsideALine) {
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n"), error::malformed_head);
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\r\n\r\n"), error::malformed_head);
}

TEST(HttpParser, NeedsMoreUntilTheEmptyLine) {
  const std::string in = "GET / HTTP/1.1\r\nHost: a\r\n\r";
  EXPECT_EQ(req(in).status, parse_status::need_more);
  EXPECT_EQ(req("").status, parse_status::need_more);
}

TEST(HttpParser, ReportsHeadSizeAndLeavesFollowingBytes) {
  const std::string head = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  const snapshot s = req(head + "\x81\x85" "abcdefg\r\n\r\n");
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.head_size, head.size());
}

// ---- header fields ---------------------------------------------------------

TEST(HttpParser, TrimsOptionalWhitespaceFromValues) {
  const snapshot s = req("GET / HTTP/1.1\r\nA:b\r\nB: \t c d \t \r\nC:\r\nD: \t\r\n\r\n");
  EXPECT_EQ(s.fields, (fields{{"A", "b"}, {"B", "c d"}, {"C", ""}, {"D", ""}}));
}

TEST(HttpParser, KeepsDuplicateFieldsInOrder) {
  const snapshot s = req("GET / HTTP/1.1\r\nX: 1\r\nY: 2\r\nx: 3\r\n\r\n");
  EXPECT_EQ(s.fields, (fields{{"X", "1"}, {"Y", "2"}, {"x", "3"}}));
}

TEST(HttpParser, RejectsSpaceBeforeColon) {
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), error::malformed_head);
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"), error::malformed_head);
}

TEST(HttpParser, RejectsObsoleteLineFolding) {
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n"), error::malformed_head);
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n"), error::malformed_head);
}

TEST(HttpParser, RejectsEmptyFieldName) {
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\n: a\r\n\r\n"), error::malformed_head);
}

TEST(HttpParser, RejectsLineWithoutColon) {
  EXPECT_EQ(req_error("GET / HTTP/1.1\r\nHost a\r\n\r\n"), error::malformed_head);
}

TEST(HttpParser, RejectsNonTokenCharactersInName) {
  for (char c : {'\0', '\x01', '\x7f', '(', '"', '/', '@', '\x80'}) {
    SCOPED_TRACE(int(c));
    EXPECT_EQ(req_error(std::string("GET / HTTP/1.1\r\nX") + c + "Y: a\r\n\r\n"), error::malformed_head);
  }
}

TEST(HttpParser, RejectsNulAndControlCharactersInValue) {
  for (char c : {'\0', '\x01', '\x08', '\x0b', '\x1f', '\x7f'}) {
    SCOPED_TRACE(int(c));
    EXPECT_EQ(req_error(std::string("GET / HTTP/1.1\r\nX: a") + c + "b\r\n\r\n"), error::malformed_head);
  }
}

// Values are checked eight bytes at a time; put the bad byte in every lane.
TEST(HttpParser, RejectsControlCharactersAtEveryPositionOfALongValue) {
  for (std::size_t pos = 0; pos < 20; ++pos) {
    for (char c : {'\0', '\x01', '\x08', '\x0a', '\x0d', '\x1f', '\x7f'}) {
      std::string value(20, 'v');
      value[pos] = c;
      SCOPED_TRACE(::testing::Message() << "position " << pos << " byte " << int(c));
      EXPECT_EQ(req_error("GET / HTTP/1.1\r\nX: a" + value + "b\r\n\r\n"), error::malformed_head);
      EXPECT_EQ(resp("HTTP/1.1 101 a" + value + "b\r\n\r\n").err, error::malformed_head);
    }
  }
}

TEST(HttpParser, AcceptsTabsAndHighBytesAtEveryPositionOfALongValue) {
  for (std::size_t pos = 0; pos < 20; ++pos) {
    for (char c : {'\t', ' ', '\x80', '\xa0', '\xff', '~'}) {
      std::string value(20, 'v');
      value[pos] = c;
      SCOPED_TRACE(::testing::Message() << "position " << pos << " byte " << int(c));
      const snapshot s = req("GET / HTTP/1.1\r\nX: a" + value + "b\r\n\r\n");
      ASSERT_EQ(s.status, parse_status::done);
      EXPECT_EQ(s.fields[0].second, "a" + value + "b");
      EXPECT_EQ(resp("HTTP/1.1 101 a" + value + "b\r\n\r\n").c, "a" + value + "b");
    }
  }
}

TEST(HttpParser, AcceptsTabAndObsTextInValue) {
  const snapshot s = req("GET / HTTP/1.1\r\nX: a\tb \xc3\xa9\xff\r\n\r\n");
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.fields, (fields{{"X", "a\tb \xc3\xa9\xff"}}));
}

TEST(HttpParser, AcceptsEveryTokenCharacterInName) {
  const snapshot s = req("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n");
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.fields[0].first, "!#$%&'*+-.^_`|~09azAZ");
}

// ---- limits ------------------------------------------------------------------

std::string head_of_size(std::size_t n) {
  std::string h = "GET / HTTP/1.1\r\nX: ";
  h.append(n - h.size() - 4, 'a');
  return h + "\r\n\r\n";
}

TEST(HttpParser, AcceptsHeadOfExactlyMaxHeadSize) {
  const std::string in = head_of_size(300);
  ASSERT_EQ(in.size(), 300u);
  EXPECT_EQ(req(in, {.max_head_size = 300}).status, parse_status::done);
  EXPECT_EQ(req_error(in, {.max_head_size = 299}), error::head_too_large);
}

TEST(HttpParser, HeadTooLargeFiresAsSoonAsTheLimitIsPassed) {
  std::string in(8193, 'a');
  in.replace(0, 16, "GET / HTTP/1.1\r\n");
  zws::http::request_parser p;
  guarded at_limit(std::string_view(in).substr(0, 8192));
  EXPECT_EQ(p.parse(at_limit.str()).status, parse_status::need_more);
  guarded over(in);
  const auto r = p.parse(over.str());
  EXPECT_EQ(r.status, parse_status::failed);
  EXPECT_EQ(r.error, error::head_too_large);
  // A head whose end arrives in the same read but past the limit is too large too.
  EXPECT_EQ(req_error(head_of_size(8193)), error::head_too_large);
}

TEST(HttpParser, BytesAfterTheHeadDoNotCountTowardsTheLimit) {
  const std::string head = head_of_size(100);
  const snapshot s = req(head + std::string(200, 'x'), {.max_head_size = 100});
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.head_size, 100u);
}

TEST(HttpParser, HeadTooLargeFiresEvenWithinAnEndlessLine) {
  zws::http::request_parser p({.max_head_size = 64});
  guarded g(std::string(65, 'G'));
  EXPECT_EQ(p.parse(g.str()).error, error::head_too_large);
}

std::string with_fields(std::size_t n) {
  std::string h = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i < n; ++i) h += "F" + std::to_string(i) + ": v\r\n";
  return h + "\r\n";
}

TEST(HttpParser, AcceptsUpToMaxHeaders) {
  const snapshot s = req(with_fields(64));
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.fields.size(), 64u);
  EXPECT_EQ(s.fields[63].first, "F63");
}

TEST(HttpParser, RejectsTooManyHeaders) {
  EXPECT_EQ(req_error(with_fields(65)), error::too_many_headers);
  EXPECT_EQ(req_error(with_fields(4), {.max_headers = 3}), error::too_many_headers);
  EXPECT_EQ(req(with_fields(3), {.max_headers = 3}).status, parse_status::done);
  // Limits above the fixed capacity are clamped to it.
  EXPECT_EQ(req_error(with_fields(65), {.max_headers = 1000}), error::too_many_headers);
}

// Linear time: an 8 KiB header line fed one byte at a time into a growing buffer.
// Rescanning from the start on each call would examine about 33 million bytes.
TEST(HttpParser, LongLineFedByteByByteIsScannedInLinearTime) {
  std::string in = "GET / HTTP/1.1\r\nX: " + std::string(8100, 'v') + "\r\n\r\n";
  ASSERT_LE(in.size(), 8192u);
  zws::http::request_parser p;
  zws::http::parse_result r;
  for (std::size_t n = 1; n <= in.size(); ++n) {
    r = p.parse(std::string_view(in).substr(0, n));
    if (r.status != parse_status::need_more) break;
  }
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_LE(p.scanned_bytes(), 2 * in.size());
}

TEST(HttpParser, ManyShortLinesFedByteByByteAreScannedInLinearTime) {
  const std::string in = with_fields(64);
  zws::http::request_parser p;
  zws::http::parse_result r;
  for (std::size_t n = 1; n <= in.size(); ++n) {
    r = p.parse(std::string_view(in).substr(0, n));
    if (r.status != parse_status::need_more) break;
  }
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_LE(p.scanned_bytes(), 2 * in.size());
}

TEST(HttpParser, GarbageWithoutLineEndFedByteByByteStopsAtTheLimit) {
  const std::string in(20000, 'x');
  zws::http::request_parser p;
  zws::http::parse_result r;
  std::size_t n = 1;
  for (; n <= in.size(); ++n) {
    r = p.parse(std::string_view(in).substr(0, n));
    if (r.status != parse_status::need_more) break;
  }
  EXPECT_EQ(r.error, error::head_too_large);
  EXPECT_EQ(n, 8193u);
  EXPECT_LE(p.scanned_bytes(), 8192u);
}

// ---- parser object ---------------------------------------------------------

TEST(HttpParser, ResultIsStickyAndResetAllowsReuse) {
  zws::http::request_parser p;
  EXPECT_EQ(p.parse(std::string_view("GET / HTTP/1.1\n")).error, error::malformed_head);
  EXPECT_EQ(p.parse(std::string_view("GET / HTTP/1.1\r\n\r\n")).error, error::malformed_head);
  p.reset();
  const auto r = p.parse(std::string_view("POST /x HTTP/1.1\r\nA: b\r\n\r\n"));
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(p.get().method, "POST");
  EXPECT_EQ(p.get().headers.size(), 1u);
}

TEST(HttpParser, ViewsFollowTheBufferWhenItMoves) {
  const std::string in = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  zws::http::request_parser p;
  std::string first = in.substr(0, 20);
  EXPECT_EQ(p.parse(first).status, parse_status::need_more);
  first.assign(first.size(), '#');  // the old buffer is overwritten, as a freed one would be
  const std::string second = in;
  ASSERT_EQ(p.parse(second).status, parse_status::done);
  EXPECT_EQ(p.get().target, "/a");
  EXPECT_EQ(p.get().target.data(), second.data() + 4);
  EXPECT_EQ(p.get().headers.find("host"), "h");
}

// ---- lookup --------------------------------------------------------------------

zws::http::request parsed_headers(std::string_view in, zws::http::request_parser& p) {
  EXPECT_EQ(p.parse(in).status, parse_status::done);
  return p.get();
}

TEST(HttpHeaders, FindIsCaseInsensitiveAndReturnsTheFirst) {
  zws::http::request_parser p;
  const std::string in = "GET / HTTP/1.1\r\nSec-WebSocket-Key: k1\r\nsec-websocket-key: k2\r\nE:\r\n\r\n";
  const auto r = parsed_headers(in, p);
  EXPECT_EQ(r.headers.find("SEC-WEBSOCKET-KEY"), "k1");
  EXPECT_EQ(r.headers.count("sec-websocket-key"), 2u);
  EXPECT_EQ(r.headers.find("e"), "");
  EXPECT_FALSE(r.headers.find("Sec-WebSocket-Ke").has_value());
  EXPECT_FALSE(r.headers.find("missing").has_value());
}

TEST(HttpHeaders, HasTokenUnderstandsCommaSeparatedLists) {
  zws::http::request_parser p;
  const std::string in =
      "GET / HTTP/1.1\r\nConnection: keep-alive, Upgrade\r\nA: ,, x ,\t,y\t\r\nB: upgraded, up grade\r\n"
      "C: one\r\nc: two, three\r\n\r\n";
  const auto r = parsed_headers(in, p);
  EXPECT_TRUE(r.headers.has_token("connection", "upgrade"));
  EXPECT_TRUE(r.headers.has_token("Connection", "KEEP-ALIVE"));
  EXPECT_FALSE(r.headers.has_token("Connection", "keep"));
  EXPECT_TRUE(r.headers.has_token("A", "x"));
  EXPECT_TRUE(r.headers.has_token("A", "Y"));
  EXPECT_FALSE(r.headers.has_token("A", ""));
  EXPECT_FALSE(r.headers.has_token("B", "upgrade"));
  EXPECT_TRUE(r.headers.has_token("B", "up grade"));
  EXPECT_TRUE(r.headers.has_token("C", "three"));  // across several field lines
  EXPECT_FALSE(r.headers.has_token("Missing", "x"));
}

TEST(HttpHeaders, NextTokenSkipsEmptyElementsAndTrims) {
  std::string_view list = " a ,, \tb\t,c,";
  EXPECT_EQ(zws::http::next_token(list), "a");
  EXPECT_EQ(zws::http::next_token(list), "b");
  EXPECT_EQ(zws::http::next_token(list), "c");
  EXPECT_EQ(zws::http::next_token(list), "");
  EXPECT_TRUE(list.empty());
}

TEST(HttpHeaders, IequalsIsAsciiCaseInsensitiveOnly) {
  EXPECT_TRUE(zws::http::iequals("WebSocket", "websocket"));
  EXPECT_FALSE(zws::http::iequals("websocket", "websockets"));
  EXPECT_FALSE(zws::http::iequals("@", "`"));  // 0x40 and 0x60 differ by the case bit only
  EXPECT_FALSE(zws::http::iequals("\xc3\xa9", "\xc3\x89"));
}

// ---- real-world upgrade requests -----------------------------------------------

using zws::test::chromium_request;

constexpr std::string_view firefox_request =
    "GET /chat?room=lobby HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate\r\n"
    "Sec-WebSocket-Key: 9lmnBfcdid4a4+nKPEQziQ==\r\n"
    "Connection: keep-alive, Upgrade\r\n"
    "Sec-Fetch-Dest: empty\r\n"
    "Sec-Fetch-Mode: websocket\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "Upgrade: websocket\r\n"
    "\r\n";

TEST(HttpParser, ParsesChromiumUpgradeRequest) {
  const snapshot s = req(chromium_request);
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.head_size, chromium_request.size());
  EXPECT_EQ(s.c, "/chat");
  EXPECT_EQ(s.fields.size(), 12u);
  EXPECT_EQ(s.fields[4].second,
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 "
            "Safari/537.36");
}

TEST(HttpParser, ParsesFirefoxUpgradeRequest) {
  const snapshot s = req(firefox_request);
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.c, "/chat");
  EXPECT_EQ(s.d, "room=lobby");
  EXPECT_EQ(s.fields.size(), 16u);
  EXPECT_EQ(s.fields[9], (std::pair<std::string, std::string>{"Connection", "keep-alive, Upgrade"}));
}

// ---- responses -----------------------------------------------------------------

TEST(HttpResponseParser, ParsesSwitchingProtocols) {
  const std::string in =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  const snapshot s = resp(in);
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.head_size, in.size());
  EXPECT_EQ(s.d, "101");
  EXPECT_EQ(s.c, "Switching Protocols");
  EXPECT_EQ(s.minor, 1);
  EXPECT_EQ(s.fields.size(), 3u);
}

TEST(HttpResponseParser, AcceptsEmptyOrMissingReason) {
  snapshot s = resp("HTTP/1.1 101 \r\n\r\n");
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.c, "");
  s = resp("HTTP/1.0 404\r\n\r\n");
  ASSERT_EQ(s.status, parse_status::done);
  EXPECT_EQ(s.d, "404");
  EXPECT_EQ(s.minor, 0);
}

TEST(HttpResponseParser, RejectsMalformedStatusLine) {
  for (std::string_view line : {"HTTP/1.1 1O1 OK", "HTTP/1.1 99 OK", "HTTP/1.1 1011 OK", "HTTP/1.1  101 OK",
                                "HTTP/1.1 012 OK", "HTTP/1.1 101\tOK", "HTTP/1.1 101 O\x01K", "HTTP/1.1",
                                "http/1.1 101 OK", "HTTP/1.1101 OK", "GET / HTTP/1.1"}) {
    SCOPED_TRACE(line);
    const snapshot s = resp(std::string(line) + "\r\n\r\n");
    EXPECT_EQ(s.status, parse_status::failed);
    EXPECT_EQ(s.err, error::malformed_head);
  }
}

TEST(HttpResponseParser, RejectsMajorVersionOtherThanOne) {
  EXPECT_EQ(resp("HTTP/2.0 101 OK\r\n\r\n").err, error::bad_http_version);
}

TEST(HttpResponseParser, AppliesTheSameFieldRules) {
  EXPECT_EQ(resp("HTTP/1.1 101 OK\r\nUpgrade : websocket\r\n\r\n").err, error::malformed_head);
  EXPECT_EQ(resp("HTTP/1.1 101 OK\r\nUpgrade: websocket\n\r\n").err, error::malformed_head);
  EXPECT_EQ(resp("HTTP/1.1 101 OK\r\nA: b\r\n c\r\n\r\n").err, error::malformed_head);
  EXPECT_EQ(resp(with_fields(4).replace(0, 14, "HTTP/1.1 200 X"), {.max_headers = 3}).err,
            error::too_many_headers);
}

}  // namespace
