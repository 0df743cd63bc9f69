#include "zws/http.hpp"

#include <algorithm>
#include <cstring>

namespace zws::http {
namespace {

// Character classes of RFC 9110 §5.6.2 (tchar) and §5.5 (field-vchar, obs-text).
enum : std::uint8_t { token_char = 1, value_char = 2, target_char = 4 };

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool tsym = std::string_view("!#$%&'*+-.^_`|~").find(char(c)) != std::string_view::npos;
    const bool visible = (c > 0x20 && c < 0x7F) || c >= 0x80;
    if (alnum || tsym) t[c] |= token_char;
    if (visible || c == ' ' || c == '\t') t[c] |= value_char;
    if (visible) t[c] |= target_char;
  }
  return t;
}
constexpr auto classes = make_classes();

constexpr bool is(std::uint8_t c, std::uint8_t cls) { return (classes[c] & cls) != 0; }
constexpr bool is_ows(std::uint8_t c) { return c == ' ' || c == '\t'; }
constexpr bool is_digit(std::uint8_t c) { return c >= '0' && c <= '9'; }
constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? char(c + 32) : c; }

// Whether bytes [p, p + n) may appear in a field value or reason phrase. Values
// are most of a head, so eight bytes are checked at a time: a word with no byte
// below 0x20 and no DEL is all valid (bytes from 0x80 are obs-text); any other
// word, tabs included, gets the byte-wise table.
bool valid_value(const std::uint8_t* p, std::uint32_t n) {
  constexpr std::uint64_t ones = 0x0101010101010101u, high = 0x8080808080808080u;
  std::uint32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x;
    std::memcpy(&x, p + i, 8);
    const std::uint64_t below_space = (x - ones * 0x20) & ~x & high;
    const std::uint64_t del = ((x ^ (ones * 0x7F)) - ones) & ~(x ^ (ones * 0x7F)) & high;
    if ((below_space | del) == 0) continue;
    for (std::uint32_t k = i; k < i + 8; ++k) {
      if (!is(p[k], value_char)) return false;
    }
  }
  for (; i < n; ++i) {
    if (!is(p[i], value_char)) return false;
  }
  return true;
}

// "HTTP/1.x" at `p` (8 bytes). Returns none and sets `minor`, or the error.
zws::error parse_version(const std::uint8_t* p, int& minor) {
  if (std::memcmp(p, "HTTP/", 5) != 0 || !is_digit(p[5]) || p[6] != '.' || !is_digit(p[7])) {
    return zws::error::malformed_head;
  }
  if (p[5] != '1') return zws::error::bad_http_version;
  minor = p[7] - '0';
  return zws::error::none;
}

constexpr std::string_view root = "/";

// Splits a request target into path and query (RFC 9112 §3.2).
void split_target(request& r) {
  std::string_view t = r.target;
  if (!t.empty() && t[0] != '/') {
    // Absolute form "ws://host:port/path?q": the path starts after the authority.
    const std::size_t scheme = t.find("://");
    if (scheme != std::string_view::npos) {
      const std::size_t at = t.find_first_of("/?", scheme + 3);
      t = at == std::string_view::npos ? std::string_view{} : t.substr(at);
    }
  }
  const std::size_t q = t.find('?');
  r.path = t.substr(0, q);
  r.query = q == std::string_view::npos ? std::string_view{} : t.substr(q + 1);
  if (r.path.empty()) r.path = root;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view next_token(std::string_view& list) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view elem = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    while (!elem.empty() && is_ows(std::uint8_t(elem.front()))) elem.remove_prefix(1);
    while (!elem.empty() && is_ows(std::uint8_t(elem.back()))) elem.remove_suffix(1);
    if (!elem.empty()) return elem;
  }
  return {};
}

std::optional<std::string_view> headers::find(std::string_view name) const noexcept {
  for (const header& h : *this) {
    if (iequals(h.name, name)) return h.value;
  }
  return std::nullopt;
}

std::size_t headers::count(std::string_view name) const noexcept {
  return static_cast<std::size_t>(
      std::count_if(begin(), end(), [&](const header& h) { return iequals(h.name, name); }));
}

bool headers::has_token(std::string_view name, std::string_view token) const noexcept {
  for (const header& h : *this) {
    if (!iequals(h.name, name)) continue;
    std::string_view list = h.value;
    for (std::string_view t = next_token(list); !t.empty(); t = next_token(list)) {
      if (iequals(t, token)) return true;
    }
  }
  return false;
}

namespace detail {

head_scanner::head_scanner(kind k, limits l) noexcept
    : kind_(k),
      max_head_(static_cast<std::uint32_t>(std::min<std::size_t>(l.max_head_size, UINT32_MAX - 1))),
      max_fields_(static_cast<std::uint32_t>(std::min(l.max_headers, max_header_capacity))) {}

void head_scanner::reset() noexcept {
  nfields_ = 0;
  line_start_ = 0;
  searched_ = 0;
  have_start_ = false;
  final_ = {};
  scanned_ = 0;
}

parse_result head_scanner::scan(std::span<const std::uint8_t> buf) noexcept {
  if (final_.status != parse_status::need_more) return final_;
  const std::uint8_t* p = buf.data();
  // Only the first max_head_ bytes can hold the head; never look further.
  const std::uint32_t limit = static_cast<std::uint32_t>(std::min<std::size_t>(buf.size(), max_head_));
  while (searched_ < limit) {
    const void* nl = std::memchr(p + searched_, '\n', limit - searched_);
    if (nl == nullptr) {
      scanned_ += limit - searched_;
      searched_ = limit;
      break;
    }
    const auto lf = static_cast<std::uint32_t>(static_cast<const std::uint8_t*>(nl) - p);
    scanned_ += lf + 1 - searched_;
    searched_ = lf + 1;
    // Every line ends in CRLF; a bare LF is refused (see the header).
    if (lf == line_start_ || p[lf - 1] != '\r') return final_ = {parse_status::failed, 0, zws::error::malformed_head};
    const std::uint32_t len = lf - 1 - line_start_;
    if (len == 0) {
      if (!have_start_) return final_ = {parse_status::failed, 0, zws::error::malformed_head};
      return final_ = {parse_status::done, lf + 1u, zws::error::none};
    }
    scanned_ += len;
    const zws::error e = have_start_ ? field_line(p + line_start_, line_start_, len)
                                     : start_line(p + line_start_, line_start_, len);
    if (e != zws::error::none) return final_ = {parse_status::failed, 0, e};
    have_start_ = true;
    line_start_ = lf + 1;
  }
  if (buf.size() > max_head_) return final_ = {parse_status::failed, 0, zws::error::head_too_large};
  return {};
}

// request-line = method SP request-target SP HTTP-version
// status-line  = HTTP-version SP 3DIGIT [ SP reason-phrase ]
zws::error head_scanner::start_line(const std::uint8_t* line, std::uint32_t off, std::uint32_t len) noexcept {
  constexpr zws::error bad = zws::error::malformed_head;
  if (kind_ == kind::request) {
    std::uint32_t i = 0;
    while (i < len && is(line[i], token_char)) ++i;
    if (i == 0 || i == len || line[i] != ' ') return bad;
    std::uint32_t j = i + 1;
    while (j < len && is(line[j], target_char)) ++j;
    if (j == i + 1 || j == len || line[j] != ' ' || len - (j + 1) != 8) return bad;
    start_[0] = {off, i};
    start_[1] = {off + i + 1, j - i - 1};
    start_[2] = {off + j + 1, 8};
    return parse_version(line + j + 1, minor_version_);
  }
  if (len < 12 || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
      line[9] == '0') {
    return bad;
  }
  // Lenient on one point: "HTTP/1.1 101" without the space before an empty reason.
  if (len > 12 && line[12] != ' ') return bad;
  if (len > 13 && !valid_value(line + 13, len - 13)) return bad;
  start_[0] = {off, 8};
  start_[1] = {off + 9, 3};
  start_[2] = len > 12 ? range{off + 13, len - 13} : range{off + 12, 0};
  return parse_version(line, minor_version_);
}

// field-line = field-name ":" OWS field-value OWS
zws::error head_scanner::field_line(const std::uint8_t* line, std::uint32_t off, std::uint32_t len) noexcept {
  if (nfields_ == max_fields_) return zws::error::too_many_headers;
  std::uint32_t i = 0;
  // A leading space or tab (obsolete folding), an empty name and a space before
  // the colon all stop here.
  while (i < len && is(line[i], token_char)) ++i;
  if (i == 0 || i == len || line[i] != ':') return zws::error::malformed_head;
  std::uint32_t v = i + 1;
  std::uint32_t e = len;
  while (v < e && is_ows(line[v])) ++v;
  while (e > v && is_ows(line[e - 1])) --e;
  if (!valid_value(line + v, e - v)) return zws::error::malformed_head;
  fields_[nfields_++] = {{off, i}, {off + v, e - v}};
  return zws::error::none;
}

}  // namespace detail

namespace {

std::string_view view(std::span<const std::uint8_t> buf, detail::head_scanner::range r) {
  return {reinterpret_cast<const char*>(buf.data()) + r.off, r.len};
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace

request_parser::request_parser(limits l) noexcept : scanner_(detail::head_scanner::kind::request, l) {}

// Only what a caller could observe before the next done is cleared: resetting
// the whole fixed-capacity field array would cost more than parsing a request.
void request_parser::reset() noexcept {
  scanner_.reset();
  req_.method = req_.target = req_.path = req_.query = {};
  req_.minor_version = 0;
  req_.headers.clear();
}

parse_result request_parser::parse(std::string_view buf) noexcept { return parse(as_bytes(buf)); }

parse_result request_parser::parse(std::span<const std::uint8_t> buf) noexcept {
  const parse_result r = scanner_.scan(buf);
  if (r.status != parse_status::done) return r;
  // Views are made against this call's buffer, so they are valid even if it moved.
  req_.method = view(buf, scanner_.start_[0]);
  req_.target = view(buf, scanner_.start_[1]);
  req_.minor_version = scanner_.minor_version_;
  split_target(req_);
  req_.headers.clear();
  for (std::uint32_t i = 0; i < scanner_.nfields_; ++i) {
    req_.headers.push({view(buf, scanner_.fields_[i].name), view(buf, scanner_.fields_[i].value)});
  }
  return r;
}

response_parser::response_parser(limits l) noexcept : scanner_(detail::head_scanner::kind::response, l) {}

void response_parser::reset() noexcept {
  scanner_.reset();
  resp_.minor_version = resp_.status = 0;
  resp_.reason = {};
  resp_.headers.clear();
}

parse_result response_parser::parse(std::string_view buf) noexcept { return parse(as_bytes(buf)); }

parse_result response_parser::parse(std::span<const std::uint8_t> buf) noexcept {
  const parse_result r = scanner_.scan(buf);
  if (r.status != parse_status::done) return r;
  const std::string_view code = view(buf, scanner_.start_[1]);
  resp_.minor_version = scanner_.minor_version_;
  resp_.status = (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
  resp_.reason = view(buf, scanner_.start_[2]);
  resp_.headers.clear();
  for (std::uint32_t i = 0; i < scanner_.nfields_; ++i) {
    resp_.headers.push({view(buf, scanner_.fields_[i].name), view(buf, scanner_.fields_[i].value)});
  }
  return r;
}

}  // namespace zws::http
