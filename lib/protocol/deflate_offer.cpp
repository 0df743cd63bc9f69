// permessage-deflate negotiation (RFC 7692 §7.1) over the Sec-WebSocket-Extensions
// grammar of RFC 6455 §9.1:
//   extension-list = 1#( token *( OWS ";" OWS token [ OWS "=" OWS ( token / quoted-string ) ] ) )
// Always compiled: no zlib here.
#include <algorithm>
#include <charconv>

#include "zws/deflate.hpp"

namespace zws {
namespace {

using http::iequals;

constexpr std::string_view extension_name = "permessage-deflate";
constexpr std::string_view extensions_header = "Sec-WebSocket-Extensions";

bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct param {
  std::string_view name;
  std::string_view value;  // raw: for a quoted string, the text between the quotes (escapes kept)
  bool has_value = false;
  bool quoted = false;
};

// One element of the list. More parameters than fit are only counted: no offer or
// answer with more than four can be valid for permessage-deflate.
struct element {
  std::string_view name;
  std::array<param, 8> params{};
  std::size_t count = 0;
  bool overflow = false;
};

enum class next_status : std::uint8_t { ok, malformed, end };

class cursor {
 public:
  explicit cursor(std::string_view s) noexcept : s_(s) {}

  // Reads the next element. A malformed one is skipped up to the next comma outside
  // a quoted string, so the caller can go on with the rest of the list.
  next_status next(element& e) noexcept {
    skip_separators();
    if (at_end()) return next_status::end;
    e = element{};
    e.name = token();
    if (e.name.empty() || !read_params(e)) {
      skip_element();
      return next_status::malformed;
    }
    return next_status::ok;
  }

 private:
  bool at_end() const noexcept { return i_ >= s_.size(); }
  bool at(char c) const noexcept { return i_ < s_.size() && s_[i_] == c; }
  void skip_ows() noexcept {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  // Empty list elements are allowed (RFC 9110 §5.6.1).
  void skip_separators() noexcept {
    skip_ows();
    while (at(',')) {
      ++i_;
      skip_ows();
    }
  }
  std::string_view token() noexcept {
    const std::size_t b = i_;
    while (i_ < s_.size() && is_tchar(s_[i_])) ++i_;
    return s_.substr(b, i_ - b);
  }
  // At an opening quote: moves past the closing one. False when unterminated.
  bool quoted(std::string_view& inside) noexcept {
    const std::size_t b = ++i_;
    while (i_ < s_.size() && s_[i_] != '"') i_ += s_[i_] == '\\' ? 2 : 1;
    if (i_ >= s_.size()) {
      i_ = s_.size();
      return false;
    }
    inside = s_.substr(b, i_ - b);
    ++i_;
    return true;
  }
  bool read_params(element& e) noexcept {
    for (;;) {
      skip_ows();
      if (at_end()) return true;
      if (at(',')) {
        ++i_;
        return true;
      }
      if (!at(';')) return false;
      ++i_;
      skip_ows();
      param p;
      p.name = token();
      if (p.name.empty()) return false;
      skip_ows();
      if (at('=')) {
        ++i_;
        skip_ows();
        p.has_value = true;
        if (at('"')) {
          p.quoted = true;
          if (!quoted(p.value)) return false;
        } else {
          p.value = token();
          if (p.value.empty()) return false;
        }
      }
      if (e.count < e.params.size()) {
        e.params[e.count++] = p;
      } else {
        e.overflow = true;
      }
    }
  }
  void skip_element() noexcept {
    while (i_ < s_.size() && s_[i_] != ',') {
      if (s_[i_] == '"') {
        std::string_view ignored;
        (void)quoted(ignored);
      } else {
        ++i_;
      }
    }
    if (i_ < s_.size()) ++i_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// A window value: "8" to "15" exactly (RFC 7692 §7.1.2: no sign, no leading zero),
// possibly as a quoted string whose unescaped text is that token. 0 when invalid.
std::uint8_t window_bits(const param& p) noexcept {
  if (!p.has_value) return 0;
  char buf[3];
  std::size_t n = 0;
  for (std::size_t i = 0; i < p.value.size(); ++i) {
    char c = p.value[i];
    if (p.quoted && c == '\\') {
      if (++i >= p.value.size()) return 0;
      c = p.value[i];
    }
    if (n == sizeof buf) return 0;
    buf[n++] = c;
  }
  const std::string_view v(buf, n);
  if (v.size() == 1 && (v[0] == '8' || v[0] == '9')) return static_cast<std::uint8_t>(v[0] - '0');
  if (v.size() == 2 && v[0] == '1' && v[1] >= '0' && v[1] <= '5') return static_cast<std::uint8_t>(10 + v[1] - '0');
  return 0;
}

// The parameters of one permessage-deflate element, with presence flags.
struct pmd_params {
  bool server_nct = false;
  bool client_nct = false;
  bool server_bits_seen = false;
  bool client_bits_seen = false;
  std::uint8_t server_bits = 0;  // 0: absent or no value
  std::uint8_t client_bits = 0;  // 0: absent or no value
};

// Syntax and ranges shared by offers and answers; false on an unknown or duplicated
// parameter, a value on a flag, or an invalid window value. A window parameter
// without a value is left to the caller (allowed only for client_max_window_bits in an offer).
bool read_pmd(const element& e, pmd_params& out) noexcept {
  if (e.overflow) return false;
  for (std::size_t i = 0; i < e.count; ++i) {
    const param& p = e.params[i];
    bool* seen = nullptr;
    std::uint8_t* bits = nullptr;
    if (iequals(p.name, "server_no_context_takeover")) {
      seen = &out.server_nct;
    } else if (iequals(p.name, "client_no_context_takeover")) {
      seen = &out.client_nct;
    } else if (iequals(p.name, "server_max_window_bits")) {
      seen = &out.server_bits_seen;
      bits = &out.server_bits;
    } else if (iequals(p.name, "client_max_window_bits")) {
      seen = &out.client_bits_seen;
      bits = &out.client_bits;
    } else {
      return false;
    }
    if (*seen) return false;
    *seen = true;
    if (bits == nullptr) {
      if (p.has_value) return false;
    } else if (p.has_value) {
      *bits = window_bits(p);
      if (*bits == 0) return false;
    }
  }
  return true;
}

// A limit we choose ourselves: 8 becomes 9, which zlib can compress with.
std::uint8_t own_bits(std::uint8_t b) noexcept { return static_cast<std::uint8_t>(std::clamp<int>(b, 9, 15)); }

class value_writer {
 public:
  explicit value_writer(extension_value& v) noexcept : v_(v) { v_.size = 0; }
  void put(std::string_view s) noexcept {
    const std::size_t n = std::min(s.size(), v_.chars.size() - v_.size);
    std::copy_n(s.data(), n, v_.chars.data() + v_.size);
    v_.size += n;
  }
  void param(std::string_view name) noexcept {
    put("; ");
    put(name);
  }
  void param(std::string_view name, std::uint8_t bits) noexcept {
    param(name);
    char digits[4];
    const auto r = std::to_chars(digits, digits + sizeof digits, bits);
    put("=");
    put({digits, static_cast<std::size_t>(r.ptr - digits)});
  }

 private:
  extension_value& v_;
};

// Decides on one offer; false declines it.
bool accept_offer(const element& e, const deflate_options& opts, deflate_accept& out) noexcept {
  pmd_params o;
  if (!read_pmd(e, o)) return false;
  if (o.server_bits_seen && o.server_bits == 0) return false;  // a value is required here
  if (o.server_bits == 8) return false;                        // zlib cannot compress in 256 bytes
  deflate_params& p = out.params;
  // shared and lean compress through the loop's compressor; lean also keeps no inflate state.
  p.server_no_context_takeover = o.server_nct || opts.server_no_context_takeover || opts.mode != compressor_mode::dedicated;
  p.client_no_context_takeover = o.client_nct || opts.client_no_context_takeover || opts.mode == compressor_mode::lean;
  p.server_max_window_bits = own_bits(opts.server_max_window_bits);
  if (o.server_bits != 0) p.server_max_window_bits = std::min(p.server_max_window_bits, o.server_bits);
  // Without client_max_window_bits in the offer the client cannot take a limit: it may use 15.
  p.client_max_window_bits = 15;
  if (o.client_bits_seen) {
    p.client_max_window_bits = own_bits(opts.client_max_window_bits);
    if (o.client_bits != 0) p.client_max_window_bits = std::min(p.client_max_window_bits, o.client_bits);
  }

  value_writer w(out.value);
  w.put(extension_name);
  if (p.server_no_context_takeover) w.param("server_no_context_takeover");
  if (p.client_no_context_takeover) w.param("client_no_context_takeover");
  if (o.server_bits_seen || p.server_max_window_bits < 15) w.param("server_max_window_bits", p.server_max_window_bits);
  if (o.client_bits_seen && (o.client_bits != 0 || p.client_max_window_bits < 15)) {
    w.param("client_max_window_bits", p.client_max_window_bits);
  }
  out.accepted = true;
  return true;
}

bool negotiate_line(std::string_view line, const deflate_options& opts, deflate_accept& out) noexcept {
  cursor c(line);
  element e;
  for (next_status s = c.next(e); s != next_status::end; s = c.next(e)) {
    if (s == next_status::ok && iequals(e.name, extension_name) && accept_offer(e, opts, out)) return true;
  }
  return false;
}

// Checks the one permessage-deflate element of an answer against the offer.
error check_element(const element& e, const deflate_offer& offered, deflate_params& p) noexcept {
  pmd_params a;
  if (!read_pmd(e, a)) return error::bad_extension_params;
  if (a.server_bits_seen && a.server_bits == 0) return error::bad_extension_params;
  if (a.client_bits_seen && a.client_bits == 0) return error::bad_extension_params;
  if (offered.server_max_window_bits != 0 && (!a.server_bits_seen || a.server_bits > offered.server_max_window_bits)) {
    return error::bad_extension_params;
  }
  if (offered.server_no_context_takeover && !a.server_nct) return error::bad_extension_params;
  if (a.client_bits_seen && !offered.client_max_window_bits) return error::bad_extension_params;
  if (a.client_bits_seen && offered.client_max_window_bits_value != 0 &&
      a.client_bits > offered.client_max_window_bits_value) {
    return error::bad_extension_params;
  }
  p.server_no_context_takeover = a.server_nct;
  p.client_no_context_takeover = a.client_nct || offered.client_no_context_takeover;
  p.server_max_window_bits = a.server_bits_seen ? a.server_bits : 15;
  p.client_max_window_bits = a.client_bits_seen ? a.client_bits : 15;
  if (!a.client_bits_seen && offered.client_max_window_bits && offered.client_max_window_bits_value != 0) {
    p.client_max_window_bits = offered.client_max_window_bits_value;
  }
  return error::none;
}

// Folds one answer line into `out`; `seen` counts the elements so far.
void check_line(std::string_view line, const deflate_offer& offered, deflate_answer& out, int& seen) noexcept {
  cursor c(line);
  element e;
  for (next_status s = c.next(e); s != next_status::end && out.err == error::none; s = c.next(e)) {
    if (s == next_status::malformed) {
      out.err = error::bad_extension_params;
    } else if (!iequals(e.name, extension_name) || ++seen > 1) {
      out.err = error::bad_extension;
    } else {
      out.err = check_element(e, offered, out.params);
      out.accepted = out.err == error::none;
    }
  }
  if (out.err != error::none) out.accepted = false;
}

}  // namespace

deflate_stream_params stream_params(const deflate_params& p, role r) noexcept {
  const bool server = r == role::server;
  deflate_stream_params s;
  s.inflate_window_bits = server ? p.client_max_window_bits : p.server_max_window_bits;
  s.inflate_no_context_takeover = server ? p.client_no_context_takeover : p.server_no_context_takeover;
  s.deflate_window_bits = server ? p.server_max_window_bits : p.client_max_window_bits;
  s.deflate_no_context_takeover = server ? p.server_no_context_takeover : p.client_no_context_takeover;
  return s;
}

deflate_accept negotiate_deflate(const http::headers& request_headers, const deflate_options& opts) noexcept {
  deflate_accept out;
  if (!opts.enable) return out;
  for (const http::header& h : request_headers) {
    if (iequals(h.name, extensions_header) && negotiate_line(h.value, opts, out)) return out;
  }
  return deflate_accept{};
}

deflate_accept negotiate_deflate(std::span<const std::string_view> header_values, const deflate_options& opts) noexcept {
  deflate_accept out;
  if (!opts.enable) return out;
  for (std::string_view v : header_values) {
    if (negotiate_line(v, opts, out)) return out;
  }
  return deflate_accept{};
}

extension_value deflate_offer::value() const noexcept {
  extension_value v;
  value_writer w(v);
  w.put(extension_name);
  if (server_no_context_takeover) w.param("server_no_context_takeover");
  if (client_no_context_takeover) w.param("client_no_context_takeover");
  if (server_max_window_bits != 0) w.param("server_max_window_bits", server_max_window_bits);
  if (client_max_window_bits) {
    if (client_max_window_bits_value != 0) {
      w.param("client_max_window_bits", client_max_window_bits_value);
    } else {
      w.param("client_max_window_bits");
    }
  }
  return v;
}

deflate_offer make_deflate_offer(const deflate_options& opts) noexcept {
  deflate_offer o;
  // A client's compressor is its own in every mode; lean asks both sides to reset.
  const bool lean = opts.mode == compressor_mode::lean;
  o.server_no_context_takeover = opts.server_no_context_takeover || lean;
  o.client_no_context_takeover = opts.client_no_context_takeover || lean;
  o.server_max_window_bits = opts.server_max_window_bits < 15 ? own_bits(opts.server_max_window_bits) : 0;
  o.client_max_window_bits = true;
  o.client_max_window_bits_value = opts.client_max_window_bits < 15 ? own_bits(opts.client_max_window_bits) : 0;
  return o;
}

deflate_answer check_deflate_answer(const http::headers& response_headers, const deflate_offer& offered) noexcept {
  deflate_answer out;
  int seen = 0;
  for (const http::header& h : response_headers) {
    if (iequals(h.name, extensions_header)) check_line(h.value, offered, out, seen);
    if (out.err != error::none) return out;
  }
  return out;
}

deflate_answer check_deflate_answer(std::span<const std::string_view> header_values,
                                    const deflate_offer& offered) noexcept {
  deflate_answer out;
  int seen = 0;
  for (std::string_view v : header_values) {
    check_line(v, offered, out, seen);
    if (out.err != error::none) return out;
  }
  return out;
}

}  // namespace zws
