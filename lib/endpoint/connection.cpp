#include "endpoint/connection.hpp"

#include "endpoint/compression.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "io/net.hpp"
#include "base/random.hpp"
#include "zws/handshake.hpp"
#include "zws/writer.hpp"

namespace zws::detail {
namespace {

constexpr std::size_t min_read = std::size_t{64} << 10;
// Input read and dropped after our Close before we stop waiting for the peer's
// (or its EOF) and close, unread bytes or not: the rest of a message that was
// too big fits, a peer streaming on for close_timeout does not.
// Counted in KiB (a 16-bit count: the connection has no room for more).
constexpr std::uint32_t discard_budget_kib = 0xFFFF;
// How long a server that failed a connection waits for the peer's Close before
// sending its FIN anyway (peers that never answer, or only after a long message).
// Any round trip shorter than this keeps a proxy from seeing our FIN while the
// client is still answering.
constexpr std::chrono::milliseconds fin_grace{250};

}  // namespace

// An idle connection costs this struct plus malloc's 8-byte header: keep it in
// the 176-byte size class (the per-connection RSS target is 256 bytes).
static_assert(sizeof(connection) <= 168, "connection grew out of its malloc size class");

connection::connection(endpoint* ep, std::uint32_t slot) noexcept
    : slot_(slot), ep_(ep), reader_(ep->side, ep->limits) {}

// --- input -------------------------------------------------------------------------

void connection::on_io(unsigned events) {
  if (phase_ == phase::connecting) {
    client_on_connecting(*this, events);
    return;
  }
  if ((events & ev::out) && output_pending()) {
    flush();
    if (dead()) return;
  }
  if (events & (ev::in | ev::hup | ev::err)) read_some();
}

// Dropped input counts against discard_budget once our Close is out.
bool connection::over_discard_budget(std::size_t n) noexcept {
  if (phase_ < phase::closing) return false;
  const std::size_t kib = (n + 1023) / 1024;
  discarded_kib_ = static_cast<std::uint16_t>(std::min<std::size_t>(discarded_kib_ + kib, discard_budget_kib));
  return discarded_kib_ >= discard_budget_kib;
}

void connection::read_some() {
  r().set_corked(this);
  read_rounds();
  long rc = 0;
  if (dead()) {
    r().cork_buffer().clear();
  } else {
    rc = uncork();
  }
  r().set_corked(nullptr);
  if (rc < 0) lost(std::strerror(static_cast<int>(-rc)));
}

void connection::read_rounds() {
  if (tls() != nullptr) {
    read_tls_rounds();
    return;
  }
  for (unsigned round = 0; round < reactor::read_budget; ++round) {
    const bool owned = !in_.empty();
    std::span<std::uint8_t> target;
    if (owned) {
      fit_frame();
      // Grow with what actually arrives (at most doubling), never with what a
      // frame header merely announces: 14 bytes must not cost 16 MiB. Room
      // already held (a recycled buffer) is used whole, and when it holds the
      // rest of the frame, no more is asked for: growing then would copy the
      // whole frame for its last bytes.
      const std::size_t remaining = need_ > in_.size() ? need_ - in_.size() : 0;
      const std::size_t want =
          remaining != 0 && remaining <= in_.room()
              ? in_.room()
              : std::max({min_read, std::min(remaining, in_.size()), std::min(remaining, in_.room())});
      std::uint8_t* p = grow_input(want, in_.size());
      if (p == nullptr) {
        if (dead()) return;
        continue;  // failed and lingering: read on (into the shared buffer), skipping the frame
      }
      target = {p, want};
    } else {
      target = r().recv_buffer();
    }
    long n = net::recv(fd(), target.data(), target.size());
    if (n == -EAGAIN || n == -EWOULDBLOCK) return;
    if (n <= 0) {
      // A peer that only shut its side down still reads: what it was answered goes.
      if (n == 0 && uncork() == 0) write_out();
      lost(n == 0 ? "connection closed without a Close frame" : std::strerror(static_cast<int>(-n)));
      return;
    }
    touch_idle();
    if (owned) {
      in_.commit(static_cast<std::size_t>(n));
      consume_input(in_.bytes(), true);
    } else {
      consume_input(target.first(static_cast<std::size_t>(n)), false);
    }
    if (dead()) return;
    if (over_discard_budget(static_cast<std::size_t>(n))) {
      r().close(this);
      return;
    }
    // A short read means the socket is empty: the next edge will tell us more.
    // Not after a hang-up, whose edge may have been this very one: read on to EOF.
    if (static_cast<std::size_t>(n) < target.size() && !hung_up()) return;
  }
  r().read_later(this);
}

void connection::consume_input(std::span<std::uint8_t> bytes, bool owned) {
  std::size_t used = take_input(bytes);
  if (dead()) return;
  if (owned) {
    in_.consume(used);
    if (in_.empty()) r().give_spare(in_);
  } else if (used < bytes.size()) {
    fit_frame();
    const auto rest = bytes.subspan(used);
    if (std::uint8_t* p = grow_input(rest.size(), rest.size()); p != nullptr) {
      std::memcpy(p, rest.data(), rest.size());
      in_.commit(rest.size());
    }
  }
}

// in_.prepare(n), except that running out of memory is not an exception here:
// the limits allow the frame, this process cannot hold it, so it is the peer's
// frame that is too big (1009), as the reader treats reassembly. Returns null
// then, with the connection failed. `held`: bytes of the frame read so far.
std::uint8_t* connection::grow_input(std::size_t n, std::size_t held) {
  try {
    return in_.prepare(n);
  } catch (const std::bad_alloc&) {
    const std::size_t skip = need_ > held ? need_ - held : 0;
    in_.release();
    if (phase_ != phase::open) {
      terminate(describe(error::message_too_big));
      return nullptr;
    }
    reader_.abandon(error::message_too_big);
    fail(error::message_too_big);
    need_ = static_cast<std::uint32_t>(skip);  // lingering: the rest of this frame's payload is skipped
    return nullptr;
  }
}

// The frame being received (need_ bytes, from the front of in_) is larger than
// in_ can hold: a recycled buffer that holds it all spares the copies of growing
// (reactor::take_spare). Costs no memory the loop does not already have.
void connection::fit_frame() {
  if (need_ <= in_.capacity() || need_ <= min_read || phase_ > phase::closing) return;
  buffer spare = r().take_spare(need_);
  if (spare.capacity() == 0) return;
  spare.append(in_.bytes());
  r().give_spare(in_);
  in_ = std::move(spare);
}

// Returns how many bytes are done with; the rest is kept for the next read.
std::size_t connection::take_input(std::span<std::uint8_t> bytes) {
  std::size_t used = 0;
  switch (phase_) {
    case phase::handshake:
      used = ep_->side == role::server ? server_handshake(*this, bytes) : client_handshake(*this, bytes);
      break;
    case phase::open:
    case phase::closing:
      used = process_frames(bytes);
      break;
    default:
      break;
  }
  if (dead()) return bytes.size();
  switch (phase_) {
    case phase::lingering:  // from the frame that broke a rule on
      return used + skip_frames(bytes.subspan(used));
    case phase::closed:
    case phase::draining:  // nothing more is wanted
      return bytes.size();
    default:
      return used;
  }
}

// Lingering: the reader gave up, so frames are only walked by their headers,
// looking for the peer's Close. Returns the bytes done with: all of them, or up
// to a header (or a Close frame) that is not complete yet.
std::size_t connection::skip_frames(std::span<std::uint8_t> bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    if (need_ > 0) {
      std::size_t n = std::min<std::size_t>(need_, bytes.size() - off);
      need_ -= static_cast<std::uint32_t>(n);
      off += n;
      continue;
    }
    frame_header h;
    std::size_t hs = decode_header(bytes.subspan(off), h);
    if (hs == 0) return off;
    if (static_cast<opcode>(h.op) == opcode::close) {
      // Whole, so that closing leaves nothing unread behind it.
      if (h.payload_length <= max_control_payload && bytes.size() - off < hs + h.payload_length) return off;
      peer_closed();
      return bytes.size();
    }
    off += hs;
    need_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(h.payload_length, 0xFFFFFFFFu));
  }
  return off;
}

std::size_t connection::process_frames(std::span<std::uint8_t> bytes) {
  std::size_t off = 0;
  need_ = 0;
  const Behavior& beh = b();
  for (;;) {
    read_result res = reader_.next(bytes.subspan(off));
    off += res.consumed;
    const event& e = res.ev;
    switch (e.kind) {
      case event_kind::none:
        continue;
      case event_kind::need_more:
        need_ = static_cast<std::uint32_t>(std::min<std::size_t>(e.need, 0xFFFFFFFFu));
        return off;
      case event_kind::message:
        if (phase_ == phase::open && beh.on_message) beh.on_message(*this, Message{e.op, e.text()});
        break;
      case event_kind::piece:
        if (e.compressed) {
          if (!inflate_piece(e)) return off;
        } else if (phase_ == phase::open && beh.on_piece) {
          beh.on_piece(*this, MessagePiece{e.op, e.text(), e.first, e.last});
        }
        break;
      case event_kind::ping:
        if (phase_ == phase::open) {
          if (beh.auto_pong) send_control(opcode::pong, e.text());
          if (beh.on_ping) beh.on_ping(*this, e.text());
        }
        break;
      case event_kind::pong:
        if (phase_ == phase::open && beh.on_pong) beh.on_pong(*this, e.text());
        break;
      case event_kind::close:
        on_peer_close(e.code, e.text());
        return off;
      case event_kind::error:
        fail(e.err);
        return off;
    }
    if (dead() || phase_ > phase::closing) return off;
  }
}

// Inflates as the compressed bytes arrive, into the link's buffer: the inflater
// stops at max_message_size (1009) whatever the ratio, and checks text as it is
// produced (1007). Streaming delivers what each piece inflates to, at once.
bool connection::inflate_piece(const event& e) {
  deflate_link* d = deflate();
  if (d == nullptr) {  // the reader allows RSV1 only once use_deflate made the link
    reader_.abandon(error::reserved_bits);
    fail(error::reserved_bits);
    return false;
  }
  deflate_streams* st = d->streams();
  error err = st != nullptr ? error::none : error::deflate_memory;
  if (err == error::none) {
    if (e.first) st->in.begin(ep_->limits.max_message_size, e.op == opcode::text);
    err = st->in.write(e.data, st->message);
    if (err == error::none && e.last) err = st->in.finish(st->message);
  }
  if (err != error::none) {
    // The rest of the frame is skipped by its length while lingering.
    const std::uint64_t left = reader_.payload_left();
    if (st != nullptr) st->message.release();
    reader_.abandon(err);
    fail(err);
    if (phase_ == phase::lingering) need_ = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, 0xFFFFFFFFu));
    return false;
  }
  const Behavior& beh = b();
  const std::string_view text(reinterpret_cast<const char*>(st->message.data()), st->message.size());
  if (ep_->limits.streaming) {
    if (phase_ == phase::open && beh.on_piece) beh.on_piece(*this, MessagePiece{e.op, text, e.first, e.last});
  } else if (e.last) {
    if (phase_ == phase::open && beh.on_message) beh.on_message(*this, Message{e.op, text});
  } else {
    return true;
  }
  if (dead()) return false;
  // An idle connection keeps no inflated bytes beyond a small buffer, and no streams
  // at all when its mode keeps nothing between messages. (The callback may have sent,
  // so the link and its streams are looked up again.)
  d = deflate();
  if (d == nullptr || d->s == nullptr) return true;
  buffer& message = d->s->message;
  if (message.capacity() > (std::size_t{4} << 10)) {
    message.release();
  } else {
    message.clear();
  }
  if (e.last) d->idle();
  return true;
}

void connection::touch_idle() noexcept {
  pinged_ = false;
  if (phase_ == phase::open && b().idle_timeout.count() > 0) r().set_deadline(this, b().idle_timeout);
}

// --- closing -----------------------------------------------------------------------

void connection::notify_close(std::uint16_t code, std::string_view reason) {
  if (!opened_) return;
  opened_ = false;
  if (ep_->server != nullptr) server_connection_closed(*this);
  if (b().on_close) b().on_close(*this, code, reason);
}

void connection::on_peer_close(std::uint16_t code, std::string_view reason) {
  if (phase_ == phase::open) {
    // Echo the code (RFC 6455 §5.5.1); 1005 travels as an empty payload.
    mask_key key;
    random_bytes(key.bytes, sizeof key.bytes);
    write_close(output(), code, {}, ep_->side == role::client ? &key : nullptr);
  }
  if (phase_ != phase::open && phase_ != phase::closing) return;
  peer_closed();
  notify_close(code, reason);
}

void connection::peer_closed() {
  phase_ = phase::closed;
  r().set_deadline(this, b().close_timeout);
  r().flush_later(this);
}

void connection::await_close() {
  phase_ = phase::closing;
  r().set_deadline(this, b().close_timeout);
  r().flush_later(this);
}

void connection::close_later(std::uint16_t code, std::string reason, bool cut) {
  // Called from inside a send: the application may be walking its own list of
  // connections, so on_close must not run under its feet. It runs deferred,
  // after the current callback, through the slot table (never a dangling this).
  if (cut) {
    phase_ = phase::draining;
    if (!r().in_batch()) {
      terminate(reason, code);  // the same code on_close gets inside a batch
      return;
    }
    r().close(this);
  } else {
    await_close();
    if (!r().in_batch()) {
      notify_close(code, reason);
      return;
    }
  }
  reactor* rr = &r();
  reactor::slot_ref ref{slot_, rr->slot_generation(slot_)};
  rr->defer([rr, ref, code, reason = std::move(reason)] {
    auto* c = static_cast<connection*>(static_cast<io_handle*>(rr->lookup_slot(ref)));
    if (c != nullptr) c->notify_close(code, reason);
  });
}

void connection::start_close(std::uint16_t code, std::string_view reason) {
  if (phase_ != phase::open) return;
  if (code != close_code::no_status && !is_valid_close_code(code)) code = close_code::normal;
  mask_key key;
  random_bytes(key.bytes, sizeof key.bytes);
  write_close(output(), code, reason, ep_->side == role::client ? &key : nullptr);
  await_close();
}

void connection::fail(error e) {
  std::uint16_t code = close_code_of(e);
  std::string_view reason = describe(e);
  if (phase_ == phase::open) {
    mask_key key;
    random_bytes(key.bytes, sizeof key.bytes);
    write_close(output(), code, reason, ep_->side == role::client ? &key : nullptr);
  }
  if (reader_.finished()) {
    // A rule broken: the stream cannot be parsed any more, only walked.
    phase_ = phase::lingering;
    need_ = 0;
    r().set_deadline(this, ep_->side == role::server ? std::min(fin_grace, b().close_timeout) : b().close_timeout);
    r().flush_later(this);
  } else {
    await_close();  // idle: the stream is fine, the peer's Close will come through it
  }
  notify_close(code, reason);
}

void connection::refuse(int status, std::string_view text) {
  write_refusal(out_, status, text);
  drain_and_close(b().close_timeout);
}

void connection::drain_and_close(std::chrono::milliseconds timeout) {
  phase_ = phase::draining;
  r().set_deadline(this, timeout);
  r().flush_later(this);
}

void connection::terminate(std::string_view reason, std::uint16_t code) {
  if (dead()) return;
  phase_ = phase::draining;
  // Notify first: outside a batch, close frees the connection at once.
  notify_close(code, reason);
  if (!dead()) r().close(this);
}

void connection::lost(std::string_view reason) {
  if (dead()) return;
  if (phase_ == phase::handshake && ep_->side == role::client) {
    client_failed(*this, std::string("handshake: ") + std::string(reason));
    return;
  }
  terminate(reason);
}

void connection::on_timeout() {
  switch (phase_) {
    case phase::connecting:
      client_connect_timed_out(*this);
      return;
    case phase::handshake:
      if (ep_->side == role::server && tls() != nullptr && !tls()->session.handshake_done()) {
        r().close(this);  // the TLS handshake never finished: there is no one to answer
      } else if (ep_->side == role::server) {
        refuse(http_status_of(error::handshake_timeout), describe(error::handshake_timeout));
      } else {
        client_failed(*this, "handshake timed out");
      }
      return;
    case phase::open:
      if (b().ping_when_idle && !pinged_) {
        pinged_ = true;
        send_control(opcode::ping, {});
        r().set_deadline(this, b().idle_timeout);
        return;
      }
      fail(error::idle_timeout);
      return;
    case phase::closing:
      terminate(describe(error::close_timeout));
      return;
    case phase::lingering:
      if (ep_->side == role::server && b().close_timeout > fin_grace) {
        // No Close came back: our FIN, then input is dropped until the peer's EOF.
        drain_and_close(b().close_timeout - fin_grace);
        return;
      }
      r().close(this);
      return;
    case phase::closed:
    case phase::draining:
      r().close(this);
      return;
  }
}

void connection::on_free() {
  if (ep_->server != nullptr) server_connection_freed(*this);
  if (ep_->side == role::client) client_freed(*this);
  set_user_data(nullptr);
  if (extras_) delete static_cast<connection_extras*>(user_);
  delete this;
}

zws::detail::user_box* connection::user_data() const noexcept {
  if (extras_) return static_cast<connection_extras*>(user_)->user.get();
  return static_cast<zws::detail::user_box*>(user_);
}

void connection::set_user_data(zws::detail::user_box* box) noexcept {
  if (extras_) {
    static_cast<connection_extras*>(user_)->user.reset(box);
    return;
  }
  delete static_cast<zws::detail::user_box*>(user_);
  user_ = box;
}

std::string_view connection::request_path() const noexcept {
  if (!extras_) return ep_->path;
  const auto* x = static_cast<const connection_extras*>(user_);
  return x->has_path ? std::string_view(x->path) : ep_->path;
}

connection_extras& connection::extras() {
  if (!extras_) {
    auto* x = new connection_extras;
    x->user.reset(static_cast<zws::detail::user_box*>(user_));
    user_ = x;
    extras_ = true;
  }
  return *static_cast<connection_extras*>(user_);
}

void connection::keep_path(std::string_view path) {
  connection_extras& x = extras();
  x.path = path;
  x.has_path = true;
}

connection_extras::connection_extras() noexcept = default;
connection_extras::~connection_extras() = default;

deflate_link* connection::deflate() const noexcept {
  return extras_ ? static_cast<connection_extras*>(user_)->deflate.get() : nullptr;
}

void connection::use_deflate(endpoint& ep, const deflate_params& agreed, const deflate_options& opts) {
  deflater* shared = nullptr;
  const deflate_stream_params p = stream_params(agreed, ep.side);
  if (uses_shared_deflater(p, ep.side)) {
    if (!ep.shared) ep.shared = std::make_unique<shared_deflaters>(opts.level, opts.mem_level, ep.zlib.get());
    shared = &ep.shared->for_window(p.deflate_window_bits);
  }
  extras().deflate = std::make_unique<deflate_link>(agreed, ep.side, opts, ep.zlib.get(), shared);
}

void connection::open(endpoint* ep) {
  if (ep != ep_) {
    ep_ = ep;
    reader_ = reader(ep->side, ep->limits);
  }
  reader_.set_deflate(deflate() != nullptr);
  phase_ = phase::open;
  opened_ = true;
  if (b().idle_timeout.count() > 0) {
    r().set_deadline(this, b().idle_timeout);
  } else {
    r().clear_deadline(this);
  }
  r().flush_later(this);
  if (b().on_open) b().on_open(*this);
}

}  // namespace zws::detail
