// zws-chat: the classic chat-room demo. Serves one self-contained page at /
// (through on_http) and a room at /chat where every message is broadcast to
// everyone who joined. Runs on one loop, so the room needs no locks.
//
// Wire format, text messages of lines:
//   browser -> server   "join\nNICK"  "nick\nNEW"  "say\nTEXT"
//   server -> browser   "welcome\nNICK\nWHO'S ONLINE"  "join\nNICK\nCOUNT"
//                       "leave\nNICK\nCOUNT"  "nick\nOLD\nNEW"  "msg\nNICK\nTEXT"
// The page renders every field with textContent: user text is never HTML.
#include <zws/zws.hpp>

#include <cstdio>
#include <string>
#include <unordered_set>
#include <vector>

#include "chat_page.hpp"
#include "cli.hpp"

namespace {

constexpr const char* usage =
    "usage: zws-chat [--port N] [--host H] [--tls-cert F --tls-key F]\n"
    "A chat room: open the printed URL in two browsers.\n"
    "  --port N   port to listen on (default 8080)\n"
    "  --host H   numeric address or localhost (default: every address)\n"
    "  --tls-cert F  serve the page over https and the room over wss: certificate chain (PEM)\n"
    "  --tls-key F   its private key (PEM); both or neither\n";

struct member {
  std::string nick;
  bool joined = false;
};

// Keeps what a browser can choose as a nickname short and printable.
std::string clean_nick(std::string_view in) {
  std::string out;
  for (unsigned char c : in) {
    if (c < 0x20 || c == 0x7f) continue;
    out.push_back(char(c));
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  while (!out.empty() && out.front() == ' ') out.erase(out.begin());
  if (out.size() > 24) {
    std::size_t cut = 24;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // whole code points
    out.resize(cut);
  }
  return out;
}

class room {
 public:
  zws::Behavior behavior() {
    return {
        .on_open = [](zws::WebSocket& ws) { ws.emplace<member>(); },
        .on_message = [this](zws::WebSocket& ws, const zws::Message& m) { received(ws, m); },
        .on_close = [this](zws::WebSocket& ws, std::uint16_t, std::string_view) { left(ws); },
        // Chat lines are short; a browser that stops reading is cut loose
        // (1008) once 1 MiB waits for it, so it can never stall the room.
        .max_message_size = 16 * 1024,
        .max_backpressure = 1024 * 1024,
        .on_backpressure = zws::backpressure_policy::close,
        .idle_timeout = std::chrono::seconds(60),  // pinged first; live browsers answer
    };
  }

 private:
  void received(zws::WebSocket& ws, const zws::Message& m) {
    if (!m.is_text()) return;
    auto& me = ws.data<member>();
    auto nl = m.data.find('\n');
    std::string_view kind = m.data.substr(0, nl);
    std::string_view arg = nl == std::string_view::npos ? std::string_view{} : m.data.substr(nl + 1);
    if (kind == "join" && !me.joined) {
      me.nick = clean_nick(arg);
      if (me.nick.empty()) me.nick = "guest-" + std::to_string(++guests_);
      me.joined = true;
      members_.insert(&ws);
      ws.send_text("welcome\n" + me.nick + "\n" + online());
      broadcast("join\n" + me.nick + "\n" + std::to_string(members_.size()));
    } else if (kind == "nick" && me.joined) {
      std::string nick = clean_nick(arg);
      if (nick.empty() || nick == me.nick) return;
      broadcast("nick\n" + me.nick + "\n" + nick);
      me.nick = std::move(nick);
    } else if (kind == "say" && me.joined && !arg.empty()) {
      std::string line = "msg\n" + me.nick + "\n";
      line.append(arg);
      broadcast(line);
    }
  }

  void left(zws::WebSocket& ws) {
    if (members_.erase(&ws) == 0) return;
    broadcast("leave\n" + ws.data<member>().nick + "\n" + std::to_string(members_.size()));
  }

  std::string online() const {
    std::string who;
    for (auto* ws : members_) who += (who.empty() ? "" : ", ") + ws->data<member>().nick;
    return who;
  }

  // Sending is corked and bounded per connection: a slow member costs the
  // others nothing, and past max_backpressure it is closed, not waited for.
  // Iterates a copy: a send may close a member and so change members_.
  void broadcast(const std::string& text) {
    std::vector<zws::WebSocket*> now(members_.begin(), members_.end());
    for (auto* ws : now) ws->send_text(text);
  }

  std::unordered_set<zws::WebSocket*> members_;
  unsigned guests_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  std::string host;
  zws::tls_server_options tls;
  zws_tools::args a(argc, argv, usage);
  while (a.next()) {
    if (a.is("--help") || a.is("-h")) {
      std::fputs(usage, stdout);
      return 0;
    } else if (a.is("--port")) {
      port = a.number<int>(0, 65535);
    } else if (a.is("--host")) {
      host = a.value();
    } else if (a.is("--tls-cert")) {
      tls.cert_chain_file = a.value();
    } else if (a.is("--tls-key")) {
      tls.key_file = a.value();
    } else {
      a.unknown();
    }
  }

  if (tls.cert_chain_file.empty() != tls.key_file.empty())
    a.fail("missing", tls.key_file.empty() ? "--tls-key" : "--tls-cert");
  const bool secure = !tls.cert_chain_file.empty();

  room chat;
  zws::Server server;
  server.route("/chat", chat.behavior());
  server.on_http([](const zws::Request& req, zws::Response& res) {
    if (req.path() == "/" || req.path() == "/index.html") {
      res.content_type = "text/html; charset=utf-8";
      res.body = zws_tools::chat_page;
    } else {
      res.status = 404;
      res.body = "not found\n";
    }
  });
  auto p = static_cast<std::uint16_t>(port);
  zws::failure err = secure ? (host.empty() ? server.listen(p, tls) : server.listen(host, p, tls))
                            : (host.empty() ? server.listen(p) : server.listen(host, p));
  if (err) {
    std::fprintf(stderr, "zws-chat: %s\n", err.message().c_str());
    return 1;
  }
  zws_tools::on_stop_signal([&server] { server.stop(); });
  std::printf("zws-chat: open %s://%s:%u/ in two browser windows (Ctrl-C stops)\n", secure ? "https" : "http",
              host.empty() || host == "0.0.0.0" ? "localhost" : host.c_str(), unsigned(server.port()));
  std::fflush(stdout);
  server.run();
  return 0;
}
