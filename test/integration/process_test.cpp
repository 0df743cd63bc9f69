// A zws server in a child process and a zws client in this one.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "harness.hpp"

namespace {

using namespace zws_test;

[[noreturn]] void serve_in_child(int port_pipe) {
  zws::Server server;
  server.route("/", {.on_message = [&server](zws::WebSocket& ws, const zws::Message& m) {
    if (m.data == "bye") {
      server.stop();
      return;
    }
    ws.send(m.data, m.opcode);
  }});
  int code = 1;
  if (!server.listen("127.0.0.1", 0)) {
    std::uint16_t port = server.port();
    if (::write(port_pipe, &port, sizeof port) == sizeof port) {
      server.run();
      code = 0;
    }
  }
  ::_exit(code);
}

TEST(CrossProcess, ClientTalksToAServerInAnotherProcess) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    serve_in_child(fds[1]);
  }
  ::close(fds[1]);
  std::uint16_t port = 0;
  ASSERT_EQ(::read(fds[0], &port, sizeof port), static_cast<ssize_t>(sizeof port));
  ::close(fds[0]);

  zws::Loop loop;
  std::vector<std::string> got;
  std::uint16_t close_code = 0;
  zws::connect(loop, url(port), {
      .on_open = [](zws::WebSocket& ws) {
        ws.send_text("one");
        ws.send_binary(std::string(100000, 'b'));
      },
      .on_message = [&](zws::WebSocket& ws, const zws::Message& m) {
        got.emplace_back(m.data);
        if (got.size() == 2) ws.send_text("bye");
      },
      .on_close = [&](zws::WebSocket&, std::uint16_t c, std::string_view) { close_code = c; },
      .on_error = [&](std::string_view why) { ADD_FAILURE() << why; },
  });
  EXPECT_TRUE(run_until(loop, [&] { return close_code != 0; }));
  EXPECT_EQ(close_code, 1001);  // the server going away
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0], "one");
  EXPECT_EQ(got[1].size(), 100000u);

  int status = 0;
  bool reaped = false;  // the predicate may run more than once: reap only once
  bool exited = run_until(loop, [&] { return reaped || (reaped = ::waitpid(child, &status, WNOHANG) == child); });
  if (!exited) {
    ::kill(child, SIGKILL);
    ::waitpid(child, &status, 0);
  }
  EXPECT_TRUE(exited);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
