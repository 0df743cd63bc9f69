// tools/load/options.hpp — zws-load's command line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace zws_load {

struct options {
  std::string url;
  std::uint32_t conns = 10;
  std::uint32_t depth = 1;
  bool depth_given = false;
  std::size_t size = 16;
  bool text = false;
  double duration = 5.0;      // seconds measured (--idle: seconds held before the check)
  double warmup = 1.0;        // seconds run before measuring
  std::uint32_t threads = 1;
  bool json = false;
  double rate = 0.0;          // total messages/s; 0 = closed loop
  bool raw = false;
  bool churn = false;         // --churn: connect, handshake, one message, close, again
  bool idle_warm = false;     // --idle-warm: each idle connection exchanges one message first
  std::uint32_t idle = 0;     // --idle N
  double connect_timeout = 10.0;
  double timeout = 2.0;       // a message unanswered this long fails its connection
  std::uint32_t max_connecting = 256;  // connects in progress at once, per thread
  std::string ca;             // wss://: trust only this PEM bundle (default: the system store)
  bool insecure = false;      // wss://: accept any certificate
  bool deflate = false;       // offer permessage-deflate; compress, inflate
  bool payload_json = false;  // --payload json: JSON documents (text) instead of the pattern
  bool size_given = false;
  // --fanout: publishers and subscribers through a fan-out server (tools/load/fanout.hpp)
  bool fanout = false;
  std::uint32_t subscribers = 10;
  std::uint32_t publishers = 1;
  std::vector<std::string> sub_urls;  // where subscribers connect, in turn (default: URL)
  bool zws_client = false;            // --zws-client: subscribers and publishers on the zws client
};

inline constexpr const char* usage_text =
    "usage: zws-load URL [options]\n"
    "  A wrk-style load generator for WebSocket echo servers (and, with --raw, raw TCP or TLS echo).\n"
    "  URL is ws://host:port/path or wss://... (with --raw: tcp://host:port or host:port,\n"
    "  or tls://host:port for raw TLS).\n"
    "\n"
    "  -c CONNS         connections (default 10)\n"
    "  -d DEPTH         messages in flight per connection (default 1; with -R: the cap, default 64)\n"
    "  -s BYTES         payload size per message (default 16)\n"
    "  --text           send text messages (printable ASCII) instead of binary\n"
    "  --payload KIND   binary (default), text (as --text) or json: JSON records with\n"
    "                   varying numbers and words, made from each message's number\n"
    "                   (compressible like real traffic; text messages, -s at least 48)\n"
    "  --deflate        offer permessage-deflate; compress every message sent, inflate\n"
    "                   and check every echo; the report gives the ratio on the wire\n"
    "  -D SECONDS       measured duration (default 5); with --idle: how long to hold\n"
    "  --warmup SECONDS run this long before measuring (default 1)\n"
    "  --threads N      event-loop threads, connections split between them (default 1)\n"
    "  -R RATE          open loop: RATE messages/s in total, each timed from its\n"
    "                   scheduled send time (no coordinated omission)\n"
    "  --raw            no WebSocket: send BYTES, expect the same BYTES back, over\n"
    "                   plain TCP (tcp://) or TLS (tls:// or wss://: a raw TLS echo)\n"
    "  --churn          each connection: connect (TCP, TLS for wss://), upgrade (not\n"
    "                   with --raw), one message and its echo, close; then again.\n"
    "                   msgs/s is then full handshakes/s; -c are in flight at once\n"
    "  --idle N         open N connections and hold them for -D seconds or until\n"
    "                   SIGUSR1, then check every one still echoes a message\n"
    "  --idle-warm      with --idle: each connection exchanges one message as soon\n"
    "                   as it is open; `ready` follows once every one has answered\n"
    "  --connect-timeout SECONDS  per connection, connect + handshake (default 10)\n"
    "  --timeout SECONDS  a message unanswered this long (from its send or scheduled\n"
    "                   time) counts as a timeout and ends its connection (default 2)\n"
    "  --ca FILE        wss://: trust only the CAs of this PEM file (default: the system store)\n"
    "  --insecure       wss://: accept any certificate (encrypted, NOT authenticated)\n"
    "  --json           print one JSON object on stdout instead of the text report\n"
    "\n"
    "  Fan-out (publish/subscribe through a server such as zws-echo --fanout, where\n"
    "  every connection of a path gets every message sent on it, sender included):\n"
    "  --fanout         S subscriber connections only read; P publisher connections\n"
    "                   send messages stamped with publisher, sequence number and send\n"
    "                   time, for -D seconds after --warmup quiet seconds (default 1: time\n"
    "                   for subscriptions to settle). Reports deliveries/s, publish ->\n"
    "                   receive latency, and lost, duplicated and out-of-order messages\n"
    "                   (waiting up to --timeout seconds at the end for the last ones)\n"
    "  --subscribers S  subscriber connections (default 10)\n"
    "  --publishers P   publisher connections, to URL (default 1)\n"
    "  --sub-url URL    where subscribers connect (repeatable: they take the URLs in\n"
    "                   turn, e.g. two servers bridged through Redis); default URL\n"
    "  -R RATE          messages/s published in total (open loop); without it each\n"
    "                   publisher keeps -d messages (default 1) in flight, sending the\n"
    "                   next when its own copy comes back\n"
    "  -s BYTES         message size, at least 24 (default 64)\n"
    "  --zws-client     run subscribers and publishers on the zws client library (one\n"
    "                   zws::Loop per thread), as wss:// and --deflate always do;\n"
    "                   by default ws:// uses zws-load's own lean frame reader\n"
  "  --raw            plain TCP (tcp://host:port) to a raw fan-out server (every\n"
    "                   byte to every connection, e.g. bench/fanout_tcp): messages\n"
    "                   are the same records, -s bytes each, back to back\n"
    "  --help           this text\n"
    "\n"
    "  Exit status: 0 when every message was echoed intact (or, with --idle, every\n"
    "  connection answered), 3 after any error, 2 for a bad command line.\n"
    "\n"
    "  Progress goes to stderr once a second. Every frame is masked with a fresh key\n"
    "  (ChaCha20 keyed from getrandom); every echoed payload is checked (type, length,\n"
    "  content, order).\n";

namespace detail {

inline bool parse_number(const char* s, double& out) {
  char* end = nullptr;
  out = std::strtod(s, &end);
  return end != s && *end == '\0' && out >= 0;
}

// Accepts 1024, 16k, 64K, 1M, 1Ki, 1MiB ...: suffixes are binary.
inline bool parse_size(const char* s, std::size_t& out) {
  char* end = nullptr;
  const unsigned long long v = std::strtoull(s, &end, 10);
  if (end == s) return false;
  std::string_view suf(end);
  std::size_t mul = 1;
  if (!suf.empty()) {
    const char u = suf[0];
    mul = (u == 'k' || u == 'K') ? 1024 : (u == 'm' || u == 'M') ? 1024 * 1024 : 0;
    if (mul == 0) return false;
    suf.remove_prefix(1);
    if (suf != "" && suf != "i" && suf != "iB" && suf != "B") return false;
  }
  out = static_cast<std::size_t>(v) * mul;
  return true;
}

}  // namespace detail

// Fills `o` from argv. Returns 0 to go on, 1 when --help was printed, -1 on a
// bad command line (the reason already printed).
inline int parse_options(int argc, char** argv, options& o) {
  auto bad = [](const char* what, const char* arg) {
    std::fprintf(stderr, "zws-load: bad %s: %s\n(zws-load --help for usage)\n", what, arg ? arg : "(missing)");
    return -1;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const char* v = i + 1 < argc ? argv[i + 1] : nullptr;
    double d = 0;
    std::size_t z = 0;
    auto count = [&](std::uint32_t& dst, std::uint32_t min) {
      if (!v || !detail::parse_number(v, d) || d < min || d > 1e7) return false;
      dst = static_cast<std::uint32_t>(d);
      ++i;
      return true;
    };
    auto seconds = [&](double& dst) {
      if (!v || !detail::parse_number(v, d)) return false;
      dst = d;
      ++i;
      return true;
    };
    if (a == "--help" || a == "-h") {
      std::fputs(usage_text, stdout);
      return 1;
    } else if (a == "-c") {
      if (!count(o.conns, 1)) return bad("-c", v);
    } else if (a == "-d") {
      if (!count(o.depth, 1)) return bad("-d", v);
      o.depth_given = true;
    } else if (a == "-s") {
      if (!v || !detail::parse_size(v, z) || z > (std::size_t{1} << 30)) return bad("-s", v);
      o.size = z;
      o.size_given = true;
      ++i;
    } else if (a == "--text") {
      o.text = true;
    } else if (a == "--payload") {
      const std::string_view k = v ? v : "";
      if (k != "binary" && k != "text" && k != "json") return bad("--payload (binary, text or json)", v);
      o.text = k != "binary";
      o.payload_json = k == "json";
      ++i;
    } else if (a == "--deflate") {
      o.deflate = true;
    } else if (a == "--fanout") {
      o.fanout = true;
    } else if (a == "--zws-client") {
      o.zws_client = true;
    } else if (a == "--subscribers") {
      if (!count(o.subscribers, 1)) return bad("--subscribers", v);
    } else if (a == "--publishers") {
      if (!count(o.publishers, 1)) return bad("--publishers", v);
    } else if (a == "--sub-url") {
      if (!v) return bad("--sub-url", v);
      o.sub_urls.emplace_back(v);
      ++i;
    } else if (a == "-D") {
      if (!seconds(o.duration) || o.duration <= 0) return bad("-D", v);
    } else if (a == "--warmup") {
      if (!seconds(o.warmup)) return bad("--warmup", v);
    } else if (a == "--threads") {
      if (!count(o.threads, 1) || o.threads > 256) return bad("--threads", v);
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "-R") {
      if (!seconds(o.rate) || o.rate <= 0) return bad("-R", v);
    } else if (a == "--raw") {
      o.raw = true;
    } else if (a == "--churn") {
      o.churn = true;
    } else if (a == "--idle-warm") {
      o.idle_warm = true;
    } else if (a == "--idle") {
      if (!count(o.idle, 1)) return bad("--idle", v);
    } else if (a == "--timeout") {
      if (!seconds(o.timeout) || o.timeout <= 0) return bad("--timeout", v);
    } else if (a == "--ca") {
      if (!v) return bad("--ca", v);
      o.ca = v;
      ++i;
    } else if (a == "--insecure") {
      o.insecure = true;
    } else if (a == "--connect-timeout") {
      if (!seconds(o.connect_timeout) || o.connect_timeout <= 0) return bad("--connect-timeout", v);
    } else if (!a.empty() && a[0] == '-') {
      return bad("option", argv[i]);
    } else if (o.url.empty()) {
      o.url = a;
    } else {
      return bad("extra argument", argv[i]);
    }
  }
  if (o.url.empty()) return bad("URL", nullptr);
  if (o.raw && o.size == 0) return bad("-s (--raw needs at least 1 byte)", "0");
  if (o.raw && (o.deflate || o.payload_json)) return bad("option with --raw", o.deflate ? "--deflate" : "--payload json");
  if (o.payload_json && o.size < 48) return bad("-s (--payload json needs at least 48 bytes)", "");
  if (o.zws_client && (!o.fanout || o.raw)) return bad("option without --fanout (or with --raw)", "--zws-client");
  if (o.fanout) {
    if (o.idle || o.payload_json || (o.raw && o.deflate))
      return bad("option with --fanout", o.idle ? "--idle" : o.deflate ? "--deflate" : "--payload json");
    if (!o.size_given) o.size = 64;
    if (o.size < 24) return bad("-s (--fanout needs at least 24 bytes)", "");
    o.conns = o.subscribers + o.publishers;
  }
  if (o.churn && (o.idle || o.fanout || o.rate > 0)) return bad("option with --churn", o.idle ? "--idle" : o.fanout ? "--fanout" : "-R");
  if (o.churn) o.depth = 1;
  if (o.idle_warm && !o.idle) return bad("option without --idle", "--idle-warm");
  if (o.rate > 0 && !o.depth_given) o.depth = 64;
  if (o.idle) o.conns = o.idle;
  if (o.threads > o.conns) o.threads = o.conns;
  return 0;
}

}  // namespace zws_load
