// Tests of lib/protocol/handshake.cpp: RFC 6455 §4 on both sides. Heads are parsed from
// buffers that end right against a PROT_NONE page.
#include "zws/handshake.hpp"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "guarded.hpp"
#include "sample_requests.hpp"

namespace {

using zws::error;
using zws::http::parse_status;
using zws::test::guarded;

std::string str(const zws::buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// A parsed request and the guarded bytes its views point into.
struct parsed_request {
  explicit parsed_request(std::string_view in) : bytes(in) {
    const auto r = parser.parse(bytes.str());
    EXPECT_EQ(r.status, parse_status::done) << in;
    EXPECT_EQ(r.head_size, in.size());
  }
  const zws::http::request& get() const { return parser.get(); }
  guarded bytes;
  zws::http::request_parser parser;
};

struct parsed_response {
  explicit parsed_response(std::string_view in) : bytes(in) {
    const auto r = parser.parse(bytes.str());
    EXPECT_EQ(r.status, parse_status::done) << in;
    head_size = r.head_size;
  }
  const zws::http::response& get() const { return parser.get(); }
  guarded bytes;
  zws::http::response_parser parser;
  std::size_t head_size = 0;
};

error validate(std::string_view in) { return zws::validate_upgrade(parsed_request(in).get()); }

// RFC 6455 §1.3's sample, completed with the fields a server requires.
constexpr std::string_view rfc_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: server.example.com\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Origin: http://example.com\r\n"
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

// The RFC request with the field named `name` replaced by `line` (dropped if empty).
std::string with(std::string_view name, std::string_view line) {
  std::string out;
  std::string_view rest = rfc_request;
  while (!rest.empty()) {
    const std::size_t end = rest.find("\r\n") + 2;
    const std::string_view l = rest.substr(0, end);
    rest.remove_prefix(end);
    if (l.starts_with(std::string(name) + ":")) {
      if (!line.empty()) out.append(line).append("\r\n");
    } else {
      out.append(l);
    }
  }
  return out;
}

// ---- accept key ------------------------------------------------------------------

TEST(Handshake, AcceptKeyMatchesTheRfcSample) {
  EXPECT_EQ(zws::as_view(zws::accept_key("dGhlIHNhbXBsZSBub25jZQ==")), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(Handshake, AcceptKeyDiffersForAnotherKey) {
  EXPECT_EQ(zws::as_view(zws::accept_key("x3JJHMbDL1EzLkh9GBhXDw==")), "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

// ---- server: validation -----------------------------------------------------------

TEST(Handshake, AcceptsTheRfcSampleRequest) { EXPECT_EQ(validate(rfc_request), error::none); }

TEST(Handshake, RejectsMethodOtherThanGet) {
  std::string in(rfc_request);
  EXPECT_EQ(validate("POST" + in.substr(3)), error::bad_method);
  EXPECT_EQ(validate("get" + in.substr(3)), error::bad_method);  // methods are case-sensitive
}

TEST(Handshake, RejectsHttp10) {
  std::string in(rfc_request);
  in.replace(in.find("HTTP/1.1"), 8, "HTTP/1.0");
  EXPECT_EQ(validate(in), error::bad_http_version);
}

TEST(Handshake, AcceptsLaterHttp1MinorVersions) {
  std::string in(rfc_request);
  in.replace(in.find("HTTP/1.1"), 8, "HTTP/1.2");
  EXPECT_EQ(validate(in), error::none);
}

TEST(Handshake, RejectsMissingHost) { EXPECT_EQ(validate(with("Host", "")), error::missing_host); }

TEST(Handshake, RejectsDuplicateHost) {
  EXPECT_EQ(validate(with("Host", "Host: a\r\nHost: b")), error::malformed_head);
}

TEST(Handshake, AcceptsEmptyHostValue) { EXPECT_EQ(validate(with("Host", "Host:")), error::none); }

TEST(Handshake, RejectsMissingUpgrade) {
  EXPECT_EQ(validate(with("Upgrade", "")), error::missing_upgrade);
  EXPECT_EQ(validate(with("Upgrade", "Upgrade: h2c")), error::missing_upgrade);
  EXPECT_EQ(validate(with("Upgrade", "Upgrade: websockets")), error::missing_upgrade);
  EXPECT_EQ(validate(with("Upgrade", "Upgrade: web socket")), error::missing_upgrade);
}

TEST(Handshake, AcceptsUpgradeTokenCaseInsensitivelyInAList) {
  EXPECT_EQ(validate(with("Upgrade", "Upgrade: WebSocket")), error::none);
  EXPECT_EQ(validate(with("Upgrade", "Upgrade: h2c, WEBSOCKET")), error::none);
  EXPECT_EQ(validate(with("Upgrade", "Upgrade: h2c\r\nUpgrade: websocket")), error::none);
}

TEST(Handshake, RejectsMissingConnectionUpgrade) {
  EXPECT_EQ(validate(with("Connection", "")), error::missing_connection);
  EXPECT_EQ(validate(with("Connection", "Connection: keep-alive")), error::missing_connection);
  EXPECT_EQ(validate(with("Connection", "Connection: upgraded")), error::missing_connection);
}

TEST(Handshake, AcceptsConnectionUpgradeInAList) {
  EXPECT_EQ(validate(with("Connection", "Connection: keep-alive, Upgrade")), error::none);
  EXPECT_EQ(validate(with("Connection", "Connection: keep-alive,upgrade ")), error::none);
  EXPECT_EQ(validate(with("Connection", "Connection: keep-alive\r\nConnection: UPGRADE")), error::none);
}

TEST(Handshake, RejectsVersionOtherThan13) {
  EXPECT_EQ(validate(with("Sec-WebSocket-Version", "")), error::bad_version);
  EXPECT_EQ(validate(with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8")), error::bad_version);
  EXPECT_EQ(validate(with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13, 8")), error::bad_version);
  EXPECT_EQ(validate(with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13")),
            error::bad_version);
}

TEST(Handshake, RejectsMissingKey) { EXPECT_EQ(validate(with("Sec-WebSocket-Key", "")), error::missing_key); }

TEST(Handshake, RejectsKeyThatIsNotBase64Of16Bytes) {
  for (std::string_view key : {"", "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZR==",
                               "dGhlIHNhbXBsZSBub25j", "dGhlIHNhbXBsZSBub25jZSE=", "dGhlIHNhbXBsZSBub25jZSEh",
                               "dGhlIHNhbXBsZSBub2 jZQ==", "dGhlIHNhbXBsZSBub2*jZQ==", "dGhlIHNhbXBsZSBub25jZQ==="}) {
    SCOPED_TRACE(key);
    EXPECT_EQ(validate(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: " + std::string(key))), error::bad_key);
  }
}

TEST(Handshake, RejectsDuplicateKey) {
  EXPECT_EQ(validate(with("Sec-WebSocket-Key",
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==")),
            error::bad_key);
}

TEST(Handshake, ReportsTheFirstBrokenRuleInOrder) {
  EXPECT_EQ(validate("POST / HTTP/1.0\r\n\r\n"), error::bad_method);
  EXPECT_EQ(validate("GET / HTTP/1.0\r\n\r\n"), error::bad_http_version);
  EXPECT_EQ(validate("GET / HTTP/1.1\r\n\r\n"), error::missing_host);
  EXPECT_EQ(validate("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), error::missing_upgrade);
  EXPECT_EQ(validate("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n"), error::missing_connection);
  EXPECT_EQ(validate("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"),
            error::bad_version);
  EXPECT_EQ(validate("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                     "Sec-WebSocket-Version: 13\r\n\r\n"),
            error::missing_key);
}

// ---- real-world requests ------------------------------------------------------------

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
    "Sec-WebSocket-Protocol: chat, superchat\r\n"
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

constexpr std::string_view node_ws_request =
    "GET /chat HTTP/1.1\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Key: c/CFP2RGxNGoE36FuyN1jA==\r\n"
    "Connection: Upgrade\r\n"
    "Upgrade: websocket\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "Host: localhost:8080\r\n"
    "\r\n";

constexpr std::string_view python_websockets_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: localhost:8765\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: Vu9eqj3dadQuMqhvxCgbSg==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "User-Agent: Python/3.11 websockets/12.0\r\n"
    "\r\n";

TEST(Handshake, AcceptsChromiumRequest) {
  parsed_request r(chromium_request);
  EXPECT_EQ(zws::validate_upgrade(r.get()), error::none);
  EXPECT_EQ(r.get().path, "/chat");
  EXPECT_EQ(r.get().headers.find("origin"), "http://example.com:8080");
  EXPECT_EQ(r.get().headers.find("Sec-WebSocket-Extensions"), "permessage-deflate; client_max_window_bits");
}

TEST(Handshake, AcceptsFirefoxRequest) {
  parsed_request r(firefox_request);
  EXPECT_EQ(zws::validate_upgrade(r.get()), error::none);
  EXPECT_EQ(r.get().query, "room=lobby");
  const std::array<std::string_view, 1> supported{"superchat"};
  EXPECT_EQ(zws::select_subprotocol(r.get().headers, supported), "superchat");
}

TEST(Handshake, AcceptsNodeWsRequest) {
  parsed_request r(node_ws_request);
  EXPECT_EQ(zws::validate_upgrade(r.get()), error::none);
  EXPECT_FALSE(r.get().headers.find("Origin").has_value());
}

TEST(Handshake, AcceptsPythonWebsocketsRequest) {
  EXPECT_EQ(validate(python_websockets_request), error::none);
}

// ---- server: subprotocols --------------------------------------------------------

TEST(Handshake, SelectsTheFirstOfferedSubprotocolTheServerSupports) {
  parsed_request r(with("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: a, b\r\nSec-WebSocket-Protocol: c"));
  const std::array<std::string_view, 2> cb{"c", "b"};
  EXPECT_EQ(zws::select_subprotocol(r.get().headers, cb), "b");
  const std::array<std::string_view, 1> c{"c"};
  const std::string_view chosen = zws::select_subprotocol(r.get().headers, c);
  EXPECT_EQ(chosen, "c");
  EXPECT_EQ(chosen.data(), c[0].data());  // the server's string, not a view into the request
  const std::array<std::string_view, 1> none{"d"};
  EXPECT_EQ(zws::select_subprotocol(r.get().headers, none), "");
  EXPECT_EQ(zws::select_subprotocol(r.get().headers, {}), "");
}

TEST(Handshake, SubprotocolNamesAreCaseSensitive) {
  parsed_request r(rfc_request);
  const std::array<std::string_view, 1> upper{"CHAT"};
  EXPECT_EQ(zws::select_subprotocol(r.get().headers, upper), "");
}

TEST(Handshake, SelectsNothingWhenTheClientOffersNothing) {
  parsed_request r(with("Sec-WebSocket-Protocol", ""));
  const std::array<std::string_view, 1> chat{"chat"};
  EXPECT_EQ(zws::select_subprotocol(r.get().headers, chat), "");
}

// ---- server: writers ----------------------------------------------------------------

TEST(Handshake, Writes101ForTheRfcSample) {
  zws::buffer out;
  zws::write_upgrade_response(out, "dGhlIHNhbXBsZSBub25jZQ==", "chat");
  EXPECT_EQ(str(out),
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "\r\n");
}

TEST(Handshake, Writes101WithExtraHeadersAndNoSubprotocol) {
  zws::buffer out;
  out.append("previous");
  const std::array<zws::http::header, 2> extra{{{"Server", "zws"}, {"Set-Cookie", "a=b"}}};
  zws::write_upgrade_response(out, "dGhlIHNhbXBsZSBub25jZQ==", {}, extra);
  EXPECT_EQ(str(out),
            "previousHTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
            "Server: zws\r\n"
            "Set-Cookie: a=b\r\n"
            "\r\n");
}

// Parses a refusal and checks that Content-Length covers exactly the body.
void expect_complete_refusal(const zws::buffer& out, int status) {
  const std::string s = str(out);
  parsed_response r(s);
  EXPECT_EQ(r.get().status, status);
  EXPECT_EQ(r.get().reason, zws::http_reason_phrase(status));
  EXPECT_TRUE(r.get().headers.has_token("Connection", "close"));
  const auto length = r.get().headers.find("Content-Length");
  ASSERT_TRUE(length.has_value());
  EXPECT_EQ(std::string(*length), std::to_string(s.size() - r.head_size));
}

TEST(Handshake, Refuses426WithoutVersion13) {
  const error e = validate(with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"));
  ASSERT_EQ(e, error::bad_version);
  zws::buffer out;
  zws::write_refusal(out, e);
  expect_complete_refusal(out, 426);
  parsed_response r(str(out));
  EXPECT_EQ(r.get().headers.find("Sec-WebSocket-Version"), "13");
  EXPECT_TRUE(str(out).ends_with("\r\n\r\nSec-WebSocket-Version must be 13\n"));
}

TEST(Handshake, Refuses426WhenUpgradeIsMissing) {
  zws::buffer out;
  zws::write_refusal(out, validate(with("Upgrade", "")));
  expect_complete_refusal(out, 426);
  EXPECT_EQ(parsed_response(str(out)).get().headers.find("Sec-WebSocket-Version"), "13");
}

TEST(Handshake, Refuses400ForABadKeyWithoutVersionHeader) {
  zws::buffer out;
  zws::write_refusal(out, validate(with("Sec-WebSocket-Key", "Sec-WebSocket-Key: abc")));
  expect_complete_refusal(out, 400);
  EXPECT_FALSE(parsed_response(str(out)).get().headers.find("Sec-WebSocket-Version").has_value());
}

TEST(Handshake, Refuses405WithAllowGet) {
  zws::buffer out;
  zws::write_refusal(out, error::bad_method);
  expect_complete_refusal(out, 405);
  EXPECT_EQ(parsed_response(str(out)).get().headers.find("Allow"), "GET");
}

TEST(Handshake, RefusesWithTheServersStatusTextAndHeaders) {
  zws::buffer out;
  const std::array<zws::http::header, 1> extra{{{"Retry-After", "5"}}};
  zws::write_refusal(out, 403, "origin not allowed", extra);
  expect_complete_refusal(out, 403);
  EXPECT_EQ(str(out),
            "HTTP/1.1 403 Forbidden\r\n"
            "Connection: close\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: 19\r\n"
            "Retry-After: 5\r\n"
            "\r\n"
            "origin not allowed\n");
}

TEST(Handshake, RefusalOfAnOutOfRangeStatusIs500) {
  zws::buffer out;
  zws::write_refusal(out, 42, "x");
  expect_complete_refusal(out, 500);
}

TEST(Handshake, RefusalForErrorsWithoutStatusIs400) {
  zws::buffer out;
  zws::write_refusal(out, error::invalid_utf8);
  expect_complete_refusal(out, 400);
}

// ---- client ---------------------------------------------------------------------------

constexpr std::array<std::uint8_t, 16> sample_nonce{'t', 'h', 'e', ' ', 's', 'a', 'm', 'p',
                                                    'l', 'e', ' ', 'n', 'o', 'n', 'c', 'e'};

TEST(HandshakeClient, KeyIsBase64OfTheNonce) {
  EXPECT_EQ(zws::as_view(zws::make_client_key(sample_nonce)), "dGhlIHNhbXBsZSBub25jZQ==");
}

TEST(HandshakeClient, WritesMinimalRequest) {
  zws::buffer out;
  zws::write_upgrade_request(out, {.host = "example.com:8080"}, zws::make_client_key(sample_nonce));
  EXPECT_EQ(str(out),
            "GET / HTTP/1.1\r\n"
            "Host: example.com:8080\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "\r\n");
}

TEST(HandshakeClient, ABareQueryTargetGetsItsSlash) {
  zws::buffer out;
  zws::write_upgrade_request(out, {.host = "h", .target = "?room=1"}, zws::make_client_key(sample_nonce));
  EXPECT_EQ(str(out).substr(0, str(out).find("\r\n")), "GET /?room=1 HTTP/1.1");
  out.clear();
  zws::write_upgrade_request(out, {.host = "h", .target = ""}, zws::make_client_key(sample_nonce));
  EXPECT_EQ(str(out).substr(0, str(out).find("\r\n")), "GET / HTTP/1.1");
}

TEST(HandshakeClient, WritesOriginSubprotocolsAndExtraHeaders) {
  zws::buffer out;
  const std::array<std::string_view, 2> protocols{"chat", "superchat"};
  const std::array<zws::http::header, 1> extra{{{"Authorization", "Bearer t"}}};
  zws::write_upgrade_request(out,
                             {.host = "h", .target = "/chat?x=1", .origin = "http://h",
                              .subprotocols = protocols, .extra = extra},
                             zws::make_client_key(sample_nonce));
  EXPECT_EQ(str(out),
            "GET /chat?x=1 HTTP/1.1\r\n"
            "Host: h\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            "Origin: http://h\r\n"
            "Sec-WebSocket-Protocol: chat, superchat\r\n"
            "Authorization: Bearer t\r\n"
            "\r\n");
}

constexpr std::string_view good_response =
    "HTTP/1.1 101 Switching Protocols\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
    "\r\n";

error verify(std::string_view in, std::span<const std::string_view> offered = {}) {
  return zws::verify_upgrade_response(parsed_response(in).get(), zws::make_client_key(sample_nonce), offered);
}

std::string response_with(std::string_view extra_lines) {
  std::string s(good_response.substr(0, good_response.size() - 2));
  return s.append(extra_lines).append("\r\n");
}

TEST(HandshakeClient, AcceptsTheRfcSampleResponse) { EXPECT_EQ(verify(good_response), error::none); }

TEST(HandshakeClient, AcceptsTokensCaseInsensitively) {
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            error::none);
}

TEST(HandshakeClient, RejectsStatusOtherThan101) {
  EXPECT_EQ(verify("HTTP/1.1 200 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            error::bad_status);
  EXPECT_EQ(verify("HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\n\r\n"), error::bad_status);
}

TEST(HandshakeClient, RejectsMissingUpgradeOrConnection) {
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            error::bad_upgrade_response);
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            error::bad_upgrade_response);
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nUpgrade: h2c\r\nConnection: upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            error::bad_upgrade_response);
}

TEST(HandshakeClient, RejectsWrongMissingOrDuplicateAccept) {
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo\r\n\r\n"),
            error::bad_accept);
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Accept: S3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"),
            error::bad_accept);
  EXPECT_EQ(verify("HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), error::bad_accept);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n")), error::bad_accept);
}

TEST(HandshakeClient, AcceptsAnOfferedSubprotocol) {
  const std::array<std::string_view, 2> offered{"chat", "superchat"};
  parsed_response r(response_with("Sec-WebSocket-Protocol: superchat\r\n"));
  EXPECT_EQ(zws::verify_upgrade_response(r.get(), zws::make_client_key(sample_nonce), offered), error::none);
  EXPECT_EQ(r.get().headers.find("Sec-WebSocket-Protocol"), "superchat");
}

TEST(HandshakeClient, RejectsASubprotocolNotOffered) {
  const std::array<std::string_view, 2> offered{"chat", "superchat"};
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Protocol: other\r\n"), offered), error::bad_subprotocol);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Protocol: Chat\r\n"), offered), error::bad_subprotocol);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Protocol: chat, superchat\r\n"), offered), error::bad_subprotocol);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Protocol: chat\r\n"), offered),
            error::bad_subprotocol);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Protocol:\r\n"), offered), error::bad_subprotocol);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Protocol: chat\r\n")), error::bad_subprotocol);
}

TEST(HandshakeClient, RejectsAnyExtension) {
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Extensions: permessage-deflate\r\n")), error::bad_extension);
  EXPECT_EQ(verify(response_with("Sec-WebSocket-Extensions:\r\n")), error::bad_extension);
}

// ---- round trip ------------------------------------------------------------------------

TEST(HandshakeClient, RoundTripsThroughTheServerSide) {
  const std::array<std::uint8_t, 16> nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  const zws::client_key key = zws::make_client_key(nonce);
  const std::array<std::string_view, 2> offered{"v2.chat", "v1.chat"};
  zws::buffer request;
  zws::write_upgrade_request(request, {.host = "localhost:9001", .target = "/room/7?user=ann",
                                       .origin = "https://app.example", .subprotocols = offered},
                             key);

  // Server side.
  parsed_request req(str(request));
  ASSERT_EQ(zws::validate_upgrade(req.get()), error::none);
  EXPECT_EQ(req.get().path, "/room/7");
  EXPECT_EQ(req.get().query, "user=ann");
  EXPECT_EQ(req.get().headers.find("Origin"), "https://app.example");
  const std::array<std::string_view, 1> supported{"v1.chat"};
  const std::string_view chosen = zws::select_subprotocol(req.get().headers, supported);
  ASSERT_EQ(chosen, "v1.chat");
  zws::buffer response;
  zws::write_upgrade_response(response, *req.get().headers.find("Sec-WebSocket-Key"), chosen);

  // Client side.
  parsed_response resp(str(response));
  EXPECT_EQ(resp.head_size, response.size());
  EXPECT_EQ(zws::verify_upgrade_response(resp.get(), key, offered), error::none);
  EXPECT_EQ(resp.get().headers.find("Sec-WebSocket-Protocol"), "v1.chat");
  // The same response does not verify for another key.
  const std::array<std::uint8_t, 16> other{};
  EXPECT_EQ(zws::verify_upgrade_response(resp.get(), zws::make_client_key(other), offered), error::bad_accept);
}

}  // namespace
