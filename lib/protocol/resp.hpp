// lib/protocol/resp.hpp — the Redis protocol (RESP2) as the topics bridge speaks it.
//
// Sans-IO, both ways. Commands go out as RESP arrays of bulk strings, so every
// argument is binary-safe (a channel or payload may hold CR, LF or NUL); the
// encoder depends on nothing and is always built. Replies come in through
// resp_reader, a wrapper over hiredis's redisReader (a parser that never touches
// a socket), built only with REDIS=1; without it every resp_reader call reports
// that the bridge is missing. The bridge owns the socket: it reads until EAGAIN
// on the loop's edge-triggered epoll and hands every read to resp_reader.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string_view>

#include "zws/buffer.hpp"

namespace zws::resp {

// ---- commands ---------------------------------------------------------------

// Bytes of "*<n>\r\n" followed by "$<len>\r\n<arg>\r\n" for each argument.
std::size_t command_size(std::span<const std::string_view> args) noexcept;
// Writes that encoding to `out`, which must hold command_size(args) bytes.
// Returns the bytes written.
std::size_t encode_command(std::span<const std::string_view> args, std::span<std::uint8_t> out) noexcept;
// Appends one command to `out` (grows it; bad_alloc only when memory runs out).
void append_command(buffer& out, std::span<const std::string_view> args);
inline void append_command(buffer& out, std::initializer_list<std::string_view> args) {
  append_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

// The commands of the bridge. SUBSCRIBE and UNSUBSCRIBE take many channels in
// one command (a reconnect resubscribes everything at once); an UNSUBSCRIBE of
// no channel leaves every channel.
void append_subscribe(buffer& out, std::span<const std::string_view> channels);
void append_unsubscribe(buffer& out, std::span<const std::string_view> channels);
void append_psubscribe(buffer& out, std::span<const std::string_view> patterns);
void append_punsubscribe(buffer& out, std::span<const std::string_view> patterns);
void append_publish(buffer& out, std::string_view channel, std::string_view payload);
// PING with no argument answers PONG; with one (allowed in subscribed mode) it
// echoes it, which lets the bridge match a pong to its ping.
void append_ping(buffer& out);
void append_ping(buffer& out, std::string_view payload);

// The bytes of a PUBLISH before its payload, for writev(head, payload, "\r\n")
// without copying a large payload: returns the head's length in `head`, which
// must hold publish_head_size(channel) bytes. The payload is followed by CRLF.
std::size_t publish_head_size(std::string_view channel) noexcept;
std::size_t encode_publish_head(std::string_view channel, std::size_t payload_size,
                                std::span<std::uint8_t> head) noexcept;

// ---- replies ----------------------------------------------------------------

enum class event_kind : std::uint8_t {
  message,       // a published message: channel, payload
  pmessage,      // one matched by a pattern: pattern, channel, payload
  subscribed,    // SUBSCRIBE confirmed for channel; count = the connection's subscriptions now
  unsubscribed,  // UNSUBSCRIBE confirmed (channel "" when there was none); count as above
  psubscribed,   // PSUBSCRIBE confirmed: channel holds the pattern
  punsubscribed,
  pong,          // PING answered: payload is what the ping carried ("" for a plain PONG)
  integer,       // an integer reply (PUBLISH: the receivers): count
  status,        // a status reply ("OK"): payload
  error,         // an error reply ("ERR unknown command ..."): payload; the link stays usable
  other,         // any other reply (nil, bulk string, unexpected array): nothing decoded
};

// One reply. The views point into the reader's memory and are valid until the
// next call to resp_reader::next.
struct event {
  event_kind kind = event_kind::other;
  std::string_view channel;
  std::string_view pattern;
  std::string_view payload;
  std::int64_t count = 0;
};

enum class status : std::uint8_t {
  event,      // `ev` holds a reply
  need_more,  // every byte was taken and no complete reply is left: read more
  too_large,  // a reply is larger than max_reply: the link must be dropped
  bad,        // not RESP (or nested deeper than hiredis allows): drop the link
  missing,    // zws was built without the Redis bridge (REDIS=1)
};

struct result {
  std::size_t consumed = 0;  // bytes of the input taken (they need not be passed again)
  status st = status::need_more;
  event ev{};
};

// Turns the bytes of a Redis connection into events, pull-style:
//
//   for (;;) {
//     auto r = reader.next(bytes);
//     bytes = bytes.subspan(r.consumed);
//     if (r.st == resp::status::need_more) break;   // read again (until EAGAIN)
//     if (r.st != resp::status::event) { drop the link; break; }
//     handle(r.ev);
//   }
//
// next returns need_more only once every byte given has been taken and no
// complete reply is buffered, so a burst of replies in one read is yielded to
// the last one before the bridge goes back to epoll. Memory is bounded: the
// reader holds at most one incomplete reply (at most max_reply bytes, counting
// its encoding and what was decoded of it so far) plus 4 KiB, and refuses a
// reply past that with too_large. Bytes are handed to hiredis in steps that
// grow with the incomplete reply (4 KiB, or as much as is pending), so a long
// reply is rescanned O(log n) times, not once per read. After too_large or bad the
// reader stays in that state; a new connection needs a new reader.
class resp_reader {
 public:
  // The Redis bridge sets max_reply to the routes' largest max_message_size plus
  // room for the channel names and the framing.
  static constexpr std::size_t default_max_reply = (std::size_t{16} << 20) + 4096;
  static constexpr std::size_t feed_step = std::size_t{4} << 10;

  explicit resp_reader(std::size_t max_reply = default_max_reply);
  ~resp_reader();
  resp_reader(const resp_reader&) = delete;
  resp_reader& operator=(const resp_reader&) = delete;

  result next(std::span<const std::uint8_t> bytes);
  result next(std::string_view bytes) {
    return next({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
  }
  // Why the reader stopped (hiredis's message, ours for too_large, or the
  // missing part); "" while it works.
  std::string_view error() const noexcept;
  // Whether this build has the Redis bridge.
  static bool available() noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
};

}  // namespace zws::resp
