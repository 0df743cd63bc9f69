// tools/load/report.hpp — zws-load's result, as text or as one JSON object.
#pragma once

#include <sys/time.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>

#include "histogram.hpp"
#include "options.hpp"
#include "zws/simd.hpp"

namespace zws_load {

struct counters {
  std::uint64_t msgs = 0;
  std::uint64_t bytes = 0;
  std::uint64_t connect_failed = 0;
  std::uint64_t handshake_failed = 0;
  std::uint64_t verify_errors = 0;
  std::uint64_t protocol_errors = 0;
  std::uint64_t closed = 0;    // connections the server closed or reset while open
  std::uint64_t timeouts = 0;  // connections whose oldest message went unanswered past --timeout
  // On the wire (frames: header + payload as sent, compressed or not) against
  // payload, measured phase only; `bytes` above is the payload received.
  std::uint64_t sent_payload = 0;
  std::uint64_t sent_wire = 0;
  std::uint64_t recv_wire = 0;
  std::uint64_t deflate_agreed = 0;  // connections that agreed on permessage-deflate
};

inline double seconds_of(const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; }

struct report {
  double seconds = 0;
  counters c;
  histogram h;
  double cpu_user = 0, cpu_sys = 0;
  std::uint32_t open = 0;
  std::uint64_t answered = 0;
};

inline double ratio(std::uint64_t payload, std::uint64_t wire) { return wire ? double(payload) / double(wire) : 0.0; }

// Payload against frame bytes (headers included; TLS records not): with
// --deflate, the compression the server achieved on its echoes and ours on sends.
inline void print_wire_text(const options& o, const report& r) {
  const double mib = 1024.0 * 1024.0;
  std::printf("  wire        sent %.2f MiB payload in %.2f MiB of frames (%.2fx), received %.2f in %.2f (%.2fx)\n",
              double(r.c.sent_payload) / mib, double(r.c.sent_wire) / mib, ratio(r.c.sent_payload, r.c.sent_wire),
              double(r.c.bytes) / mib, double(r.c.recv_wire) / mib, ratio(r.c.bytes, r.c.recv_wire));
  if (o.deflate) std::printf("  deflate     agreed on %" PRIu64 " of %u connections\n", r.c.deflate_agreed, o.conns);
}

inline void print_text(const options& o, const report& r) {
  const double mps = double(r.c.msgs) / r.seconds;
  const double mibs = double(r.c.bytes) / r.seconds / (1024.0 * 1024.0);
  auto us = [&](double q) { return double(r.h.quantile(q)) / 1000.0; };
  std::printf("zws-load %s  %s, %u connections, %s%zu B %s, isa %s\n", o.url.c_str(),
              o.raw ? (o.url.starts_with("tcp://") || o.url.find("://") == std::string::npos ? "raw TCP" : "raw TLS")
                    : "WebSocket", o.conns, o.idle ? "idle, " : "", o.size, o.text ? "text" : "binary",
              std::string(zws::isa_name(zws::active_isa())).c_str());
  if (o.idle) {
    std::printf("  open        %u of %u\n  answered    %" PRIu64 "\n", r.open, o.idle, r.answered);
  } else {
    std::printf("  %s, depth %u, %u thread%s, %.2f s measured\n",
                o.rate > 0 ? "open loop" : "closed loop", o.depth, o.threads, o.threads == 1 ? "" : "s", r.seconds);
    std::printf("  messages    %" PRIu64 "  (%.0f msgs/s, %.2f MiB/s of payload)\n", r.c.msgs, mps, mibs);
    std::printf("  latency us  p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (mean %.1f)\n", us(0.5), us(0.9),
                us(0.99), us(0.999), double(r.h.max()) / 1000.0, r.h.mean() / 1000.0);
  }
  if (!o.idle && !o.raw) print_wire_text(o, r);
  std::printf("  errors      connect %" PRIu64 ", handshake %" PRIu64 ", verify %" PRIu64 ", protocol %" PRIu64
              ", closed %" PRIu64 ", timeout %" PRIu64 "\n",
              r.c.connect_failed, r.c.handshake_failed, r.c.verify_errors, r.c.protocol_errors, r.c.closed,
              r.c.timeouts);
  std::printf("  zws-load    cpu %.2f s user + %.2f s sys = %.0f%% of one core\n", r.cpu_user, r.cpu_sys,
              100.0 * (r.cpu_user + r.cpu_sys) / r.seconds);
}

inline void print_json(const options& o, const report& r) {
  auto us = [&](double q) { return double(r.h.quantile(q)) / 1000.0; };
  std::printf("{\"url\":\"%s\",\"mode\":\"%s\",\"connections\":%u,\"depth\":%u,\"size\":%zu,\"text\":%s,"
              "\"threads\":%u,\"rate\":%.0f,\"idle\":%u,\"seconds\":%.3f,",
              o.url.c_str(), o.raw ? "raw" : "ws", o.conns, o.depth, o.size, o.text ? "true" : "false", o.threads,
              o.rate, o.idle, r.seconds);
  std::printf("\"open\":%u,\"answered\":%" PRIu64 ",\"messages\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"mib_per_s\":%.3f,",
              r.open, r.answered, r.c.msgs, double(r.c.msgs) / r.seconds,
              double(r.c.bytes) / r.seconds / (1024.0 * 1024.0));
  std::printf("\"latency_us\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f,\"mean\":%.2f},",
              us(0.5), us(0.9), us(0.99), us(0.999), double(r.h.max()) / 1000.0, r.h.mean() / 1000.0);
  std::printf("\"errors\":{\"connect\":%" PRIu64 ",\"handshake\":%" PRIu64 ",\"verify\":%" PRIu64
              ",\"protocol\":%" PRIu64 ",\"closed\":%" PRIu64 ",\"timeout\":%" PRIu64 "},",
              r.c.connect_failed, r.c.handshake_failed, r.c.verify_errors, r.c.protocol_errors, r.c.closed,
              r.c.timeouts);
  std::printf("\"wire\":{\"payload_sent\":%" PRIu64 ",\"frames_sent\":%" PRIu64 ",\"payload_received\":%" PRIu64
              ",\"frames_received\":%" PRIu64 ",\"ratio_sent\":%.3f,\"ratio_received\":%.3f},\"deflate_agreed\":%" PRIu64
              ",\"payload\":\"%s\",",
              r.c.sent_payload, r.c.sent_wire, r.c.bytes, r.c.recv_wire, ratio(r.c.sent_payload, r.c.sent_wire),
              ratio(r.c.bytes, r.c.recv_wire), r.c.deflate_agreed,
              o.payload_json ? "json" : o.text ? "text" : "binary");
  std::printf("\"cpu\":{\"user_s\":%.3f,\"sys_s\":%.3f,\"share\":%.3f},\"isa\":\"%s\"}\n", r.cpu_user,
              r.cpu_sys, (r.cpu_user + r.cpu_sys) / r.seconds, std::string(zws::isa_name(zws::active_isa())).c_str());
}

}  // namespace zws_load
