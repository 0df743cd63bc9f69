// lib/endpoint/server_topics.cpp — topics on a server: WebSocket::subscribe and
// friends, Server::publish and Server::subscribers.
//
// Each loop has a topic_registry (server_loop::topics) keyed by the connection's
// reactor slot; the server's topic_census counts subscribers over all loops. A
// publish encodes its frame once, into a publication shared by every loop it
// reaches; each loop walks its subscribers of the topic and hands the frame to
// each one with send_broadcast, which applies that subscriber's backpressure
// policy and keeps what the kernel does not take at once as a reference to the
// one frame (compressed once per loop and shared deflater for subscribers that
// agreed on permessage-deflate without our context takeover). The calling loop delivers during the call; the others get
// a post, and posts run in the order made, which keeps one publisher's messages
// in order on every loop.
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "endpoint/compression.hpp"
#include "endpoint/server_state.hpp"
#include "zws/server.hpp"
#include "zws/writer.hpp"

namespace zws {
namespace detail {
namespace {

struct publication {
  std::string topic;
  opcode op = opcode::text;
  std::size_t size = 0;  // of the payload, the frame's tail
  frame_ref frame;
};

connection* subscriber_at(reactor& r, subscriber_id id) noexcept {
  void* object = r.lookup_slot({id, r.slot_generation(id)});
  return static_cast<connection*>(static_cast<io_handle*>(object));
}

void deliver(server_loop& sl, const publication& p, subscriber_id except) {
  reactor& r = sl.r();
  // Compressed at most once per shared deflater of this loop (see compression.hpp).
  broadcast_frames frames{p.op, p.frame.bytes().last(p.size), p.frame, {}};
  sl.topics->for_each_subscriber(p.topic, [&](subscriber_id id) {
    if (id == except) return;
    connection* c = subscriber_at(r, id);
    if (c != nullptr && !c->dead()) c->send_broadcast(frames);
  });
}

// An open server connection (topics belong to its server loop), else null.
server_loop* server_of(const connection& c) noexcept {
  if (c.ep_->server == nullptr || !c.opened_ || c.dead()) return nullptr;
  return c.ep_->server;
}

}  // namespace

void publish_local(server_state& s, std::string_view topic, std::string_view data, opcode op,
                   const server_loop* origin, subscriber_id except) {
  auto p = std::make_shared<publication>();
  p->topic = topic;
  p->op = op;
  // Server frames are not masked: one encoding serves every subscriber.
  const frame_head head(op, data.size());
  p->size = data.size();
  p->frame = frame_ref::make(head.span(), {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()});
  std::vector<server_loop*> loops;
  {
    std::lock_guard lock(s.mutex);
    loops.reserve(s.loops.size());
    for (auto& sl : s.loops) loops.push_back(sl.get());
  }
  // Delivered without the lock: a send may close a connection whose on_close publishes.
  for (server_loop* sl : loops) {
    const subscriber_id skip = sl == origin ? except : topic_registry::none;
    if (sl->loop->in_loop_thread()) {
      deliver(*sl, *p, skip);
    } else {
      sl->loop->post([sl, p, skip, alive = s.alive] {
        if (*alive) deliver(*sl, *p, skip);
      });
    }
  }
}

void forget_subscriber(server_loop& sl, std::uint32_t slot) {
  if (sl.topics) sl.topics->unsubscribe_all(slot);
}

}  // namespace detail

// --- WebSocket ---------------------------------------------------------------------

namespace {

detail::connection& self(WebSocket* ws) noexcept { return *static_cast<detail::connection*>(ws); }
const detail::connection& self(const WebSocket* ws) noexcept { return *static_cast<const detail::connection*>(ws); }

}  // namespace

bool WebSocket::subscribe(std::string_view topic) {
  detail::connection& c = self(this);
  detail::server_loop* sl = detail::server_of(c);
  // Not after close(): the subscription would only wait for on_close to end it.
  if (sl == nullptr || c.phase_ != detail::phase::open) return false;
  return sl->topics->subscribe(c.slot_, topic);
}

bool WebSocket::unsubscribe(std::string_view topic) {
  detail::connection& c = self(this);
  if (c.ep_->server == nullptr) return false;
  return c.ep_->server->topics->unsubscribe(c.slot_, topic);
}

bool WebSocket::subscribed(std::string_view topic) const {
  const detail::connection& c = self(this);
  if (c.ep_->server == nullptr || !c.opened_) return false;
  return c.ep_->server->topics->subscribed(c.slot_, topic);
}

std::vector<std::string_view> WebSocket::topics() const {
  const detail::connection& c = self(this);
  if (c.ep_->server == nullptr || !c.opened_) return {};
  return c.ep_->server->topics->topics(c.slot_);
}

void WebSocket::publish(std::string_view topic, std::string_view data, zws::opcode op, bool include_self) {
  detail::connection& c = self(this);
  detail::server_loop* sl = c.ep_->server;
  if (sl == nullptr) return;
  detail::publish_local(*sl->s, topic, data, op, sl, include_self ? detail::topic_registry::none : c.slot_);
  if (sl->s->relay) sl->s->relay->relay(topic, data, op);
}

// --- Server ------------------------------------------------------------------------

void Server::publish(std::string_view topic, std::string_view data, zws::opcode op) {
  detail::publish_local(*state_, topic, data, op);
  if (state_->relay) state_->relay->relay(topic, data, op);
}

std::size_t Server::subscribers(std::string_view topic) const { return state_->census.subscribers(topic); }

failure Server::bridge_redis(std::string_view host, std::uint16_t port) {
  RedisOptions o;
  o.host = host;
  o.port = port;
  return bridge_redis(o);
}

}  // namespace zws
