// test/unit/sample_requests.hpp — upgrade requests as real clients send them,
// shared by the http and handshake tests and the handshake benchmark.
#pragma once

#include <string_view>

namespace zws::test {

// Chromium's upgrade request, 12 fields (reconstructed from the RFC and its usual shape).
inline constexpr std::string_view chromium_request =
    "GET /chat HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Connection: Upgrade\r\n"
    "Pragma: no-cache\r\n"
    "Cache-Control: no-cache\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36\r\n"
    "Upgrade: websocket\r\n"
    "Origin: http://example.com:8080\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "Accept-Encoding: gzip, deflate, br\r\n"
    "Accept-Language: en-US,en;q=0.9\r\n"
    "Sec-WebSocket-Key: DBt3Ac1rvSXkYdyx5UMiYg==\r\n"
    "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    "\r\n";

}  // namespace zws::test
