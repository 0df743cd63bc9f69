// tools/load/json.hpp — zws-load --payload json: realistic, compressible text.
//
// Message `seq` is a JSON document of exactly the size asked for, made
// deterministically from seq alone (so an echo is checked by making it again):
//   {"seq":"<16 hex digits>","records":[{"id":...,"user":"...",...},...],"pad":"..."}
// Records draw their numbers and words from a generator seeded by a hash of seq, so
// no two messages are alike (nor copies of parts of each other) but they share keys
// and vocabulary, as an application's messages do: permessage-deflate meets what it
// would meet in production, not the repeated bytes of the binary pattern. "pad"
// (words too) fills the document to its exact size. Records are formatted by hand:
// a 16 KiB document takes a few microseconds, well below what compressing it costs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace zws_load {

class json_payload {
 public:
  static constexpr std::size_t min_size = 48;  // the envelope with no record and no pad

  explicit json_payload(std::size_t size) noexcept : size_(size) {}
  std::size_t size() const noexcept { return size_; }

  // Writes message `seq` (size() bytes, size() >= min_size) to dst.
  void write(std::uint8_t* dst, std::uint64_t seq) const noexcept {
    char* p = reinterpret_cast<char*>(dst);
    char* const end = p + size_ - 11;  // room kept for `],"pad":"` and `"}`
    p = put(p, "{\"seq\":\"");
    for (int i = 15; i >= 0; --i) *p++ = "0123456789abcdef"[(seq >> (4 * i)) & 15];
    p = put(p, "\",\"records\":[");
    // Each document draws from its own point of the sequence: a hash of seq. (Seeded
    // with seq * the generator's step, document seq + 8 would draw what seq draws from
    // its 9th number on, i.e. repeat its records but the first, and LZ77 would find it.)
    std::uint64_t seed = seq;
    std::uint64_t state = next(seed);
    char rec[max_record];
    for (bool first = true;; first = false) {
      const std::size_t n = record(rec, state);
      if (static_cast<std::size_t>(end - p) < n + 1) break;
      if (!first) *p++ = ',';
      std::memcpy(p, rec, n);
      p += n;
    }
    p = put(p, "],\"pad\":\"");
    while (p < end + 9) {  // words and spaces, the last one cut
      const char* w = word(next(state));
      while (*w && p < end + 9) *p++ = *w++;
      if (p < end + 9) *p++ = ' ';
    }
    put(p, "\"}");
  }

 private:
  static constexpr std::size_t max_record = 224;

  static std::uint64_t next(std::uint64_t& s) noexcept {  // splitmix64
    std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  static const char* word(std::uint64_t r) noexcept {
    static constexpr const char* words[32] = {
        "alpha",  "bravo",   "charlie", "delta",  "echo",    "foxtrot", "golf",     "hotel",
        "india",  "juliet",  "kilo",    "lima",   "mike",    "november", "oscar",   "papa",
        "quebec", "romeo",   "sierra",  "tango",  "uniform", "victor",  "whiskey",  "xray",
        "yankee", "zulu",    "login",   "logout", "purchase", "refund", "view",     "search"};
    return words[r % 32];
  }
  static char* put(char* p, const char* s) noexcept {
    const std::size_t n = std::strlen(s);
    std::memcpy(p, s, n);
    return p + n;
  }
  static char* put_number(char* p, std::uint64_t v) noexcept {
    char tmp[20];
    int n = 0;
    do tmp[n++] = static_cast<char>('0' + v % 10);
    while ((v /= 10) != 0);
    while (n) *p++ = tmp[--n];
    return p;
  }
  static char* put_word(char* p, std::uint64_t r) noexcept {
    *p++ = '"';
    p = put(p, word(r));
    *p++ = '"';
    return p;
  }

  // One record into rec (at most max_record bytes); returns its size.
  static std::size_t record(char* rec, std::uint64_t& s) noexcept {
    char* p = put(rec, "{\"id\":");
    p = put_number(p, next(s) % 10'000'000);
    p = put(p, ",\"user\":");
    p = put_word(p, next(s));
    p = put(p, ",\"event\":");
    p = put_word(p, next(s));
    p = put(p, ",\"ts\":");
    p = put_number(p, 1'700'000'000'000 + next(s) % 100'000'000);
    const std::uint64_t cents = next(s) % 100'000;
    p = put(p, ",\"amount\":");
    p = put_number(p, cents / 100);
    *p++ = '.';
    *p++ = static_cast<char>('0' + cents / 10 % 10);
    *p++ = static_cast<char>('0' + cents % 10);
    p = put(p, ",\"tags\":[");
    p = put_word(p, next(s));
    *p++ = ',';
    p = put_word(p, next(s));
    p = put(p, next(s) % 4 ? "],\"ok\":true}" : "],\"ok\":false}");
    return static_cast<std::size_t>(p - rec);
  }

  std::size_t size_;
};

}  // namespace zws_load
