// test/unit/tls_pair.hpp — a client and a server TLS session joined in memory.
//
// No sockets: what one side appends to its `wire` is delivered to the other
// side's receive(), in chunks of a chosen size, each copied into a scratch
// buffer first (as recv() fills the loop's shared buffer) and decrypted in place
// there, or into separate room of a chosen size. Certificates come from
// test/certs.sh, run once per process into a temporary directory
// (or into $ZWS_TLS_CERTS, kept, when that is set).
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "io/tls.hpp"

namespace zws::test::tls {

using namespace zws::detail::tls;

class cert_dir_holder {
 public:
  cert_dir_holder() {
    const char* env = std::getenv("ZWS_TLS_CERTS");
    if (env != nullptr && *env != '\0') {
      dir_ = env;
    } else {
      dir_ = (std::filesystem::temp_directory_path() / ("zws-tls-certs-" + std::to_string(getpid()))).string();
      owned_ = true;
    }
    std::string root = __FILE__;
    root = root.substr(0, root.rfind("test/unit/"));
    const std::string cmd = "bash '" + (root.empty() ? std::string("./") : root) + "test/certs.sh' '" + dir_ + "'";
    ok_ = std::system(cmd.c_str()) == 0;
  }
  ~cert_dir_holder() {
    std::error_code ec;
    if (owned_) std::filesystem::remove_all(dir_, ec);
  }
  cert_dir_holder(const cert_dir_holder&) = delete;
  cert_dir_holder& operator=(const cert_dir_holder&) = delete;
  const std::string& dir() const { return dir_; }
  bool ok() const { return ok_; }

 private:
  std::string dir_;
  bool owned_ = false;
  bool ok_ = false;
};

inline std::string cert_path(std::string_view name) {
  static const cert_dir_holder holder;
  if (!holder.ok()) ADD_FAILURE() << "test/certs.sh failed";
  return holder.dir() + "/" + std::string(name);
}

inline tls_server_options server_options(std::string_view cert = "server") {
  tls_server_options o;
  o.cert_chain_file = cert_path(std::string(cert) + ".pem");
  o.key_file = cert_path(std::string(cert) + ".key");
  return o;
}

inline tls_client_options client_options() {
  tls_client_options o;
  o.ca_file = cert_path("ca.pem");
  return o;
}

// n bytes of seeded noise: a payload whose every byte matters.
inline std::string pattern(std::size_t n, std::uint32_t seed) {
  std::string s(n, '\0');
  std::mt19937 rng(seed);
  for (char& ch : s) ch = static_cast<char>(rng());
  return s;
}

inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

inline constexpr std::size_t whole = std::numeric_limits<std::size_t>::max();

struct side {
  session s;
  buffer wire{};      // ciphertext this side produced, not yet delivered
  std::string got{};  // plaintext received
  status last = status::need_input;
  std::size_t calls = 0;  // receive() calls: bounded, or something loops
};

// Gives `bytes` to `to` as recv() would: copied into a scratch buffer after
// in_place_headroom bytes and decrypted in place there (out_size 0), or into
// separate room of out_size bytes, as often as receive() asks (out_full).
inline void feed(side& to, std::span<const std::uint8_t> bytes, std::size_t out_size) {
  std::vector<std::uint8_t> scratch(in_place_headroom + bytes.size());
  std::copy(bytes.begin(), bytes.end(), scratch.begin() + in_place_headroom);
  std::span<std::uint8_t> in = std::span<std::uint8_t>(scratch).subspan(in_place_headroom);
  std::vector<std::uint8_t> room(out_size);
  for (int guard = 0;; ++guard) {
    ASSERT_LT(guard, 1 << 22) << "receive() made no progress";
    ++to.calls;
    const std::span<std::uint8_t> out = out_size == 0 ? std::span<std::uint8_t>(scratch) : std::span<std::uint8_t>(room);
    const receive_result r = to.s.receive(in, out, to.wire);
    ASSERT_LE(r.consumed, in.size());
    ASSERT_LE(r.produced, out.size());
    to.got.append(reinterpret_cast<const char*>(out.data()), r.produced);
    to.last = r.state;
    if (r.state == status::need_input) {
      ASSERT_EQ(r.consumed, in.size());
    }
    if (out_size == 0) {
      ASSERT_NE(r.state, status::out_full) << "in place, the room never runs out";
    }
    in = in.subspan(r.consumed);
    if (r.state != status::out_full) return;
  }
}

// Delivers everything `from` produced so far to `to`, `chunk` bytes at a time.
inline void deliver(side& from, side& to, std::size_t chunk = whole, std::size_t out_size = 0) {
  buffer flight = std::move(from.wire);
  const auto bytes = flight.bytes();
  for (std::size_t pos = 0; pos < bytes.size();) {
    const std::size_t n = std::min(chunk, bytes.size() - pos);
    feed(to, bytes.subspan(pos, n), out_size);
    pos += n;
    if (to.last == status::failed || to.last == status::closed) return;
  }
}

struct pair {
  side c, s;

  pair(const server_context& sc, const client_context& cc, std::string_view host = "localhost")
      : c{session::client(cc, host)}, s{session::server(sc)} {}

  // Moves bytes both ways until neither side has anything to say. Returns the
  // number of flights delivered (bounded: a side that keeps answering fails).
  int pump(std::size_t chunk = whole, std::size_t out_size = 0) {
    int flights = 0;
    while (!c.wire.empty() || !s.wire.empty()) {
      if (flights > 64) {
        ADD_FAILURE() << "the sessions keep answering each other";
        break;
      }
      if (!c.wire.empty()) {
        deliver(c, s, chunk, out_size);
        ++flights;
      }
      if (!s.wire.empty()) {
        deliver(s, c, chunk, out_size);
        ++flights;
      }
    }
    return flights;
  }

  int handshake(std::size_t chunk = whole, std::size_t out_size = 0) {
    c.last = c.s.start(c.wire);
    return pump(chunk, out_size);
  }

  bool established() const {
    return c.s.handshake_done() && s.s.handshake_done() && !c.s.failed() && !s.s.failed();
  }

  static void send(side& from, std::string_view text) {
    const send_result r = from.s.send(bytes_of(text), from.wire);
    EXPECT_EQ(r.state, status::done);
    EXPECT_EQ(r.consumed, text.size());
  }
};

}  // namespace zws::test::tls
