// tools/load/wire.hpp — how zws-load's messages look on the wire, with fast
// paths for the common case.
//
// Every message zws-load sends has the same opcode and length, and every echo
// it expects the same header, so both headers are encoded once (by
// zws::encode_header). Sending a message is then writing that header, a fresh
// key and the masked payload straight into the output buffer; recognising an
// echo is comparing its first bytes with the expected header. Anything else —
// a fragment, a control frame, another length or encoding — goes to zws::reader,
// which checks every rule.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

#include "payload.hpp"
#include "zws/buffer.hpp"
#include "zws/frame.hpp"
#include "zws/simd.hpp"

namespace zws_load {

struct frame_format {
  // Payloads up to this size are masked inline, 8 bytes at a time; larger ones
  // go through the dispatched SIMD kernel (pattern::write_masked).
  static constexpr std::size_t inline_mask_max = 128;

  frame_format(zws::opcode op, std::size_t size) noexcept {
    zws::frame_header h;
    h.op = static_cast<std::uint8_t>(op);
    h.payload_length = size;
    h.masked = true;  // key 0: replaced per frame, after the first size - 4 bytes
    send_head_size = static_cast<std::uint8_t>(zws::encode_header(h, send_head) - 4);
    h.masked = false;
    echo_head_size = static_cast<std::uint8_t>(zws::encode_header(h, echo_head));
    std::memcpy(&echo_head2, echo_head, 2);
  }

  // Appends message `seq` of `p` as one masked frame with `key`.
  void append(zws::buffer& out, const pattern& p, std::uint64_t seq, zws::mask_key key) const {
    const std::size_t n = p.size();
    std::uint8_t* pay = start(out, n, key);
    if (n >= stamp_bytes && n <= inline_mask_max) {
      // The stamp word, then 8 bytes at a time (offsets stay multiples of 4, so
      // one key word masks them all), then the last 0..7 bytes one by one.
      const std::uint64_t k8 = key_word(key);
      store64(pay, pattern::stamp_word(seq) ^ k8);
      std::size_t j = stamp_bytes;
      for (; j + 8 <= n; j += 8) store64(pay + j, load64(p.base() + j) ^ k8);
      for (; j < n; ++j) pay[j] = static_cast<std::uint8_t>(p.base()[j] ^ key.bytes[j % 4]);
    } else {
      p.write_masked(pay, seq, 0, n, key);
    }
    out.commit(send_head_size + 4u + n);
  }

  // Appends one masked frame with `key` whose payload is `head` then `tail`; the
  // header says head.size() + tail.size(), which must be the size this format sends.
  void append(zws::buffer& out, std::span<const std::uint8_t> head, std::span<const std::uint8_t> tail,
              zws::mask_key key) const {
    std::uint8_t* pay = start(out, head.size() + tail.size(), key);
    const std::size_t phase = zws::mask_copy({pay, head.size()}, head, key);
    zws::mask_copy({pay + head.size(), tail.size()}, tail, key, phase);
    out.commit(send_head_size + 4u + head.size() + tail.size());
  }

  // Room for a frame of `n` payload bytes in `out`, its header and `key` written;
  // returns where the payload goes (commit the whole frame after writing it).
  std::uint8_t* start(zws::buffer& out, std::size_t n, zws::mask_key key) const {
    std::uint8_t* d = out.prepare(send_head_size + 4u + n);
    std::memcpy(d, send_head, send_head_size);
    std::memcpy(d + send_head_size, key.bytes, 4);
    return d + send_head_size + 4;
  }

  // The size of the expected echo's header when `bytes` starts with it (FIN,
  // the opcode sent, unmasked, the same length in its shortest encoding);
  // otherwise 0, and the caller asks zws::reader. Reads at most
  // echo_head_size bytes, none past the span.
  std::size_t echo_at(std::span<const std::uint8_t> bytes) const noexcept {
    if (bytes.size() < echo_head_size) return 0;
    std::uint16_t first;
    std::memcpy(&first, bytes.data(), 2);
    if (first != echo_head2) return 0;
    if (echo_head_size > 2 && std::memcmp(bytes.data() + 2, echo_head + 2, echo_head_size - 2u) != 0) return 0;
    return echo_head_size;
  }

  std::uint8_t send_head[zws::max_frame_header];  // the masked header, less its key
  std::uint8_t echo_head[zws::max_frame_header];  // the header an echo must have
  std::uint8_t send_head_size;
  std::uint8_t echo_head_size;
  std::uint16_t echo_head2;  // echo_head's first two bytes, for one compare
};

}  // namespace zws_load
