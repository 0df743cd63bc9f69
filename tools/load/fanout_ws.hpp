// tools/load/fanout_ws.hpp — zws-load --fanout over ws://, without the zws client.
//
// fan_worker (fanout.hpp) runs each subscriber on a zws::Loop and a
// zws::WebSocket: a callback, a std::function and the connection's machinery per
// delivery, which costs the load generator about what the server spends to fan
// the message out, so the measurement of a fast server was bounded by zws-load.
// fan_ws_worker does here what fan_raw_worker does for --raw: its own epoll loop
// (fanout_loop.hpp), the thread's one read buffer, and records taken straight
// from the stream. The frame the server sends a record in is always the same
// (binary, FIN, o.size bytes), so it is recognised by comparing its header
// (frame_format::echo_at, wire.hpp); anything else — fragments, pings, a Close,
// another length — goes through zws::reader, which checks every rule.
// wss:// and --deflate stay with fan_worker (its TLS and inflater).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "fanout_loop.hpp"
#include "random.hpp"
#include "wire.hpp"
#include "zws/handshake.hpp"
#include "zws/http.hpp"
#include "zws/reader.hpp"
#include "zws/writer.hpp"

namespace zws_load {

enum class fan_ws_status : std::uint8_t {
  more,    // go on: keep the bytes not consumed, call again with more behind them
  opened,  // the server accepted the upgrade: call again with the rest
  closed,  // the server sent a Close
  failed,  // the upgrade was refused, or a frame broke a rule
};

struct fan_ws_result {
  std::size_t consumed = 0;
  fan_ws_status status = fan_ws_status::more;
};

// One client connection's received bytes, sans I/O: the upgrade response, then
// the server's frames. Owns no buffer: the caller keeps what was not consumed.
class fan_ws_stream {
 public:
  // `expect` (the record's frame) and `limits` must outlive the stream.
  fan_ws_stream(const frame_format& expect, const zws::reader_limits& limits) noexcept
      : expect_(&expect), rd_(zws::role::client, limits) {
    zws::frame_header h;
    zws::decode_header({expect.echo_head, expect.echo_head_size}, h);
    size_ = static_cast<std::size_t>(h.payload_length);
  }

  // Appends the upgrade request, with a fresh key and no extension offered.
  void write_request(zws::buffer& out, std::string_view host, std::string_view path, random_pool& rng) {
    std::uint8_t nonce[16];
    rng.fill(nonce, sizeof nonce);
    key_ = zws::make_client_key(std::span<const std::uint8_t, 16>(nonce));
    zws::write_upgrade_request(out, {.host = host, .target = path}, key_);
  }
  const zws::client_key& key() const noexcept { return key_; }
  // A response head longer than this, still without its end, fails the connection.
  static constexpr std::size_t max_response_head = 16 * 1024;
  bool open() const noexcept { return open_; }

  // Handles what `bytes` holds up to the first incomplete frame (or head), or up
  // to the upgrade: each data message goes to on_message(data, size) (a view
  // into `bytes`, or into the reader's reassembly of a fragmented one), each ping
  // is answered by a pong appended to `out`, masked with a key from `rng`.
  template <class F>
  fan_ws_result feed(std::span<std::uint8_t> bytes, zws::buffer& out, random_pool& rng, F&& on_message) {
    if (!open_) return upgrade(bytes);
    const std::size_t n = size_;
    std::size_t off = 0;
    for (;;) {
      const std::span<std::uint8_t> rest = bytes.subspan(off);
      // The expected header says FIN, no RSV bits, binary, unmasked, o.size:
      // sound to take without the reader between messages, not inside a
      // fragmented one, whose continuation the reader must see.
      if (const std::size_t hs = expect_->echo_at(rest); hs != 0 && !rd_.in_message()) {
        if (rest.size() < hs + n) return {off, fan_ws_status::more};
        on_message(rest.data() + hs, n);
        off += hs + n;
        continue;
      }
      const zws::read_result r = rd_.next(rest);
      off += r.consumed;
      switch (r.ev.kind) {
        case zws::event_kind::none:
        case zws::event_kind::pong:
          continue;
        case zws::event_kind::need_more:
          return {off, fan_ws_status::more};
        case zws::event_kind::message:
          on_message(r.ev.data.data(), r.ev.data.size());
          continue;
        case zws::event_kind::ping: {
          const zws::mask_key key = rng.key();
          zws::write_frame(out, zws::opcode::pong, r.ev.data, &key);
          continue;
        }
        case zws::event_kind::close:
          return {off, fan_ws_status::closed};
        case zws::event_kind::piece:  // neither streaming nor deflate: cannot come
        case zws::event_kind::error:
          return {off, fan_ws_status::failed};
      }
    }
  }

 private:
  // The response head, whole, checked against RFC 6455 §4.1 for our key and no
  // extensions (bad status, a wrong Sec-WebSocket-Accept, any extension: failed).
  fan_ws_result upgrade(std::span<const std::uint8_t> bytes) {
    const std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    const std::size_t end = text.find("\r\n\r\n");
    if (end == std::string_view::npos)
      return {0, text.size() > max_response_head ? fan_ws_status::failed : fan_ws_status::more};
    zws::http::response_parser parser;  // once per connection, on the stack: no parser kept per connection
    const zws::http::parse_result r = parser.parse(text.substr(0, end + 4));
    if (r.status != zws::http::parse_status::done || zws::verify_upgrade_response(parser.get(), key_) != zws::error::none)
      return {0, fan_ws_status::failed};
    open_ = true;
    return {r.head_size, fan_ws_status::opened};
  }

  const frame_format* expect_;
  std::size_t size_;  // a record's payload, as expect_ says
  zws::reader rd_;
  zws::client_key key_{};
  bool open_ = false;
};

class fan_ws_worker : public fan_loop_worker<fan_ws_worker> {
 public:
  static constexpr const char* kind = "WebSocket";

  fan_ws_worker(const options& o, fan_shared& sh, std::uint32_t index, std::uint32_t threads)
      : fan_loop_worker(o, sh, index, threads, false, zws::max_frame_header + max_message(o)),
        fmt_(zws::opcode::binary, o.size) {
    limits_.max_message_size = max_message(o);
    streams_.reserve(conns_.size());
    for (std::size_t i = 0; i < conns_.size(); ++i) streams_.emplace_back(fmt_, limits_);
  }

 private:
  friend class fan_loop_worker<fan_ws_worker>;

  // As fan_worker allows: a little more than a record, for what is not one.
  static std::size_t max_message(const options& o) { return std::max<std::size_t>(o.size, 1024); }

  void connected(fan_conn& c) {
    streams_[c.index].write_request(c.out, c.tgt->host_header, c.tgt->path, rng_);
    flush(c);
  }

  std::size_t consume(fan_conn& c, std::span<std::uint8_t> bytes, i64 now) {
    fan_ws_stream& s = streams_[c.index];
    auto on_message = [&](const std::uint8_t* d, std::size_t n) { record(c, reinterpret_cast<const char*>(d), n, now); };
    for (std::size_t off = 0;;) {
      const fan_ws_result r = s.feed(bytes.subspan(off), c.out, rng_, on_message);
      off += r.consumed;
      switch (r.status) {
        case fan_ws_status::more:
          return c.fd < 0 ? fan_gone : off;
        case fan_ws_status::opened:
          opened(c);
          continue;
        case fan_ws_status::closed:
        case fan_ws_status::failed:
          fail(c);
          return fan_gone;
      }
    }
  }

  void frame(fan_conn& c, const char* head) {
    fmt_.append(c.out, {reinterpret_cast<const std::uint8_t*>(head), fan_head},
                {reinterpret_cast<const std::uint8_t*>(filler_.data()), filler_.size()}, rng_.key());
  }

  // A Close (1000), one attempt to send it: the server sees a goodbye, not a reset.
  void goodbye(fan_conn& c) {
    const zws::mask_key key = rng_.key();
    zws::write_close(c.out, zws::close_code::normal, {}, &key);
    send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  }

  frame_format fmt_;
  zws::reader_limits limits_;
  std::vector<fan_ws_stream> streams_;  // one per connection, by fan_conn::index
  random_pool rng_;
};

}  // namespace zws_load
