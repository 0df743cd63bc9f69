// Tests of lib/protocol/deflate_stream.deflate.cpp: round trips at every window with and
// without context takeover, interop with raw zlib streams made here, bombs stopped at the
// limit with bounded memory, UTF-8 checked as the text is produced, memory per mode.
#include <gtest/gtest.h>
#include <zlib.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "protocol/deflate_stream.hpp"
#include "zws/deflate.hpp"

namespace {

using zws::buffer;
using zws::error;
using zws::detail::deflater;
using zws::detail::deflater_config;
using zws::detail::inflater;
using zws::detail::inflater_config;
using bytes = std::vector<std::uint8_t>;

std::span<const std::uint8_t> span_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string str_of(const buffer& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// Deterministic JSON-like text: compressible, but not trivially.
std::string json_records(std::size_t n, std::uint32_t seed) {
  static const char* words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"};
  std::string s = "[";
  while (s.size() < n) {
    seed = seed * 1664525u + 1013904223u;
    s += "{\"id\":" + std::to_string(seed % 100000) + ",\"name\":\"" + words[(seed >> 8) % 8] + "\",\"v\":" +
         std::to_string((seed >> 12) % 1000) + "},";
  }
  s.resize(n);
  return s;
}

// Raw zlib, independently of the code under test: one message, flushed with `flush`;
// with Z_SYNC_FLUSH the 00 00 ff ff tail is removed as RFC 7692 says.
struct raw_deflater {
  z_stream z{};
  raw_deflater(int window, int level = 6, int strategy = Z_DEFAULT_STRATEGY) {
    EXPECT_EQ(deflateInit2(&z, level, Z_DEFLATED, -window, 8, strategy), Z_OK);
  }
  ~raw_deflater() { deflateEnd(&z); }
  bytes message(const std::string& in, int flush = Z_SYNC_FLUSH) {
    bytes out(deflateBound(&z, in.size()) + 64);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    z.avail_in = static_cast<uInt>(in.size());
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    const int r = deflate(&z, flush);
    EXPECT_TRUE(r == Z_OK || r == Z_STREAM_END);
    out.resize(out.size() - z.avail_out);
    if (flush == Z_SYNC_FLUSH || flush == Z_FULL_FLUSH) {
      EXPECT_GE(out.size(), 4u);
      EXPECT_EQ(out[out.size() - 1], 0xff);
      out.resize(out.size() - 4);
    }
    if (flush == Z_FINISH) deflateReset(&z);
    return out;
  }
};

struct raw_inflater {
  z_stream z{};
  explicit raw_inflater(int window) { EXPECT_EQ(inflateInit2(&z, -window), Z_OK); }
  ~raw_inflater() { inflateEnd(&z); }
  std::string message(std::span<const std::uint8_t> payload) {
    bytes in(payload.begin(), payload.end());
    in.insert(in.end(), {0x00, 0x00, 0xff, 0xff});
    std::string out;
    z.next_in = in.data();
    z.avail_in = static_cast<uInt>(in.size());
    char buf[4096];
    do {
      z.next_out = reinterpret_cast<Bytef*>(buf);
      z.avail_out = sizeof buf;
      const int r = inflate(&z, Z_SYNC_FLUSH);
      EXPECT_TRUE(r == Z_OK || r == Z_BUF_ERROR) << r;
      out.append(buf, sizeof buf - z.avail_out);
    } while (z.avail_out == 0);
    return out;
  }
};

// Inflates one message fed in the given pieces; returns the error and fills `text`.
error inflate_pieces(inflater& inf, const bytes& payload, const std::vector<std::size_t>& cuts, std::string& text,
                     std::uint64_t max = 1 << 26, bool is_text = false) {
  buffer out;
  inf.begin(max, is_text);
  std::size_t pos = 0;
  for (std::size_t cut : cuts) {
    const error e = inf.write({payload.data() + pos, cut - pos}, out);
    if (e != error::none) return e;
    pos = cut;
  }
  error e = inf.write({payload.data() + pos, payload.size() - pos}, out);
  if (e == error::none) e = inf.finish(out);
  text = str_of(out);
  return e;
}

error inflate_whole(inflater& inf, const bytes& payload, std::string& text, std::uint64_t max = 1 << 26,
                    bool is_text = false) {
  return inflate_pieces(inf, payload, {}, text, max, is_text);
}

bytes compress(deflater& d, const std::string& msg) {
  buffer out;
  EXPECT_EQ(d.compress(span_of(msg), out), error::none);
  return {out.data(), out.data() + out.size()};
}

std::vector<std::string> sample_messages() {
  std::vector<std::string> m = {"", "a", json_records(100, 1), json_records(100, 1), json_records(5000, 2),
                                std::string(70000, 'z'), json_records(200000, 3), json_records(5000, 2), ""};
  m.push_back(m[4]);
  return m;
}

TEST(DeflateStream, RoundTripsAtEveryWindowWithAndWithoutContextTakeover) {
  const auto messages = sample_messages();
  for (int window = 8; window <= 15; ++window) {
    for (int mode = 0; mode < 3; ++mode) {  // keep context, reset, reset and release
      const bool nct = mode != 0;
      deflater_config dc;
      dc.window_bits = static_cast<std::uint8_t>(window);  // 8 compresses as 9
      dc.no_context_takeover = nct;
      dc.release_when_idle = mode == 2;
      inflater_config ic;
      ic.window_bits = static_cast<std::uint8_t>(std::max(window, 9));
      ic.no_context_takeover = nct;
      ic.release_when_idle = mode == 2;
      deflater d(dc);
      inflater inf(ic);
      raw_inflater check(std::max(window, 9));
      std::size_t repeat_size[2] = {0, 0};
      for (std::size_t i = 0; i < messages.size(); ++i) {
        const bytes c = compress(d, messages[i]);
        if (messages[i].empty()) {
          EXPECT_EQ(c, bytes{0x00}) << "RFC 7692 §7.2.3.6: an empty message is one 00 byte";
        }
        std::string got;
        ASSERT_EQ(inflate_whole(inf, c, got), error::none) << window << " " << mode << " " << i;
        ASSERT_EQ(got, messages[i]) << window << " " << mode << " " << i;
        ASSERT_EQ(check.message(c), messages[i]) << "raw zlib reads it too: " << window << " " << mode << " " << i;
        if (i == 2 || i == 3) repeat_size[i - 2] = c.size();
        if (mode == 2) {
          EXPECT_EQ(d.memory_held(), 0u);
          EXPECT_EQ(inf.memory_held(), 0u);
        }
      }
      if (nct) {
        EXPECT_EQ(repeat_size[0], repeat_size[1]) << "without context each message stands alone";
      } else {
        EXPECT_LT(repeat_size[1], repeat_size[0] / 4) << "with context a repeat is nearly free";
      }
    }
  }
}

TEST(DeflateStream, InflatesRawZlibStreamsSplitAnywhere) {
  const std::string msg = "Hello, hello, hello! " + json_records(300, 7) + " héllo wörld ✓";
  struct variant {
    int level, strategy, flush;
  };
  const variant variants[] = {{6, Z_DEFAULT_STRATEGY, Z_SYNC_FLUSH}, {0, Z_DEFAULT_STRATEGY, Z_SYNC_FLUSH},
                              {9, Z_FIXED, Z_SYNC_FLUSH},           {1, Z_HUFFMAN_ONLY, Z_FULL_FLUSH},
                              {6, Z_DEFAULT_STRATEGY, Z_FINISH},    {6, Z_RLE, Z_SYNC_FLUSH}};
  for (const auto& v : variants) {
    for (bool nct : {false, true}) {
      raw_deflater raw(15, v.level, v.strategy);
      inflater_config ic;
      ic.no_context_takeover = nct;
      inflater whole(ic);
      // Three messages in a row: the later ones may refer to the earlier (context takeover).
      for (int m = 0; m < 3; ++m) {
        const bytes c = raw.message(msg, v.flush);
        if (nct) deflateReset(&raw.z);
        std::string got;
        ASSERT_EQ(inflate_whole(whole, c, got), error::none) << v.level << " " << v.flush << " " << m;
        ASSERT_EQ(got, msg);
      }
      // The first message split in two at every offset, and byte by byte.
      raw_deflater fresh(15, v.level, v.strategy);
      const bytes c = fresh.message(msg, v.flush);
      for (std::size_t k = 0; k <= c.size(); ++k) {
        inflater inf(ic);
        std::string got;
        ASSERT_EQ(inflate_pieces(inf, c, {k}, got), error::none) << k;
        ASSERT_EQ(got, msg) << k;
      }
      std::vector<std::size_t> every;
      for (std::size_t k = 0; k <= c.size(); ++k) every.push_back(k);
      inflater inf(ic);
      std::string got;
      ASSERT_EQ(inflate_pieces(inf, c, every, got), error::none);
      ASSERT_EQ(got, msg);
    }
  }
}

TEST(DeflateStream, EmptyMessagesAndEmptyFragmentsAreLegal) {
  inflater inf;
  std::string got;
  EXPECT_EQ(inflate_whole(inf, {0x00}, got), error::none);
  EXPECT_EQ(got, "");
  EXPECT_EQ(inflate_whole(inf, {}, got), error::none);  // no payload at all: the tail alone
  raw_deflater raw(15);
  const bytes c = raw.message("abcabcabc");
  EXPECT_EQ(inflate_pieces(inf, c, {0, 0, 1, 1, c.size(), c.size()}, got), error::none);
  EXPECT_EQ(got, "abcabcabc");
}

TEST(DeflateStream, CorruptDataFailsAndStaysFailed) {
  inflater inf;
  std::string got;
  EXPECT_EQ(inflate_whole(inf, {0x07, 0x00}, got), error::bad_compressed_data);  // reserved block type
  EXPECT_EQ(inf.failed(), error::bad_compressed_data);
  EXPECT_EQ(inflate_whole(inf, {0x00}, got), error::bad_compressed_data);
  // Stored block whose NLEN is not the complement of LEN.
  inflater inf2;
  EXPECT_EQ(inflate_whole(inf2, {0x00, 0x05, 0x00, 0x00, 0x00, 'h', 'e', 'l', 'l', 'o'}, got),
            error::bad_compressed_data);
  // Bytes after a final block that are not our tail.
  raw_deflater raw(15);
  bytes c = raw.message("done", Z_FINISH);
  c.push_back(0x42);
  inflater inf3;
  EXPECT_EQ(inflate_whole(inf3, c, got), error::bad_compressed_data);
  // A distance beyond the window the peer agreed to, into the previous message.
  raw_deflater wide(15);
  const std::string far = json_records(4000, 9);
  inflater_config narrow;
  narrow.window_bits = 9;
  inflater inf4(narrow);
  EXPECT_EQ(inflate_whole(inf4, wide.message(far), got), error::none);
  EXPECT_EQ(inflate_whole(inf4, wide.message(far), got), error::bad_compressed_data);
}

TEST(DeflateStream, MessageOfExactlyTheLimitPassesOneMoreByteDoesNot) {
  raw_deflater raw(15);
  const std::string msg = json_records(10000, 4);
  const bytes c = raw.message(msg);
  inflater_config ic;
  ic.no_context_takeover = true;
  inflater inf(ic);
  std::string got;
  EXPECT_EQ(inflate_whole(inf, c, got, msg.size()), error::none);
  EXPECT_EQ(got, msg);
  inflater inf2(ic);
  EXPECT_EQ(inflate_whole(inf2, c, got, msg.size() - 1), error::message_too_big);
  EXPECT_EQ(inf2.produced(), msg.size());
}

TEST(DeflateStream, FinishInflatesTheTailIntoTheRoomLeftWithoutGrowing) {
  raw_deflater raw(15);
  const std::string msg = json_records(1024, 5);
  const bytes c = raw.message(msg);
  inflater inf;
  buffer out;
  inf.begin(1 << 26, true);
  ASSERT_EQ(inf.write(c, out), error::none);
  const std::size_t cap = out.capacity();
  EXPECT_EQ(cap, std::size_t{16384}) << "one chunk";
  ASSERT_EQ(inf.finish(out), error::none);
  EXPECT_EQ(out.capacity(), cap) << "the tail needs no new chunk: the message is not copied";
  EXPECT_EQ(str_of(out), msg);
}

// 1 GiB of zeros, made once: about 1 MiB compressed.
const bytes& gigabyte_of_zeros() {
  static const bytes c = [] {
    z_stream z{};
    EXPECT_EQ(deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    const std::vector<std::uint8_t> zeros(1 << 20, 0);
    bytes out(1 << 22);
    z.next_out = out.data();
    z.avail_out = static_cast<uInt>(out.size());
    for (int i = 0; i < 1024; ++i) {
      z.next_in = const_cast<Bytef*>(zeros.data());
      z.avail_in = static_cast<uInt>(zeros.size());
      EXPECT_EQ(deflate(&z, i == 1023 ? Z_SYNC_FLUSH : Z_NO_FLUSH), Z_OK);
      EXPECT_EQ(z.avail_in, 0u);
    }
    out.resize(out.size() - z.avail_out - 4);
    deflateEnd(&z);
    return out;
  }();
  return c;
}

void expect_stopped_at_limit(const inflater& inf, error e, const buffer& out, std::uint64_t max) {
  EXPECT_EQ(e, error::message_too_big);
  EXPECT_LE(out.size(), max + 1) << "the limit plus at most one byte";
  EXPECT_LE(out.capacity(), 2 * (max + 1) + 16384);
  EXPECT_LT(inf.memory_held(), 48u << 10) << "zlib's state and a 32 KiB window";
  EXPECT_EQ(close_code_of(e), 1009);
}

TEST(DeflateStream, GigabyteOfZerosStopsAtTheLimit) {
  const bytes& bomb = gigabyte_of_zeros();
  EXPECT_LT(bomb.size(), 1100u << 10);
  constexpr std::uint64_t max = 16 << 20;
  inflater inf;
  buffer out;
  const auto t0 = std::chrono::steady_clock::now();
  inf.begin(max, false);
  const error e = inf.write(bomb, out);
  expect_stopped_at_limit(inf, e, out, max);
  EXPECT_EQ(inf.finish(out), error::message_too_big) << "sticky";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
}

TEST(DeflateStream, GigabyteOfZerosInTenThousandFragmentsStopsAtTheLimit) {
  const bytes& bomb = gigabyte_of_zeros();
  constexpr std::uint64_t max = 16 << 20;
  inflater inf;
  buffer out;
  inf.begin(max, false);
  error e = error::none;
  std::size_t fragments = 0;
  for (std::size_t i = 0; i < 10000 && e == error::none; ++i) {
    const std::size_t a = bomb.size() * i / 10000, b = bomb.size() * (i + 1) / 10000;
    e = inf.write({bomb.data() + a, b - a}, out);
    ++fragments;
  }
  if (e == error::none) e = inf.finish(out);
  expect_stopped_at_limit(inf, e, out, max);
  EXPECT_LT(fragments, 10000u) << "stopped long before the end of the bomb";
}

// Stored blocks of 65,535 bytes, forever: the output grows as fast as the input, and the
// limit stops it; empty stored blocks forever produce nothing and hold nothing.
TEST(DeflateStream, EndlessStoredBlocksStopAtTheLimit) {
  bytes block = {0x00, 0xff, 0xff, 0x00, 0x00};
  block.resize(5 + 65535, 'x');
  constexpr std::uint64_t max = 1 << 20;
  inflater inf;
  buffer out;
  inf.begin(max, true);
  error e = error::none;
  int blocks = 0;
  while (e == error::none && blocks < 100000) {
    e = inf.write(block, out);
    ++blocks;
  }
  expect_stopped_at_limit(inf, e, out, max);
  EXPECT_EQ(blocks, 17);

  inflater empty;
  buffer none;
  empty.begin(max, false);
  const std::uint8_t nothing[] = {0x00, 0x00, 0x00, 0xff, 0xff};
  for (int i = 0; i < 200000; ++i) ASSERT_EQ(empty.write(nothing, none), error::none);
  EXPECT_EQ(empty.finish(none), error::none);
  EXPECT_TRUE(none.empty());
  EXPECT_LT(empty.memory_held(), 48u << 10);
}

// The output is produced in pieces of `chunk` bytes; with 1..4 every code point is cut
// at every byte, and each piece is checked as it comes.
TEST(DeflateStream, Utf8IsCheckedAsTextIsProducedSplitAtEveryByte) {
  const std::string good = "ascii, é, ü, ✓, 😀, 中文, and more ascii 😀😀";
  struct bad {
    std::string text;
    error at_write;  // invalid bytes inside: found while inflating (or at finish when the tail is needed)
  };
  const bad bads[] = {{good + "\xC0\x80" + good, error::invalid_utf8},
                      {good + "\xED\xA0\x80", error::invalid_utf8},  // a surrogate
                      {good + "\xF0\x9F\x98", error::invalid_utf8},  // cut short at the end
                      {"\xFF" + good, error::invalid_utf8}};
  for (std::uint32_t chunk = 1; chunk <= 5; ++chunk) {
    inflater_config ic;
    ic.chunk = chunk;
    raw_deflater raw(15);
    const bytes c = raw.message(good);
    for (std::size_t k = 0; k <= c.size(); ++k) {
      inflater inf(ic);
      std::string got;
      ASSERT_EQ(inflate_pieces(inf, c, {k}, got, 1 << 20, true), error::none) << chunk << " " << k;
      ASSERT_EQ(got, good);
    }
    for (const auto& b : bads) {
      raw_deflater rb(15);
      const bytes cb = rb.message(b.text);
      for (std::size_t k = 0; k <= cb.size(); ++k) {
        inflater inf(ic);
        std::string got;
        EXPECT_EQ(inflate_pieces(inf, cb, {k}, got, 1 << 20, true), b.at_write) << chunk << " " << k;
      }
    }
  }
  // Binary messages are not checked.
  raw_deflater raw(15);
  inflater inf;
  std::string got;
  EXPECT_EQ(inflate_whole(inf, raw.message("\xFF\xFE"), got, 100, false), error::none);
}

TEST(DeflateStream, BudgetCountsZlibMemoryAndRefusesPastItsCap) {
  zws::detail::zlib_budget budget;
  {
    deflater_config dc;
    dc.budget = &budget;
    inflater_config ic;
    ic.budget = &budget;
    deflater d(dc);
    inflater inf(ic);
    const std::string msg = json_records(50000, 5);
    const bytes c = compress(d, msg);
    std::string got;
    ASSERT_EQ(inflate_whole(inf, c, got), error::none);
    EXPECT_GT(budget.used(), 200000u);
    EXPECT_LE(budget.used(), zws::detail::deflater_state_bytes(15, 8) + zws::detail::inflater_state_bytes(15));
    // What the streams report is zlib's heap, as counted, plus their own small state.
    EXPECT_GE(d.memory_held() + inf.memory_held(), budget.used());
    EXPECT_LT(d.memory_held() + inf.memory_held() - budget.used(), 1024u);
  }
  EXPECT_EQ(budget.used(), 0u) << "everything given back";

  zws::detail::zlib_budget small(100000);
  EXPECT_FALSE(small.admits(zws::detail::deflater_state_bytes(15, 8)));
  EXPECT_TRUE(small.admits(zws::detail::inflater_state_bytes(15)));
  deflater_config dc;
  dc.budget = &small;
  deflater d(dc);
  buffer out;
  EXPECT_EQ(d.compress(span_of("hello"), out), error::deflate_memory);
  EXPECT_EQ(close_code_of(error::deflate_memory), 1011);
  EXPECT_EQ(small.used(), 0u);
  inflater_config ic;
  ic.budget = &small;
  inflater inf(ic);
  std::string got;
  raw_deflater raw(15);
  EXPECT_EQ(inflate_whole(inf, raw.message("hello"), got), error::none);
  EXPECT_EQ(got, "hello");
}

TEST(DeflateStream, SharedDeflatersCompressOncePerWindow) {
  zws::detail::zlib_budget budget;
  auto owned = std::make_unique<zws::detail::shared_deflaters>(6, 8, &budget);
  zws::detail::shared_deflaters& shared = *owned;
  EXPECT_EQ(shared.memory_held(), 0u);
  EXPECT_FALSE(shared.reserved(15));
  const std::string msg = json_records(3000, 6);
  for (std::uint8_t w : {15, 10, 15, 8}) {
    deflater& d = shared.for_window(w);
    EXPECT_TRUE(d.config().no_context_takeover);
    EXPECT_EQ(d.config().window_bits, std::max<std::uint8_t>(w, 9));
    const bytes c = compress(d, msg);
    // Any connection, any number of times: no context carried over.
    EXPECT_EQ(c, compress(d, msg));
    inflater_config ic;
    ic.window_bits = std::max<std::uint8_t>(w, 9);
    ic.no_context_takeover = true;
    inflater inf(ic);
    std::string got;
    ASSERT_EQ(inflate_whole(inf, c, got), error::none);
    EXPECT_EQ(got, msg);
  }
  // Three windows in use (15, 10, 9): three states, each counted once, within what
  // each reserved on first use; the reservations stay while the deflaters may be used.
  using zws::detail::deflater_state_bytes;
  const std::size_t reserved = deflater_state_bytes(15, 8) + deflater_state_bytes(10, 8) + deflater_state_bytes(9, 8);
  EXPECT_TRUE(shared.reserved(15) && shared.reserved(10) && shared.reserved(9) && !shared.reserved(12));
  EXPECT_EQ(budget.used(), reserved);
  EXPECT_GT(shared.memory_held(), deflater_state_bytes(15, 8));
  EXPECT_LE(shared.memory_held(), reserved + 3 * 512u);
  shared.release();
  EXPECT_EQ(shared.memory_held(), 0u);
  EXPECT_EQ(budget.used(), reserved);
  owned.reset();
  EXPECT_EQ(budget.used(), 0u);
}

// A connection's reservation: counted in its loop's budget at once, its streams counted
// within it, only what goes past it taken from the loop (and refused past its cap).
TEST(DeflateStream, AReservationCountsInItsLoopBeforeItIsHeld) {
  using zws::detail::zlib_budget;
  zlib_budget loop(100000);
  {
    zlib_budget a(&loop, 40000);
    EXPECT_EQ(a.reserved(), 40000u);
    EXPECT_EQ(loop.used(), 40000u);
    EXPECT_TRUE(a.take(30000));
    EXPECT_EQ(loop.used(), 40000u);  // within the reservation
    EXPECT_TRUE(a.take(20000));
    EXPECT_EQ(loop.used(), 50000u);  // 10,000 past it
    zlib_budget b(&loop, 60000);     // no room: nothing reserved, allocations as they come
    EXPECT_EQ(b.reserved(), 0u);
    EXPECT_EQ(loop.used(), 50000u);
    EXPECT_FALSE(b.take(50001));
    EXPECT_TRUE(b.take(50000));
    EXPECT_FALSE(a.take(1));
    b.give(50000);
    a.give(45000);
    EXPECT_EQ(a.used(), 5000u);
    EXPECT_EQ(loop.used(), 40000u);  // back to the reservation
    // An inflater counted in a reservation.
    inflater_config ic;
    ic.budget = &a;
    inflater inf(ic);
    std::string got;
    raw_deflater raw(15);
    ASSERT_EQ(inflate_whole(inf, raw.message(json_records(3000, 3)), got), error::none);
    EXPECT_EQ(loop.used(), std::max<std::size_t>(40000, a.used()));
    a.give(5000);
  }
  EXPECT_EQ(loop.used(), 0u);
  zlib_budget free_standing(nullptr, 1000);  // a client's: no parent, no cap
  EXPECT_EQ(free_standing.reserved(), 0u);
  EXPECT_TRUE(free_standing.take(std::size_t{1} << 30));
  free_standing.give(std::size_t{1} << 30);
}

TEST(DeflateStream, MovedStreamsKeepTheirContext) {
  deflater d;
  inflater inf;
  const std::string msg = json_records(2000, 8);
  std::string got;
  ASSERT_EQ(inflate_whole(inf, compress(d, msg), got), error::none);
  deflater d2(std::move(d));
  inflater inf2;
  inf2 = std::move(inf);
  const bytes again = compress(d2, msg);
  EXPECT_LT(again.size(), 40u);
  ASSERT_EQ(inflate_whole(inf2, again, got), error::none);
  EXPECT_EQ(got, msg);
}

// Idle memory per mode, after one message of 16 KiB of JSON each way (see the report).
TEST(DeflateStream, IdleMemoryPerMode) {
  const std::string msg = json_records(16384, 10);
  struct mode {
    const char* name;
    bool nct, release;
  };
  for (const mode m : {mode{"context kept", false, false}, mode{"no context, reset", true, false},
                       mode{"no context, released", true, true}}) {
    for (int w : {9, 12, 15}) {
      deflater_config dc;
      dc.window_bits = static_cast<std::uint8_t>(w);
      dc.no_context_takeover = m.nct;
      dc.release_when_idle = m.release;
      inflater_config ic;
      ic.window_bits = static_cast<std::uint8_t>(w);
      ic.no_context_takeover = m.nct;
      ic.release_when_idle = m.release;
      deflater d(dc);
      inflater inf(ic);
      std::string got;
      ASSERT_EQ(inflate_whole(inf, compress(d, msg), got), error::none);
      std::printf("[ memory ] %-22s window %2d: idle inflater %6zu B, idle deflater %6zu B\n", m.name, w,
                  inf.memory_held(), d.memory_held());
      if (m.release) {
        EXPECT_EQ(inf.memory_held(), 0u);
        EXPECT_EQ(d.memory_held(), 0u);
      } else {
        EXPECT_LE(inf.memory_held(), zws::detail::inflater_state_bytes(w));
        EXPECT_LE(d.memory_held(), zws::detail::deflater_state_bytes(w, 8));
      }
      d.release();
      inf.release();
      EXPECT_EQ(d.memory_held() == 0, m.nct) << "release frees only what no context needs";
      EXPECT_EQ(inf.memory_held() == 0, m.nct);
    }
  }
}

}  // namespace
