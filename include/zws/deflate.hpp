// zws/deflate.hpp — permessage-deflate (RFC 7692): options and negotiation, sans-IO.
//
// Server path, during the upgrade:
//   deflate_accept a = negotiate_deflate(req.headers, opts);
//   if (a.accepted) send "Sec-WebSocket-Extensions: " + a.value()   (never an empty header)
//   a.params: what both sides will do; the connection builds its inflater and deflater from it.
// Client path:
//   deflate_offer o = make_deflate_offer(opts);  send "Sec-WebSocket-Extensions: " + o.value()
//   deflate_answer r = check_deflate_answer(resp.headers, o);
//   r.err != none: fail the connection; r.accepted: use r.params; else no compression.
//
// Nothing here allocates or needs zlib: this file is compiled in every build. A build
// without zlib (DEFLATE=0) simply never enables the extension.
//
// zlib cannot compress with a raw 8-bit window (deflateInit2 refuses it), so:
//  - an 8 in our own options acts as 9 (a limit we choose may be anything from 8 to 15);
//  - a client offer demanding server_max_window_bits=8 is declined (the server would have
//    to compress with 256 bytes of history; the next offer may still be accepted);
//  - a server answering client_max_window_bits=8 to our client is honoured by sending
//    every message uncompressed (can_deflate() is false), never by exceeding the window.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "zws/error.hpp"
#include "zws/frame.hpp"
#include "zws/http.hpp"

namespace zws {

// How much zlib state a connection keeps, and so what each costs. Measured as the
// server's heap per connection after one compressed 1,000-byte message each way, with
// 10,000 connections (zlib 1.2.13, x86-64, window 15, mem level 8; integration test
// DeflateMemory): an idle plain connection holds about 210 bytes of heap. A server's
// mode decides what it answers; a client's decides what it offers.
//  - dedicated: each connection keeps its own compressor and inflater with their
//    context: the best ratio on streams of small similar messages (each refers to the
//    ones before). Server: answers what the client offered, nothing more. About
//    300 KiB per connection (deflater ~262 KiB, inflater ~40 KiB), reserved in the
//    loop's zlib budget when the connection is admitted. Client: a plain offer.
//  - shared (the default): the server compresses through one compressor per loop,
//    route and window size (answers server_no_context_takeover, so every message stands
//    alone: a broadcast or publish is compressed once per loop for all such
//    connections), while its inflater keeps the client's context (the client
//    compresses with context: upstream ratio as in dedicated). About 40 KiB per
//    connection (the inflater's 32 KiB window and state), plus ~262 KiB per loop.
//    Small independent messages downstream compress little (100 JSON lines of 80 bytes:
//    7,992 bytes become 7,503 on the wire, against 1,163 in dedicated). Client: as
//    dedicated (a client's compressor is its own either way).
//  - lean: also asks client_no_context_takeover, so no inflate state is kept between
//    messages: the streams are made for a message and freed after it, and an idle
//    connection holds about 130 bytes of deflate bookkeeping (1.6 times a plain one
//    in all). Both directions compress each message alone. Client: offers
//    server_no_context_takeover and client_no_context_takeover, and holds no zlib
//    state between messages either.
// Server::max_zlib_memory caps a loop's zlib memory: what a mode keeps between
// messages is reserved when a connection is admitted, and a connection that would not
// fit (with room for one message's inflater) is answered without the extension.
enum class compressor_mode : std::uint8_t { dedicated, shared, lean };

struct deflate_options {
  bool enable = false;
  int level = 6;                          // zlib compression level, 0..9
  std::size_t threshold = 64;             // messages shorter than this go out uncompressed
  std::uint8_t server_max_window_bits = 15;  // server's sending window, 8..15 (8 acts as 9)
  std::uint8_t client_max_window_bits = 15;  // client's sending window, 8..15 (8 acts as 9)
  std::uint8_t mem_level = 8;             // zlib memLevel of our deflater, 1..9
  // true: the server (client) resets its compressor after every message: no memory kept
  // between messages, worse ratio. The server asks it of the client with
  // client_no_context_takeover; the client asks it of the server with server_no_context_takeover.
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  // See compressor_mode. The two flags above ask for more resets than the mode does.
  compressor_mode mode = compressor_mode::shared;
};

// What both ends agreed on. "server_*" constrain the server's compressor (and the
// client's inflater), "client_*" the client's compressor (and the server's inflater).
struct deflate_params {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 15;  // 8..15
  std::uint8_t client_max_window_bits = 15;  // 8..15
  bool operator==(const deflate_params&) const = default;
};

// The window bits each side's inflater and deflater use, and whether they keep context
// between messages, for an endpoint of role `r` (role::server or role::client).
struct deflate_stream_params {
  std::uint8_t inflate_window_bits = 15;  // the peer's sending window
  bool inflate_no_context_takeover = false;
  std::uint8_t deflate_window_bits = 15;  // our sending window
  bool deflate_no_context_takeover = false;
};
deflate_stream_params stream_params(const deflate_params& p, role r) noexcept;

// Whether this build has zlib (make DEFLATE=1). Without it the endpoint must neither
// offer nor accept the extension, whatever deflate_options::enable says: the negotiation
// functions below do not check it, so they can be tested in every build.
bool deflate_available() noexcept;

// zlib can compress within a window of 9..15 bits, not 8: with 8 agreed, send uncompressed.
constexpr bool can_deflate(std::uint8_t window_bits) noexcept { return window_bits >= 9 && window_bits <= 15; }

// A Sec-WebSocket-Extensions value built without allocation; at most 160 characters.
struct extension_value {
  std::array<char, 160> chars{};
  std::size_t size = 0;
  std::string_view view() const noexcept { return {chars.data(), size}; }
  bool empty() const noexcept { return size == 0; }
};

// ---- server ---------------------------------------------------------------

struct deflate_accept {
  bool accepted = false;   // false: answer without the extension (no header at all)
  deflate_params params;   // when accepted
  extension_value value;   // when accepted: the exact Sec-WebSocket-Extensions value to send
};

// Reads every Sec-WebSocket-Extensions line of the request, in order, each a list of
// offers (quoted values, optional whitespace and case of names and tokens are handled),
// and accepts the first permessage-deflate offer it can honour. An offer with an unknown
// or duplicated parameter, a value where none belongs, a missing or out-of-range window
// value, or demanding server_max_window_bits=8, is declined and the next one tried; a
// malformed element is skipped up to the next comma outside quotes. Nothing is ever
// refused: at worst the result is not accepted. `opts.enable` false: never accepted.
deflate_accept negotiate_deflate(const http::headers& request_headers, const deflate_options& opts) noexcept;
// The same over header values given directly (one per header line).
deflate_accept negotiate_deflate(std::span<const std::string_view> header_values, const deflate_options& opts) noexcept;

// ---- client ---------------------------------------------------------------

// What a client offered, kept to check the server's answer against.
struct deflate_offer {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::uint8_t server_max_window_bits = 0;        // 0: not offered; else 9..15
  bool client_max_window_bits = true;             // offered: the server may limit our window
  std::uint8_t client_max_window_bits_value = 0;  // 0: offered without a value; else 9..15
  // "permessage-deflate; ..." for these fields.
  extension_value value() const noexcept;
};

// The offer for `opts` (one offer; lean mode offers both no_context_takeover
// parameters; windows below 15 are sent, 8 as 9).
deflate_offer make_deflate_offer(const deflate_options& opts) noexcept;

struct deflate_answer {
  error err = error::none;  // bad_extension / bad_extension_params: fail the connection
  bool accepted = false;    // the server agreed: use params
  deflate_params params;
};

// Checks the response's Sec-WebSocket-Extensions lines against `offered` (RFC 7692 §7.1):
// none at all: not accepted, no error. An extension other than permessage-deflate, or
// two of them: bad_extension. A malformed list, an unknown or duplicated parameter, a
// value that is missing, superfluous or out of range, server_max_window_bits above or
// missing against what we offered, server_no_context_takeover missing though offered,
// client_max_window_bits when not offered or above the value offered: bad_extension_params.
deflate_answer check_deflate_answer(const http::headers& response_headers, const deflate_offer& offered) noexcept;
deflate_answer check_deflate_answer(std::span<const std::string_view> header_values,
                                    const deflate_offer& offered) noexcept;

}  // namespace zws
