// tools/load/fanout_raw.hpp — zws-load --fanout --raw: the same publish/subscribe
// load over plain TCP, for a raw fan-out server (bench/fanout_tcp: every byte any
// connection sends goes to every connection, sender included).
//
// Records (fanout.hpp), o.size bytes each, lie back to back on the stream: a
// receiver cuts its stream into records and checks each with fan_check, exactly
// as a WebSocket subscriber checks each message. The loop, the steering and the
// publishing schedule are fanout_loop.hpp's.
#pragma once

#include <cstdint>
#include <span>

#include "fanout_loop.hpp"

namespace zws_load {

class fan_raw_worker : public fan_loop_worker<fan_raw_worker> {
 public:
  static constexpr const char* kind = "raw";

  fan_raw_worker(const options& o, fan_shared& sh, std::uint32_t index, std::uint32_t threads)
      : fan_loop_worker(o, sh, index, threads, true, o.size) {}

 private:
  friend class fan_loop_worker<fan_raw_worker>;

  void connected(fan_conn& c) { opened(c); }

  std::size_t consume(fan_conn& c, std::span<std::uint8_t> bytes, i64 now) {
    std::size_t off = 0;
    for (; off + o_.size <= bytes.size(); off += o_.size)
      record(c, reinterpret_cast<const char*>(bytes.data() + off), o_.size, now);
    return c.fd < 0 ? fan_gone : off;
  }

  void frame(fan_conn& c, const char* head) {
    c.out.append(head, fan_head);
    c.out.append(filler_);
  }

  void goodbye(fan_conn&) {}
};

}  // namespace zws_load
