#include "zws/server.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cerrno>
#include <cstring>
#include <thread>

#include "endpoint/compression.hpp"
#include "endpoint/server_state.hpp"
#include "zws/writer.hpp"

namespace zws {
namespace detail {
namespace {

constexpr unsigned accept_budget = 128;
constexpr std::chrono::milliseconds accept_retry{100};

}  // namespace

// --- listening and accepting -----------------------------------------------------------

void listener::on_io(unsigned) { owner->accept_all(this); }

void signal_watch::on_io(unsigned) {
  signalfd_siginfo info;
  bool any = false;
  while (::read(fd(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) any = true;
  if (any) server->stop();
}
void listener::on_timeout() { owner->accept_all(this); }

int server_loop::add_listener(const net::address& a, const char** what, tls::server_context* tls) {
  int fd = net::listen_on(a, true, 4096, what);
  if (fd < 0) return fd;
  auto* l = new listener;
  l->owner = this;
  l->tls = tls;
  if (int rc = r().add(l, fd); rc < 0) {
    *what = "epoll_ctl";
    net::close(fd);
    delete l;
    return rc;
  }
  listeners.push_back(l);
  return fd;
}

void server_loop::accept_all(listener* l) {
  if (stopping || l->dead()) return;
  l->paused = false;
  for (unsigned i = 0; i < accept_budget; ++i) {
    int fd = net::accept(l->fd(), nullptr);
    if (fd >= 0) {
      start_connection(fd, {}, l->tls);
      continue;
    }
    if (fd == -EAGAIN || fd == -EWOULDBLOCK) return;
    if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
      // Out of descriptors: keep serving what is open and retry later (or as soon
      // as one of our connections goes away). Pending clients wait in the backlog.
      l->paused = true;
      r().set_deadline(l, accept_retry);
      return;
    }
    // ECONNABORTED, EPERM (firewall) ...: that one is gone; take the next.
  }
  r().read_later(l);
}

void server_loop::start_connection(int fd, std::string_view already_read, tls::server_context* tls) {
  net::set_nodelay(fd);
  tls::session session;
  if (tls != nullptr) {
    session = tls::session::server(*tls);
    if (session.failed()) {
      net::close(fd);
      return;
    }
  }
  auto* c = new connection(&pending, 0);
  c->slot_ = r().acquire_slot(static_cast<io_handle*>(c)).id;
  if (r().add(c, fd) < 0) {
    net::close(fd);
    r().release_slot(c->slot_);
    delete c;
    return;
  }
  ++live;
  c->phase_ = phase::handshake;
  // The handshake timeout covers TLS's handshake too: a peer that opens TCP and
  // never finishes it is cut like one that never sends its request.
  r().set_deadline(c, s->defaults.handshake_timeout);
  if (tls != nullptr) c->use_tls(std::move(session));
  if (!already_read.empty()) {
    c->in_.append(already_read);
    c->consume_input(c->in_.bytes(), true);
  }
}

endpoint* server_loop::endpoint_for(std::size_t i) {
  if (routes.size() <= i) routes.resize(i + 1);
  if (!routes[i]) {
    auto ep = std::make_unique<endpoint>();
    route_entry& route = *s->routes[i];
    ep->r = &r();
    ep->loop = loop;
    ep->b = &route.behavior;
    ep->limits.max_message_size = route.behavior.max_message_size;
    ep->limits.max_fragments = route.behavior.max_fragments;
  ep->limits.streaming = static_cast<bool>(route.behavior.on_piece);
    ep->path = route.path;
    ep->side = role::server;
    ep->server = this;
    ep->route = &route;
    for (const auto& p : route.behavior.protocols) ep->protocols.push_back(p);
    if (!zlib) zlib = std::make_shared<zlib_budget>(s->max_zlib / std::max<std::size_t>(1, s->loops.size()));
    ep->zlib = zlib;
    routes[i] = std::move(ep);
  }
  return routes[i].get();
}

// --- stopping -------------------------------------------------------------------------

void server_loop::begin_stop() {
  if (stopping) return;
  stopping = true;
  for (listener* l : listeners) r().close(l);
  listeners.clear();
  std::chrono::milliseconds longest{0};
  for (const auto& route : s->routes) longest = std::max(longest, route->behavior.close_timeout);
  r().for_each_slot([&](void* object) {
    auto* c = static_cast<connection*>(static_cast<io_handle*>(object));
    if (c->ep_->server != this || c->dead()) return;
    if (c->phase_ == phase::open) {
      c->start_close(close_code::going_away, "server shutting down");
    } else if (c->phase_ == phase::handshake) {
      c->r().close(c);
    }
  });
  stop_timer = r().add_timer(longest + std::chrono::milliseconds(50), std::chrono::milliseconds(0), [this] {
    stop_timer = 0;
    finish_stop();
  });
  maybe_finish_stop();
}

void server_loop::maybe_finish_stop() {
  if (stopping && live == 0) finish_stop();
}

void server_loop::finish_stop() {
  if (stop_timer != 0) r().cancel_timer(stop_timer);
  stop_timer = 0;
  close_all(true);
  if (stop_loop_when_done) loop->stop();
}

void server_loop::close_all(bool notify) {
  for (listener* l : listeners) r().close(l);
  listeners.clear();
  if (signals != nullptr) r().close(signals);
  signals = nullptr;
  r().for_each_slot([&](void* object) {
    auto* c = static_cast<connection*>(static_cast<io_handle*>(object));
    if (c->ep_->server != this) return;
    if (notify) {
      if (!c->dead()) c->terminate("server stopped");
      return;
    }
    // ~Server: no callbacks (the application may be half destroyed), and the
    // connection must not reach back into this server when it is freed, which
    // inside a batch happens after the server is gone.
    static endpoint orphan;
    c->opened_ = false;
    forget_subscriber(*this, c->slot_);
    r().release_slot(c->slot_);
    c->ep_ = &orphan;
    r().close(c);
  });
}

void server_loop::shed_backlog(connection* trigger) {
  const std::size_t cap = s->max_backlog / std::max<std::size_t>(1, s->loops.size());
  if (cap == 0 || backlog <= cap) return;
  // Only queues the kernel has refused (blocked_: waiting for EPOLLOUT), largest
  // first: a peer that reads has had part of its queue taken by the kernel, one
  // that stopped reading has not. Output still corked in this batch (an upgrade's
  // 101 and the first messages on_open sent, not yet offered to the kernel) is not
  // a slow reader's: cutting it would end a healthy connection mid-handshake. The
  // connection whose send crossed the cap comes last: its queue is the newest.
  std::vector<std::pair<std::size_t, connection*>> queues;
  r().for_each_slot([&](void* object) {
    auto* c = static_cast<connection*>(static_cast<io_handle*>(object));
    if (c->ep_->server == this && c->blocked_ && c->backlog_ != 0 && !c->dead() && c != trigger)
      queues.emplace_back(c->queued(), c);
  });
  std::sort(queues.begin(), queues.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  queues.emplace_back(0, trigger);
  const std::size_t low = cap - cap / 8;
  for (auto& [size, c] : queues) {
    if (backlog <= low) break;
    if (!c->dead()) c->shed();
  }
}

void server_backlog_changed(connection& c) {
  server_loop* sl = c.ep_->server;
  const auto now = static_cast<std::uint32_t>(c.held_output());
  const bool grew = now > c.backlog_;
  sl->backlog = sl->backlog - c.backlog_ + now;
  c.backlog_ = now;
  if (grew) sl->shed_backlog(&c);
}

void server_connection_closed(connection& c) {
  // Before on_close: the slot is reused once freed, and a new connection there
  // must not inherit topics. Also unsubscribes a connection that never reached a route.
  forget_subscriber(*c.ep_->server, c.slot_);
  if (c.ep_->route == nullptr) return;
  --c.ep_->route->open;
  --c.ep_->server->s->open;
}

void server_connection_freed(connection& c) {
  server_loop* sl = c.ep_->server;
  forget_subscriber(*sl, c.slot_);
  sl->r().release_slot(c.slot_);
  --sl->live;
  sl->backlog -= c.backlog_;
  c.backlog_ = 0;
  // A descriptor came free: a listener paused by EMFILE may accept again.
  for (listener* l : sl->listeners)
    if (l->paused) sl->r().read_later(l);
  sl->maybe_finish_stop();
}

}  // namespace detail

// --- Server ---------------------------------------------------------------------------

namespace {

std::unique_ptr<detail::server_loop> make_loop(detail::server_state* s, Loop* external) {
  auto sl = std::make_unique<detail::server_loop>();
  sl->s = s;
  if (external != nullptr) {
    sl->loop = external;
  } else {
    sl->owned = std::make_unique<Loop>();
    sl->loop = sl->owned.get();
    sl->stop_loop_when_done = true;
  }
  sl->pending.r = &sl->loop->reactor();
  sl->pending.loop = sl->loop;
  sl->pending.b = &s->defaults;
  sl->pending.side = role::server;
  sl->pending.server = sl.get();
  sl->topics = std::make_unique<detail::topic_registry>(&s->census);
  return sl;
}

// Asks every loop of the server to stop (run() before the loops run, or stop()).
// Posted work runs later on a loop the caller may keep after ~Server: it does
// nothing once the server is gone.
void post_stop(detail::server_state& s) {
  for (auto& sl : s.loops)
    sl->loop->post([p = sl.get(), alive = s.alive] {
      if (*alive) p->begin_stop();
    });
}

failure use_tls(detail::server_state& s, const tls_server_options& tls) {
  if (s.tls != nullptr) return s.tls->reload(tls);
  auto ctx = std::make_unique<detail::tls::server_context>(tls);
  if (ctx->error()) return ctx->error();
  s.tls = std::move(ctx);
  return {};
}

failure listen_host(detail::server_state& s, std::string_view host, std::uint16_t port,
                    detail::tls::server_context* tls);

// Every IPv4 address, and IPv6 on the same port when the host has it.
failure listen_any(detail::server_state& s, std::uint16_t port, detail::tls::server_context* tls) {
  if (failure f = listen_host(s, "0.0.0.0", port, tls)) return f;
  // IPv6 too when the host has it, on the same port; its absence is no failure.
  detail::net::address a;
  detail::net::parse_numeric("::", s.bound.back().port(), a);
  const char* what = "";
  if (detail::net::probe_port(a) == 0 && s.loops[0]->add_listener(a, &what, tls) >= 0) {
    s.bound.push_back(a);
    s.bound_tls.push_back(tls != nullptr);
  }
  return {};
}

failure listen_host(detail::server_state& s, std::string_view host, std::uint16_t port,
                    detail::tls::server_context* tls) {
  std::vector<detail::net::address> addrs;
  if (int rc = detail::net::resolve(host, port, addrs); rc != 0) {
    return failure(-1, "resolve " + std::string(host) + ": " + detail::net::resolve_error(rc));
  }
  std::uint16_t chosen = port;
  bool any = false;
  failure first;
  for (auto& a : addrs) {
    if (chosen != 0) a.set_port(chosen);
    const char* what = "bind";
    int fd = chosen != 0 ? detail::net::probe_port(a) : 0;
    if (fd == 0) fd = s.loops[0]->add_listener(a, &what, tls);
    if (fd < 0) {
      if (!first) first = failure(-fd, detail::net::describe_failure(what, a, fd));
      continue;
    }
    detail::net::address bound;
    detail::net::local_address(fd, bound);
    chosen = bound.port();
    s.bound.push_back(bound);
    s.bound_tls.push_back(tls != nullptr);
    any = true;
  }
  return any ? failure{} : first;
}

}  // namespace

Server::Server() : state_(std::make_unique<detail::server_state>()) {
  state_->loops.push_back(make_loop(state_.get(), nullptr));
}

Server::Server(Loop& loop) : state_(std::make_unique<detail::server_state>()) {
  state_->loops.push_back(make_loop(state_.get(), &loop));
}

Server::~Server() {
  *state_->alive = false;
  state_->relay.reset();
  for (auto& sl : state_->loops) {
    sl->stopping = true;
    sl->close_all(false);
    if (sl->stop_timer != 0) sl->r().cancel_timer(sl->stop_timer);
  }
}

Server& Server::route(std::string path, Behavior behavior) {
  for (auto& r : state_->routes) {
    if (r->path == path) {
      r->behavior = std::move(behavior);
      state_->refresh_defaults();
      return *this;
    }
  }
  auto entry = std::make_unique<detail::route_entry>();
  entry->path = std::move(path);
  entry->behavior = std::move(behavior);
  state_->routes.push_back(std::move(entry));
  state_->refresh_defaults();
  return *this;
}

Server& Server::on_http(std::function<void(const Request&, Response&)> handler) {
  state_->http = std::move(handler);
  return *this;
}

Server& Server::max_connections(std::size_t n) {
  state_->max_connections = n;
  return *this;
}

Server& Server::max_backpressure_total(std::size_t bytes) {
  state_->max_backlog = bytes;
  return *this;
}

failure Server::listen(std::uint16_t port) { return listen_any(*state_, port, nullptr); }

failure Server::listen(std::string_view host, std::uint16_t port) { return listen_host(*state_, host, port, nullptr); }

failure Server::listen(std::uint16_t port, const tls_server_options& tls) {
  if (failure f = use_tls(*state_, tls)) return f;
  return listen_any(*state_, port, state_->tls.get());
}

failure Server::listen(std::string_view host, std::uint16_t port, const tls_server_options& tls) {
  if (failure f = use_tls(*state_, tls)) return f;
  return listen_host(*state_, host, port, state_->tls.get());
}

failure Server::reload_tls() {
  if (!tls_available()) return failure(-1, std::string(detail::tls::unavailable));
  if (state_->tls == nullptr) return failure(-1, "reload_tls: no TLS listener");
  return state_->tls->reload();
}

failure Server::reload_tls(const tls_server_options& tls) {
  if (!tls_available()) return failure(-1, std::string(detail::tls::unavailable));
  if (state_->tls == nullptr) return failure(-1, "reload_tls: no TLS listener");
  return state_->tls->reload(tls);
}

std::uint16_t Server::port() const noexcept { return state_->bound.empty() ? 0 : state_->bound[0].port(); }

std::uint16_t Server::tls_port() const noexcept {
  for (std::size_t i = 0; i < state_->bound.size(); ++i)
    if (state_->bound_tls[i]) return state_->bound[i].port();
  return 0;
}

std::vector<std::string> Server::addresses() const {
  std::vector<std::string> out;
  for (const auto& a : state_->bound) out.push_back(a.to_string());
  return out;
}

void Server::run() { run(1); }

void Server::run(unsigned threads) {
  threads = std::max(1u, threads);
  std::vector<detail::server_loop*> extra;
  {
    std::lock_guard lock(state_->mutex);
    state_->loops[0]->stop_loop_when_done = true;
    for (unsigned i = 1; i < threads; ++i) {
      state_->loops.push_back(make_loop(state_.get(), nullptr));
      detail::server_loop* sl = state_->loops.back().get();
      for (std::size_t b = 0; b < state_->bound.size(); ++b) {
        const char* what = "";
        sl->add_listener(state_->bound[b], &what, state_->bound_tls[b] ? state_->tls.get() : nullptr);
      }
      extra.push_back(sl);
    }
    if (state_->stop_requested) {
      post_stop(*state_);
    }
  }
  std::vector<std::thread> workers;
  workers.reserve(extra.size());
  for (detail::server_loop* sl : extra) workers.emplace_back([sl] { sl->loop->run(); });
  state_->loops[0]->loop->run();
  for (auto& t : workers) t.join();
}

failure Server::stop_on_signals(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int sig : signals) sigaddset(&set, sig);
  if (int rc = ::pthread_sigmask(SIG_BLOCK, &set, nullptr); rc != 0) {
    return failure(rc, std::string("pthread_sigmask: ") + std::strerror(rc));
  }
  detail::server_loop* sl = state_->loops[0].get();
  int fd = ::signalfd(sl->signals != nullptr ? sl->signals->fd() : -1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) return failure(errno, std::string("signalfd: ") + std::strerror(errno));
  if (sl->signals != nullptr) return {};  // the existing descriptor now watches the new set
  auto* watch = new detail::signal_watch;
  watch->server = this;
  if (int rc = sl->r().add(watch, fd); rc < 0) {
    ::close(fd);
    delete watch;
    return failure(-rc, std::string("epoll_ctl: ") + std::strerror(-rc));
  }
  sl->signals = watch;
  return {};
}

void Server::stop() {
  std::lock_guard lock(state_->mutex);
  state_->stop_requested = true;
  post_stop(*state_);
}

failure Server::adopt(int fd, std::string_view already_read) {
  if (fd < 0) return failure(EBADF, "adopt: invalid descriptor");
  if (int rc = detail::net::set_nonblocking(fd); rc < 0) {
    detail::net::close(fd);
    return failure(-rc, std::string("adopt: ") + std::strerror(-rc));
  }
  detail::server_loop* sl = state_->loops[0].get();
  // Inline only inside a batch: there a connection closed by a callback is freed
  // after the batch, not under start_connection's feet.
  if (sl->loop->in_loop_thread() && sl->r().in_batch()) {
    sl->start_connection(fd, already_read);
  } else {
    sl->loop->post([sl, fd, bytes = std::string(already_read), alive = state_->alive] {
      if (*alive) {
        sl->start_connection(fd, bytes);
      } else {
        detail::net::close(fd);
      }
    });
  }
  return {};
}

void Server::broadcast(std::string_view path, std::string_view data, zws::opcode op) {
  // One encoding for everyone: server frames are not masked. With permessage-deflate,
  // one compression per loop and shared deflater (see compression.hpp).
  const frame_head head(op, data.size());
  auto deliver = [frame = detail::frame_ref::make(
                      head.span(), {reinterpret_cast<const std::uint8_t*>(data.data()), data.size()}), size = data.size(), op,
                  path = std::string(path)](detail::server_loop* sl) {
    // The payload is the frame's tail (unmasked).
    detail::broadcast_frames frames{op, frame.bytes().last(size), frame, {}};
    sl->r().for_each_slot([&](void* object) {
      auto* c = static_cast<detail::connection*>(static_cast<detail::io_handle*>(object));
      if (c->ep_->server == sl && c->phase_ == detail::phase::open && !c->dead() &&
          (c->ep_->path == path || c->request_path() == path))
        c->send_broadcast(frames);
    });
  };
  std::vector<detail::server_loop*> loops;
  {
    std::lock_guard lock(state_->mutex);
    for (auto& sl : state_->loops) loops.push_back(sl.get());
  }
  // Delivered without the lock: a send may close a connection, and its on_close
  // may well broadcast again.
  for (detail::server_loop* sl : loops) {
    if (sl->loop->in_loop_thread()) {
      deliver(sl);
    } else {
      sl->loop->post([deliver, sl, alive = state_->alive] {
        if (*alive) deliver(sl);
      });
    }
  }
}

Server& Server::max_zlib_memory(std::size_t bytes) {
  state_->max_zlib = bytes;
  return *this;
}

std::size_t Server::connections() const noexcept { return state_->open.load(); }

Loop& Server::loop() noexcept { return *state_->loops[0]->loop; }

}  // namespace zws
