// The Redis bridge against Debian's redis-server, started on a free loopback
// port with its own directory and stopped by PID: two servers in one process
// share a topic through it, exactly once each; the bridge survives Redis being
// killed and restarted, and Redis being absent at start.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;

const char* const redis_binary = "/usr/bin/redis-server";

std::uint16_t free_port() {
  raw_server s;  // bound to port 0, closed when it goes
  return s.port();
}

// A blocking request to Redis (a few lines of inline command); returns the raw reply.
std::string redis_query(std::uint16_t port, const std::string& command) {
  const int fd = connect_loopback(port);
  if (fd < 0) return {};
  timeval tv{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string line = command + "\r\n";
  std::string out;
  if (::send(fd, line.data(), line.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(line.size())) {
    char buf[4096];
    ssize_t n;
    // One read is enough for the short replies asked here, after a moment.
    while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) {
      out.append(buf, static_cast<std::size_t>(n));
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) break;
    }
  }
  ::close(fd);
  return out;
}

class redis_server {
 public:
  explicit redis_server(std::uint16_t port) : port_(port) {
    char tmpl[] = "/tmp/zws-redis-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) dir_ = tmpl;
  }
  ~redis_server() {
    stop();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  redis_server(const redis_server&) = delete;
  redis_server& operator=(const redis_server&) = delete;

  bool start() {
    pid_ = ::fork();
    if (pid_ == 0) {
      const int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 1);
      ::dup2(null, 2);
      const std::string port = std::to_string(port_);
      ::execl(redis_binary, redis_binary, "--port", port.c_str(), "--bind", "127.0.0.1", "--dir", dir_.c_str(),
              "--save", "", "--appendonly", "no", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    if (pid_ < 0) return false;
    // Ready when it answers PING (or gone when the child exited).
    const auto end = std::chrono::steady_clock::now() + 5s;
    while (std::chrono::steady_clock::now() < end) {
      if (redis_query(port_, "PING").starts_with("+PONG")) return true;
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::uint16_t port() const { return port_; }

  // Subscribers of a channel (PUBSUB NUMSUB), -1 when Redis does not answer.
  long numsub(const std::string& channel) const {
    const std::string r = redis_query(port_, "PUBSUB NUMSUB " + channel);
    const std::size_t colon = r.rfind(':');
    return colon == std::string::npos ? -1 : std::atol(r.c_str() + colon + 1);
  }
  long clients() const {
    const std::string r = redis_query(port_, "INFO clients");
    const std::size_t at = r.find("connected_clients:");
    return at == std::string::npos ? -1 : std::atol(r.c_str() + at + 18);
  }

 private:
  std::uint16_t port_;
  std::string dir_;
  pid_t pid_ = -1;
};

struct peer {
  zws::WebSocket* ws = nullptr;
  std::vector<std::string> got;
};

std::unique_ptr<peer> subscriber(zws::Loop& loop, std::uint16_t port) {
  auto p = std::make_unique<peer>();
  peer* raw = p.get();
  zws::Behavior b;
  b.on_open = [raw](zws::WebSocket& ws) { raw->ws = &ws; };
  b.on_message = [raw](zws::WebSocket&, const zws::Message& m) { raw->got.emplace_back(m.data); };
  b.on_close = [raw](zws::WebSocket&, std::uint16_t, std::string_view) { raw->ws = nullptr; };
  zws::connect(loop, url(port, "/room"), b);
  return p;
}

// Every connection subscribes to "room"; "pub <text>" publishes it to the room.
zws::Behavior room() {
  return {
      .on_open = [](zws::WebSocket& ws) { ws.subscribe("room"); },
      .on_message = [](zws::WebSocket& ws, const zws::Message& m) {
        if (m.data.starts_with("pub ")) ws.publish("room", m.data.substr(4));
      },
  };
}

// Two servers on one loop, bridged through Redis on `port`, each with one subscriber.
struct two_instances {
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server a{loop}, b{loop};
  explicit two_instances(std::uint16_t redis_port) {
    for (zws::Server* s : {&a, &b}) {
      s->route("/room", room());
      EXPECT_FALSE(s->bridge_redis("127.0.0.1", redis_port));
      EXPECT_FALSE(s->listen("127.0.0.1", 0));
    }
    peers.push_back(subscriber(loop, a.port()));
    peers.push_back(subscriber(loop, b.port()));
  }
  peer& on_a() { return *peers[0]; }
  peer& on_b() { return *peers[1]; }
  // Both bridges have subscribed the room's channel and both publish links are
  // up (two links per server, plus the query's own connection).
  bool bridged(const redis_server& redis, std::chrono::milliseconds limit = 10s) {
    return run_until(loop, [&] { return redis.numsub("zws:room") == 2 && redis.clients() >= 5; }, limit);
  }
  void settle() { run_until(loop, [] { return false; }, 200ms); }
};

TEST(RedisBridge, APublishReachesBothInstancesExactlyOnce) {
  redis_server redis(free_port());
  ASSERT_TRUE(redis.start()) << "could not start " << redis_binary;
  two_instances t(redis.port());
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().ws != nullptr && t.on_b().ws != nullptr; }));
  ASSERT_TRUE(t.bridged(redis));

  t.on_a().ws->send_text("pub from a");  // WebSocket::publish on A
  t.b.publish("room", "from b");         // Server::publish on B
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().got.size() >= 2 && t.on_b().got.size() >= 2; }));
  t.settle();  // anything echoed back by Redis would have arrived by now
  for (peer* p : {&t.on_a(), &t.on_b()}) {
    std::sort(p->got.begin(), p->got.end());
    EXPECT_EQ(p->got, (std::vector<std::string>{"from a", "from b"}));
  }
  EXPECT_EQ(t.a.subscribers("room"), 1u);  // each server counts its own subscribers

  // A program other than zws publishes on the channel: delivered as it is.
  redis_query(redis.port(), "PUBLISH zws:room plain");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().got.size() == 3 && t.on_b().got.size() == 3; }));
  EXPECT_EQ(t.on_a().got.back(), "plain");
}

TEST(RedisBridge, ReconnectsAndResubscribesWhenRedisRestarts) {
  redis_server redis(free_port());
  ASSERT_TRUE(redis.start());
  two_instances t(redis.port());
  ASSERT_TRUE(t.bridged(redis));
  t.a.publish("room", "1");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_b().got.size() == 1; }));

  redis.stop();
  t.settle();
  // Local delivery goes on; the other instance misses it (at most once).
  t.a.publish("room", "while down");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().got.size() == 2; }));
  EXPECT_EQ(t.on_a().got.back(), "while down");

  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(t.bridged(redis));
  t.a.publish("room", "2");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_b().got.size() == 2; }));
  EXPECT_EQ(t.on_b().got, (std::vector<std::string>{"1", "2"}));

  // The subscriber links cut by Redis (mid-stream, as a network would): back again.
  redis_query(redis.port(), "CLIENT KILL TYPE pubsub");
  ASSERT_TRUE(t.bridged(redis));
  t.b.publish("room", "3");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().got.size() == 4; }));
  EXPECT_EQ(t.on_a().got.back(), "3");
}

TEST(RedisBridge, RedisAbsentAtStartThenStarted) {
  redis_server redis(free_port());
  two_instances t(redis.port());
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().ws != nullptr && t.on_b().ws != nullptr; }));
  t.on_a().ws->send_text("pub local");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_a().got.size() == 1; }));
  t.settle();
  EXPECT_TRUE(t.on_b().got.empty());

  ASSERT_TRUE(redis.start());
  ASSERT_TRUE(t.bridged(redis));
  t.on_a().ws->send_text("pub bridged");
  ASSERT_TRUE(run_until(t.loop, [&] { return t.on_b().got.size() == 1; }));
  EXPECT_EQ(t.on_b().got.back(), "bridged");
}

// A fake Redis cuts the subscriber link in the middle of a message: the part
// is dropped (never delivered), the bridge reconnects and resubscribes, and
// the next whole message is delivered.
TEST(RedisBridge, ALinkCutMidReplyIsDroppedAndResubscribed) {
  raw_server fake;
  std::vector<std::unique_ptr<peer>> peers;
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/room", room());
  ASSERT_FALSE(server.bridge_redis("127.0.0.1", fake.port()));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  peers.push_back(subscriber(loop, server.port()));
  ASSERT_TRUE(run_until(loop, [&] { return server.subscribers("room") == 1; }));

  // Of the bridge's two connections, the subscriber is the one that SUBSCRIBEs.
  auto subscribe_link = [&] {
    std::vector<std::unique_ptr<raw_peer>> links;
    for (int i = 0; i < 2; ++i) {
      const int fd = fake.accept(loop);
      if (fd < 0) break;
      links.push_back(std::make_unique<raw_peer>(loop, fd, 0));
    }
    for (auto& l : links) {
      const std::string got = l->read_until([](const std::string& b) { return b.find("zws:room\r\n") != std::string::npos; }, 1000ms);
      if (got.find("SUBSCRIBE") != std::string::npos && got.find("zws:room") != std::string::npos) return std::move(l);
    }
    return std::unique_ptr<raw_peer>();
  };
  auto sub = subscribe_link();
  ASSERT_TRUE(sub);
  sub->write("*3\r\n$9\r\nsubscribe\r\n$8\r\nzws:room\r\n:1\r\n");
  sub->write("*3\r\n$7\r\nmessage\r\n$8\r\nzws:room\r\n$5\r\nhel");  // cut here
  run_until(loop, [] { return false; }, 50ms);
  sub->close();

  auto again = subscribe_link();  // after the 100 ms backoff
  ASSERT_TRUE(again);
  again->write("*3\r\n$9\r\nsubscribe\r\n$8\r\nzws:room\r\n:1\r\n");
  again->write("*3\r\n$7\r\nmessage\r\n$8\r\nzws:room\r\n$5\r\nwhole\r\n");
  ASSERT_TRUE(run_until(loop, [&] { return !peers[0]->got.empty(); }));
  run_until(loop, [] { return false; }, 100ms);
  EXPECT_EQ(peers[0]->got, std::vector<std::string>{"whole"});
}

}  // namespace
