// lib/io/tls_openssl.hpp — what tls.tls.cpp and tls_context.tls.cpp share.
//
// Internal to the OpenSSL build of the TLS transport: only *.tls.cpp files
// include this (it includes OpenSSL's headers; lib/io/tls.hpp must not).
#pragma once

#include <openssl/ssl.h>

#include <string>
#include <string_view>
#include <vector>

#include "io/tls.hpp"

namespace zws::detail::tls {

// The certificates of one load: the default context and one per SNI name. Every
// SSL made from `main` holds a reference to it (and SSL_set_SSL_CTX to the one
// SNI chose), so a set outlives a reload for as long as its sessions do.
struct cert_set {
  struct named {
    std::string name;  // lower case; "*.example.com" matches one label
    SSL_CTX* ctx = nullptr;
  };
  SSL_CTX* main = nullptr;
  std::vector<named> sni;
  std::string alpn;  // the protocol offered, as ALPN's length-prefixed wire format

  cert_set() = default;
  cert_set(const cert_set&) = delete;
  cert_set& operator=(const cert_set&) = delete;
  ~cert_set();
};

// The reason of the oldest error in the thread's queue ("no such file or
// directory", "wrong version number"), or `fallback` when the queue is empty.
// Clears the queue.
std::string take_openssl_error(std::string_view fallback);

}  // namespace zws::detail::tls
