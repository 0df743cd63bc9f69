// lib/io/tls.no-tls.cpp — the TLS transport of a build without TLS (make TLS=0).
//
// Links nothing: every context fails with `unavailable`, and every session made
// from one is failed with the same reason, so a wss:// URL or a TLS listener
// fails its call with a readable message instead of failing at link time.
#include <string>
#include <utility>

#include "io/tls.hpp"

namespace zws {
bool tls_available() noexcept { return false; }
}  // namespace zws

namespace zws::detail::tls {

namespace {
failure unavailable_failure() { return failure(-1, std::string(unavailable)); }
}  // namespace

server_context::server_context(const tls_server_options& opts) : opts_(opts), error_(unavailable_failure()) {}
server_context::~server_context() = default;
failure server_context::reload() { return unavailable_failure(); }
failure server_context::reload(const tls_server_options&) { return unavailable_failure(); }
std::shared_ptr<const cert_set> server_context::current() const { return nullptr; }

client_context::client_context(const tls_client_options& opts)
    : server_name_(opts.server_name), verify_(!opts.insecure_skip_verify), error_(unavailable_failure()) {}
client_context::~client_context() = default;
std::string_view client_context::name_for(std::string_view host) const noexcept {
  return server_name_.empty() ? host : std::string_view(server_name_);
}

session session::server(const server_context&) {
  session s;
  s.fail(std::string(unavailable));
  return s;
}

session session::client(const client_context&, std::string_view) {
  session s;
  s.fail(std::string(unavailable));
  return s;
}

session::session(session&& other) noexcept
    : ssl_(std::exchange(other.ssl_, nullptr)),
      certs_(std::move(other.certs_)),
      reason_(std::move(other.reason_)),
      held_(std::move(other.held_)),
      state_(std::exchange(other.state_, 0)) {}

session& session::operator=(session&& other) noexcept {
  if (this != &other) {
    reason_ = std::move(other.reason_);
    state_ = std::exchange(other.state_, 0);
  }
  return *this;
}

session::~session() = default;

status session::fail(std::string reason) {
  state_ |= failed_bit;
  reason_ = std::make_unique<std::string>(std::move(reason));
  return status::failed;
}

status session::settle(int, bool) { return status::failed; }

status session::start(buffer&) { return status::failed; }

receive_result session::receive(std::span<const std::uint8_t>, std::span<std::uint8_t>, buffer&) {
  receive_result r;
  r.state = status::failed;
  return r;
}

receive_result session::receive_from(int, std::span<std::uint8_t>, buffer&) {
  receive_result r;
  r.state = status::failed;
  return r;
}

send_result session::send(std::span<const std::uint8_t>, buffer&) { return {0, status::failed}; }

status session::shutdown(buffer&) { return status::failed; }

std::string_view session::reason() const noexcept {
  return reason_ != nullptr ? std::string_view(*reason_) : unavailable;
}

std::string_view session::alpn() const noexcept { return {}; }

}  // namespace zws::detail::tls
