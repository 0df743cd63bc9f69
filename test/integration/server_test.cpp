// Server features: on_http, adopt, cross-thread handles, broadcast, user data,
// listen errors, run(threads) and stop(), many connections, EMFILE.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <csignal>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;
using zws::opcode;

zws::Behavior echo() {
  zws::Behavior b;
  b.on_message = [](zws::WebSocket& ws, const zws::Message& m) { ws.send(m.data, m.opcode); };
  return b;
}

TEST(Server, ListenReportsAddressInUse) {
  zws::Server first, second;
  ASSERT_FALSE(first.listen("127.0.0.1", 0));
  zws::failure err = second.listen("127.0.0.1", first.port());
  ASSERT_TRUE(err);
  EXPECT_EQ(err.message(), "bind 127.0.0.1:" + std::to_string(first.port()) + ": Address already in use");
  EXPECT_EQ(err.code(), EADDRINUSE);
}

TEST(Server, ExactRoutesWinOverWildcardsAndTheLongestPrefixWins) {
  zws::Loop loop;
  zws::Server server(loop);
  auto tag = [](std::string name) {
    zws::Behavior b;
    b.on_open = [name](zws::WebSocket& ws) { ws.send_text(name + " " + std::string(ws.path())); };
    return b;
  };
  server.route("*", tag("any"));
  server.route("/api/*", tag("api"));
  server.route("/api/v2/*", tag("v2"));
  server.route("/api/exact", tag("exact"));
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::vector<std::string> paths = {"/", "/x/y", "/api/", "/api/v1/users", "/api/v2/q", "/api/exact"};
  std::vector<std::string> got(paths.size());
  for (std::size_t i = 0; i < paths.size(); ++i) {
    zws::Behavior b;
    b.on_message = [&got, i](zws::WebSocket& ws, const zws::Message& m) {
      got[i] = m.data;
      ws.close();
    };
    zws::connect(loop, url(server.port(), paths[i]), b);
  }
  ASSERT_TRUE(run_until(loop, [&] {
    for (auto& g : got)
      if (g.empty()) return false;
    return true;
  }));
  EXPECT_EQ(got, (std::vector<std::string>{"any /", "any /x/y", "api /api/", "api /api/v1/users", "v2 /api/v2/q",
                                           "exact /api/exact"}));
}

TEST(Server, OnHttpServesPlainRequests) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/ws", echo());
  server.on_http([](const zws::Request& req, zws::Response& resp) {
    if (req.path() != "/") {
      resp.status = 404;
      resp.body = "no";
      return;
    }
    resp.content_type = "text/html";
    resp.headers = {{"Cache-Control", "no-store"}};
    resp.body = "<h1>hi</h1>";
  });
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  raw_peer p(loop, server.port());
  p.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  p.wait_eof();
  std::string r = p.buffered();
  EXPECT_EQ(r.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r;
  EXPECT_NE(r.find("Content-Type: text/html"), std::string::npos);
  EXPECT_NE(r.find("\r\nCache-Control: no-store\r\n"), std::string::npos);
  EXPECT_EQ(r.substr(r.size() - 11), "<h1>hi</h1>");
  raw_peer q(loop, server.port());
  q.write("GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
  q.wait_eof();
  EXPECT_EQ(q.buffered().rfind("HTTP/1.1 404", 0), 0u);
}

TEST(Server, AdoptContinuesAnUpgradeReadElsewhere) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/adopted", echo());
  raw_server own;  // the application's own HTTP server
  std::string got;
  zws::Behavior b;
  b.on_open = [](zws::WebSocket& ws) { ws.send_text("through adopt"); };
  b.on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
    got = m.data;
    ws.close();
  };
  b.on_error = [&](std::string_view why) { got = why; };
  zws::connect(loop, url(own.port(), "/adopted"), b);
  int fd = own.accept(loop);
  ASSERT_GE(fd, 0);
  // The application reads part of the request itself, then hands everything over.
  std::string head;
  while (head.find("Upgrade") == std::string::npos) {
    char buf[32];
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n > 0) head.append(buf, static_cast<std::size_t>(n));
    loop.run_once(1ms);
  }
  ASSERT_FALSE(server.adopt(fd, head));
  ASSERT_TRUE(run_until(loop, [&] { return !got.empty(); }));
  EXPECT_EQ(got, "through adopt");
}

TEST(Server, HandlePostsFromAnotherThreadAndIsSafeAfterClose) {
  zws::Loop loop;
  zws::Server server(loop);
  zws::WebSocket::Handle handle;
  server.route("/", {.on_open = [&](zws::WebSocket& ws) { handle = ws.handle(); }});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::vector<std::string> got;
  bool closed = false;
  zws::Behavior b;
  b.on_message = [&](zws::WebSocket&, const zws::Message& m) { got.emplace_back(m.data); };
  b.on_close = [&](zws::WebSocket&, std::uint16_t, std::string_view) { closed = true; };
  zws::connect(loop, url(server.port()), b);
  ASSERT_TRUE(run_until(loop, [&] { return bool(handle); }));
  std::thread t([handle] {
    for (int i = 0; i < 100; ++i) handle.send("m" + std::to_string(i));
    handle.close(4001, "from a thread");
  });
  ASSERT_TRUE(run_until(loop, [&] { return closed; }));
  t.join();
  ASSERT_EQ(got.size(), 100u);
  EXPECT_EQ(got[99], "m99");
  // The connection is gone: the handle does nothing, and nothing crashes.
  handle.send("late");
  handle.post([](zws::WebSocket&) { ADD_FAILURE() << "ran on a closed connection"; });
  run_until(loop, [] { return false; }, 20ms);
}

TEST(Server, BroadcastReachesEveryConnectionOfThePath) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/room", {});
  server.route("/other", {});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  int received = 0, opened = 0, wrong = 0;
  for (int i = 0; i < 20; ++i) {
    zws::Behavior b;
    b.on_open = [&](zws::WebSocket&) { ++opened; };
    b.on_message = [&, i](zws::WebSocket&, const zws::Message& m) {
      if (i % 4 == 0 || m.data != "news") ++wrong;
      ++received;
    };
    zws::connect(loop, url(server.port(), i % 4 == 0 ? "/other" : "/room"), b);
  }
  ASSERT_TRUE(run_until(loop, [&] { return opened == 20; }));
  server.broadcast("/room", "news");
  ASSERT_TRUE(run_until(loop, [&] { return received == 15; }));
  run_until(loop, [] { return false; }, 20ms);
  EXPECT_EQ(received, 15);
  EXPECT_EQ(wrong, 0);
}

TEST(Server, TypedUserDataFromUpgrade) {
  struct session {
    std::string name;
    int messages = 0;
  };
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", {
      .on_upgrade = [](const zws::Request& req, zws::Upgrade& up) {
        up.emplace<session>(std::string(req.query()));
      },
      .on_message = [](zws::WebSocket& ws, zws::Message) {
        auto& s = ws.data<session>();
        ws.send_text(s.name + ":" + std::to_string(++s.messages));
      },
  });
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::vector<std::string> got;
  zws::Behavior b;
  b.on_open = [](zws::WebSocket& ws) {
    ws.send_text("a");
    ws.send_text("b");
  };
  b.on_message = [&](zws::WebSocket&, const zws::Message& m) { got.emplace_back(m.data); };
  zws::connect(loop, url(server.port(), "/?alice"), b);
  ASSERT_TRUE(run_until(loop, [&] { return got.size() == 2; }));
  EXPECT_EQ(got, (std::vector<std::string>{"alice:1", "alice:2"}));
}

TEST(Server, RunThreadsAndStopClosesEveryoneWith1001) {
  zws::Server server;
  std::atomic<int> server_opens{0};
  std::mutex threads_mutex;
  std::set<std::thread::id> threads;
  zws::Behavior b = echo();
  b.on_open = [&](zws::WebSocket&) {
    ++server_opens;
    std::lock_guard lock(threads_mutex);
    threads.insert(std::this_thread::get_id());
  };
  server.route("/", b);
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::atomic<bool> finished{false};
  std::thread runner([&] {
    server.run(2);
    finished = true;
  });
  // Once the first loop runs, every loop's listener exists (run() makes them first).
  std::atomic<bool> running{false};
  server.loop().post([&] { running = true; });
  for (int i = 0; i < 500 && !running; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_TRUE(running.load());
  zws::Loop loop;
  const int n = 40;
  int echoed = 0, going_away = 0;
  for (int i = 0; i < n; ++i) {
    zws::Behavior c;
    c.on_open = [](zws::WebSocket& ws) { ws.send_text("x"); };
    c.on_message = [&](zws::WebSocket&, zws::Message) { ++echoed; };
    c.on_close = [&](zws::WebSocket&, std::uint16_t code, std::string_view) { going_away += code == 1001; };
    zws::connect(loop, url(server.port()), c);
  }
  ASSERT_TRUE(run_until(loop, [&] { return echoed == n; }));
  server.stop();
  EXPECT_TRUE(run_until(loop, [&] { return going_away == n; }));
  // run() returns once everyone is gone, well before the close timeout.
  EXPECT_TRUE(run_until(loop, [&] { return finished.load(); }, 3000ms));
  runner.join();
  EXPECT_EQ(server_opens.load(), n);
  EXPECT_EQ(threads.size(), 2u);  // SO_REUSEPORT spread the connections over both loops
  EXPECT_EQ(server.connections(), 0u);
}

TEST(Server, DestroyedFromInsideALoopCallback) {
  zws::Loop loop;
  auto server = std::make_unique<zws::Server>(loop);
  bool destroyed = false;
  server->route("/", {.on_message = [&](zws::WebSocket&, zws::Message) {
    loop.defer([&] {
      server.reset();  // still inside the batch: connections are freed after it
      destroyed = true;
    });
  }});
  ASSERT_FALSE(server->listen("127.0.0.1", 0));
  int closed = 0;
  for (int i = 0; i < 3; ++i) {
    zws::connect(loop, url(server->port()), {
        .on_open = [i](zws::WebSocket& ws) {
          if (i == 2) ws.send_text("now");
        },
        .on_close = [&](zws::WebSocket&, std::uint16_t, std::string_view) { ++closed; },
        .on_error = [&](std::string_view) { ++closed; },  // if cut before its 101
    });
  }
  ASSERT_TRUE(run_until(loop, [&] { return destroyed && closed == 3; }));
}

TEST(Server, StopBeforeAnyConnectionReturnsPromptly) {
  zws::Server server;
  server.route("/", {});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  std::thread runner([&] { server.run(); });
  server.stop();
  runner.join();
  SUCCEED();
}

TEST(Server, StopOnSignalsEndsRun) {
  zws::Server server;
  server.route("/", {});
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  sigset_t old;
  ::pthread_sigmask(SIG_SETMASK, nullptr, &old);
  ASSERT_FALSE(server.stop_on_signals({SIGUSR2}));
  bool timed_out = false;
  server.loop().set_timeout(3000ms, [&] {
    timed_out = true;
    server.stop();
  });
  ::raise(SIGUSR2);  // pending on this thread, which runs the loop below
  server.run();
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  EXPECT_FALSE(timed_out);
}

TEST(Server, AThousandConcurrentConnections) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", echo());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  const int n = 1000;
  int echoed = 0;
  std::vector<zws::WebSocket::Handle> clients;
  for (int i = 0; i < n; ++i) {
    zws::Behavior c;
    c.on_open = [&, i](zws::WebSocket& ws) {
      ws.send_text(std::to_string(i));
      clients.push_back(ws.handle());
    };
    c.on_message = [&, i](zws::WebSocket&, const zws::Message& m) { echoed += m.data == std::to_string(i); };
    zws::connect(loop, url(server.port()), c);
  }
  ASSERT_TRUE(run_until(loop, [&] { return echoed == n; }, 20000ms));
  EXPECT_EQ(server.connections(), static_cast<std::size_t>(n));
  for (auto& h : clients) h.close();
  EXPECT_TRUE(run_until(loop, [&] { return server.connections() == 0; }, 20000ms));
}

TEST(Server, SurvivesEmfileAndRecovers) {
  zws::Loop loop;
  zws::Server server(loop);
  server.route("/", echo());
  ASSERT_FALSE(server.listen("127.0.0.1", 0));
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // The limit caps descriptor numbers: fill every hole below the highest open one.
  int highest = 0;
  for (const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
    highest = std::max(highest, std::atoi(e.path().filename().c_str()));
  std::vector<int> fillers;
  for (int fd = ::dup(0); fd >= 0 && fd <= highest; fd = ::dup(0)) fillers.push_back(fd);
  ::close(highest + 1);  // the dup that ended the loop
  // Room for 7 more: three raw clients, their three accepted sockets, one more client.
  rlimit tight = old;
  tight.rlim_cur = static_cast<rlim_t>(highest + 1 + 7);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<std::unique_ptr<raw_peer>> peers;
  for (int i = 0; i < 3; ++i) peers.push_back(std::make_unique<raw_peer>(loop, server.port()));
  for (auto& p : peers) EXPECT_NE(p->handshake().find(" 101 "), std::string::npos);
  raw_peer extra(loop, server.port());  // takes the last descriptor: the server hits EMFILE
  ASSERT_TRUE(extra.ok());
  run_until(loop, [] { return false; }, 50ms);
  // Existing connections are still served.
  peers[0]->write(client_frame(opcode::text, "alive"));
  auto f = peers[0]->read_frame();
  ASSERT_TRUE(f);
  EXPECT_EQ(f->payload, "alive");
  // Free descriptors: the pending client is accepted and served.
  peers[1]->close();
  peers[2]->close();
  std::string head = extra.handshake();
  EXPECT_NE(head.find(" 101 "), std::string::npos) << head;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  for (int fd : fillers) ::close(fd);
}

}  // namespace
