// Tests of lib/protocol/deflate_offer.cpp: the permessage-deflate negotiation table of
// RFC 7692 §7.1, both roles. Every header value is read from a buffer that ends right
// against a PROT_NONE page, so a one-byte over-read crashes.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "guarded.hpp"
#include "zws/deflate.hpp"
#include "zws/http.hpp"

namespace {

using zws::deflate_accept;
using zws::deflate_answer;
using zws::deflate_offer;
using zws::deflate_options;
using zws::deflate_params;
using zws::error;
using zws::test::guarded;

// The negotiation table itself: dedicated mode, which answers exactly what was offered
// (the default mode, shared, adds server_no_context_takeover: see the mode tests).
deflate_options enabled(zws::compressor_mode mode = zws::compressor_mode::dedicated) {
  deflate_options o;
  o.enable = true;
  o.mode = mode;
  return o;
}

deflate_accept negotiate(std::vector<std::string> lines, const deflate_options& opts = enabled()) {
  std::vector<std::unique_ptr<guarded>> pages;
  std::vector<std::string_view> values;
  for (const auto& l : lines) {
    pages.push_back(std::make_unique<guarded>(l));
    values.push_back(pages.back()->str());
  }
  deflate_accept a = zws::negotiate_deflate(values, opts);
  EXPECT_EQ(a.accepted, !a.value.empty()) << "an accepted offer has a value, a declined one none";
  return a;
}

deflate_answer check(std::vector<std::string> lines, const deflate_offer& offered) {
  std::vector<std::unique_ptr<guarded>> pages;
  std::vector<std::string_view> values;
  for (const auto& l : lines) {
    pages.push_back(std::make_unique<guarded>(l));
    values.push_back(pages.back()->str());
  }
  return zws::check_deflate_answer(values, offered);
}

deflate_params params(bool snct, bool cnct, int s, int c) {
  return {snct, cnct, static_cast<std::uint8_t>(s), static_cast<std::uint8_t>(c)};
}

// ---- server ---------------------------------------------------------------

TEST(DeflateOffer, BrowserOffersAreAcceptedWithAMinimalAnswer) {
  for (const char* offer : {"permessage-deflate; client_max_window_bits", "permessage-deflate"}) {
    const auto a = negotiate({offer});
    ASSERT_TRUE(a.accepted) << offer;
    EXPECT_EQ(a.value.view(), "permessage-deflate") << offer;
    EXPECT_EQ(a.params, params(false, false, 15, 15)) << offer;
  }
}

TEST(DeflateOffer, NothingOfferedOrDisabledMeansNoExtension) {
  EXPECT_FALSE(negotiate({}).accepted);
  EXPECT_FALSE(negotiate({""}).accepted);
  EXPECT_FALSE(negotiate({"x-webkit-deflate-frame"}).accepted);
  EXPECT_FALSE(negotiate({"permessage-deflate"}, deflate_options{}).accepted);
}

struct server_case {
  const char* offer;
  const char* answer;
  deflate_params agreed;
};

TEST(DeflateOffer, EveryParameterIsHonouredAndAnsweredExactly) {
  const server_case cases[] = {
      {"permessage-deflate; server_no_context_takeover", "permessage-deflate; server_no_context_takeover",
       params(true, false, 15, 15)},
      {"permessage-deflate; client_no_context_takeover", "permessage-deflate; client_no_context_takeover",
       params(false, true, 15, 15)},
      {"permessage-deflate; server_max_window_bits=10", "permessage-deflate; server_max_window_bits=10",
       params(false, false, 10, 15)},
      {"permessage-deflate; server_max_window_bits=15", "permessage-deflate; server_max_window_bits=15",
       params(false, false, 15, 15)},
      {"permessage-deflate; server_max_window_bits=9", "permessage-deflate; server_max_window_bits=9",
       params(false, false, 9, 15)},
      {"permessage-deflate; client_max_window_bits=10", "permessage-deflate; client_max_window_bits=10",
       params(false, false, 15, 10)},
      {"permessage-deflate; client_max_window_bits=8", "permessage-deflate; client_max_window_bits=8",
       params(false, false, 15, 8)},
      {"permessage-deflate; client_max_window_bits=15", "permessage-deflate; client_max_window_bits=15",
       params(false, false, 15, 15)},
      {"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; "
       "client_max_window_bits=11",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=12; "
       "client_max_window_bits=11",
       params(true, true, 12, 11)},
  };
  for (const auto& c : cases) {
    const auto a = negotiate({c.offer});
    ASSERT_TRUE(a.accepted) << c.offer;
    EXPECT_EQ(a.value.view(), c.answer) << c.offer;
    EXPECT_EQ(a.params, c.agreed) << c.offer;
  }
}

TEST(DeflateOffer, ServerOptionsShapeTheAnswer) {
  auto o = enabled();
  o.client_max_window_bits = 12;
  auto a = negotiate({"permessage-deflate; client_max_window_bits"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; client_max_window_bits=12");
  EXPECT_EQ(a.params.client_max_window_bits, 12);
  a = negotiate({"permessage-deflate; client_max_window_bits=10"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; client_max_window_bits=10");
  // Without client_max_window_bits the client cannot take a limit: it may use 15.
  a = negotiate({"permessage-deflate"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate");
  EXPECT_EQ(a.params.client_max_window_bits, 15);

  o = enabled();
  o.server_max_window_bits = 11;
  a = negotiate({"permessage-deflate"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; server_max_window_bits=11");
  a = negotiate({"permessage-deflate; server_max_window_bits=13"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; server_max_window_bits=11");
  a = negotiate({"permessage-deflate; server_max_window_bits=10"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; server_max_window_bits=10");

  o = enabled();
  o.server_no_context_takeover = true;
  o.client_no_context_takeover = true;
  a = negotiate({"permessage-deflate"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  EXPECT_EQ(a.params, params(true, true, 15, 15));

}

// What the server asks in each mode, of a browser's offer and of one that already asks
// for resets (never answered twice).
TEST(DeflateOffer, EachModeAsksWhatItsMemoryNeeds) {
  using zws::compressor_mode;
  struct mode_case {
    compressor_mode mode;
    const char* offer;
    const char* answer;
    deflate_params agreed;
  };
  const mode_case cases[] = {
      {compressor_mode::dedicated, "permessage-deflate; client_max_window_bits", "permessage-deflate",
       params(false, false, 15, 15)},
      {compressor_mode::shared, "permessage-deflate; client_max_window_bits",
       "permessage-deflate; server_no_context_takeover", params(true, false, 15, 15)},
      {compressor_mode::lean, "permessage-deflate; client_max_window_bits",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover", params(true, true, 15, 15)},
      {compressor_mode::shared, "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover", params(true, true, 15, 15)},
      {compressor_mode::lean, "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
       "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10",
       params(true, true, 10, 15)},
  };
  for (const auto& c : cases) {
    const auto a = negotiate({c.offer}, enabled(c.mode));
    ASSERT_TRUE(a.accepted) << c.offer;
    EXPECT_EQ(a.value.view(), c.answer) << int(c.mode) << " " << c.offer;
    EXPECT_EQ(a.params, c.agreed) << int(c.mode) << " " << c.offer;
  }
  // The default is shared.
  deflate_options d;
  d.enable = true;
  EXPECT_EQ(d.mode, compressor_mode::shared);
  EXPECT_EQ(negotiate({"permessage-deflate"}, d).value.view(), "permessage-deflate; server_no_context_takeover");
}

// zlib cannot deflate into a 256-byte window: a limit we choose becomes 9, a limit
// demanded of our compressor declines the offer; inflating with 8 is fine.
TEST(DeflateOffer, EightBitWindowsNeverReachZlibsCompressor) {
  auto o = enabled();
  o.server_max_window_bits = 8;
  o.client_max_window_bits = 8;
  auto a = negotiate({"permessage-deflate; client_max_window_bits"}, o);
  EXPECT_EQ(a.value.view(), "permessage-deflate; server_max_window_bits=9; client_max_window_bits=9");
  EXPECT_EQ(a.params, params(false, false, 9, 9));

  EXPECT_FALSE(negotiate({"permessage-deflate; server_max_window_bits=8"}).accepted);
  a = negotiate({"permessage-deflate; server_max_window_bits=8, permessage-deflate; server_max_window_bits=9"});
  ASSERT_TRUE(a.accepted);
  EXPECT_EQ(a.params.server_max_window_bits, 9);
  EXPECT_TRUE(zws::can_deflate(9));
  EXPECT_FALSE(zws::can_deflate(8));
}

TEST(DeflateOffer, MalformedOrUnacceptableOffersAreDeclinedNotRefused) {
  const char* declined[] = {
      "permessage-deflate; foo",
      "permessage-deflate; foo=1",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=08",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; server_max_window_bits=+9",
      "permessage-deflate; server_max_window_bits=9a",
      "permessage-deflate; server_max_window_bits=1 5",
      "permessage-deflate; server_max_window_bits=\"\"",
      "permessage-deflate; server_max_window_bits=\"16\"",
      "permessage-deflate; server_max_window_bits=",
      "permessage-deflate; client_max_window_bits=",
      "permessage-deflate; client_max_window_bits=0",
      "permessage-deflate; client_max_window_bits=100",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=\"\"",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_no_context_takeover; Client_No_Context_Takeover",
      "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
      "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
      "permessage-deflate;",
      "permessage-deflate; ;",
      "permessage-deflate;; client_max_window_bits",
      "permessage-deflate client_max_window_bits",
      "permessage-deflate; =10",
      "permessage-deflate; client_max_window_bits=\"10",
      "permessage-deflate; client_max_window_bits==10",
      "permessage-deflate = 1",
      "permessage-deflate\"\"",
      "permessage-deflat",
      "permessage-deflatee",
      "x-permessage-deflate",
      "deflate-frame",
      "; permessage-deflate",
      "permessage-deflate; a; b; c; d; e; f; g; h; i; j",
      "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
      "client_max_window_bits=10; server_no_context_takeover",
  };
  for (const char* offer : declined) {
    EXPECT_FALSE(negotiate({offer}).accepted) << offer;
    // Each leaves the rest of the list usable: a good offer after it is taken.
    const std::string two = std::string(offer) + ", permessage-deflate; client_no_context_takeover";
    const auto a = negotiate({two});
    if (std::string_view(offer).find("\"10") != std::string_view::npos) {
      EXPECT_FALSE(a.accepted) << "an unterminated quote swallows the rest of its line: " << two;
    } else {
      EXPECT_TRUE(a.accepted && a.params.client_no_context_takeover) << two;
    }
    const auto b = negotiate({offer, "permessage-deflate; client_no_context_takeover"});
    EXPECT_TRUE(b.accepted && b.params.client_no_context_takeover) << offer << " then a second line";
  }
}

TEST(DeflateOffer, QuotedValuesCaseAndWhitespaceAreUnderstood) {
  const server_case cases[] = {
      {"permessage-deflate; server_max_window_bits=\"10\"", "permessage-deflate; server_max_window_bits=10",
       params(false, false, 10, 15)},
      {"permessage-deflate; client_max_window_bits=\"1\\2\"", "permessage-deflate; client_max_window_bits=12",
       params(false, false, 15, 12)},
      {"PerMessage-Deflate; Server_No_Context_Takeover; CLIENT_MAX_WINDOW_BITS=9",
       "permessage-deflate; server_no_context_takeover; client_max_window_bits=9", params(true, false, 15, 9)},
      {" \tpermessage-deflate \t;\t client_max_window_bits \t= \t11 \t", "permessage-deflate; client_max_window_bits=11",
       params(false, false, 15, 11)},
      {",, ,permessage-deflate;server_max_window_bits=12,", "permessage-deflate; server_max_window_bits=12",
       params(false, false, 12, 15)},
  };
  for (const auto& c : cases) {
    const auto a = negotiate({c.offer});
    ASSERT_TRUE(a.accepted) << c.offer;
    EXPECT_EQ(a.value.view(), c.answer) << c.offer;
    EXPECT_EQ(a.params, c.agreed) << c.offer;
  }
}

TEST(DeflateOffer, TheFirstAcceptableOfSeveralOffersIsChosen) {
  // Chrome's and Node ws's two-offer style, other extensions first, a comma inside quotes.
  auto a = negotiate({"x-webkit-deflate-frame, permessage-deflate; client_max_window_bits=10, permessage-deflate"});
  EXPECT_EQ(a.params.client_max_window_bits, 10);
  a = negotiate({"foo; a=\"x, permessage-deflate; server_max_window_bits=9\", permessage-deflate; server_no_context_takeover"});
  EXPECT_EQ(a.value.view(), "permessage-deflate; server_no_context_takeover");
  a = negotiate({"permessage-deflate; bogus, permessage-deflate; server_max_window_bits=11"});
  EXPECT_EQ(a.params.server_max_window_bits, 11);
  a = negotiate({"foo", "bar, permessage-deflate; server_max_window_bits=8", "permessage-deflate; client_no_context_takeover"});
  EXPECT_EQ(a.value.view(), "permessage-deflate; client_no_context_takeover");
}

TEST(DeflateOffer, HeaderLinesOfARequestAreReadInOrder) {
  const std::string head =
      "GET / HTTP/1.1\r\nHost: x\r\nSec-WebSocket-Extensions: foo, permessage-deflate; server_max_window_bits=7\r\n"
      "Cookie: a\r\nsec-websocket-extensions: permessage-deflate; client_max_window_bits=12, permessage-deflate\r\n\r\n";
  guarded g(head);
  zws::http::request_parser p;
  ASSERT_EQ(p.parse(g.str()).status, zws::http::parse_status::done);
  const auto a = zws::negotiate_deflate(p.get().headers, enabled());
  ASSERT_TRUE(a.accepted);
  EXPECT_EQ(a.value.view(), "permessage-deflate; client_max_window_bits=12");
}

// ---- client ---------------------------------------------------------------

TEST(DeflateOffer, ClientOfferFollowsTheOptions) {
  EXPECT_EQ(zws::make_deflate_offer(enabled()).value().view(), "permessage-deflate; client_max_window_bits");
  auto o = enabled();
  o.server_no_context_takeover = true;
  o.client_no_context_takeover = true;
  o.server_max_window_bits = 10;
  o.client_max_window_bits = 12;
  EXPECT_EQ(zws::make_deflate_offer(o).value().view(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; "
            "client_max_window_bits=12");
  o = enabled(zws::compressor_mode::lean);
  o.server_max_window_bits = 8;
  o.client_max_window_bits = 8;
  EXPECT_EQ(zws::make_deflate_offer(o).value().view(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; "
            "client_max_window_bits=9");
  // A client's compressor is its own in shared mode too: the default offer asks nothing.
  EXPECT_EQ(zws::make_deflate_offer(enabled(zws::compressor_mode::shared)).value().view(),
            "permessage-deflate; client_max_window_bits");
  deflate_options d;
  d.enable = true;
  EXPECT_EQ(zws::make_deflate_offer(d).value().view(), "permessage-deflate; client_max_window_bits");
}

TEST(DeflateOffer, ClientAcceptsValidAnswers) {
  const deflate_offer plain = zws::make_deflate_offer(enabled());
  auto r = check({}, plain);
  EXPECT_EQ(r.err, error::none);
  EXPECT_FALSE(r.accepted);
  r = check({"permessage-deflate"}, plain);
  EXPECT_TRUE(r.accepted);
  EXPECT_EQ(r.params, params(false, false, 15, 15));
  r = check({"permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; "
             "client_max_window_bits=8"},
            plain);
  ASSERT_EQ(r.err, error::none);
  EXPECT_EQ(r.params, params(true, true, 9, 8));
  // A window of 8 for our compressor: we send uncompressed rather than exceed it.
  EXPECT_FALSE(zws::can_deflate(zws::stream_params(r.params, zws::role::client).deflate_window_bits));
  r = check({"Permessage-Deflate; Server_Max_Window_Bits=\"12\""}, plain);
  EXPECT_EQ(r.params.server_max_window_bits, 12);

  auto o = enabled();
  o.server_max_window_bits = 12;
  o.client_max_window_bits = 11;
  o.client_no_context_takeover = true;
  r = check({"permessage-deflate; server_max_window_bits=10"}, zws::make_deflate_offer(o));
  ASSERT_EQ(r.err, error::none);
  // We declared client_no_context_takeover and our window: both hold without an echo.
  EXPECT_EQ(r.params, params(false, true, 10, 11));
}

TEST(DeflateOffer, ClientRefusesAnswersItDidNotOffer) {
  const deflate_offer plain = zws::make_deflate_offer(enabled());
  struct bad {
    std::vector<std::string> lines;
    error err;
  };
  const bad cases[] = {
      {{"x-webkit-deflate-frame"}, error::bad_extension},
      {{"permessage-deflate, permessage-deflate"}, error::bad_extension},
      {{"permessage-deflate", "permessage-deflate"}, error::bad_extension},
      {{"permessage-deflate, foo"}, error::bad_extension},
      {{"permessage-deflate; foo"}, error::bad_extension_params},
      {{"permessage-deflate; client_max_window_bits"}, error::bad_extension_params},
      {{"permessage-deflate; server_max_window_bits"}, error::bad_extension_params},
      {{"permessage-deflate; server_max_window_bits=16"}, error::bad_extension_params},
      {{"permessage-deflate; client_max_window_bits=7"}, error::bad_extension_params},
      {{"permessage-deflate; server_no_context_takeover=1"}, error::bad_extension_params},
      {{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, error::bad_extension_params},
      {{"permessage-deflate; client_max_window_bits=9; client_max_window_bits=9"}, error::bad_extension_params},
      {{"permessage-deflate;"}, error::bad_extension_params},
      {{"permessage-deflate; x=\"1"}, error::bad_extension_params},
      {{"permessage-deflate client_max_window_bits=9"}, error::bad_extension_params},
  };
  for (const auto& c : cases) {
    const auto r = check(c.lines, plain);
    EXPECT_EQ(r.err, c.err) << c.lines[0];
    EXPECT_FALSE(r.accepted) << c.lines[0];
  }

  deflate_offer o = plain;
  o.client_max_window_bits = false;
  EXPECT_EQ(check({"permessage-deflate; client_max_window_bits=10"}, o).err, error::bad_extension_params);
  o = plain;
  o.client_max_window_bits_value = 12;
  EXPECT_EQ(check({"permessage-deflate; client_max_window_bits=13"}, o).err, error::bad_extension_params);
  EXPECT_EQ(check({"permessage-deflate; client_max_window_bits=12"}, o).err, error::none);
  o = plain;
  o.server_max_window_bits = 10;
  EXPECT_EQ(check({"permessage-deflate; server_max_window_bits=11"}, o).err, error::bad_extension_params);
  EXPECT_EQ(check({"permessage-deflate"}, o).err, error::bad_extension_params);
  EXPECT_EQ(check({"permessage-deflate; server_max_window_bits=10"}, o).err, error::none);
  o = plain;
  o.server_no_context_takeover = true;
  EXPECT_EQ(check({"permessage-deflate"}, o).err, error::bad_extension_params);
  EXPECT_EQ(check({"permessage-deflate; server_no_context_takeover"}, o).err, error::none);
}

TEST(DeflateOffer, ResponseHeadersAreCheckedAcrossLines) {
  const std::string head =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
      "Sec-WebSocket-Extensions: foo\r\n\r\n";
  guarded g(head);
  zws::http::response_parser p;
  ASSERT_EQ(p.parse(g.str()).status, zws::http::parse_status::done);
  EXPECT_EQ(zws::check_deflate_answer(p.get().headers, zws::make_deflate_offer(enabled())).err, error::bad_extension);
}

// Whatever the two sides' options, the server's answer to the client's offer is one
// the client accepts, with the same parameters.
TEST(DeflateOffer, EveryServerAnswerPassesTheClientsCheck) {
  const std::uint8_t windows[] = {8, 9, 12, 15};
  int checked = 0;
  for (int bits = 0; bits < 16; ++bits) {
    for (auto cs : windows) {
      for (auto cc : windows) {
        for (auto ss : windows) {
          for (auto sc : windows) {
            deflate_options c = enabled(), s = enabled();
            c.server_no_context_takeover = bits & 1;
            c.client_no_context_takeover = bits & 2;
            s.server_no_context_takeover = bits & 4;
            s.client_no_context_takeover = bits & 8;
            c.server_max_window_bits = cs;
            c.client_max_window_bits = cc;
            s.server_max_window_bits = ss;
            s.client_max_window_bits = sc;
            const deflate_offer offer = zws::make_deflate_offer(c);
            const auto a = negotiate({std::string(offer.value().view())}, s);
            ASSERT_TRUE(a.accepted) << offer.value().view();
            const auto r = check({std::string(a.value.view())}, offer);
            ASSERT_EQ(r.err, error::none) << offer.value().view() << " -> " << a.value.view();
            EXPECT_EQ(r.params, a.params) << offer.value().view() << " -> " << a.value.view();
            const auto sp = zws::stream_params(a.params, zws::role::server);
            const auto cp = zws::stream_params(r.params, zws::role::client);
            EXPECT_EQ(sp.deflate_window_bits, cp.inflate_window_bits);
            EXPECT_EQ(sp.inflate_window_bits, cp.deflate_window_bits);
            EXPECT_EQ(sp.deflate_no_context_takeover, cp.inflate_no_context_takeover);
            EXPECT_TRUE(zws::can_deflate(sp.deflate_window_bits));
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_EQ(checked, 16 * 256);
}

}  // namespace

namespace {

TEST(DeflateOffer, NewErrorValuesHaveReasonsAndCodes) {
  for (error e : {error::bad_extension_params, error::bad_compressed_data, error::deflate_memory,
                  error::deflate_unavailable}) {
    EXPECT_FALSE(zws::describe(e).empty());
    EXPECT_NE(zws::describe(e), "unknown error");
    EXPECT_LE(zws::describe(e).size(), 123u);
    EXPECT_EQ(zws::http_status_of(e), 0);
  }
  EXPECT_EQ(zws::close_code_of(error::bad_extension_params), 0) << "a client handshake failure";
  EXPECT_EQ(zws::close_code_of(error::bad_compressed_data), 1007);
  EXPECT_EQ(zws::close_code_of(error::deflate_memory), 1011);
  EXPECT_EQ(zws::close_code_of(error::deflate_unavailable), 1011);
}

}  // namespace
