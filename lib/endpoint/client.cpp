#include "zws/client.hpp"

#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "endpoint/connection.hpp"
#include "io/net.hpp"
#include "base/random.hpp"
#include "zws/handshake.hpp"
#include "zws/url.hpp"

namespace zws {
namespace detail {

// One per client connection: the behaviour and everything the handshake needs.
struct client_endpoint : endpoint {
  Behavior behavior;
  ClientOptions options;
  std::string host;
  std::string target;
  std::vector<net::address> addrs;
  std::size_t next_addr = 0;
  net::address current;
  client_key key{};
  std::string last_error;
  std::shared_ptr<const tls::client_context> tls;  // wss:// only
  std::string tls_host;                             // the URL's host, for SNI and verification
  bool offered_deflate = false;
  deflate_offer offer{};
};

namespace {

// One context per set of options, shared by the connections that use it: loading
// the system store takes milliseconds, and resumption needs one context. Kept
// for the process's lifetime (a handful of distinct option sets in practice).
std::shared_ptr<const tls::client_context> shared_client_context(const tls_client_options& o) {
  static std::mutex mutex;
  static std::vector<std::pair<std::string, std::shared_ptr<const tls::client_context>>> cache;
  std::string key;
  for (const std::string* f : {&o.ca_file, &o.ca_dir, &o.cert_chain_file, &o.key_file, &o.key_password,
                               &o.server_name, &o.alpn}) {
    key += std::to_string(f->size());
    key += ':';
    key += *f;
  }
  key += o.min_version == tls_version::tls1_3 ? '3' : '2';
  key += o.insecure_skip_verify ? 'i' : 'v';
  std::lock_guard lock(mutex);
  for (const auto& [k, ctx] : cache)
    if (k == key) return ctx;
  auto ctx = std::make_shared<const tls::client_context>(o);
  if (!ctx->error()) cache.emplace_back(std::move(key), ctx);
  return ctx;
}

client_endpoint& client_of(connection& c) noexcept { return *static_cast<client_endpoint*>(c.ep_); }

void post_error(Loop& loop, const Behavior& b, std::string reason) {
  if (!b.on_error) return;
  loop.post([fn = b.on_error, reason = std::move(reason)] { fn(reason); });
}

// Starts a connect to the next address; false when none is left.
bool try_next(connection& c) {
  client_endpoint& ep = client_of(c);
  c.r().detach(&c);
  while (ep.next_addr < ep.addrs.size()) {
    const net::address& a = ep.addrs[ep.next_addr++];
    int fd = net::connect_to(a);
    if (fd < 0) {
      ep.last_error = net::describe_failure("connect", a, fd);
      continue;
    }
    if (int rc = c.r().add(&c, fd); rc < 0) {
      net::close(fd);
      ep.last_error = net::describe_failure("epoll_ctl", a, rc);
      continue;
    }
    ep.current = a;
    c.r().set_deadline(&c, ep.options.connect_timeout);
    return true;
  }
  return false;
}

void send_request(connection& c) {
  client_endpoint& ep = client_of(c);
  std::uint8_t nonce[16];
  random_bytes(nonce, sizeof nonce);
  ep.key = make_client_key(std::span<const std::uint8_t, 16>(nonce));
  std::vector<http::header> extra;
  for (const auto& [name, value] : ep.options.headers) extra.push_back({name, value});
  upgrade_request_options opts;
  opts.host = ep.host;
  opts.target = ep.target;
  opts.origin = ep.options.origin;
  opts.subprotocols = ep.protocols;
  ep.offered_deflate = deflate_available() && ep.options.deflate.enable;
  extension_value offer_value;
  if (ep.offered_deflate) {
    ep.offer = make_deflate_offer(ep.options.deflate);
    offer_value = ep.offer.value();
    extra.push_back({"Sec-WebSocket-Extensions", offer_value.view()});
  }
  opts.extra = extra;
  write_upgrade_request(c.out_, opts, ep.key);
  c.phase_ = phase::handshake;
  c.r().set_deadline(&c, ep.behavior.handshake_timeout);
  c.r().flush_later(&c);
}

}  // namespace

void client_on_connecting(connection& c, unsigned events) {
  if (!(events & (ev::out | ev::err | ev::hup))) return;
  client_endpoint& ep = client_of(c);
  if (int err = net::socket_error(c.fd()); err != 0 || (events & (ev::err | ev::hup))) {
    ep.last_error = net::describe_failure("connect", ep.current, err != 0 ? -err : -ECONNRESET);
    if (!try_next(c)) client_failed(c, ep.last_error);
    return;
  }
  net::set_nodelay(c.fd());
  if (ep.tls != nullptr) {
    // wss://: the ClientHello goes first; the request waits in out_ (plaintext)
    // until the handshake is done, and the handshake_timeout covers both.
    c.use_tls(tls::session::client(*ep.tls, ep.tls_host));
    tls_link& t = *c.tls();
    if (t.session.failed() || t.session.start(t.wire) == tls::status::failed) {
      client_failed(c, std::string(t.session.reason()));
      return;
    }
  }
  send_request(c);
}

void client_connect_timed_out(connection& c) {
  client_endpoint& ep = client_of(c);
  ep.last_error = "connect " + ep.current.to_string() + ": timed out";
  if (!try_next(c)) client_failed(c, ep.last_error);
}

std::size_t client_handshake(connection& c, std::span<std::uint8_t> bytes) {
  client_endpoint& ep = client_of(c);
  http::response_parser parser;
  http::parse_result res = parser.parse(std::span<const std::uint8_t>(bytes));
  if (res.status == http::parse_status::need_more) return 0;
  if (res.status == http::parse_status::failed) {
    client_failed(c, "handshake: " + std::string(describe(res.error)));
    return bytes.size();
  }
  const http::response& resp = parser.get();
  if (error e = verify_upgrade_response(resp, ep.key, ep.protocols, ep.offered_deflate); e != error::none) {
    std::string why = e == error::bad_status
                          ? "server answered " + std::to_string(resp.status) + " " + std::string(resp.reason)
                          : std::string(describe(e));
    client_failed(c, "handshake: " + why);
    return bytes.size();
  }
  if (auto chosen = resp.headers.find("Sec-WebSocket-Protocol")) {
    for (std::size_t i = 0; i < ep.protocols.size() && i < 255; ++i)
      if (ep.protocols[i] == *chosen) c.protocol_ = static_cast<std::uint8_t>(i + 1);
  }
  if (ep.offered_deflate) {
    const deflate_answer answer = check_deflate_answer(resp.headers, ep.offer);
    if (answer.err != error::none) {
      client_failed(c, "handshake: " + std::string(describe(answer.err)));
      return bytes.size();
    }
    if (answer.accepted) c.use_deflate(ep, answer.params, ep.options.deflate);
  }
  c.open(c.ep_);
  if (c.dead() || c.phase_ != phase::open) return bytes.size();
  return res.head_size + c.process_frames(bytes.subspan(res.head_size));
}

// `reason` by value on purpose: it may live in the endpoint that close() frees.
void client_failed(connection& c, std::string reason) {  // NOLINT(performance-unnecessary-value-param)
  if (c.dead()) return;
  c.phase_ = phase::draining;
  // Outside a batch close frees the endpoint at once: keep the callback.
  auto on_error = c.b().on_error;
  c.r().close(&c);
  if (on_error) on_error(reason);
}

void client_freed(connection& c) {
  c.r().release_slot(c.slot_);
  delete static_cast<client_endpoint*>(c.ep_);
}

}  // namespace detail

void connect(Loop& loop, std::string_view url_text, Behavior behavior, ClientOptions options) {
  auto u = parse_url(url_text);
  if (!u) return detail::post_error(loop, behavior, "invalid URL: " + std::string(url_text));
  std::shared_ptr<const detail::tls::client_context> tls;
  if (u->secure) {
    tls = detail::shared_client_context(options.tls);
    if (tls->error()) return detail::post_error(loop, behavior, "wss://: " + tls->error().message());
  }
  auto* ep = new detail::client_endpoint;
  ep->tls = std::move(tls);
  ep->tls_host = std::string(u->host);
  ep->behavior = std::move(behavior);
  ep->options = std::move(options);
  ep->host = host_header(*u);
  ep->target = std::string(u->target);
  if (int rc = detail::net::resolve(u->host, u->port, ep->addrs); rc != 0) {
    detail::post_error(loop, ep->behavior, "resolve " + std::string(u->host) + ": " + detail::net::resolve_error(rc));
    delete ep;
    return;
  }
  ep->r = &loop.reactor();
  ep->loop = &loop;
  ep->b = &ep->behavior;
  ep->limits.max_message_size = ep->behavior.max_message_size;
  ep->limits.max_fragments = ep->behavior.max_fragments;
  ep->limits.streaming = static_cast<bool>(ep->behavior.on_piece);
  ep->path = ep->target;
  ep->side = role::client;
  for (const auto& p : ep->behavior.protocols) ep->protocols.push_back(p);
  auto* c = new detail::connection(ep, 0);
  c->slot_ = ep->r->acquire_slot(static_cast<detail::io_handle*>(c)).id;
  c->phase_ = detail::phase::connecting;
  if (!detail::try_next(*c)) {
    detail::post_error(loop, ep->behavior, ep->last_error);
    ep->b = &ep->behavior;
    c->phase_ = detail::phase::draining;
    ep->r->close(c);
  }
}

}  // namespace zws
