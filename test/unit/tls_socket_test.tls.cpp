// session::receive_from: OpenSSL reading a socket itself once the handshake is
// done (a socketpair stands in for TCP): records split at every offset, room
// that runs out, an empty socket, EOF and errors that leave the session usable.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "tls_pair.hpp"

namespace zws::test::tls {
namespace {

struct contexts {
  server_context server{server_options()};
  client_context client{client_options()};
};

contexts& shared() {
  static contexts c;
  return c;
}

// A non-blocking socketpair: the test writes ciphertext into `peer`, the
// session reads `fd`.
struct socket_pair {
  int fd = -1, peer = -1;
  socket_pair() {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0) {
      fd = sv[0];
      peer = sv[1];
    }
  }
  ~socket_pair() {
    if (fd >= 0) ::close(fd);
    if (peer >= 0) ::close(peer);
  }
  socket_pair(const socket_pair&) = delete;
  socket_pair& operator=(const socket_pair&) = delete;
  void put(std::span<const std::uint8_t> bytes) const {
    ASSERT_EQ(::send(peer, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }
};

// An established pair whose client has sent `text`: its ciphertext.
std::string established_with(pair& p, std::string_view text) {
  p.handshake();
  EXPECT_TRUE(p.established()) << p.c.s.reason() << " / " << p.s.s.reason();
  pair::send(p.c, text);
  const auto bytes = p.c.wire.bytes();
  std::string wire(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  p.c.wire.clear();
  return wire;
}

// Calls receive_from until the socket is drained; returns the last result, with
// `consumed` and `produced` summed over the calls.
receive_result read_all(side& to, int fd, std::size_t room_size, std::string& got) {
  std::vector<std::uint8_t> room(room_size);
  receive_result r;
  std::size_t consumed = 0, produced = 0;
  for (int guard = 0; guard < (1 << 20); ++guard) {
    r = to.s.receive_from(fd, room, to.wire);
    got.append(reinterpret_cast<const char*>(room.data()), r.produced);
    consumed += r.consumed;
    produced += r.produced;
    if (r.state != status::out_full) {
      r.consumed = consumed;
      r.produced = produced;
      return r;
    }
  }
  ADD_FAILURE() << "receive_from made no progress";
  return r;
}

TEST(TlsSession, ReceiveFromReadsTheSocket) {
  pair p(shared().server, shared().client);
  const std::string text = pattern(48 << 10, 1);  // three records
  const std::string wire = established_with(p, text);
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  sp.put(bytes_of(wire));
  std::string got;
  const receive_result r = read_all(p.s, sp.fd, 256 << 10, got);
  EXPECT_EQ(r.state, status::need_input);
  EXPECT_TRUE(r.drained);
  EXPECT_FALSE(r.eof);
  EXPECT_EQ(r.error, 0);
  EXPECT_EQ(got, text);
}

TEST(TlsSession, ReceiveFromIntoLittleRoom) {
  pair p(shared().server, shared().client);
  const std::string text = pattern(40000, 2);
  const std::string wire = established_with(p, text);
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  sp.put(bytes_of(wire));
  std::string got;
  const receive_result r = read_all(p.s, sp.fd, 1000, got);
  EXPECT_EQ(r.state, status::need_input);
  EXPECT_EQ(got, text);
}

TEST(TlsSession, ReceiveFromARecordSplitAtEveryOffset) {
  const std::string text = pattern(300, 3);
  for (std::size_t cut = 0; cut <= 322; ++cut) {
    pair p(shared().server, shared().client);
    const std::string wire = established_with(p, text);
    ASSERT_EQ(wire.size(), 322u);  // one record: header, text, type, tag
    socket_pair sp;
    ASSERT_GE(sp.fd, 0);
    std::string got;
    for (const std::string_view part : {std::string_view(wire).substr(0, cut), std::string_view(wire).substr(cut)}) {
      if (!part.empty()) sp.put(bytes_of(part));
      const receive_result r = read_all(p.s, sp.fd, 4096, got);
      ASSERT_EQ(r.state, status::need_input) << "cut " << cut;
      ASSERT_TRUE(r.drained);
      ASSERT_EQ(r.consumed, part.size());
    }
    ASSERT_EQ(got, text) << "cut " << cut;
  }
}

TEST(TlsSession, ReceiveFromATrickle) {
  pair p(shared().server, shared().client);
  const std::string text = pattern(40000, 4);
  const std::string wire = established_with(p, text);
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  std::string got;
  for (std::size_t pos = 0; pos < wire.size();) {
    const std::size_t n = std::min<std::size_t>(1 + pos % 997, wire.size() - pos);
    sp.put(bytes_of(std::string_view(wire).substr(pos, n)));
    pos += n;
    const receive_result r = read_all(p.s, sp.fd, 4096, got);
    ASSERT_EQ(r.state, status::need_input);
    ASSERT_EQ(r.consumed, n);
  }
  EXPECT_EQ(got, text);
}

TEST(TlsSession, ReceiveFromAnEmptySocketIsDrained) {
  pair p(shared().server, shared().client);
  established_with(p, "");
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  std::vector<std::uint8_t> room(1024);
  const receive_result r = p.s.s.receive_from(sp.fd, room, p.s.wire);
  EXPECT_EQ(r.state, status::need_input);
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_EQ(r.produced, 0u);
  EXPECT_FALSE(r.eof);
  EXPECT_EQ(r.error, 0);
}

TEST(TlsSession, ReceiveFromBeforeTheHandshakeReadsNothing) {
  side server{session::server(shared().server)};
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  sp.put(bytes_of("\x16\x03\x01"));
  std::vector<std::uint8_t> room(1024);
  const receive_result r = server.s.receive_from(sp.fd, room, server.wire);
  EXPECT_EQ(r.state, status::need_input);
  EXPECT_EQ(r.consumed, 0u);
  char left[8];
  EXPECT_EQ(::recv(sp.fd, left, sizeof left, 0), 3);  // still in the socket
}

// EOF behind data: the data arrives, EOF is reported, and the session can
// still answer (a peer that only shut its side down still reads).
TEST(TlsSession, ReceiveFromEofLeavesTheSessionUsable) {
  pair p(shared().server, shared().client);
  const std::string wire = established_with(p, "last words");
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  sp.put(bytes_of(wire.substr(0, wire.size() - 1)));  // the record's last byte never comes
  std::string got;
  receive_result r = read_all(p.s, sp.fd, 1024, got);
  EXPECT_FALSE(r.eof);
  sp.put(bytes_of(wire.substr(wire.size() - 1)));
  ASSERT_EQ(::shutdown(sp.peer, SHUT_WR), 0);
  r = read_all(p.s, sp.fd, 1024, got);
  EXPECT_EQ(got, "last words");
  EXPECT_TRUE(r.eof);
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(r.state, status::need_input);
  EXPECT_FALSE(p.s.s.failed()) << p.s.s.reason();
  pair::send(p.s, "goodbye");
  deliver(p.s, p.c);
  EXPECT_EQ(p.c.got, "goodbye");
}

TEST(TlsSession, ReceiveFromASocketErrorIsReported) {
  pair p(shared().server, shared().client);
  established_with(p, "");
  std::vector<std::uint8_t> room(1024);
  const int not_a_socket = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(not_a_socket, 0);
  const receive_result r = p.s.s.receive_from(not_a_socket, room, p.s.wire);
  ::close(not_a_socket);
  EXPECT_EQ(r.error, ENOTSOCK);
  EXPECT_TRUE(r.drained);
  EXPECT_EQ(r.state, status::need_input);
  EXPECT_FALSE(p.s.s.failed());
}

TEST(TlsSession, ReceiveFromCloseNotify) {
  pair p(shared().server, shared().client);
  established_with(p, "");
  ASSERT_EQ(p.c.s.shutdown(p.c.wire), status::done);
  socket_pair sp;
  ASSERT_GE(sp.fd, 0);
  sp.put(p.c.wire.bytes());
  std::string got;
  const receive_result r = read_all(p.s, sp.fd, 1024, got);
  EXPECT_EQ(r.state, status::closed);
  EXPECT_TRUE(p.s.s.peer_closed());
}

}  // namespace
}  // namespace zws::test::tls
