// zws/websocket.hpp — one WebSocket connection, and what the application plugs in.
//
// A WebSocket lives on one loop's thread. Its reference is valid from on_open
// until on_close returns; keep a WebSocket::Handle (copyable, thread-safe) to
// reach it from elsewhere or later — a handle whose connection is gone does nothing.
//
// Sending is corked: what a callback sends is appended to the connection's output
// queue and flushed with one send/writev after the current batch — or, for what a
// connection answers while its own input is handled, with one send right after
// that input. A large payload sent on an empty queue goes out at once as header +
// payload without a copy.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zws/deflate.hpp"
#include "zws/error.hpp"
#include "zws/frame.hpp"
#include "zws/loop.hpp"

namespace zws {

namespace http {
struct request;
}

class WebSocket;

// One whole text or binary message. `data` views the loop's memory and is valid
// only during the callback: copy what must outlive it.
struct Message {
  zws::opcode opcode = zws::opcode::text;
  std::string_view data;

  bool is_text() const noexcept { return opcode == zws::opcode::text; }
  std::span<const std::uint8_t> bytes() const noexcept {
    return {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()};
  }
};

// A part of a message delivered as it arrives, to a behavior with on_piece
// (streaming). Unmasked and, for text, validated so far: a piece may end inside
// a UTF-8 sequence that the next piece completes. `data` is valid only during the
// callback. A message yields at least one piece; `last` marks its end.
struct MessagePiece {
  zws::opcode opcode = zws::opcode::binary;
  std::string_view data;
  bool first = false;  // the message's first piece
  bool last = false;   // the message's last piece (both for a one-piece message)
  bool is_text() const noexcept { return opcode == zws::opcode::text; }
  std::span<const std::uint8_t> bytes() const noexcept {
    return {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()};
  }
};

// What a send did with the message.
enum class send_status : std::uint8_t {
  sent,     // queued behind nothing: goes out when the batch ends
  queued,   // accepted, but behind bytes the peer has not read yet (backpressure)
  dropped,  // not sent: the connection is closing, or the backpressure policy refused it
};

// What happens to a send once buffered_amount() is at or past max_backpressure.
// The message that crosses the limit is always accepted, so a limit never
// refuses one large message to a reading peer.
enum class backpressure_policy : std::uint8_t {
  close,        // close the connection with 1008 (the default)
  drop_new,     // refuse the new message (send returns dropped)
  keep_latest,  // discard queued, not yet started data messages; keep the new one
};

namespace detail {
// Type-erased owner of a connection's user data.
struct user_box {
  virtual ~user_box() = default;
};
template <class T>
struct user_box_of final : user_box {
  template <class... A>
  explicit user_box_of(A&&... a) : value(std::forward<A>(a)...) {}
  T value;
};
}  // namespace detail

// A server-side upgrade request or plain HTTP request, valid during the callback.
class Request {
 public:
  Request(const http::request& req, int fd) noexcept : req_(&req), fd_(fd) {}
  std::string_view method() const noexcept;
  std::string_view target() const noexcept;  // "/chat?room=1"
  std::string_view path() const noexcept;    // "/chat"
  std::string_view query() const noexcept;   // "room=1"
  // The first header of that name (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
  std::string_view origin() const noexcept { return header("Origin").value_or(std::string_view{}); }
  // Every subprotocol the client offered, in order.
  std::vector<std::string_view> protocols() const;
  // "1.2.3.4:5678" or "[::1]:5678".
  std::string remote_address() const;
  const http::request& raw() const noexcept { return *req_; }

 private:
  const http::request* req_;
  int fd_;
};

// The decision on_upgrade takes. By default the upgrade is accepted with the
// first subprotocol of the client's list that the behavior supports.
class Upgrade {
 public:
  // Refuse with an HTTP status (403, 401, ...) and a short text body.
  void refuse(int status, std::string_view text = {}) {
    status_ = status;
    text_ = text;
  }
  bool refused() const noexcept { return status_ != 0; }
  int status() const noexcept { return status_; }
  const std::string& text() const noexcept { return text_; }

  // The subprotocol to answer with ("" for none). Must be one of the behavior's
  // `protocols`; anything else is ignored.
  void protocol(std::string_view name) noexcept { wanted_protocol_ = name; }
  std::string_view protocol() const noexcept { return wanted_protocol_; }

  // Adds a header to the 101 response (Set-Cookie ...). No CR or LF inside.
  void header(std::string name, std::string value) { headers_.emplace_back(std::move(name), std::move(value)); }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }

  // Attaches user data, moved into the WebSocket (see WebSocket::data).
  template <class T, class... A>
  T& emplace(A&&... args) {
    auto box = std::make_unique<detail::user_box_of<T>>(std::forward<A>(args)...);
    T& ref = box->value;
    data_ = std::move(box);
    return ref;
  }
  std::unique_ptr<detail::user_box>& data() noexcept { return data_; }

 private:
  int status_ = 0;
  std::string text_;
  std::string_view wanted_protocol_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::unique_ptr<detail::user_box> data_;
};

// Callbacks and limits of a route (server) or of one connection (client).
// Written with designated initializers, in this order; leave out what you do not need.
struct Behavior {
  // Server: inspect the request (Origin, auth, subprotocols) before accepting.
  std::function<void(const Request&, Upgrade&)> on_upgrade{};
  std::function<void(WebSocket&)> on_open{};
  std::function<void(WebSocket&, const Message&)> on_message{};
  // Streaming delivery: when set, data messages arrive here in pieces as their
  // bytes arrive, with no reassembly (memory per connection stays about one read,
  // whatever the message size), and on_message is not called. max_message_size
  // still bounds each message's total (1009), and may then exceed 4 GiB.
  std::function<void(WebSocket&, const MessagePiece&)> on_piece{};
  std::function<void(WebSocket&, std::string_view payload)> on_ping{};
  std::function<void(WebSocket&, std::string_view payload)> on_pong{};
  // The output queue became empty after backpressure.
  std::function<void(WebSocket&)> on_drain{};
  // Exactly once per opened connection. `code` is the peer's (1005 when its Close
  // had none), ours when we closed first or the peer broke a rule, 1006 when the
  // TCP connection ended without a Close frame.
  std::function<void(WebSocket&, std::uint16_t code, std::string_view reason)> on_close{};
  // Client: connecting failed (bad URL, resolution, refused, timeout, rejected
  // handshake). Called instead of on_open, and then nothing else is called.
  std::function<void(std::string_view reason)> on_error{};

  // Subprotocols supported (server, in preference order) or offered (client).
  std::vector<std::string> protocols{};

  // Limits. Defaults accept everything real peers send and refuse abuse.
  std::size_t max_message_size = std::size_t{16} << 20;  // reassembled bytes (1009)
  std::uint32_t max_fragments = std::uint32_t{1} << 20;  // frames per message (1009)
  // Queued output bytes per connection (1 MiB: a slow reader pins at most that,
  // plus the one message that crosses it; Server::max_backpressure_total caps the sum).
  std::size_t max_backpressure = std::size_t{1} << 20;
  backpressure_policy on_backpressure = backpressure_policy::close;
  std::chrono::milliseconds handshake_timeout{10'000};   // server: 408; client: on_error
  std::chrono::milliseconds idle_timeout{0};             // 0: none; else close 1001 when silent
  bool ping_when_idle = true;                            // ping once before the idle close
  std::chrono::milliseconds close_timeout{5'000};        // wait for the peer's Close, then cut
  std::uint32_t max_connections = 0;                     // per route, 0: unlimited (503 past it)
  std::size_t max_head_size = 8192;                      // request head (431)
  std::size_t max_headers = 64;                          // header fields (431)
  bool auto_pong = true;                                 // answer pings (on_ping is still called)

  // permessage-deflate (RFC 7692), off by default: a compressing connection costs
  // zlib memory (see zws/deflate.hpp and Server::max_zlib_memory) and CPU per message,
  // a choice an application makes knowing its traffic. `.deflate = {.enable = true}`
  // accepts the offers browsers, Node ws and Python websockets make. A build without
  // zlib (make DEFLATE=0) never accepts it.
  deflate_options deflate{};
};

class WebSocket {
 public:
  // A copyable reference that is safe to use from any thread. Each call posts to
  // the connection's loop; a connection that is gone by then is skipped.
  // Valid as long as the Server (or the Loop of a client) exists.
  class Handle {
   public:
    Handle() = default;
    void send(std::string data, zws::opcode op = zws::opcode::text) const;
    void close(std::uint16_t code = close_code::normal, std::string reason = {}) const;
    // Runs `fn` on the connection's thread if it is still open.
    void post(std::function<void(WebSocket&)> fn) const;
    explicit operator bool() const noexcept { return reactor_ != nullptr; }

   private:
    friend class WebSocket;
    detail::reactor* reactor_ = nullptr;
    std::uint32_t id_ = 0;
    std::uint32_t generation_ = 0;
  };

  WebSocket(const WebSocket&) = delete;
  WebSocket& operator=(const WebSocket&) = delete;

  send_status send(std::string_view data, zws::opcode op = zws::opcode::binary);
  send_status send(std::span<const std::uint8_t> data, zws::opcode op = zws::opcode::binary);
  send_status send_text(std::string_view text) { return send(text, zws::opcode::text); }
  send_status send_binary(std::string_view data) { return send(data, zws::opcode::binary); }
  send_status send_binary(std::span<const std::uint8_t> data) { return send(data, zws::opcode::binary); }
  // Sending a message in pieces (a fragmented message, RFC 6455 §5.4): each call
  // sends one frame; the first call of a message gives its opcode, `last` ends
  // it. Until then other data messages (send, broadcasts) are refused with
  // `dropped`; pings and pongs still go out. A piece is never dropped by the
  // drop_new or keep_latest policies (that would corrupt the message): past
  // max_backpressure it reports `queued`, and on_drain tells when to go on; the
  // close policy still closes.
  send_status send_piece(std::string_view data, bool last, zws::opcode op = zws::opcode::binary);
  send_status send_piece(std::span<const std::uint8_t> data, bool last, zws::opcode op = zws::opcode::binary);
  send_status ping(std::string_view payload = {});  // at most 125 bytes
  send_status pong(std::string_view payload = {});  // unsolicited pong (heartbeat)

  // Starts the close handshake: sends Close(code, reason) and waits up to
  // close_timeout for the peer's. Nothing more is sent or delivered afterwards
  // except the Close exchange; on_close follows.
  void close(std::uint16_t code = close_code::normal, std::string_view reason = {});
  // Cuts the TCP connection now; on_close(1006, "terminated") follows.
  void terminate();

  // Bytes queued and not yet taken by the kernel.
  std::size_t buffered_amount() const noexcept;
  // True from on_open until close() or the peer's Close.
  bool is_open() const noexcept;

  // Topics (server connections only; a client connection subscribes to nothing).
  // A topic is any byte string. Subscriptions end by themselves when the
  // connection closes (on_close sees none left). Loop thread only.
  // True when the connection was not subscribed and now is; false when it
  // already was, or it is not an open server connection.
  bool subscribe(std::string_view topic);
  // True when the connection was subscribed and no longer is.
  bool unsubscribe(std::string_view topic);
  bool subscribed(std::string_view topic) const;
  // The connection's topics, in no particular order. Each view stays valid while
  // the connection remains subscribed to that topic.
  std::vector<std::string_view> topics() const;
  // Server::publish from this connection's callbacks: every subscriber of
  // `topic` on every loop of the server (and, when bridged, of every server on
  // the bridge) gets the message, this connection too unless include_self is
  // false. Delivery to this loop's subscribers happens during the call; other
  // loops get it in the order this loop published. Nothing on a client connection.
  void publish(std::string_view topic, std::string_view data, zws::opcode op = zws::opcode::text,
               bool include_self = true);

  // The request path (server: the route's own path for exact routes) or the
  // request target (client).
  std::string_view path() const noexcept;
  // The subprotocol agreed on, or "".
  std::string_view protocol() const noexcept;
  std::string remote_address() const;
  Handle handle() const noexcept;
  Loop& loop() const noexcept;

  // User data attached by Upgrade::emplace or emplace below. data<T>() requires
  // that the attached object is a T.
  template <class T>
  T& data() noexcept {
    return static_cast<detail::user_box_of<T>*>(user_box())->value;
  }
  bool has_data() const noexcept { return user_box() != nullptr; }
  template <class T, class... A>
  T& emplace(A&&... args) {
    auto* box = new detail::user_box_of<T>(std::forward<A>(args)...);
    set_user_box(box);
    return box->value;
  }

 protected:
  WebSocket() = default;
  ~WebSocket() = default;

 private:
  detail::user_box* user_box() const noexcept;
  void set_user_box(detail::user_box* box) noexcept;
};

}  // namespace zws
