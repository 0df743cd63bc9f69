// The permessage-deflate streams over zlib (RFC 7692 §7.2). Inflation follows zpipe.c's
// loop, with the output granted to zlib per call bounded by what the message may still
// grow, so a bomb ends at its limit plus one byte whatever its ratio.
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <new>
#include <utility>

#include "protocol/deflate_stream.hpp"
#include "zws/deflate.hpp"
#include "zws/utf8.hpp"

namespace zws {

bool deflate_available() noexcept { return true; }

namespace detail {
namespace {

constexpr std::uint8_t sync_tail[4] = {0x00, 0x00, 0xff, 0xff};
// Each allocation carries its size in front, so zfree can give it back to the budget.
constexpr std::size_t header_bytes = 16;
// Room in an inflater's output buffer worth using as it is rather than growing it.
constexpr std::size_t min_room = 4096;

// What one stream's allocations have cost, and the budget they are counted against.
struct heap_account {
  std::size_t held = 0;
  zlib_budget* budget = nullptr;
};

voidpf counted_alloc(voidpf opaque, uInt items, uInt size) {
  auto* acct = static_cast<heap_account*>(opaque);
  const std::size_t n = std::size_t{items} * size + header_bytes;
  if (acct->budget != nullptr && !acct->budget->take(n)) return Z_NULL;
  void* p = std::malloc(n);
  if (p == nullptr) {
    if (acct->budget != nullptr) acct->budget->give(n);
    return Z_NULL;
  }
  *static_cast<std::size_t*>(p) = n;
  acct->held += n;
  return static_cast<std::uint8_t*>(p) + header_bytes;
}

void counted_free(voidpf opaque, voidpf address) {
  if (address == Z_NULL) return;
  auto* acct = static_cast<heap_account*>(opaque);
  void* p = static_cast<std::uint8_t*>(address) - header_bytes;
  const std::size_t n = *static_cast<std::size_t*>(p);
  acct->held -= n;
  if (acct->budget != nullptr) acct->budget->give(n);
  std::free(p);
}

// Set-up shared by both stream kinds: the counting allocator, no input yet.
template <class Impl>
Impl* make_impl(zlib_budget* budget) noexcept {
  auto* im = new (std::nothrow) Impl;
  if (im == nullptr) return nullptr;
  im->acct.budget = budget;
  im->z.zalloc = counted_alloc;
  im->z.zfree = counted_free;
  im->z.opaque = &im->acct;
  return im;
}

}  // namespace

zlib_budget::zlib_budget(zlib_budget* parent, std::size_t reserved) noexcept : parent_(parent) {
  if (parent_ != nullptr && parent_->take(reserved)) reserved_ = reserved;
}

zlib_budget::~zlib_budget() {
  if (parent_ != nullptr) parent_->give(std::max(used_, reserved_));
}

bool zlib_budget::take(std::size_t bytes) noexcept {
  if (parent_ == nullptr) {
    if (!admits(bytes)) return false;
  } else {
    // Only what goes past the reservation is the parent's to grant.
    const std::size_t before = std::max(used_, reserved_);
    const std::size_t after = std::max(used_ + bytes, reserved_);
    if (after > before && !parent_->take(after - before)) return false;
  }
  used_ += bytes;
  peak_ = std::max(peak_, used_);
  return true;
}

void zlib_budget::give(std::size_t bytes) noexcept {
  const std::size_t before = std::max(used_, reserved_);
  used_ -= bytes;
  if (parent_ != nullptr) parent_->give(before - std::max(used_, reserved_));
}

// Measured with the counting allocator (deflate_stream_test's IdleMemoryPerMode):
// inflate's state is 7,160 bytes plus its window of 1 << w once output is produced;
// deflate's about 5,950 plus a window of 2 << w, a prev chain of 2 << w, a hash head
// of 2 << (m + 7) and a pending buffer of 4 << (m + 6). Each allocation costs
// header_bytes more, and each stream's own small state (impl) about 150 bytes.
std::size_t inflater_state_bytes(int window_bits) noexcept {
  return 7160 + (std::size_t{1} << window_bits) + 2 * header_bytes + 256;
}

std::size_t deflater_state_bytes(int window_bits, int mem_level) noexcept {
  return 6000 + (std::size_t{4} << window_bits) + (std::size_t{2} << (mem_level + 7)) +
         (std::size_t{4} << (mem_level + 6)) + 5 * header_bytes + 256;
}

// ---- inflater ---------------------------------------------------------------

struct inflater::impl {
  z_stream z{};
  heap_account acct;
  utf8_validator utf8;
  bool initialised = false;
  bool stream_ended = false;  // the peer ended its deflate stream (BFINAL) in this message
  bool fed = false;           // this message brought compressed bytes
};

inflater::inflater(const inflater_config& c) noexcept : cfg_(c) {}

inflater::~inflater() {
  if (impl_ != nullptr) {
    if (impl_->initialised) inflateEnd(&impl_->z);
    delete impl_;
  }
}

inflater::inflater(inflater&& other) noexcept
    : cfg_(other.cfg_),
      impl_(std::exchange(other.impl_, nullptr)),
      max_(other.max_),
      produced_(other.produced_),
      text_(other.text_),
      open_(other.open_),
      err_(other.err_) {}

inflater& inflater::operator=(inflater&& other) noexcept {
  inflater moved(std::move(other));
  std::swap(cfg_, moved.cfg_);
  std::swap(impl_, moved.impl_);
  max_ = moved.max_;
  produced_ = moved.produced_;
  text_ = moved.text_;
  open_ = moved.open_;
  err_ = moved.err_;
  return *this;
}

error inflater::fail(error e) noexcept {
  err_ = e;
  return e;
}

void inflater::begin(std::uint64_t max_size, bool text) noexcept {
  max_ = std::min<std::uint64_t>(max_size, 0xFFFFFFFEu);
  produced_ = 0;
  text_ = text;
  open_ = true;
  if (impl_ != nullptr) {
    impl_->utf8.reset();
    impl_->fed = false;
  }
}

error inflater::write(std::span<const std::uint8_t> in, buffer& out) noexcept {
  if (err_ != error::none) return err_;
  if (impl_ == nullptr) {
    impl_ = make_impl<impl>(cfg_.budget);
    if (impl_ == nullptr) return fail(error::deflate_memory);
  }
  impl& im = *impl_;
  z_stream& z = im.z;
  if (!im.initialised) {
    // A window of 8 bits is fine for inflating (only deflate refuses it).
    if (inflateInit2(&z, -std::clamp<int>(cfg_.window_bits, 8, 15)) != Z_OK) return fail(error::deflate_memory);
    im.initialised = true;
  }
  im.fed = im.fed || !in.empty();
  if (im.stream_ended) {
    // After a final block only the tail finish() appends may follow.
    return in.empty() ? error::none : fail(error::bad_compressed_data);
  }
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  for (;;) {
    // One byte more than the message may still grow: producing it proves it too big.
    // When `out` already has ample room (finish() after a message's last piece, which
    // rarely adds a byte), that room is granted: growing it would copy the message.
    const std::size_t room = out.room() >= min_room ? out.room() : cfg_.chunk;
    const std::uint64_t grant = std::min<std::uint64_t>(room, max_ - produced_ + 1);
    std::uint8_t* p = nullptr;
    try {
      p = out.prepare(grant);
    } catch (const std::bad_alloc&) {
      return fail(error::deflate_memory);
    }
    z.next_out = p;
    z.avail_out = static_cast<uInt>(grant);
    const int r = inflate(&z, Z_SYNC_FLUSH);
    const std::size_t made = grant - z.avail_out;
    out.commit(made);
    produced_ += made;
    // UTF-8 first: the verdict must not depend on how the input was cut, and every
    // cut checks the text of the first max + 1 bytes before the limit can trip.
    if (text_ && !im.utf8.write({p, made})) return fail(error::invalid_utf8);
    if (produced_ > max_) return fail(error::message_too_big);
    if (r == Z_STREAM_END) {
      im.stream_ended = true;
      // What follows a final block may only be the tail finish() appended.
      return z.avail_in == 0 || in.data() == sync_tail ? error::none : fail(error::bad_compressed_data);
    }
    if (r == Z_MEM_ERROR) return fail(error::deflate_memory);
    if (r != Z_OK && r != Z_BUF_ERROR) return fail(error::bad_compressed_data);
    // Done when zlib had room left over and nothing more to read (or could not move).
    if (z.avail_out != 0 && (z.avail_in == 0 || r == Z_BUF_ERROR)) break;
  }
  return z.avail_in == 0 ? error::none : fail(error::bad_compressed_data);
}

error inflater::finish(buffer& out) noexcept {
  if (err_ != error::none) return err_;
  // The tail completes the last block; after a final block (BFINAL) there is nothing to
  // complete, and a message with no payload at all (what zlib gives a sender for an empty
  // message after a flush) is an empty message, not half a stored block.
  if (impl_ != nullptr && impl_->fed && !impl_->stream_ended) {
    const error e = write({sync_tail, sizeof sync_tail}, out);
    if (e != error::none) return e;
  }
  open_ = false;
  if (impl_ == nullptr) return error::none;
  impl& im = *impl_;
  if (text_ && !im.utf8.finish()) return fail(error::invalid_utf8);
  const bool ended = im.stream_ended;
  im.stream_ended = false;
  if (cfg_.no_context_takeover) {
    if (cfg_.release_when_idle) {
      release();  // frees im
    } else if (inflateReset(&im.z) != Z_OK) {
      return fail(error::bad_compressed_data);
    }
  } else if (ended) {
    // The peer ended its stream but may still refer to earlier bytes: carry the window over.
    Bytef window[32768];
    uInt n = 0;
    if (inflateGetDictionary(&im.z, window, &n) != Z_OK || inflateReset(&im.z) != Z_OK ||
        (n != 0 && inflateSetDictionary(&im.z, window, n) != Z_OK)) {
      return fail(error::bad_compressed_data);
    }
  }
  return error::none;
}

std::size_t inflater::memory_held() const noexcept {
  return impl_ == nullptr ? 0 : sizeof(impl) + impl_->acct.held;
}

void inflater::release() noexcept {
  if (impl_ == nullptr || open_ || !cfg_.no_context_takeover) return;
  if (impl_->initialised) inflateEnd(&impl_->z);
  delete impl_;
  impl_ = nullptr;
}

// ---- deflater ---------------------------------------------------------------

struct deflater::impl {
  z_stream z{};
  heap_account acct;
  bool initialised = false;
};

deflater::deflater(const deflater_config& c) noexcept : cfg_(c) {}

deflater::~deflater() {
  if (impl_ != nullptr) {
    if (impl_->initialised) deflateEnd(&impl_->z);
    delete impl_;
  }
}

deflater::deflater(deflater&& other) noexcept
    : cfg_(other.cfg_), impl_(std::exchange(other.impl_, nullptr)), err_(other.err_) {}

deflater& deflater::operator=(deflater&& other) noexcept {
  deflater moved(std::move(other));
  std::swap(cfg_, moved.cfg_);
  std::swap(impl_, moved.impl_);
  err_ = moved.err_;
  return *this;
}

error deflater::compress(std::span<const std::uint8_t> in, buffer& out) noexcept {
  if (err_ != error::none) return err_;
  if (in.empty()) {
    // An empty stored block without its tail (RFC 7692 §7.2.3.6), right in any context:
    // after a sync flush the stream is at a byte boundary, and zlib itself would emit
    // nothing at all for no input after a flush.
    out.append("\0", 1);
    return error::none;
  }
  if (impl_ == nullptr) {
    impl_ = make_impl<impl>(cfg_.budget);
    if (impl_ == nullptr) return err_ = error::deflate_memory;
  }
  z_stream& z = impl_->z;
  if (!impl_->initialised) {
    const int r = deflateInit2(&z, std::clamp(cfg_.level, 0, 9), Z_DEFLATED, -std::clamp<int>(cfg_.window_bits, 9, 15),
                               std::clamp<int>(cfg_.mem_level, 1, 9), Z_DEFAULT_STRATEGY);
    if (r != Z_OK) return err_ = error::deflate_memory;
    impl_->initialised = true;
  }
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  // The last 4 bytes produced so far are held back: at the end they are the tail to drop.
  std::uint8_t held[4];
  std::size_t nheld = 0;
  std::size_t chunk = deflateBound(&z, static_cast<uLong>(in.size())) + 16;
  do {
    std::uint8_t* p = nullptr;
    try {
      p = out.prepare(chunk + sizeof held);
    } catch (const std::bad_alloc&) {
      return err_ = error::deflate_memory;
    }
    std::copy_n(held, nheld, p);
    z.next_out = p + nheld;
    z.avail_out = static_cast<uInt>(chunk);
    if (deflate(&z, Z_SYNC_FLUSH) == Z_STREAM_ERROR) return err_ = error::deflate_memory;
    const std::size_t total = nheld + (chunk - z.avail_out);
    nheld = std::min<std::size_t>(total, sizeof held);
    out.commit(total - nheld);
    std::copy_n(p + total - nheld, nheld, held);
    chunk = std::max<std::size_t>(chunk, 16384);
  } while (z.avail_out == 0);
  if (nheld != sizeof held || !std::equal(held, held + 4, sync_tail)) out.append(held, nheld);
  if (cfg_.no_context_takeover) {
    if (cfg_.release_when_idle) {
      release();
    } else {
      deflateReset(&z);
    }
  }
  return error::none;
}

std::size_t deflater::memory_held() const noexcept {
  return impl_ == nullptr ? 0 : sizeof(impl) + impl_->acct.held;
}

void deflater::release() noexcept {
  if (impl_ == nullptr || !cfg_.no_context_takeover) return;
  if (impl_->initialised) deflateEnd(&impl_->z);
  delete impl_;
  impl_ = nullptr;
}

// ---- shared deflaters -------------------------------------------------------

shared_deflaters::shared_deflaters(int level, std::uint8_t mem_level, zlib_budget* budget) noexcept
    : budget_(budget), level_(level), mem_level_(mem_level) {}

std::size_t shared_deflaters::index(std::uint8_t window_bits) noexcept {
  return static_cast<std::size_t>(std::clamp<int>(window_bits, 9, 15) - 9);
}

bool shared_deflaters::reserved(std::uint8_t window_bits) const noexcept {
  return reservations_[index(window_bits)] != nullptr;
}

deflater& shared_deflaters::for_window(std::uint8_t window_bits) noexcept {
  const std::size_t i = index(window_bits);
  if (reservations_[i] == nullptr) {
    const auto bits = static_cast<std::uint8_t>(9 + i);
    reservations_[i].reset(new (std::nothrow) zlib_budget(budget_, deflater_state_bytes(bits, mem_level_)));
    deflater_config c;
    c.level = level_;
    c.window_bits = bits;
    c.mem_level = mem_level_;
    c.no_context_takeover = true;
    // Without its reservation (no memory for 40 bytes) it counts against the loop's.
    c.budget = reservations_[i] != nullptr ? reservations_[i].get() : budget_;
    by_bits_[i] = deflater(c);
  }
  return by_bits_[i];
}

std::size_t shared_deflaters::memory_held() const noexcept {
  std::size_t n = 0;
  for (const deflater& d : by_bits_) n += d.memory_held();
  return n;
}

void shared_deflaters::release() noexcept {
  for (deflater& d : by_bits_) d.release();
}

}  // namespace detail
}  // namespace zws
