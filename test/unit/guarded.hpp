// test/unit/guarded.hpp — bytes placed right against a PROT_NONE page.
//
// A parser handed `guarded::bytes()` that reads one byte past the end touches
// the guard page and crashes the test, as picohttpparser's tests do. The data
// is copied so that its last byte is the last byte before the guard.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

namespace zws::test {

class guarded {
 public:
  explicit guarded(std::span<const std::uint8_t> data) : size_(data.size()) {
    const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    map_size_ = (size_ + page - 1) / page * page + page;
    void* m = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) std::abort();
    map_ = static_cast<std::uint8_t*>(m);
    if (mprotect(map_ + map_size_ - page, page, PROT_NONE) != 0) std::abort();
    data_ = map_ + map_size_ - page - size_;
    if (size_) std::memcpy(data_, data.data(), size_);
  }
  explicit guarded(std::string_view s)
      : guarded(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.data()), s.size())) {}
  guarded(const guarded&) = delete;
  guarded& operator=(const guarded&) = delete;
  ~guarded() { munmap(map_, map_size_); }

  std::span<std::uint8_t> bytes() { return {data_, size_}; }
  std::string_view str() const { return {reinterpret_cast<const char*>(data_), size_}; }
  std::uint8_t* data() { return data_; }
  std::size_t size() const { return size_; }

 private:
  std::uint8_t* map_ = nullptr;
  std::size_t map_size_ = 0;
  std::uint8_t* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace zws::test
