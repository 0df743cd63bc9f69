// zws/buffer.hpp — a growable byte buffer with cheap consumption from the front.
//
// Used for a connection's pending input (an incomplete frame), its output queue,
// and a reader's reassembly of fragmented messages. An empty buffer owns no heap
// memory, so an idle connection costs only the 24 bytes of this struct.
// Growth doubles; `consume` moves the read position and `compact`s lazily.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace zws {

class buffer {
 public:
  buffer() noexcept = default;
  buffer(const buffer&) = delete;
  buffer& operator=(const buffer&) = delete;
  buffer(buffer&& other) noexcept;
  buffer& operator=(buffer&& other) noexcept;
  ~buffer();

  // The capacity of a buffer's first allocation.
  static constexpr std::size_t first_capacity = 256;

  std::uint8_t* data() noexcept { return data_ + begin_; }
  const std::uint8_t* data() const noexcept { return data_ + begin_; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return end_ == begin_; }
  std::size_t capacity() const noexcept { return cap_; }
  // Bytes writable after the end without moving or growing the buffer.
  std::size_t room() const noexcept { return cap_ - end_; }
  std::span<std::uint8_t> bytes() noexcept { return {data(), size()}; }
  std::span<const std::uint8_t> bytes() const noexcept { return {data(), size()}; }

  // Returns a pointer to at least `n` writable bytes after the current end.
  // The bytes count only after `commit`. Invalidates earlier pointers.
  std::uint8_t* prepare(std::size_t n);
  void commit(std::size_t n) noexcept { end_ += static_cast<std::uint32_t>(n); }

  void append(const void* p, std::size_t n);
  void append(std::span<const std::uint8_t> s) { append(s.data(), s.size()); }
  void append(std::string_view s) { append(s.data(), s.size()); }

  // Drops `n` bytes from the front (n <= size()).
  void consume(std::size_t n) noexcept;
  // Keeps the first n bytes (n <= size()).
  void truncate(std::size_t n) noexcept { end_ = begin_ + static_cast<std::uint32_t>(n); }
  // Empties the buffer, keeping its memory.
  void clear() noexcept { begin_ = end_ = 0; }
  // Empties the buffer and returns its memory.
  void release() noexcept;

 private:
  std::uint8_t* data_ = nullptr;
  std::uint32_t begin_ = 0;
  std::uint32_t end_ = 0;
  std::uint32_t cap_ = 0;
};

}  // namespace zws
