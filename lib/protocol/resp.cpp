// lib/protocol/resp.cpp — RESP command encoding (see resp.hpp). No dependency.
#include "protocol/resp.hpp"

#include <array>
#include <cstring>

namespace zws::resp {

namespace {

std::size_t digits(std::size_t n) noexcept {
  std::size_t d = 1;
  while (n >= 10) {
    n /= 10;
    ++d;
  }
  return d;
}

// "<prefix><n>\r\n" at p; returns the end.
std::uint8_t* put_length(std::uint8_t* p, char prefix, std::size_t n) noexcept {
  *p++ = static_cast<std::uint8_t>(prefix);
  const std::size_t d = digits(n);
  for (std::size_t i = d; i > 0; --i) {
    p[i - 1] = static_cast<std::uint8_t>('0' + n % 10);
    n /= 10;
  }
  p += d;
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

std::size_t length_size(std::size_t n) noexcept { return 1 + digits(n) + 2; }

std::uint8_t* put_bulk(std::uint8_t* p, std::string_view arg) noexcept {
  p = put_length(p, '$', arg.size());
  if (!arg.empty()) std::memcpy(p, arg.data(), arg.size());
  p += arg.size();
  *p++ = '\r';
  *p++ = '\n';
  return p;
}

// A command name followed by a list of arguments, without building an array of views.
void append_named(buffer& out, std::string_view name, std::span<const std::string_view> args) {
  std::size_t n = length_size(args.size() + 1) + length_size(name.size()) + name.size() + 2;
  for (const std::string_view a : args) n += length_size(a.size()) + a.size() + 2;
  std::uint8_t* p = out.prepare(n);
  std::uint8_t* const start = p;
  p = put_length(p, '*', args.size() + 1);
  p = put_bulk(p, name);
  for (const std::string_view a : args) p = put_bulk(p, a);
  out.commit(static_cast<std::size_t>(p - start));
}

}  // namespace

std::size_t command_size(std::span<const std::string_view> args) noexcept {
  std::size_t n = length_size(args.size());
  for (const std::string_view a : args) n += length_size(a.size()) + a.size() + 2;
  return n;
}

std::size_t encode_command(std::span<const std::string_view> args, std::span<std::uint8_t> out) noexcept {
  std::uint8_t* p = put_length(out.data(), '*', args.size());
  for (const std::string_view a : args) p = put_bulk(p, a);
  return static_cast<std::size_t>(p - out.data());
}

void append_command(buffer& out, std::span<const std::string_view> args) {
  const std::size_t n = command_size(args);
  out.commit(encode_command(args, {out.prepare(n), n}));
}

void append_subscribe(buffer& out, std::span<const std::string_view> channels) {
  append_named(out, "SUBSCRIBE", channels);
}
void append_unsubscribe(buffer& out, std::span<const std::string_view> channels) {
  append_named(out, "UNSUBSCRIBE", channels);
}
void append_psubscribe(buffer& out, std::span<const std::string_view> patterns) {
  append_named(out, "PSUBSCRIBE", patterns);
}
void append_punsubscribe(buffer& out, std::span<const std::string_view> patterns) {
  append_named(out, "PUNSUBSCRIBE", patterns);
}

void append_publish(buffer& out, std::string_view channel, std::string_view payload) {
  const std::array<std::string_view, 2> args{channel, payload};
  append_named(out, "PUBLISH", args);
}

void append_ping(buffer& out) { append_named(out, "PING", {}); }

void append_ping(buffer& out, std::string_view payload) { append_named(out, "PING", {&payload, 1}); }

std::size_t publish_head_size(std::string_view channel) noexcept {
  // "*3\r\n$7\r\nPUBLISH\r\n" + the channel's bulk + the payload's length line (at most 20 digits).
  return 4 + 13 + length_size(channel.size()) + channel.size() + 2 + 1 + 20 + 2;
}

std::size_t encode_publish_head(std::string_view channel, std::size_t payload_size,
                                std::span<std::uint8_t> head) noexcept {
  std::uint8_t* p = put_length(head.data(), '*', 3);
  p = put_bulk(p, "PUBLISH");
  p = put_bulk(p, channel);
  p = put_length(p, '$', payload_size);
  return static_cast<std::size_t>(p - head.data());
}

}  // namespace zws::resp
