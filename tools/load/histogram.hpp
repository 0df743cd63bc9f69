// tools/load/histogram.hpp — latency histogram with log-linear buckets.
//
// The approach of HdrHistogram, reduced to what zws-load needs: every power of
// two [2^e, 2^(e+1)) is split into 128 equal buckets, so a bucket is at most
// 1/128 of the values it holds wide; answering with a bucket's midpoint puts
// every percentile within 0.4% of the true value. Values below 128 are exact.
// Recording is one count increment (no allocation, no floating point); the
// table covers every 64-bit value in 7,424 counters (58 KiB).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace zws_load {

class histogram {
 public:
  static constexpr unsigned sub_bits = 7;
  static constexpr std::uint64_t sub_count = std::uint64_t{1} << sub_bits;
  static constexpr std::size_t bucket_count = (64 - sub_bits + 1) * sub_count;

  void record(std::uint64_t v) noexcept {
    ++counts_[index_of(v)];
    ++total_;
    max_ = std::max(max_, v);
    min_ = std::min(min_, v);
    sum_ += v;
  }

  void merge(const histogram& o) noexcept {
    for (std::size_t i = 0; i < bucket_count; ++i) counts_[i] += o.counts_[i];
    total_ += o.total_;
    max_ = std::max(max_, o.max_);
    min_ = std::min(min_, o.min_);
    sum_ += o.sum_;
  }

  void reset() noexcept { *this = histogram{}; }

  std::uint64_t count() const noexcept { return total_; }
  std::uint64_t max() const noexcept { return total_ ? max_ : 0; }
  std::uint64_t min() const noexcept { return total_ ? min_ : 0; }
  double mean() const noexcept { return total_ ? double(sum_) / double(total_) : 0.0; }

  // The value at or below which `q` (0..1) of the recorded values lie: the
  // midpoint of the bucket holding that rank, never above the largest value seen.
  std::uint64_t quantile(double q) const noexcept {
    if (total_ == 0) return 0;
    auto rank = static_cast<std::uint64_t>(q * double(total_) + 0.5);
    rank = std::clamp<std::uint64_t>(rank, 1, total_);
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < bucket_count; ++i) {
      seen += counts_[i];
      if (seen >= rank) return std::min(lowest_of(i) + width_of(i) / 2, max_);
    }
    return max_;
  }

  // Bucket arithmetic, public so that tests can check the error bound.
  static constexpr std::size_t index_of(std::uint64_t v) noexcept {
    if (v < sub_count) return static_cast<std::size_t>(v);
    const unsigned e = 63u - static_cast<unsigned>(std::countl_zero(v));  // 2^e <= v
    const std::uint64_t sub = (v >> (e - sub_bits)) & (sub_count - 1);
    return static_cast<std::size_t>((e - sub_bits + 1) * sub_count + sub);
  }
  static constexpr std::uint64_t lowest_of(std::size_t i) noexcept {
    if (i < sub_count) return i;
    const unsigned e = static_cast<unsigned>(i / sub_count) + sub_bits - 1;
    return (sub_count + i % sub_count) << (e - sub_bits);
  }
  static constexpr std::uint64_t width_of(std::size_t i) noexcept {
    if (i < sub_count) return 1;
    const unsigned e = static_cast<unsigned>(i / sub_count) + sub_bits - 1;
    return std::uint64_t{1} << (e - sub_bits);
  }

 private:
  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
  std::uint64_t max_ = 0;
  std::uint64_t min_ = ~std::uint64_t{0};
  std::uint64_t sum_ = 0;
};

static_assert(histogram::index_of(127) == 127 && histogram::index_of(128) == 128);
static_assert(histogram::index_of(255) == 255 && histogram::index_of(256) == 256);
static_assert(histogram::lowest_of(histogram::index_of(1000)) <= 1000);
static_assert(histogram::lowest_of(histogram::index_of(1000)) + histogram::width_of(histogram::index_of(1000)) > 1000);
static_assert(histogram::index_of(~std::uint64_t{0}) == histogram::bucket_count - 1);

}  // namespace zws_load
