#include "zws/websocket.hpp"

#include "endpoint/connection.hpp"
#include "io/net.hpp"
#include "zws/http.hpp"

namespace zws {
namespace {

detail::connection& self(WebSocket* ws) noexcept { return *static_cast<detail::connection*>(ws); }
const detail::connection& self(const WebSocket* ws) noexcept { return *static_cast<const detail::connection*>(ws); }

}  // namespace

send_status WebSocket::send(std::string_view data, zws::opcode op) {
  return send({reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}, op);
}

send_status WebSocket::send(std::span<const std::uint8_t> data, zws::opcode op) {
  if (op != zws::opcode::text && op != zws::opcode::binary) {
    if (op == zws::opcode::ping || op == zws::opcode::pong) {
      return self(this).send_control(op, {reinterpret_cast<const char*>(data.data()), data.size()});
    }
    return send_status::dropped;
  }
  return self(this).send_message(op, data);
}

send_status WebSocket::send_piece(std::string_view data, bool last, zws::opcode op) {
  return self(this).send_piece(op, {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}, last);
}

send_status WebSocket::send_piece(std::span<const std::uint8_t> data, bool last, zws::opcode op) {
  return self(this).send_piece(op, data, last);
}

send_status WebSocket::ping(std::string_view payload) { return self(this).send_control(zws::opcode::ping, payload); }
send_status WebSocket::pong(std::string_view payload) { return self(this).send_control(zws::opcode::pong, payload); }
void WebSocket::close(std::uint16_t code, std::string_view reason) { self(this).start_close(code, reason); }
void WebSocket::terminate() { self(this).terminate("terminated"); }
std::size_t WebSocket::buffered_amount() const noexcept { return self(this).queued(); }
bool WebSocket::is_open() const noexcept { return self(this).phase_ == detail::phase::open && !self(this).dead(); }
std::string_view WebSocket::path() const noexcept { return self(this).request_path(); }

std::string_view WebSocket::protocol() const noexcept {
  const auto& c = self(this);
  if (c.protocol_ == 0 || c.protocol_ > c.ep_->protocols.size()) return {};
  return c.ep_->protocols[c.protocol_ - 1];
}

std::string WebSocket::remote_address() const {
  detail::net::address a;
  if (self(this).fd() < 0 || detail::net::peer_address(self(this).fd(), a) < 0) return {};
  return a.to_string();
}

Loop& WebSocket::loop() const noexcept { return *self(this).ep_->loop; }

WebSocket::Handle WebSocket::handle() const noexcept {
  Handle h;
  h.reactor_ = self(this).ep_->r;
  h.id_ = self(this).slot_;
  h.generation_ = h.reactor_->slot_generation(h.id_);
  return h;
}

detail::user_box* WebSocket::user_box() const noexcept { return self(this).user_data(); }

void WebSocket::set_user_box(detail::user_box* box) noexcept { self(this).set_user_data(box); }

// --- Handle ----------------------------------------------------------------------

void WebSocket::Handle::post(std::function<void(WebSocket&)> fn) const {
  if (reactor_ == nullptr) return;
  detail::reactor* r = reactor_;
  detail::reactor::slot_ref ref{id_, generation_};
  r->post([r, ref, fn = std::move(fn)] {
    auto* c = static_cast<detail::connection*>(r->lookup_slot(ref));
    if (c != nullptr && !c->dead() && c->opened_) fn(*c);
  });
}

void WebSocket::Handle::send(std::string data, zws::opcode op) const {
  post([data = std::move(data), op](WebSocket& ws) { ws.send(data, op); });
}

void WebSocket::Handle::close(std::uint16_t code, std::string reason) const {
  post([code, reason = std::move(reason)](WebSocket& ws) { ws.close(code, reason); });
}

// --- Request ---------------------------------------------------------------------

std::string_view Request::method() const noexcept { return req_->method; }
std::string_view Request::target() const noexcept { return req_->target; }
std::string_view Request::path() const noexcept { return req_->path; }
std::string_view Request::query() const noexcept { return req_->query; }

std::optional<std::string_view> Request::header(std::string_view name) const noexcept {
  return req_->headers.find(name);
}

std::vector<std::string_view> Request::protocols() const {
  std::vector<std::string_view> out;
  for (const auto& h : req_->headers) {
    if (!http::iequals(h.name, "Sec-WebSocket-Protocol")) continue;
    std::string_view list = h.value;
    for (auto t = http::next_token(list); !t.empty(); t = http::next_token(list)) out.push_back(t);
  }
  return out;
}

std::string Request::remote_address() const {
  detail::net::address a;
  if (detail::net::peer_address(fd_, a) < 0) return {};
  return a.to_string();
}

}  // namespace zws
