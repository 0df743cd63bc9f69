#include "zws/url.hpp"

#include <gtest/gtest.h>

#include <string>

#include "guarded.hpp"

namespace {

struct valid_case {
  std::string_view text;
  bool secure;
  std::string_view host;
  std::uint16_t port;
  std::string_view target;
  bool ipv6;
  std::string_view host_header;
};

const valid_case valid_cases[] = {
    {"ws://example.com", false, "example.com", 80, "/", false, "example.com"},
    {"wss://example.com", true, "example.com", 443, "/", false, "example.com"},
    {"ws://example.com/", false, "example.com", 80, "/", false, "example.com"},
    {"ws://example.com/chat", false, "example.com", 80, "/chat", false, "example.com"},
    {"WS://Example.COM/Chat", false, "Example.COM", 80, "/Chat", false, "Example.COM"},
    {"wSs://h/x", true, "h", 443, "/x", false, "h"},
    {"ws://localhost:9001/x", false, "localhost", 9001, "/x", false, "localhost:9001"},
    {"ws://localhost:9001", false, "localhost", 9001, "/", false, "localhost:9001"},
    {"ws://h:80/", false, "h", 80, "/", false, "h"},
    {"wss://h:443/", true, "h", 443, "/", false, "h"},
    {"wss://h:80/", true, "h", 80, "/", false, "h:80"},
    {"ws://h:443/", false, "h", 443, "/", false, "h:443"},
    {"ws://h:1", false, "h", 1, "/", false, "h:1"},
    {"ws://h:65535", false, "h", 65535, "/", false, "h:65535"},
    {"ws://h:00080/", false, "h", 80, "/", false, "h"},
    {"ws://127.0.0.1:8080/echo", false, "127.0.0.1", 8080, "/echo", false, "127.0.0.1:8080"},
    {"ws://0.0.0.0/", false, "0.0.0.0", 80, "/", false, "0.0.0.0"},
    {"ws://255.255.255.255/", false, "255.255.255.255", 80, "/", false, "255.255.255.255"},
    {"ws://[::1]:9001/x", false, "::1", 9001, "/x", true, "[::1]:9001"},
    {"wss://[::1]", true, "::1", 443, "/", true, "[::1]"},
    {"ws://[::]/", false, "::", 80, "/", true, "[::]"},
    {"ws://[2001:db8::7]/c", false, "2001:db8::7", 80, "/c", true, "[2001:db8::7]"},
    {"ws://[2001:DB8:0:0:8:800:200C:417A]:1/", false, "2001:DB8:0:0:8:800:200C:417A", 1, "/", true,
     "[2001:DB8:0:0:8:800:200C:417A]:1"},
    {"ws://[1:2:3:4:5:6:7::]/", false, "1:2:3:4:5:6:7::", 80, "/", true, "[1:2:3:4:5:6:7::]"},
    {"ws://[::2:3:4:5:6:7:8]/", false, "::2:3:4:5:6:7:8", 80, "/", true, "[::2:3:4:5:6:7:8]"},
    {"ws://[::ffff:192.0.2.1]/", false, "::ffff:192.0.2.1", 80, "/", true, "[::ffff:192.0.2.1]"},
    {"ws://[1:2:3:4:5:6:1.2.3.4]/", false, "1:2:3:4:5:6:1.2.3.4", 80, "/", true, "[1:2:3:4:5:6:1.2.3.4]"},
    {"ws://h/?", false, "h", 80, "/?", false, "h"},
    // a query without a path: target "?q", sent as "GET /?q" (write_upgrade_request)
    {"ws://h?q", false, "h", 80, "?q", false, "h"},
    {"ws://h?", false, "h", 80, "?", false, "h"},
    {"ws://h:81?q=/a", false, "h", 81, "?q=/a", false, "h:81"},
    {"ws://[::1]?q", false, "::1", 80, "?q", true, "[::1]"},
    {"ws://h/chat?room=1&user=a%20b", false, "h", 80, "/chat?room=1&user=a%20b", false, "h"},
    {"ws://h/a/b/../c/./d", false, "h", 80, "/a/b/../c/./d", false, "h"},
    {"ws://h//double", false, "h", 80, "//double", false, "h"},
    {"ws://h/p:q@r!$&'()*+,;=-._~", false, "h", 80, "/p:q@r!$&'()*+,;=-._~", false, "h"},
    {"ws://h/?q=/a?b", false, "h", 80, "/?q=/a?b", false, "h"},
    {"ws://h/%41%7e%Ff", false, "h", 80, "/%41%7e%Ff", false, "h"},
    {"ws://my-host_1.example~x./", false, "my-host_1.example~x.", 80, "/", false, "my-host_1.example~x."},
    {"ws://1.2.3.4a/", false, "1.2.3.4a", 80, "/", false, "1.2.3.4a"},
};

bool inside(std::string_view part, std::string_view whole) {
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

TEST(Url, ParsesValidUrls) {
  for (const auto& c : valid_cases) {
    zws::test::guarded g(c.text);
    const auto u = zws::parse_url(g.str());
    ASSERT_TRUE(u.has_value()) << c.text;
    EXPECT_EQ(u->secure, c.secure) << c.text;
    EXPECT_EQ(u->host, c.host) << c.text;
    EXPECT_EQ(u->port, c.port) << c.text;
    EXPECT_EQ(u->target, c.target) << c.text;
    EXPECT_EQ(u->host_is_ipv6, c.ipv6) << c.text;
    EXPECT_TRUE(inside(u->host, g.str())) << c.text;
    const bool has_target = c.text.find_first_of("/?", c.text.find("://") + 3) != std::string_view::npos;
    EXPECT_EQ(inside(u->target, g.str()), has_target) << c.text;
  }
}

TEST(Url, HostHeader) {
  for (const auto& c : valid_cases) {
    const auto u = zws::parse_url(c.text);
    ASSERT_TRUE(u.has_value()) << c.text;
    EXPECT_EQ(zws::host_header(*u), c.host_header) << c.text;

    std::string exact(c.host_header.size(), '?');
    EXPECT_EQ(zws::host_header(*u, exact), c.host_header.size());
    EXPECT_EQ(exact, c.host_header);
    EXPECT_LE(c.host_header.size(), zws::host_header_capacity(*u));
    // One byte short: nothing written, 0 returned.
    std::string small(c.host_header.size() - 1, '?');
    EXPECT_EQ(zws::host_header(*u, small), 0u) << c.text;
    EXPECT_EQ(small, std::string(c.host_header.size() - 1, '?'));
  }
}

TEST(Url, HostHeaderCapacityCoversLongestPort) {
  const auto u = zws::parse_url("wss://[1:2:3:4:5:6:7:8]:65535");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(zws::host_header(*u), "[1:2:3:4:5:6:7:8]:65535");
  EXPECT_EQ(zws::host_header(*u).size(), zws::host_header_capacity(*u));
}

const std::string_view invalid_cases[] = {
    // scheme
    "", "ws", "ws:", "ws:/", "ws:/h", "ws:h", "ws//h", "http://h/", "https://h/", "wss:/h", "wsx://h", "w://h",
    "ftp://h", " ws://h/", "ws ://h", "ws:://h",
    // host
    "ws://", "ws:///", "ws://:80/", "ws://?q", "ws://h h/", "ws://h\t/", "ws://h\n", "ws://h\r\n", "ws://h\x7f",
    "ws://h\xc3\xa9/", "ws://%41/", "ws://a,b/", "ws://a;b/", "ws://a!b/", "ws://a*b", "ws://a\\b/", "ws://a|b/",
    // IPv4 lookalikes
    "ws://1.2.3/", "ws://1.2.3.4.5/", "ws://256.1.1.1/", "ws://1.2.3.256/", "ws://01.2.3.4/", "ws://1..3.4/",
    "ws://1.2.3.4./", "ws://.1.2.3.4/", "ws://1234/", "ws://0/", "ws://1.2.3.1000/",
    // IPv6
    "ws://[/", "ws://[]/", "ws://[::1/", "ws://::1/", "ws://[::1]x/", "ws://[::1]]/", "ws://[[::1]]/",
    "ws://[:::]/", "ws://[1:::2]/", "ws://[1::2::3]/", "ws://[1:2:3:4:5:6:7]/", "ws://[1:2:3:4:5:6:7:8:9]/",
    "ws://[1:2:3:4:5:6:7:8::]/", "ws://[::1:2:3:4:5:6:7:8]/", "ws://[12345::]/", "ws://[g::]/", "ws://[:1]/",
    "ws://[1:]/", "ws://[::1:]/", "ws://[::1%25eth0]/", "ws://[fe80::1%eth0]/", "ws://[1.2.3.4]/",
    "ws://[::1.2.3]/", "ws://[::1.2.3.4:5]/", "ws://[1:2:3:4:5:6:7:1.2.3.4]/", "ws://[::256.1.1.1]/",
    "ws://[v1.x]/", "ws://[::1] /",
    // port
    "ws://h:/", "ws://h:", "ws://h:0/", "ws://h:00/", "ws://h:65536/", "ws://h:99999/", "ws://h:4294967377/",
    "ws://h:-1/", "ws://h:+80/", "ws://h:8o/", "ws://h:80:80/", "ws://h: 80/", "ws://h:80 /", "ws://h:0x50/",
    "ws://[::1]:/", "ws://[::1]:0/", "ws://[::1]:65536", "ws://h:?q", "ws://h:123456789012345678901234567890/",
    // userinfo
    "ws://user@h/", "ws://user:pass@h/", "ws://@h/", "ws://h@/", "ws://u@[::1]/",
    // fragments
    "ws://h/#", "ws://h/#f", "ws://h/p#f", "ws://h/?q#f", "ws://h#f", "ws://h:80#f", "ws://[::1]#f",
    // query without a path: still no host
    "ws://?q", "ws://:80?q", "ws://h?#", "ws://h?q#f", "ws://h?a b",
    // target characters
    "ws://h/ ", "ws://h/a b", "ws://h/\t", "ws://h/\x01", "ws://h/\x7f", "ws://h/\xc3\xa9", "ws://h/\x80",
    "ws://h/a\"b", "ws://h/<", "ws://h/>", "ws://h/\\", "ws://h/^", "ws://h/`", "ws://h/{", "ws://h/|",
    "ws://h/}", "ws://h/[", "ws://h/]", "ws://h/%", "ws://h/%4", "ws://h/%4g", "ws://h/%g4", "ws://h/a%",
    "ws://h/\r\nHost: evil", "ws://h/ HTTP/1.1\r\n",
};

TEST(Url, RejectsInvalidUrls) {
  for (std::string_view text : invalid_cases) {
    zws::test::guarded g(text);
    EXPECT_FALSE(zws::parse_url(g.str()).has_value()) << '"' << text << '"';
  }
}

TEST(Url, RejectsEmbeddedNul) {
  using namespace std::string_view_literals;
  for (std::string_view text : {"ws://h\0/"sv, "ws://h/\0"sv, "ws://h:8\0"sv, "ws://[::1\0]/"sv, "ws\0://h/"sv}) {
    zws::test::guarded g(text);
    EXPECT_FALSE(zws::parse_url(g.str()).has_value());
  }
}

// Every prefix of every case sits against the guard page: a parser that looks
// one byte too far crashes here. Prefixes that parse must still be well formed.
TEST(Url, EveryPrefixStaysInBounds) {
  auto check_prefixes = [](std::string_view text) {
    for (std::size_t n = 0; n <= text.size(); ++n) {
      zws::test::guarded g(text.substr(0, n));
      const auto u = zws::parse_url(g.str());
      if (!u) continue;
      EXPECT_TRUE(inside(u->host, g.str()));
      EXPECT_FALSE(u->host.empty());
      EXPECT_NE(u->port, 0);
      EXPECT_TRUE(inside(u->target, g.str()) || u->target == "/");
      EXPECT_TRUE(u->target.front() == '/' || u->target.front() == '?');
    }
  };
  for (const auto& c : valid_cases) check_prefixes(c.text);
  for (std::string_view text : invalid_cases) check_prefixes(text);
}

TEST(Url, EveryPortFrom1To65535) {
  std::string text;
  for (std::uint32_t port = 0; port <= 70000; ++port) {
    text = "ws://h:" + std::to_string(port) + "/";
    const auto u = zws::parse_url(text);
    if (port == 0 || port > 65535) {
      ASSERT_FALSE(u.has_value()) << port;
    } else {
      ASSERT_TRUE(u.has_value()) << port;
      ASSERT_EQ(u->port, port);
    }
  }
}

}  // namespace
