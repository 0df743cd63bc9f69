// The routing example of the interop suite: one port, /foo and /bar served by
// two behaviors, every other path refused (404), plus two helper routes the
// clients use to check closes both ways.
//   route_server PORT
//   /foo, /bar  answer each message with "foo:" or "bar:" + the message (same
//               opcode); a first message "id:X" names the connection, whose
//               close code and reason are then kept for /report
//   /report     answers "id:X" with "CODE REASON" of that connection, or "none"
//   /close      on a message "CODE REASON", the server closes first with them
#include <zws/zws.hpp>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

namespace {

struct named {
  std::string id;
};

std::map<std::string, std::string> closes;

zws::Behavior prefixed(std::string prefix) {
  return {
      .on_open = [](zws::WebSocket& ws) { ws.emplace<named>(); },
      .on_message =
          [prefix](zws::WebSocket& ws, const zws::Message& m) {
            auto& me = ws.data<named>();
            if (me.id.empty() && m.is_text() && m.data.starts_with("id:")) me.id = m.data.substr(3);
            std::string out = prefix;
            out.append(m.data);
            ws.send(out, m.opcode);
          },
      .on_close =
          [](zws::WebSocket& ws, std::uint16_t code, std::string_view reason) {
            auto& me = ws.data<named>();
            if (!me.id.empty()) closes[me.id] = std::to_string(code) + " " + std::string(reason);
          },
  };
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: route_server PORT\n");
    return 1;
  }
  zws::Server server;
  server.route("/foo", prefixed("foo:"));
  server.route("/bar", prefixed("bar:"));
  server.route("/report", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) {
                             auto it = closes.find(std::string(m.data.substr(m.data.starts_with("id:") ? 3 : 0)));
                             ws.send_text(it == closes.end() ? "none" : it->second);
                           }});
  server.route("/close", {.on_message = [](zws::WebSocket& ws, const zws::Message& m) {
                            auto space = m.data.find(' ');
                            int code = std::atoi(std::string(m.data.substr(0, space)).c_str());
                            ws.close(std::uint16_t(code), space == std::string_view::npos ? "" : m.data.substr(space + 1));
                          }});
  if (auto err = server.listen("127.0.0.1", std::uint16_t(std::atoi(argv[1])))) {
    std::fprintf(stderr, "route_server: %s\n", err.message().c_str());
    return 1;
  }
  std::printf("route_server on 127.0.0.1:%u\n", unsigned(server.port()));
  std::fflush(stdout);
  server.run();
}
