// The library's client (zws::connect) against a server we did not write:
// ws_server.js or py_server.py, directly, through nginx or over TLS (see
// ws_server.js for the paths).
//   connect_test NAME BASE_URL [--ca FILE] [--deflate OFFER]
// --ca: wss:// trusting only that CA (verification on). --deflate: offer
// permessage-deflate, OFFER a comma list of "default",
// "client_no_context_takeover", "server_no_context_takeover",
// "client_max_window_bits=N"; first the answer and the bytes on the wire are
// checked (/wire), then the echo cases run compressed.
// Prints one "ok - NAME: case" / "not ok - NAME: case: why" line per case.
// Every wait is bounded: the loop runs in slices until a case is settled.
#include <zws/zws.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace std::chrono_literals;

// Everything one connection reported.
struct events {
  zws::WebSocket* ws = nullptr;
  std::vector<std::pair<zws::opcode, std::string>> messages;
  std::vector<std::string> pongs;
  bool opened = false, closed = false, errored = false;
  std::uint16_t code = 0;
  std::string reason, error;
  bool settled() const { return closed || errored; }
};

class suite {
 public:
  suite(std::string name, std::string base, zws::ClientOptions options)
      : name_(std::move(name)), base_(std::move(base)), options_(std::move(options)) {}

  int finish() const { return failed_ ? 1 : 0; }

  // Connects to base + path (or to path, when it is a whole URL); `opened` runs in on_open. With `echo_back`, every
  // message is sent back as it arrives.
  std::shared_ptr<events> open(const std::string& path, std::function<void(zws::WebSocket&)> opened = {},
                               bool echo_back = false) {
    auto ev = std::make_shared<events>();
    const bool whole = path.starts_with("ws://") || path.starts_with("wss://");
    zws::connect(loop_, whole ? path : base_ + path,
                 {
                     .on_open =
                         [ev, opened](zws::WebSocket& ws) {
                           ev->ws = &ws;
                           ev->opened = true;
                           if (opened) opened(ws);
                         },
                     .on_message =
                         [ev, echo_back](zws::WebSocket& ws, const zws::Message& m) {
                           ev->messages.emplace_back(m.opcode, std::string(m.data));
                           if (echo_back) ws.send(m.data, m.opcode);
                         },
                     .on_pong = [ev](zws::WebSocket&, std::string_view p) { ev->pongs.emplace_back(p); },
                     .on_close =
                         [ev](zws::WebSocket&, std::uint16_t code, std::string_view reason) {
                           ev->ws = nullptr;
                           ev->closed = true;
                           ev->code = code;
                           ev->reason = reason;
                         },
                     .on_error =
                         [ev](std::string_view why) {
                           ev->errored = true;
                           ev->error = why;
                         },
                     .max_message_size = std::size_t{64} << 20,
                     .max_backpressure = std::size_t{64} << 20,
                 },
                 options_);
    return ev;
  }

  // Runs the loop until `done` holds or `limit` passes.
  bool until(const std::function<bool()>& done, std::chrono::milliseconds limit = 10s) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() > end) return false;
      loop_.run_once(20ms);
    }
    return true;
  }

  // Closes (if still open) and waits for on_close.
  void close(const std::shared_ptr<events>& ev, std::uint16_t code = 1000, std::string_view reason = {}) {
    if (ev->ws) ev->ws->close(code, reason);
    until([&] { return ev->settled(); }, 10s);
  }

  void check(const std::string& title, const std::string& failure) {
    if (failure.empty()) {
      std::printf("ok - %s: %s\n", name_.c_str(), title.c_str());
    } else {
      failed_ = true;
      std::printf("not ok - %s: %s: %s\n", name_.c_str(), title.c_str(), failure.c_str());
    }
    std::fflush(stdout);
  }

  // Sends every message on a fresh /echo connection and expects each back,
  // in order, with its opcode.
  std::string echo(const std::vector<std::pair<zws::opcode, std::string>>& sent, std::chrono::milliseconds limit = 20s) {
    auto ev = open("/echo", [&sent](zws::WebSocket& ws) {
      for (auto& [op, data] : sent) ws.send(data, op);
    });
    bool got = until([&] { return ev->settled() || ev->messages.size() >= sent.size(); }, limit);
    std::string why;
    if (ev->errored) {
      why = "connect failed: " + ev->error;
    } else if (!got || ev->messages.size() < sent.size()) {
      why = "got " + std::to_string(ev->messages.size()) + " of " + std::to_string(sent.size()) + " messages" +
            (ev->closed ? ", closed " + std::to_string(ev->code) + " " + ev->reason : "");
    } else {
      for (std::size_t i = 0; i < sent.size() && why.empty(); ++i) {
        if (ev->messages[i].first != sent[i].first) why = "message " + std::to_string(i) + ": wrong opcode";
        if (ev->messages[i].second != sent[i].second) why = "message " + std::to_string(i) + ": payload differs";
      }
    }
    close(ev);
    if (why.empty() && ev->code != 1000) why = "close code " + std::to_string(ev->code);
    return why;
  }

  zws::Loop& loop() { return loop_; }
  const std::string& name() const { return name_; }
  const zws::ClientOptions& options() const { return options_; }

 private:
  zws::Loop loop_;
  std::string name_, base_;
  zws::ClientOptions options_;
  bool failed_ = false;
};

std::string random_bytes(std::size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

std::string expect_close(const events& ev, std::uint16_t code, std::string_view reason) {
  if (ev.errored) return "connect failed: " + ev.error;
  if (!ev.closed) return "no close";
  if (ev.code != code || ev.reason != reason) return "closed " + std::to_string(ev.code) + " \"" + ev.reason + "\"";
  return {};
}

void run(suite& t) {
  using zws::opcode;
  std::mt19937 rng(6455);
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(char(i));
  t.check("text ASCII, CJK, emoji, empty; binary of every byte value",
          t.echo({{opcode::text, "Hello WebSockets!"},
                  {opcode::text, "你好，世界 こんにちは 안녕하세요"},
                  {opcode::text, "🎉🚀 👩‍💻 é ß"},
                  {opcode::text, ""},
                  {opcode::binary, all_bytes}}));
  for (std::size_t n : {0u, 1u, 125u, 126u, 127u, 65535u, 65536u, 1u << 20, 16u << 20}) {
    t.check("binary " + std::to_string(n) + " B", t.echo({{opcode::binary, random_bytes(n, rng)}}, 60s));
  }
  std::vector<std::pair<opcode, std::string>> many;
  for (int i = 0; i < 1000; ++i) many.emplace_back(opcode::text, "message " + std::to_string(i));
  t.check("1000 messages back-to-back, in order", t.echo(many));

  {
    auto ev = t.open("/echo", [](zws::WebSocket& ws) { ws.ping("zws-ping"); });
    t.until([&] { return ev->settled() || !ev->pongs.empty(); });
    t.check("our ping answered by a pong with the same payload",
            ev->pongs.empty() ? "no pong" : ev->pongs[0] == "zws-ping" ? "" : "pong payload " + ev->pongs[0]);
    t.close(ev);
  }
  {
    auto ev = t.open("/ping");
    t.until([&] { return ev->settled(); });
    t.check("the server's ping answered (server closes 1000 \"pong ok\")", expect_close(*ev, 1000, "pong ok"));
  }
  {
    std::string id = t.name() + "-" + std::to_string(rng());
    auto ev = t.open("/echo", [&id](zws::WebSocket& ws) { ws.send_text("id:" + id); });
    t.until([&] { return ev->settled() || !ev->messages.empty(); });
    t.close(ev, 4000, "bye ✓ 再见");
    std::string seen = "none";
    for (int i = 0; i < 50 && seen == "none"; ++i) {
      auto r = t.open("/report", [&id](zws::WebSocket& ws) { ws.send_text("id:" + id); });
      t.until([&] { return r->settled() || !r->messages.empty(); });
      if (!r->messages.empty()) seen = r->messages[0].second;
      t.close(r);
      if (seen == "none") t.until([] { return false; }, 100ms);
    }
    std::string why = ev->code != 4000 ? "our on_close saw " + std::to_string(ev->code) : "";
    if (why.empty() && seen != "4000 bye ✓ 再见") why = "server saw \"" + seen + "\"";
    t.check("close 4000 + reason: seen by the server", why);
  }
  {
    auto ev = t.open("/close-first");
    t.until([&] { return ev->settled(); });
    t.check("server closes first with 4002 + reason", expect_close(*ev, 4002, "server bye ✓"));
  }
  {
    auto ev = t.open("/echo-client", {}, true);
    t.until([&] { return ev->settled(); });
    t.check("messages echoed back from on_message arrive unchanged", expect_close(*ev, 1000, "echo ok"));
  }
  {
    auto ev = t.open("/limit", [](zws::WebSocket& ws) { ws.send_binary(std::string(1025, 'x')); });
    t.until([&] { return ev->settled(); });
    t.check("server limit: too-large message closes with 1009",
            ev->closed && ev->code == 1009 ? "" : "closed " + std::to_string(ev->code) + " " + ev->error);
  }
  {
    auto ev = t.open("/refuse");
    t.until([&] { return ev->settled(); });
    t.check("upgrade refused with 403: on_error names the status",
            ev->errored && ev->error.find("403") != std::string::npos && !ev->opened
                ? ""
                : "error \"" + ev->error + "\"" + (ev->opened ? ", opened" : ""));
  }
  {
    auto ev = t.open("ws://127.0.0.1:1/");
    t.until([&] { return ev->settled(); });
    t.check("nobody listening: on_error with a reason", ev->errored && !ev->error.empty() ? "" : "no error");
  }
}

// What one /wire session saw: the extensions answer, and per message sent
// the bytes the server read for it and wrote for its echo.
struct wire_result {
  std::string answer;
  std::vector<std::pair<std::size_t, std::size_t>> counts;
  std::string why;  // empty: every echo came back unchanged, with its counts
};

wire_result wire_session(suite& t, const std::vector<std::pair<zws::opcode, std::string>>& sent) {
  wire_result out;
  auto ev = t.open("/wire");
  t.until([&] { return ev->settled() || !ev->messages.empty(); });
  if (ev->messages.empty() || !ev->messages[0].second.starts_with("ext ")) {
    out.why = ev->errored ? "connect failed: " + ev->error : "no \"ext\" line first";
    t.close(ev);
    return out;
  }
  out.answer = ev->messages[0].second.substr(4);
  for (std::size_t i = 0; i < sent.size() && out.why.empty(); ++i) {
    const std::size_t want = 1 + 2 * (i + 1);
    if (ev->ws) ev->ws->send(sent[i].second, sent[i].first);
    t.until([&] { return ev->settled() || ev->messages.size() >= want; }, 20s);
    std::size_t r = 0, w = 0;
    if (ev->messages.size() < want) {
      out.why = "message " + std::to_string(i) + ": no echo" + (ev->closed ? ", closed " + std::to_string(ev->code) : "");
    } else if (ev->messages[want - 2] != sent[i]) {
      out.why = "message " + std::to_string(i) + ": echo differs";
    } else if (std::sscanf(ev->messages[want - 1].second.c_str(), "wire %zu %zu", &r, &w) != 2) {
      out.why = "message " + std::to_string(i) + ": no wire line";
    } else {
      out.counts.emplace_back(r, w);
    }
  }
  t.close(ev);
  return out;
}

// The value of `param=N` in an extensions answer, or `otherwise` without it.
int answer_bits(const std::string& answer, const std::string& param, int otherwise) {
  const std::size_t at = answer.find(param + "=");
  if (at == std::string::npos) return otherwise;
  const std::size_t value = at + param.size() + 1;
  return std::atoi(answer.c_str() + value + (answer[value] == '"' ? 1 : 0));  // a quoted value is allowed
}

// permessage-deflate as negotiated and as sent: the answer grants what we
// asked, both sides compress, and each compressor keeps or drops its context
// and window exactly as agreed. The repeat test: 2000 random bytes sent twice;
// a compressor that keeps its context and has a window over 2000 B sends the
// second copy as a back-reference (tens of bytes), any other sends ~2000 B.
void wire_cases(suite& t, const zws::deflate_options& asked) {
  using zws::opcode;
  std::mt19937 rng(7692);
  std::string text;
  while (text.size() < 65536) text += "zws compresses this line again and again " + std::to_string(text.size() % 7) + "\n";
  const std::string random = random_bytes(2000, rng);
  auto seen = wire_session(t, {{opcode::text, text}, {opcode::binary, random}, {opcode::binary, random}});
  const std::string& a = seen.answer;
  std::string why = seen.why.empty() && !a.starts_with("permessage-deflate") ? "answer \"" + a + "\"" : seen.why;
  if (why.empty() && asked.client_no_context_takeover && a.find("client_no_context_takeover") == std::string::npos)
    why = "client_no_context_takeover not granted: " + a;
  if (why.empty() && asked.server_no_context_takeover && a.find("server_no_context_takeover") == std::string::npos)
    why = "server_no_context_takeover not granted: " + a;
  if (why.empty() && asked.client_max_window_bits < 15 &&
      answer_bits(a, "client_max_window_bits", 16) > asked.client_max_window_bits)
    why = "client_max_window_bits not granted: " + a;
  t.check("negotiated: \"" + a + "\"", why);
  if (seen.counts.size() != 3) {
    t.check("compressed on the wire both ways", "no counts: " + why);
    return;
  }
  auto [r0, w0] = seen.counts[0];
  t.check("64 KiB of text compressed both ways (server read " + std::to_string(r0) + " B, wrote " +
              std::to_string(w0) + " B)",
          r0 < 8192 && w0 < 8192 ? "" : "not compressed");
  const auto reset = [&](const char* side) {
    const std::string s = side;
    return a.find(s + "_no_context_takeover") != std::string::npos ||
           answer_bits(a, s + "_max_window_bits", 15) <= 11;
  };
  const auto repeat = [&](const char* who, std::size_t bytes, bool resets) {
    const bool big = bytes > 1500, small = bytes < 300;
    t.check(std::string(who) + (resets ? " resets its context or window" : " keeps its context") + ": the repeat costs " +
                std::to_string(bytes) + " B",
            (resets ? big : small) ? "" : resets ? "expected about 2000 B" : "expected a back-reference");
  };
  repeat("our compressor (client)", seen.counts[2].first, reset("client"));
  repeat("the server's compressor", seen.counts[2].second, reset("server"));
}

bool parse_offer(const std::string& spec, zws::deflate_options& d) {
  d.enable = true;
  std::size_t from = 0;
  while (from <= spec.size()) {
    const std::size_t comma = std::min(spec.find(',', from), spec.size());
    const std::string item = spec.substr(from, comma - from);
    from = comma + 1;
    if (item == "default") continue;
    if (item == "client_no_context_takeover") d.client_no_context_takeover = true;
    else if (item == "server_no_context_takeover") d.server_no_context_takeover = true;
    else if (item.starts_with("client_max_window_bits=")) d.client_max_window_bits = std::uint8_t(std::atoi(item.c_str() + 23));
    else return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  zws::ClientOptions options;
  bool bad = argc < 3;
  for (int i = 3; i < argc && !bad; i += 2) {
    if (i + 1 >= argc) bad = true;
    else if (std::strcmp(argv[i], "--ca") == 0) options.tls.ca_file = argv[i + 1];
    else if (std::strcmp(argv[i], "--deflate") == 0) bad = !parse_offer(argv[i + 1], options.deflate);
    else bad = true;
  }
  if (bad) {
    std::fprintf(stderr, "usage: connect_test NAME BASE_URL [--ca FILE] [--deflate OFFER]\n");
    return 2;
  }
  suite t(argv[1], argv[2], options);
  if (options.deflate.enable) wire_cases(t, options.deflate);
  run(t);
  return t.finish();
}
