// zws-chat: the classic chat-room demo. Serves one self-contained page at /
// (through on_http) and rooms at /chat?room=NAME (default "lobby"; the page lets
// a user pick one). A room is a topic ("chat/NAME"): joining subscribes to it and
// every line is published to it, so each message is encoded once for everyone.
// With --redis HOST:PORT, several zws-chat processes (behind a load balancer)
// share their rooms through Redis pub/sub; the member list a newcomer is shown
// and the counts are this instance's own. Runs on one loop, so no locks.
//
// Wire format, text messages of lines:
//   browser -> server   "join\nNICK"  "nick\nNEW"  "say\nTEXT"
//   server -> browser   "welcome\nNICK\nWHO'S ONLINE"  "join\nNICK\nCOUNT"
//                       "leave\nNICK\nCOUNT"  "nick\nOLD\nNEW"  "msg\nNICK\nTEXT"
// The page renders every field with textContent: user text is never HTML.
#include <zws/zws.hpp>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "chat_page.hpp"
#include "cli.hpp"

namespace {

constexpr const char* usage =
    "usage: zws-chat [--port N] [--host H] [--tls-cert F --tls-key F] [--redis HOST:PORT]\n"
    "Chat rooms: open the printed URL in two browsers.\n"
    "  --port N            port to listen on (default 8080)\n"
    "  --host H            numeric address or localhost (default: every address)\n"
    "  --tls-cert F        serve the page over https and the rooms over wss: certificate chain (PEM)\n"
    "  --tls-key F         its private key (PEM); both or neither\n"
    "  --redis HOST:PORT   share the rooms with every zws-chat bridged to this Redis\n";

struct member {
  std::string room;
  std::string nick;
  bool joined = false;
};

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The room named by the query's room= parameter (percent-decoded), kept short
// and printable; "lobby" when there is none.
std::string room_of(std::string_view query) {
  std::string raw;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view field = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (!field.starts_with("room=")) continue;
    const std::string_view v = field.substr(5);
    for (std::size_t i = 0; i < v.size(); ++i) {
      if (v[i] == '%' && i + 2 < v.size() && hex_digit(v[i + 1]) >= 0 && hex_digit(v[i + 2]) >= 0) {
        raw.push_back(char(hex_digit(v[i + 1]) * 16 + hex_digit(v[i + 2])));
        i += 2;
      } else {
        raw.push_back(v[i] == '+' ? ' ' : v[i]);
      }
    }
    break;
  }
  std::string out;
  for (unsigned char c : raw)
    if (c >= 0x20 && c != 0x7f) out.push_back(char(c));
  const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(out.data()), out.size());
  if (zws::utf8_error_offset(bytes) != bytes.size()) return "lobby";  // it goes out in text messages
  if (out.size() > 32) {
    std::size_t cut = 32;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;  // whole code points
    out.resize(cut);
  }
  return out.empty() ? "lobby" : out;
}

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

class rooms {
 public:
  explicit rooms(zws::Server& server) : server_(server) {}

  zws::Behavior behavior() {
    return {
        .on_upgrade = [](const zws::Request& req, zws::Upgrade& up) { up.emplace<member>().room = room_of(req.query()); },
        .on_message = [this](zws::WebSocket& ws, const zws::Message& m) { received(ws, m); },
        .on_close = [this](zws::WebSocket& ws, std::uint16_t, std::string_view) { left(ws); },
        // Chat lines are short; a browser that stops reading is cut loose
        // (1008) once 1 MiB waits for it, so it can never stall the room:
        // the policy applies to each subscriber of the room's topic.
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
      members_[me.room].insert(&ws);
      ws.subscribe(topic(me));
      ws.send_text("welcome\n" + me.nick + "\n" + online(me.room) + "\n" + me.room);
      say(ws, "join\n" + me.nick + "\n" + count(me));
    } else if (kind == "nick" && me.joined) {
      std::string nick = clean_nick(arg);
      if (nick.empty() || nick == me.nick) return;
      say(ws, "nick\n" + me.nick + "\n" + nick);
      me.nick = std::move(nick);
    } else if (kind == "say" && me.joined && !arg.empty()) {
      std::string line = "msg\n" + me.nick + "\n";
      line.append(arg);
      say(ws, line);
    }
  }

  // The connection's subscription ended as it closed: the others hear of it.
  void left(zws::WebSocket& ws) {
    auto& me = ws.data<member>();
    auto it = members_.find(me.room);
    if (it == members_.end() || it->second.erase(&ws) == 0) return;
    if (it->second.empty()) members_.erase(it);
    say(ws, "leave\n" + me.nick + "\n" + count(me));
  }

  static std::string topic(const member& m) { return "chat/" + m.room; }
  // Members of the room on this instance.
  std::string count(const member& m) const { return std::to_string(server_.subscribers(topic(m))); }

  std::string online(const std::string& room) const {
    std::string who;
    for (auto* ws : members_.at(room)) who += (who.empty() ? "" : ", ") + ws->data<member>().nick;
    return who;
  }

  // One encoding for the whole room (and every instance sharing it through
  // Redis); each member's queue is bounded by its backpressure policy, so a
  // slow member costs the others nothing.
  static void say(zws::WebSocket& ws, const std::string& text) { ws.publish(topic(ws.data<member>()), text); }

  zws::Server& server_;
  std::unordered_map<std::string, std::unordered_set<zws::WebSocket*>> members_;
  unsigned guests_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int port = 8080;
  std::string host, redis;
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
    } else if (a.is("--redis")) {
      redis = a.value();
    } else {
      a.unknown();
    }
  }

  if (tls.cert_chain_file.empty() != tls.key_file.empty())
    a.fail("missing", tls.key_file.empty() ? "--tls-key" : "--tls-cert");
  const bool secure = !tls.cert_chain_file.empty();

  zws::Server server;
  rooms chat(server);
  server.route("/chat", chat.behavior());
  if (!redis.empty()) {
    const std::size_t colon = redis.rfind(':');
    const long rport = colon == std::string::npos ? 0 : std::atol(redis.c_str() + colon + 1);
    if (rport <= 0 || rport > 65535) {
      std::fprintf(stderr, "zws-chat: --redis wants HOST:PORT, got '%s'\n", redis.c_str());
      return 2;
    }
    if (auto err = server.bridge_redis(redis.substr(0, colon), static_cast<std::uint16_t>(rport))) {
      std::fprintf(stderr, "zws-chat: %s\n", err.message().c_str());
      return 1;
    }
  }
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
