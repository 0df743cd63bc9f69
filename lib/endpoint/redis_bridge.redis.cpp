// lib/endpoint/redis_bridge.redis.cpp — the Redis bridge (REDIS=1): the
// guarantees are in zws/redis.hpp; this is how they are kept.
//
// Everything runs on the server's first loop. Two links, each an io_handle
// registered once (edge-triggered) per TCP connection: `sub` SUBSCRIBEs and
// receives messages, `pub` PUBLISHes (RESP2 allows nothing but (UN)SUBSCRIBE
// and PING on a subscribed connection). A link reads until EAGAIN into the
// loop's receive buffer and hands every read to its resp_reader; it writes
// what the kernel takes and waits for EPOLLOUT for the rest. A link that fails
// (refused, EOF, reset, a reply that is not RESP or is too large, no answer to
// connect within the timeout) is detached and retried after its backoff.
//
// Thread crossings: relay() (any thread) encodes the PUBLISH where it is called
// and posts it here; the census's first/last hook (any loop, under the census
// lock) posts the change here, so changes arrive in the order they happened.
// Posted work checks server_state::alive: ~Server clears it before it destroys
// the bridge.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "base/random.hpp"
#include "endpoint/server_state.hpp"
#include "io/net.hpp"
#include "protocol/resp.hpp"
#include "zws/redis.hpp"
#include "zws/server.hpp"
#include "zws/utf8.hpp"

namespace zws {
namespace detail {
namespace {

constexpr std::string_view magic{"zws\x01", 4};
constexpr std::size_t id_size = 8;
constexpr std::size_t envelope_size = magic.size() + id_size + 1;
constexpr std::chrono::milliseconds connect_timeout{5'000};
constexpr std::size_t subscribe_batch = 512;  // channels per SUBSCRIBE on reconnect

class redis_bridge;

struct redis_link final : io_handle {
  enum class state : std::uint8_t { down, connecting, up };
  redis_bridge* owner = nullptr;  // null once the bridge is gone
  state st = state::down;
  bool subscriber = false;
  buffer out;
  std::unique_ptr<resp::resp_reader> reader;
  std::chrono::milliseconds backoff{0};
  timer_id retry = 0;

  void on_io(unsigned events) override;
  void on_timeout() override;
};

class redis_bridge final : public topic_relay {
 public:
  redis_bridge(server_state& s, server_loop& home, RedisOptions o, const net::address& a)
      : s_(s), home_(home), o_(std::move(o)), addr_(a), sub_(new redis_link), pub_(new redis_link) {
    random_bytes(id_, sizeof id_);
    for (redis_link* l : {sub_, pub_}) {
      l->owner = this;
      l->backoff = o_.min_backoff;
    }
    sub_->subscriber = true;
  }

  ~redis_bridge() override {
    for (redis_link* l : {sub_, pub_}) {
      if (l->retry != 0) home_.r().cancel_timer(l->retry);
      l->owner = nullptr;
      home_.r().close(l);  // freed now, or after the batch running
    }
  }

  redis_bridge(const redis_bridge&) = delete;
  redis_bridge& operator=(const redis_bridge&) = delete;

  // Loop thread.
  void start() {
    connect(*sub_);
    connect(*pub_);
  }

  void relay(std::string_view topic, std::string_view data, opcode op) override {
    std::string payload;
    payload.reserve(envelope_size + data.size());
    payload.append(magic);
    payload.append(id_, sizeof id_);
    payload.push_back(op == opcode::binary ? 'b' : 't');
    payload.append(data);
    const std::string channel = o_.prefix + std::string(topic);
    const std::string_view args[] = {"PUBLISH", channel, payload};
    std::string command(resp::command_size(args), '\0');
    resp::encode_command(args, {reinterpret_cast<std::uint8_t*>(command.data()), command.size()});
    if (home_.loop->in_loop_thread()) {
      send_publish(command);
      return;
    }
    home_.loop->post([this, alive = s_.alive, command = std::move(command)] {
      if (*alive) send_publish(command);
    });
  }

  // Loop thread: a topic gained its first subscriber in the process, or lost its last.
  void topic_activity(const std::string& topic, bool active) {
    const std::string channel = o_.prefix + topic;
    const std::string_view one[] = {channel};
    if (active) {
      if (!wanted_.insert(topic).second) return;
      if (sub_->st == redis_link::state::up) resp::append_subscribe(sub_->out, one);
    } else {
      if (wanted_.erase(topic) == 0) return;
      if (sub_->st == redis_link::state::up) resp::append_unsubscribe(sub_->out, one);
    }
    flush(*sub_);
  }

  void on_io(redis_link& l, unsigned events) {
    if (l.st == redis_link::state::connecting) {
      if (net::socket_error(l.fd()) != 0 || (events & (ev::err | ev::hup)) != 0) {
        lost(l);
        return;
      }
      if ((events & ev::out) == 0) return;
      connected(l);
      if (l.st != redis_link::state::up) return;
    }
    if ((events & ev::out) != 0 && !flush(l)) return;
    if ((events & (ev::in | ev::hup | ev::err)) != 0) read(l);
  }

  void timed_out(redis_link& l) {
    if (l.st == redis_link::state::connecting) lost(l);
  }

 private:
  void connect(redis_link& l) {
    l.retry = 0;
    const int fd = net::connect_to(addr_);
    if (fd < 0 || home_.r().add(&l, fd) < 0) {
      if (fd >= 0) net::close(fd);
      l.st = redis_link::state::connecting;  // so lost() schedules the retry
      lost(l);
      return;
    }
    net::set_nodelay(fd);
    l.st = redis_link::state::connecting;
    l.reader = std::make_unique<resp::resp_reader>();
    home_.r().set_deadline(&l, connect_timeout);
  }

  void connected(redis_link& l) {
    l.st = redis_link::state::up;
    l.backoff = o_.min_backoff;
    home_.r().clear_deadline(&l);
    if (l.subscriber) {
      // Resubscribe everything that has local subscribers, in a few commands.
      std::vector<std::string> channels;
      channels.reserve(std::min(wanted_.size(), subscribe_batch));
      auto send_batch = [&] {
        std::vector<std::string_view> views(channels.begin(), channels.end());
        resp::append_subscribe(l.out, views);
        channels.clear();
      };
      for (const std::string& t : wanted_) {
        channels.push_back(o_.prefix + t);
        if (channels.size() == subscribe_batch) send_batch();
      }
      if (!channels.empty()) send_batch();
    }
    flush(l);
  }

  // The link is gone: what it queued and what it was reading are lost (at most
  // once); it is tried again after its backoff, which doubles up to the most.
  void lost(redis_link& l) {
    if (l.st == redis_link::state::down) return;
    home_.r().clear_deadline(&l);
    home_.r().detach(&l);
    l.st = redis_link::state::down;
    l.out.release();
    l.reader.reset();
    const std::chrono::milliseconds wait = l.backoff;
    l.backoff = std::min(o_.max_backoff, l.backoff * 2);
    l.retry = home_.r().add_timer(wait, std::chrono::milliseconds(0), [this, link = &l] { connect(*link); });
  }

  void send_publish(const std::string& command) {
    // Down: lost (at most once). Connecting: queued, up to max_pending.
    if (pub_->st == redis_link::state::down || pub_->out.size() + command.size() > o_.max_pending) return;
    pub_->out.append(command);
    if (pub_->st == redis_link::state::up) flush(*pub_);
  }

  // Writes what the kernel takes; false when the link was lost.
  bool flush(redis_link& l) {
    if (l.st != redis_link::state::up) return true;
    while (!l.out.empty()) {
      const long n = net::send(l.fd(), l.out.data(), l.out.size());
      if (n > 0) {
        l.out.consume(static_cast<std::size_t>(n));
        continue;
      }
      if (n == -EAGAIN || n == -EWOULDBLOCK) return true;  // EPOLLOUT will come
      lost(l);
      return false;
    }
    return true;
  }

  // Reads until EAGAIN (edge-triggered: a burst left unread would wait for the
  // next edge), handing every read to the reply reader.
  void read(redis_link& l) {
    const std::span<std::uint8_t> into = home_.r().recv_buffer();
    while (l.st == redis_link::state::up) {
      const long n = net::recv(l.fd(), into.data(), into.size());
      if (n == -EAGAIN || n == -EWOULDBLOCK) return;
      if (n <= 0) {
        lost(l);
        return;
      }
      feed(l, into.first(static_cast<std::size_t>(n)));
    }
  }

  void feed(redis_link& l, std::span<const std::uint8_t> bytes) {
    for (;;) {
      const resp::result r = l.reader->next(bytes);
      bytes = bytes.subspan(r.consumed);
      if (r.st == resp::status::need_more) return;
      if (r.st != resp::status::event) {
        lost(l);
        return;
      }
      if (l.subscriber && r.ev.kind == resp::event_kind::message) deliver(r.ev.channel, r.ev.payload);
    }
  }

  // A message from Redis: delivered to this instance's subscribers unless this
  // instance published it (they had it at once).
  void deliver(std::string_view channel, std::string_view payload) {
    if (!channel.starts_with(o_.prefix)) return;
    const std::string_view topic = channel.substr(o_.prefix.size());
    if (payload.size() >= envelope_size && payload.starts_with(magic)) {
      const std::string_view id = payload.substr(magic.size(), id_size);
      if (id == std::string_view(id_, sizeof id_)) return;
      const opcode op = payload[magic.size() + id_size] == 'b' ? opcode::binary : opcode::text;
      publish_local(s_, topic, payload.substr(envelope_size), op);
      return;
    }
    const auto bytes = std::span(reinterpret_cast<const std::uint8_t*>(payload.data()), payload.size());
    publish_local(s_, topic, payload, utf8_error_offset(bytes) == bytes.size() ? opcode::text : opcode::binary);
  }

  server_state& s_;
  server_loop& home_;
  RedisOptions o_;
  net::address addr_;
  char id_[id_size];
  redis_link* sub_;
  redis_link* pub_;
  std::set<std::string> wanted_;  // topics with local subscribers
};

void redis_link::on_io(unsigned events) {
  if (owner != nullptr) owner->on_io(*this, events);
}

void redis_link::on_timeout() {
  if (owner != nullptr) owner->timed_out(*this);
}

}  // namespace
}  // namespace detail

bool redis_available() noexcept { return true; }

failure Server::bridge_redis(const RedisOptions& options) {
  if (state_->relay) return failure(-1, "bridge_redis: this server is already bridged");
  std::vector<detail::net::address> addrs;
  if (int rc = detail::net::resolve(options.host, options.port, addrs); rc != 0) {
    return failure(-1, "resolve " + options.host + ": " + detail::net::resolve_error(rc));
  }
  detail::server_loop& home = *state_->loops[0];
  auto bridge = std::make_unique<detail::redis_bridge>(*state_, home, options, addrs[0]);
  detail::redis_bridge* b = bridge.get();
  state_->census.on_activity([&home, b, alive = state_->alive](std::string_view topic, bool active) {
    home.loop->post([b, alive, topic = std::string(topic), active] {
      if (*alive) b->topic_activity(topic, active);
    });
  });
  state_->relay = std::move(bridge);
  home.loop->post([b, alive = state_->alive] {
    if (*alive) b->start();
  });
  return {};
}

}  // namespace zws
