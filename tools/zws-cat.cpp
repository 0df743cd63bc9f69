// zws-cat: a command-line WebSocket client, like websocat or wscat.
// Each stdin line goes out as one message; each message received is written to
// stdout as one line. The loop runs on the main thread; a reader thread feeds
// it stdin lines through Loop::post, pausing while too much output is queued.
#include <unistd.h>
#include <zws/zws.hpp>

#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "cli.hpp"

namespace {

constexpr const char* usage =
    "usage: zws-cat [options] ws://host:port/path (or wss://)\n"
    "Sends each line of stdin as a text message; writes each message received as a line.\n"
    "  --binary              send lines as binary messages\n"
    "  --echo                send every message received back unchanged (same opcode),\n"
    "                        print nothing, ignore stdin; run until the server closes\n"
    "  --close-code N        close code sent when stdin ends (default 1000)\n"
    "  --close-reason TEXT   close reason sent with it (default none)\n"
    "  --count N             close after receiving N messages (stdin's end then closes nothing)\n"
    "  --linger MS           at the end of stdin, close once no message arrived for MS\n"
    "                        milliseconds, so the replies in flight are printed (default 300)\n"
    "  --no-close            at the end of stdin, keep the connection until the server closes\n"
    "  --header 'Name: value'  extra request header (repeatable)\n"
    "  --origin URL          Origin header\n"
    "  --protocol NAME       offer a subprotocol (repeatable)\n"
    "  --max-message BYTES   larger incoming messages close with 1009 (default 16 MiB)\n"
    "  --timeout S           connect and handshake timeout in seconds (default 10)\n"
    "  -v, --verbose         report the connection and its close on stderr\n"
    "  --ca F                wss://: trust only the CAs of this PEM file (default: the system store)\n"
    "  --insecure            wss://: accept any certificate (encrypted, NOT authenticated)\n"
    "  --deflate             offer permessage-deflate (a build with zlib: make DEFLATE=1)\n"
    "Exit status: 0 after a clean close (1000, 1001, no code, or an application code\n"
    "3000-4999), 2 when connecting failed, 3 when the connection ended with an error\n"
    "(the close code and reason go to stderr), 1 for bad usage.\n";

// Pause reading stdin while this much output waits to be sent.
constexpr std::size_t flow_limit = std::size_t{4} << 20;

struct options {
  std::string url;
  zws::opcode op = zws::opcode::text;
  bool echo = false;
  bool no_close = false;
  bool verbose = false;
  std::uint16_t close_code = zws::close_code::normal;
  std::string close_reason;
  std::uint64_t count = 0;
  std::chrono::milliseconds linger{300};
  std::size_t max_message = std::size_t{16} << 20;
  std::chrono::seconds timeout{10};
  std::vector<std::string> protocols;
  zws::ClientOptions client;
};

options parse(int argc, char** argv) {
  options o;
  zws_tools::args a(argc, argv, usage);
  while (a.next()) {
    if (a.is("--help") || a.is("-h")) {
      std::fputs(usage, stdout);
      std::exit(0);
    } else if (a.is("--binary")) {
      o.op = zws::opcode::binary;
    } else if (a.is("--echo")) {
      o.echo = true;
    } else if (a.is("--no-close")) {
      o.no_close = true;
    } else if (a.is("-v") || a.is("--verbose")) {
      o.verbose = true;
    } else if (a.is("--close-code")) {
      o.close_code = a.number<std::uint16_t>(1000, 4999);
    } else if (a.is("--close-reason")) {
      o.close_reason = a.value();
      if (o.close_reason.size() > 123) a.fail("longer than 123 bytes:", "--close-reason");
    } else if (a.is("--count")) {
      o.count = a.number<std::uint64_t>(1, UINT64_MAX);
    } else if (a.is("--linger")) {
      o.linger = std::chrono::milliseconds(a.number<unsigned>(0, 3600000));
    } else if (a.is("--max-message")) {
      o.max_message = a.number<std::size_t>(1, std::size_t{1} << 40);
    } else if (a.is("--timeout")) {
      o.timeout = std::chrono::seconds(a.number<unsigned>(1, 86400));
    } else if (a.is("--ca")) {
      o.client.tls.ca_file = a.value();
    } else if (a.is("--insecure")) {
      o.client.tls.insecure_skip_verify = true;
    } else if (a.is("--deflate")) {
      if (!zws::deflate_available()) {
        std::fputs("zws-cat: --deflate: zws was built without permessage-deflate (make DEFLATE=1)\n", stderr);
        std::exit(1);
      }
      o.client.deflate.enable = true;
    } else if (a.is("--origin")) {
      o.client.origin = a.value();
    } else if (a.is("--protocol")) {
      o.protocols.emplace_back(a.value());
    } else if (a.is("--header")) {
      std::string_view h = a.value();
      auto colon = h.find(':');
      if (colon == std::string_view::npos || colon == 0) a.fail("expected 'Name: value', got", h);
      std::string_view v = h.substr(colon + 1);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      o.client.headers.emplace_back(std::string(h.substr(0, colon)), std::string(v));
    } else if (a.current().starts_with("-") && a.current() != "-") {
      a.unknown();
    } else if (o.url.empty()) {
      o.url = a.current();
    } else {
      a.fail("more than one URL:", a.current());
    }
  }
  if (o.url.empty()) a.fail("missing", "URL");
  o.client.connect_timeout = o.timeout;
  return o;
}

// The session: all of it but the flow counters lives on the loop's thread.
class session {
 public:
  explicit session(options o) : o_(std::move(o)) {}

  int run() {
    zws::connect(loop_, o_.url, behavior(), o_.client);
    loop_.run();
    std::fflush(stdout);
    return status_;
  }

 private:
  zws::Behavior behavior() {
    zws::Behavior b{
        .on_open = [this](zws::WebSocket& ws) { opened(ws); },
        .on_message = [this](zws::WebSocket& ws, const zws::Message& m) { received(ws, m); },
        .on_drain = [this](zws::WebSocket& ws) { update_flow(ws); },
        .on_close = [this](zws::WebSocket&, std::uint16_t code, std::string_view reason) { closed(code, reason); },
        .on_error = [this](std::string_view why) { failed(why); },
    };
    b.protocols = o_.protocols;
    b.max_message_size = o_.max_message;
    b.max_backpressure = std::size_t{1} << 40;  // bounded by flow_limit instead
    b.handshake_timeout = o_.timeout;
    return b;
  }

  void opened(zws::WebSocket& ws) {
    ws_ = &ws;
    if (o_.verbose) std::fprintf(stderr, "zws-cat: connected to %s\n", o_.url.c_str());
    if (!o_.echo) std::thread([this] { read_stdin(); }).detach();
  }

  void received(zws::WebSocket& ws, const zws::Message& m) {
    last_message_ = loop_.now();
    if (o_.echo) {
      ws.send(m.data, m.opcode);
      return;
    }
    std::fwrite(m.data.data(), 1, m.data.size(), stdout);
    std::fputc('\n', stdout);
    // Each message reaches stdout as it arrives, a pipe included (stdio would
    // hold it in a 4 KiB block): one write per batch of messages, not per message.
    if (!flush_queued_) {
      flush_queued_ = true;
      loop_.defer([this] {
        flush_queued_ = false;
        std::fflush(stdout);
      });
    }
    if (o_.count && ++received_ == o_.count) {
      std::fflush(stdout);
      ws.close(o_.close_code, o_.close_reason);
    }
  }

  void closed(std::uint16_t code, std::string_view reason) {
    ws_ = nullptr;
    {
      std::lock_guard lock(flow_mutex_);
      gone_ = true;
    }
    flow_cv_.notify_all();
    bool clean = code == 1000 || code == 1001 || code == 1005 || (code >= 3000 && code <= 4999);
    status_ = clean ? 0 : 3;
    if (o_.verbose || !clean) {
      std::fprintf(stderr, "zws-cat: closed %u %.*s\n", unsigned(code), int(reason.size()), reason.data());
    }
    loop_.stop();
  }

  void failed(std::string_view why) {
    std::fprintf(stderr, "zws-cat: %.*s\n", int(why.size()), why.data());
    status_ = 2;
    loop_.stop();
  }

  // Reader thread: stdin lines to the loop, paced by the output queue.
  void read_stdin() {
    std::string pending;
    char buf[65536];
    for (;;) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      pending.append(buf, std::size_t(n));
      std::size_t start = 0;
      for (std::size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (!submit(pending.substr(start, nl - start))) return;
      }
      pending.erase(0, start);
    }
    if (!pending.empty() && !submit(std::move(pending))) return;
    loop_.post([this] { stdin_ended(); });
  }

  bool submit(std::string line) {
    std::unique_lock lock(flow_mutex_);
    flow_cv_.wait(lock, [this] { return gone_ || in_flight_ + buffered_ < flow_limit; });
    if (gone_) return false;
    in_flight_ += line.size();
    lock.unlock();
    loop_.post([this, line = std::move(line)] {
      if (ws_) ws_->send(line, o_.op);
      {
        std::lock_guard lock(flow_mutex_);
        in_flight_ -= line.size();
      }
      if (ws_) update_flow(*ws_);
    });
    return true;
  }

  // Loop thread: publishes how much output is queued; while it is over the
  // limit, polls it (a flush that empties the queue need not call on_drain).
  void update_flow(zws::WebSocket& ws) {
    std::size_t queued = ws.buffered_amount();
    {
      std::lock_guard lock(flow_mutex_);
      buffered_ = queued;
    }
    flow_cv_.notify_all();
    if (queued >= flow_limit && !flow_timer_) {
      flow_timer_ = loop_.set_interval(std::chrono::milliseconds(2), [this] {
        if (ws_) update_flow(*ws_);
        if (!ws_ || buffered_ < flow_limit) {
          loop_.cancel(flow_timer_);
          flow_timer_ = 0;
        }
      });
    }
  }

  void stdin_ended() {
    if (!ws_ || o_.no_close || o_.count) return;
    if (o_.linger.count() == 0) {
      ws_->close(o_.close_code, o_.close_reason);
      return;
    }
    last_message_ = loop_.now();
    linger();
  }

  // Closes once no message has arrived for o_.linger.
  void linger() {
    auto quiet = loop_.now() - last_message_;
    if (!ws_) return;
    if (quiet >= o_.linger) {
      std::fflush(stdout);
      ws_->close(o_.close_code, o_.close_reason);
      return;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(o_.linger - quiet);
    loop_.set_timeout(left + std::chrono::milliseconds(1), [this] { linger(); });
  }

  options o_;
  zws::Loop loop_;
  zws::WebSocket* ws_ = nullptr;
  int status_ = 3;
  std::uint64_t received_ = 0;
  bool flush_queued_ = false;  // a flush of stdout is deferred to the end of this batch
  zws::Loop::clock::time_point last_message_{};
  zws::timer_id flow_timer_ = 0;

  std::mutex flow_mutex_;
  std::condition_variable flow_cv_;
  std::size_t in_flight_ = 0;  // posted, not yet handed to send
  std::size_t buffered_ = 0;   // queued in the connection
  bool gone_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  options o = parse(argc, argv);
  auto* s = new session(std::move(o));  // never freed: the stdin thread may still hold it
  zws_tools::on_stop_signal([] {
    std::fflush(stdout);
    std::_Exit(130);
  });
  int status = s->run();
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(status);
}
