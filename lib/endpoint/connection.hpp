// lib/endpoint/connection.hpp — one WebSocket connection, server or client side.
//
// Internal. A connection is an io_handle (the loop calls it) and the WebSocket
// the application sees. It keeps memory of its own only for an incomplete frame
// or head (`in_`) and for output the kernel has not taken (`out_`); everything
// else it reads lives in the loop's shared receive buffer, and what it answers
// while its input is handled gathers in the loop's cork buffer and leaves in
// one send when that input is done (connection_output.cpp). Behaviour and limits
// are shared through `ep_` (one endpoint per route and loop, or per client).
//
// Phases: connecting (client) → handshake → open → closing or lingering (our
// Close sent: wait for the peer's) → closed (both Closes exchanged: the server
// closes TCP once its output is flushed, a client waits for the server's EOF).
// An HTTP answer instead of an upgrade leads to draining (flush, shut our side
// down, discard input until EOF). Until the descriptor is closed we keep
// reading: closing a socket with unread input makes the kernel answer with RST,
// which can cost the peer (or a proxy in between) our last frame. And we send
// no FIN before the peer's Close: a proxy that sees our FIN may tear the
// client's side down while the client is still answering. Every phase after
// open is bounded by close_timeout and by discard_budget bytes of input.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "endpoint/shared_frame.hpp"
#include "io/reactor.hpp"
#include "io/tls.hpp"
#include "protocol/deflate_stream.hpp"
#include "zws/buffer.hpp"
#include "zws/reader.hpp"
#include "zws/websocket.hpp"

namespace zws::detail {

struct server_loop;
struct route_entry;
struct client_endpoint;
struct deflate_link;
struct broadcast_frames;

// What connections of one route on one loop (or one client connection) share.
struct endpoint {
  reactor* r = nullptr;
  Loop* loop = nullptr;
  const Behavior* b = nullptr;
  reader_limits limits{};
  std::string_view path;
  role side = role::server;
  server_loop* server = nullptr;             // server connections only
  route_entry* route = nullptr;              // server connections past the upgrade
  std::vector<std::string_view> protocols;   // views of b->protocols
  // permessage-deflate: the loop's zlib budget (server; null for a client), and the
  // route's shared deflaters, made when first needed (compression.hpp).
  std::shared_ptr<zlib_budget> zlib;
  std::unique_ptr<shared_deflaters> shared;
};

// closing: frames are still parsed (only a Close matters); lingering: our Close
// answered a protocol error, so frames are skipped by their headers alone.
enum class phase : std::uint8_t { connecting, handshake, open, closing, lingering, closed, draining };

// A TLS connection's transport: the session, and the ciphertext the kernel has
// not taken yet (out_ and the cork stay plaintext; see connection_tls.cpp).
struct tls_link {
  tls::session session;
  buffer wire;
};

// What only some connections need, allocated only for them: the request path
// of a connection accepted by a wildcard route, the TLS transport of a TLS
// connection, the permessage-deflate state of one that agreed on it (and its
// user data, whose slot this takes over). A plain connection on an exact route
// pays nothing for TLS or compression: not one byte of the connection struct.
struct connection_extras {
  connection_extras() noexcept;
  ~connection_extras();
  std::unique_ptr<zws::detail::user_box> user;
  std::string path;
  bool has_path = false;
  std::unique_ptr<tls_link> tls;
  std::unique_ptr<deflate_link> deflate;
};

class connection final : public io_handle, public WebSocket {
 public:
  static constexpr std::uint8_t no_pong = 0xFF;
  connection(endpoint* ep, std::uint32_t slot) noexcept;

  void on_io(unsigned events) override;
  void on_flush() override;
  void on_timeout() override;
  void on_closing() override;  // TLS: close_notify (connection_tls.cpp)
  void on_free() override;

  // The WebSocket operations.
  send_status send_message(opcode op, std::span<const std::uint8_t> payload);
  send_status send_control(opcode op, std::string_view payload);
  send_status send_piece(opcode op, std::span<const std::uint8_t> payload, bool last);
  // Queues an already encoded (unmasked, server) frame that publishes and
  // broadcasts share: what the kernel does not take at once stays a reference.
  send_status send_shared(const frame_ref& frame);
  // A broadcast's message: its plain frame, its frame compressed once per shared
  // deflater, or compressed for this connection alone (context takeover).
  send_status send_broadcast(broadcast_frames& frames);
  void start_close(std::uint16_t code, std::string_view reason);
  void terminate(std::string_view reason, std::uint16_t code = close_code::abnormal);

  zws::detail::user_box* user_data() const noexcept;
  void set_user_data(zws::detail::user_box* box) noexcept;
  std::string_view request_path() const noexcept;
  void keep_path(std::string_view path);
  // The extras, made (taking over the user data) on first use.
  connection_extras& extras();
  // The TLS transport, or null for a plain connection.
  tls_link* tls() const noexcept {
    return extras_ ? static_cast<connection_extras*>(user_)->tls.get() : nullptr;
  }
  // Makes this a TLS connection over `session` (a client then calls its start()).
  void use_tls(tls::session session);
  // permessage-deflate: the state of a connection that agreed on it, or null.
  deflate_link* deflate() const noexcept;
  // The handshake agreed on `agreed` for endpoint `ep`: received compressed messages
  // are inflated, sent ones compressed (call before open(ep): the reader learns it there).
  void use_deflate(endpoint& ep, const deflate_params& agreed, const deflate_options& opts);

  // Phase changes shared with the server and client code.
  void open(endpoint* ep);
  void fail(error e);
  void refuse(int status, std::string_view text);   // server handshake: HTTP answer, then drain
  void drain_and_close(std::chrono::milliseconds timeout);
  // Our Close is queued: wait up to close_timeout for the peer's.
  void await_close();
  void lost(std::string_view reason);                // TCP gone: 1006
  // Bytes waiting: the output queue plus what is corked (buffered_amount()).
  std::size_t queued() const noexcept;
  // Memory held for output: out_'s capacity, the queue's segments (a shared frame
  // counted in full by each connection that holds it), a TLS connection's wire.
  std::size_t held_output() const noexcept;
  // Plaintext output not yet taken: queue_'s segments, then out_.
  std::size_t out_size() const noexcept { return out_.size() + queue_.pending(); }
  bool out_empty() const noexcept { return out_.empty() && !queue_; }
  // Ends the connection from inside a send; on_close is deferred (see .cpp).
  void close_later(std::uint16_t code, std::string reason, bool cut);
  void notify_close(std::uint16_t code, std::string_view reason);
  std::size_t process_frames(std::span<std::uint8_t> bytes);
  // A piece of a compressed message: inflated, and delivered when whole (or as a
  // piece when streaming). False when the connection failed.
  bool inflate_piece(const event& e);
  reactor& r() const noexcept { return *ep_->r; }
  const Behavior& b() const noexcept { return *ep_->b; }

  // Layout: the small fields first so they share the tail of io_handle.
  phase phase_ = phase::handshake;
  bool opened_ : 1 = false;      // on_open was called and on_close not yet
  bool blocked_ : 1 = false;     // the kernel refused output: wait for EPOLLOUT
  bool pinged_ : 1 = false;      // idle ping sent, waiting for any traffic
  bool shut_ : 1 = false;        // SHUT_WR done while draining
  bool extras_ : 1 = false;      // user_ points at a connection_extras
  bool piecing_ : 1 = false;     // send_piece: a fragmented message is open
  std::uint8_t protocol_ = 0;    // server: 1 + index into the route's protocols
  // Payload size of the pong that ends out_, not yet started (0..125), or
  // no_pong: the next pong replaces it (see queue_pong).
  std::uint8_t pong_len_ = no_pong;
  std::uint16_t discarded_kib_ = 0;  // input dropped since the Close, KiB (at most discard_budget_kib)
  std::uint32_t slot_;
  std::uint32_t backlog_ = 0;    // server: held_output() as counted in the loop's backlog
  endpoint* ep_;
  buffer in_;
  buffer out_;
  reader reader_;
  void* user_ = nullptr;         // the user_box, or connection_extras when extras_
  std::uint32_t out_skew_ = 0;   // bytes at the front of out_ finishing a frame already started
  std::uint32_t need_ = 0;       // size of the frame being received, when known;
                                 // lingering: payload bytes still to skip
  // Output in front of out_ (shared frames, and what out_ held before them); null
  // while there is none: out_ then holds everything. out_skew_ counts bytes at
  // the front of the queue's first owned segment, or of out_ when there is no queue.
  out_queue_ptr queue_;

  // Handles bytes read into the shared buffer (owned false) or into in_ (true).
  void consume_input(std::span<std::uint8_t> bytes, bool owned);

 private:
  void read_some();
  void read_rounds();
  // TLS (connection_tls.cpp): ciphertext in, plaintext to consume_input.
  void read_tls_rounds();
  tls::receive_result receive_tls(std::span<std::uint8_t> room);
  void feed_plain(std::span<std::uint8_t> bytes);
  void tls_failed(std::string_view reason);
  long uncork_tls();
  long write_tls();
  tls::send_result encrypt_output();
  void make_wire_room(std::size_t plain);
  send_status send_direct_tls(opcode op, std::span<const std::uint8_t> payload, send_status status);
  // Appends close_notify (once) and sends what it can; true when nothing is left to send.
  bool tls_goodbye();
  // Output not yet taken by the kernel: out_, and a TLS connection's ciphertext.
  bool output_pending() const noexcept;
  // Where output goes now: the loop's cork while our input is handled and
  // nothing older waits in out_, else out_ (flushed after the batch).
  buffer& output() noexcept;
  void wrote(buffer& to);
  // Sends the corked bytes; what the kernel does not take moves to out_.
  // Returns 0 or -errno when the peer is gone.
  long uncork();
  std::size_t take_input(std::span<std::uint8_t> bytes);
  void fit_frame();
  std::uint8_t* grow_input(std::size_t n, std::size_t held);
  std::size_t skip_frames(std::span<std::uint8_t> bytes);
  void peer_closed();
  void flush();
  long write_out();  // sends what the kernel takes: 0, or -errno when the peer is gone
  send_status send_direct(opcode op, std::span<const std::uint8_t> payload, send_status status);
  void on_peer_close(std::uint16_t code, std::string_view reason);
  void drop_queued_data();
  void advance_skew(const buffer& from, std::size_t sent) noexcept;
  void consume_out(std::size_t n);
  // Moves out_ (if not empty) into the queue and puts `frame` behind it.
  void queue_frame(frame_ref frame);
  // Forgets every byte of plaintext output (the queue and out_).
  void drop_output() noexcept;
  // Up to `max` iovecs over the front of the output, in order; returns how many.
  int gather_output(iovec* iov, int max) const noexcept;
  void append_control(buffer& to, opcode op, std::string_view payload);
  send_status queue_pong(std::string_view payload, send_status status);
  // out_ may have changed capacity: a server counts it against max_backpressure_total.
  void sync_backlog();
  void touch_idle() noexcept;
  bool over_discard_budget(std::size_t n) noexcept;
  bool over_backpressure(send_status& status);

 public:
  // Over the server-wide backlog cap (server.cpp): discard queued messages and,
  // under backpressure_policy::close, close with 1008.
  void shed();
};

// Server hooks (server.cpp) and client hooks (client.cpp) the connection calls.
std::size_t server_handshake(connection& c, std::span<std::uint8_t> bytes);
void server_connection_freed(connection& c);
void server_connection_closed(connection& c);
void server_backlog_changed(connection& c);
void client_on_connecting(connection& c, unsigned events);
void client_connect_timed_out(connection& c);
std::size_t client_handshake(connection& c, std::span<std::uint8_t> bytes);
void client_failed(connection& c, std::string reason);
void client_freed(connection& c);

}  // namespace zws::detail
