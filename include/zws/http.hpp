// zws/http.hpp — incremental parser for HTTP/1.x request and response heads.
//
// Sans-IO: no syscalls, no allocation. The caller owns the bytes; every result
// is a std::string_view into the buffer handed to the call that returned `done`.
//
// Return contract of parse(buf), where buf holds the bytes received so far from
// the start of the head:
//   need_more  the head is not complete; call again with the same bytes plus more
//              (the buffer may have moved: nothing of the old one is kept)
//   done       the head is the first `head_size` bytes of buf (including the empty
//              line); what follows belongs to the body or the next protocol
//   failed     `error` says why (head_too_large, too_many_headers, malformed_head,
//              bad_http_version); the parser stays failed until reset()
// Work is linear in the bytes received, however they are split: the parser
// remembers the end of the last complete line and how far it searched for the next.
//
// Deliberate choices (RFC 9112): lines must end in CRLF (a bare LF is rejected,
// which closes the door on request smuggling through line-ending disagreement);
// so is an empty line before the request line (no WebSocket client sends one);
// obsolete line folding, empty field names, whitespace before the colon and
// control characters in names or values are rejected.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "zws/error.hpp"

namespace zws::http {

class request_parser;
class response_parser;

// Headers a parser can hold: the upper bound of limits::max_headers.
inline constexpr std::size_t max_header_capacity = 64;

struct limits {
  std::size_t max_head_size = 8192;                // bytes, up to and including the empty line
  std::size_t max_headers = max_header_capacity;   // field lines; clamped to max_header_capacity
};

struct header {
  std::string_view name;   // a token; compare with iequals
  std::string_view value;  // trimmed of leading and trailing spaces and tabs
};

// ASCII case-insensitive equality.
bool iequals(std::string_view a, std::string_view b) noexcept;

// Pops the next element of a comma-separated list (RFC 9110 §5.6.1), trimmed of
// spaces and tabs, skipping empty elements; returns an empty view once `list` is
// exhausted. `list` is advanced past the returned element. Quoted strings are not
// recognised: right for token lists (Connection, Upgrade, subprotocols), not for
// the parameters of Sec-WebSocket-Extensions.
std::string_view next_token(std::string_view& list) noexcept;

// The header fields of one head, in order of arrival, duplicates kept.
class headers {
 public:
  std::size_t size() const noexcept { return count_; }
  bool empty() const noexcept { return count_ == 0; }
  const header* begin() const noexcept { return items_.data(); }
  const header* end() const noexcept { return items_.data() + count_; }
  const header& operator[](std::size_t i) const noexcept { return items_[i]; }

  // The value of the first field named `name` (case-insensitive); nullopt if absent.
  std::optional<std::string_view> find(std::string_view name) const noexcept;
  // How many field lines are named `name`.
  std::size_t count(std::string_view name) const noexcept;
  // Whether any element of any field line named `name`, read as a comma-separated
  // list, equals `token` case-insensitively: has_token("Connection", "upgrade")
  // is true for "Connection: keep-alive, Upgrade".
  bool has_token(std::string_view name, std::string_view token) const noexcept;

 private:
  friend class request_parser;
  friend class response_parser;
  void clear() noexcept { count_ = 0; }
  void push(header h) noexcept { items_[count_++] = h; }

  std::array<header, max_header_capacity> items_;
  std::size_t count_ = 0;
};

struct request {
  std::string_view method;  // a token, case-sensitive ("GET")
  std::string_view target;  // as sent: "/chat?room=1"
  std::string_view path;    // target before '?' ("/chat"); for an absolute-form
                            // target, the part after the authority ("/" if none)
  std::string_view query;   // after '?', without it; empty if none
  int minor_version = 0;    // HTTP/1.x; the parser accepts major version 1 only
  http::headers headers;
};

struct response {
  int minor_version = 0;
  int status = 0;           // three digits, 100-999
  std::string_view reason;  // may be empty
  http::headers headers;
};

enum class parse_status : std::uint8_t { need_more, done, failed };

struct parse_result {
  parse_status status = parse_status::need_more;
  std::size_t head_size = 0;   // when done
  zws::error error = zws::error::none;  // when failed
};

namespace detail {

// Start-line and field-line scanning shared by both parsers. Offsets, not views,
// are kept until the head is complete, so the caller may move its buffer between calls.
class head_scanner {
 public:
  enum class kind : std::uint8_t { request, response };

  struct range {
    std::uint32_t off = 0;
    std::uint32_t len = 0;
  };
  struct field {
    range name;
    range value;
  };

  head_scanner(kind k, limits l) noexcept;
  void reset() noexcept;
  parse_result scan(std::span<const std::uint8_t> buf) noexcept;
  std::uint64_t scanned_bytes() const noexcept { return scanned_; }

 private:
  friend class http::request_parser;
  friend class http::response_parser;

  zws::error start_line(const std::uint8_t* line, std::uint32_t off, std::uint32_t len) noexcept;
  zws::error field_line(const std::uint8_t* line, std::uint32_t off, std::uint32_t len) noexcept;

  kind kind_;
  std::uint32_t max_head_;
  std::uint32_t max_fields_;
  std::uint32_t line_start_ = 0;  // first byte of the first line not yet parsed
  std::uint32_t searched_ = 0;    // bytes before this are known to hold no unparsed LF
  bool have_start_ = false;
  parse_result final_;            // sticky once done or failed
  std::uint64_t scanned_ = 0;
  // The start line's three parts: method, target, version for a request;
  // version, status, reason for a response. Valid once scan() returned done.
  range start_[3];
  int minor_version_ = 0;
  std::uint32_t nfields_ = 0;
  std::array<field, max_header_capacity> fields_;
};

}  // namespace detail

// Parses one request head. Reusable across requests through reset(). About
// 3 KiB (the fixed field array): a server needs one per connection only while
// the connection is in its handshake.
class request_parser {
 public:
  explicit request_parser(limits l = {}) noexcept;
  // See the contract at the top of this file. Also accepts std::span<const std::uint8_t>.
  parse_result parse(std::string_view buf) noexcept;
  parse_result parse(std::span<const std::uint8_t> buf) noexcept;
  // The parsed head; meaningful after parse() returned done, and only while the
  // buffer given to that call is alive and unchanged.
  const http::request& get() const noexcept { return req_; }
  void reset() noexcept;
  // Bytes examined since the last reset, for tests of linear time.
  std::uint64_t scanned_bytes() const noexcept { return scanner_.scanned_bytes(); }

 private:
  detail::head_scanner scanner_;
  http::request req_;
};

// Parses one response head. Same contract as request_parser.
class response_parser {
 public:
  explicit response_parser(limits l = {}) noexcept;
  parse_result parse(std::string_view buf) noexcept;
  parse_result parse(std::span<const std::uint8_t> buf) noexcept;
  const http::response& get() const noexcept { return resp_; }
  void reset() noexcept;
  std::uint64_t scanned_bytes() const noexcept { return scanner_.scanned_bytes(); }

 private:
  detail::head_scanner scanner_;
  http::response resp_;
};

}  // namespace zws::http
