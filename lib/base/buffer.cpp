#include "zws/buffer.hpp"

#include <cstdlib>
#include <cstring>
#include <new>
#include <utility>

namespace zws {

buffer::buffer(buffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      begin_(std::exchange(other.begin_, 0)),
      end_(std::exchange(other.end_, 0)),
      cap_(std::exchange(other.cap_, 0)) {}

buffer& buffer::operator=(buffer&& other) noexcept {
  if (this != &other) {
    std::free(data_);
    data_ = std::exchange(other.data_, nullptr);
    begin_ = std::exchange(other.begin_, 0);
    end_ = std::exchange(other.end_, 0);
    cap_ = std::exchange(other.cap_, 0);
  }
  return *this;
}

buffer::~buffer() { std::free(data_); }

std::uint8_t* buffer::prepare(std::size_t n) {
  if (cap_ - end_ >= n) return data_ + end_;
  const std::size_t live = size();
  // Sliding the live bytes to the front is enough when they are at most half of the buffer.
  if (begin_ > 0 && cap_ - live >= n && live <= cap_ / 2) {
    std::memmove(data_, data_ + begin_, live);
  } else {
    std::size_t want = live + n;
    std::size_t cap = cap_ ? std::size_t(cap_) * 2 : first_capacity;
    while (cap < want) cap *= 2;
    if (cap > 0xFFFFFFFFu) {
      if (want > 0xFFFFFFFFu) throw std::bad_alloc();
      cap = 0xFFFFFFFFu;
    }
    auto* p = static_cast<std::uint8_t*>(std::malloc(cap));
    if (p == nullptr) throw std::bad_alloc();
    if (live) std::memcpy(p, data_ + begin_, live);
    std::free(data_);
    data_ = p;
    cap_ = static_cast<std::uint32_t>(cap);
  }
  begin_ = 0;
  end_ = static_cast<std::uint32_t>(live);
  return data_ + end_;
}

void buffer::append(const void* p, std::size_t n) {
  if (n == 0) return;
  std::memcpy(prepare(n), p, n);
  commit(n);
}

void buffer::consume(std::size_t n) noexcept {
  begin_ += static_cast<std::uint32_t>(n);
  if (begin_ == end_) begin_ = end_ = 0;
}

void buffer::release() noexcept {
  std::free(data_);
  data_ = nullptr;
  begin_ = end_ = cap_ = 0;
}

}  // namespace zws
