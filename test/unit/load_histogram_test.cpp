// Tests tools/load/histogram.hpp, zws-load's latency histogram: bucket bounds,
// and percentiles within the documented error (half a bucket, at most 1/256 of
// the true value) on known distributions, compared with an exact sort.
#include "../../tools/load/histogram.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

namespace {

using zws_load::histogram;

// The value of rank round(q * n) (at least 1) among `sorted`, as histogram::quantile defines it.
std::uint64_t exact_quantile(const std::vector<std::uint64_t>& sorted, double q) {
  auto rank = static_cast<std::uint64_t>(q * double(sorted.size()) + 0.5);
  rank = std::clamp<std::uint64_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

// Records `values` and checks a sweep of percentiles against the exact ones.
void expect_quantiles_within_bound(std::vector<std::uint64_t> values) {
  auto h = std::make_unique<histogram>();  // 58 KiB: not on the stack
  for (std::uint64_t v : values) h->record(v);
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h->count(), values.size());
  EXPECT_EQ(h->min(), values.front());
  EXPECT_EQ(h->max(), values.back());
  for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const std::uint64_t want = exact_quantile(values, q);
    const std::uint64_t got = h->quantile(q);
    const std::uint64_t diff = got > want ? got - want : want - got;
    EXPECT_LE(diff * 256, want) << "q " << q << ": got " << got << ", exact " << want;
    EXPECT_LE(got, values.back()) << "q " << q;
  }
}

TEST(LoadHistogram, EmptyAnswersZero) {
  auto h = std::make_unique<histogram>();
  EXPECT_EQ(h->count(), 0u);
  EXPECT_EQ(h->quantile(0.5), 0u);
  EXPECT_EQ(h->min(), 0u);
  EXPECT_EQ(h->max(), 0u);
  EXPECT_EQ(h->mean(), 0.0);
}

TEST(LoadHistogram, SmallValuesAreExact) {
  auto h = std::make_unique<histogram>();
  for (std::uint64_t v = 1; v <= 100; ++v) h->record(v);
  EXPECT_EQ(h->quantile(0.5), 50u);
  EXPECT_EQ(h->quantile(0.9), 90u);
  EXPECT_EQ(h->quantile(0.99), 99u);
  EXPECT_EQ(h->quantile(1.0), 100u);
  EXPECT_EQ(h->quantile(0.0), 1u);
  EXPECT_DOUBLE_EQ(h->mean(), 50.5);
}

TEST(LoadHistogram, BucketHoldsItsValueAndIsNarrow) {
  std::mt19937_64 rng(1);
  for (int i = 0; i < 200000; ++i) {
    const unsigned shift = static_cast<unsigned>(rng() % 64);
    const std::uint64_t v = rng() >> shift;
    const std::size_t b = histogram::index_of(v);
    ASSERT_LT(b, histogram::bucket_count);
    const std::uint64_t lo = histogram::lowest_of(b), w = histogram::width_of(b);
    ASSERT_LE(lo, v);
    ASSERT_LE(v - lo, w - 1);  // v < lo + w without overflow at the top
    if (v >= histogram::sub_count) {
      ASSERT_LE(w * histogram::sub_count, lo) << v;  // width <= 1/128 of value
    }
  }
  for (std::size_t b = 0; b + 1 < histogram::bucket_count; ++b)  // buckets tile the range without gaps
    ASSERT_EQ(histogram::lowest_of(b) + histogram::width_of(b), histogram::lowest_of(b + 1)) << b;
}

TEST(LoadHistogram, UniformLatencies) {
  std::mt19937_64 rng(2);
  std::uniform_int_distribution<std::uint64_t> d(1'000, 5'000'000);  // 1 us .. 5 ms in ns
  std::vector<std::uint64_t> v(100000);
  for (auto& x : v) x = d(rng);
  expect_quantiles_within_bound(std::move(v));
}

TEST(LoadHistogram, LogUniformOverManyDecades) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> d(0.0, 40.0);  // 1 ns .. ~18 minutes
  std::vector<std::uint64_t> v(100000);
  for (auto& x : v) x = static_cast<std::uint64_t>(std::exp2(d(rng)));
  expect_quantiles_within_bound(std::move(v));
}

TEST(LoadHistogram, LongTail) {
  // Mostly ~50 us with a 1% tail near 20 ms: p99 and p99.9 fall in the tail.
  std::mt19937_64 rng(4);
  std::normal_distribution<double> body(50'000, 5'000);
  std::exponential_distribution<double> tail(1.0 / 20'000'000);
  std::vector<std::uint64_t> v(200000);
  for (std::size_t i = 0; i < v.size(); ++i)
    v[i] = static_cast<std::uint64_t>(std::max(1.0, i % 100 == 0 ? tail(rng) : body(rng)));
  expect_quantiles_within_bound(std::move(v));
}

TEST(LoadHistogram, ExtremesOfTheRange) {
  expect_quantiles_within_bound({0, 1, 127, 128, 255, 256, ~std::uint64_t{0} >> 1, ~std::uint64_t{0}});
}

TEST(LoadHistogram, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(5);
  auto a = std::make_unique<histogram>(), b = std::make_unique<histogram>(), all = std::make_unique<histogram>();
  for (int i = 0; i < 50000; ++i) {
    const std::uint64_t v = rng() >> (rng() % 64);
    (i % 3 ? *a : *b).record(v);
    all->record(v);
  }
  a->merge(*b);
  EXPECT_EQ(a->count(), all->count());
  EXPECT_EQ(a->min(), all->min());
  EXPECT_EQ(a->max(), all->max());
  EXPECT_DOUBLE_EQ(a->mean(), all->mean());
  for (double q : {0.1, 0.5, 0.9, 0.99, 0.999}) EXPECT_EQ(a->quantile(q), all->quantile(q)) << q;
  a->reset();
  EXPECT_EQ(a->count(), 0u);
  EXPECT_EQ(a->quantile(0.5), 0u);
}

}  // namespace
