#include "weir/metrics/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <gtest/gtest.h>
#include <random>
#include <vector>

namespace weir::metrics {
namespace {

constexpr uint64_t kMin = 10'000;         // 10 µs
constexpr uint64_t kMax = 60'000'000'000; // 60 s

std::vector<uint64_t> log_uniform(size_t n, uint64_t lo, uint64_t hi, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> d(std::log(static_cast<double>(lo)),
                                           std::log(static_cast<double>(hi)));
  std::vector<uint64_t> out(n);
  for (auto& v : out)
    v = static_cast<uint64_t>(std::exp(d(rng)));
  return out;
}

double relative_error(uint64_t value) {
  double mid = Histogram::bucket_mid(Histogram::bucket_of(value));
  return std::abs(mid - static_cast<double>(value)) / static_cast<double>(value);
}

TEST(Histogram, EveryValueFrom10usTo60sIsWithinOnePercentOfItsBucketMidpoint) {
  for (uint64_t v : log_uniform(1'000'000, kMin, kMax, 1)) {
    size_t b = Histogram::bucket_of(v);
    ASSERT_GE(v, Histogram::bucket_low(b)) << v;
    ASSERT_LT(v, Histogram::bucket_low(b) + Histogram::bucket_width(b)) << v;
    ASSERT_LE(relative_error(v), 0.01) << v;
  }
}

TEST(Histogram, ErrorBoundHoldsAtBothEdgesOfEveryBucketInRange) {
  // The worst value of a bucket is one of its ends: checking every bucket's ends proves the
  // bound for all values in the range, not just sampled ones.
  size_t checked = 0;
  for (size_t b = Histogram::bucket_of(kMin); b <= Histogram::bucket_of(kMax); ++b) {
    uint64_t lo = Histogram::bucket_low(b);
    uint64_t hi = lo + Histogram::bucket_width(b) - 1;
    ASSERT_EQ(Histogram::bucket_of(lo), b);
    ASSERT_EQ(Histogram::bucket_of(hi), b);
    ASSERT_EQ(Histogram::bucket_low(b + 1), hi + 1) << "buckets must tile the range";
    ASSERT_LE(relative_error(std::max(lo, kMin)), 1.0 / 128) << b;
    ASSERT_LE(relative_error(hi), 1.0 / 128) << b;
    ++checked;
  }
  EXPECT_GT(checked, 1000u);
}

TEST(Histogram, SmallValuesAreExactAndHugeOnesShareTheLastBucket) {
  for (uint64_t v = 0; v < Histogram::kSub; ++v) {
    EXPECT_EQ(Histogram::bucket_of(v), v);
    EXPECT_EQ(Histogram::bucket_mid(v), static_cast<double>(v));
  }
  EXPECT_EQ(Histogram::bucket_of(uint64_t{1} << 40), Histogram::kBuckets - 1);
  EXPECT_EQ(Histogram::bucket_of(UINT64_MAX), Histogram::kBuckets - 1);
}

TEST(Histogram, MergeByAdditionEqualsRecordingIntoOne) {
  auto values = log_uniform(100'000, 1'000, kMax, 2);
  Histogram one;
  std::vector<std::unique_ptr<Histogram>> workers;
  for (int i = 0; i < 4; ++i)
    workers.push_back(std::make_unique<Histogram>());
  for (size_t i = 0; i < values.size(); ++i) {
    one.record(values[i]);
    workers[(i * 7) % 4]->record(values[i]);
  }
  HistogramData merged;
  for (const auto& w : workers)
    merged.add(*w);
  HistogramData single;
  single.add(one);
  EXPECT_EQ(merged.count, single.count);
  EXPECT_EQ(merged.sum_ns, single.sum_ns);
  EXPECT_TRUE(merged.buckets == single.buckets);

  // Adding merged views equals adding the histograms directly.
  HistogramData a, b;
  a.add(*workers[0]);
  a.add(*workers[1]);
  b.add(*workers[2]);
  b.add(*workers[3]);
  a.add(b);
  EXPECT_TRUE(a.buckets == single.buckets);
  EXPECT_EQ(a.count, single.count);
}

TEST(Histogram, SubtractGivesWhatWasRecordedInBetween) {
  Histogram h;
  auto before = log_uniform(5'000, kMin, kMax, 3);
  auto after = log_uniform(7'000, kMin, kMax, 4);
  for (uint64_t v : before)
    h.record(v);
  HistogramData older;
  older.add(h);
  Histogram between;
  for (uint64_t v : after) {
    h.record(v);
    between.record(v);
  }
  HistogramData newer;
  newer.add(h);
  newer.subtract(older);
  HistogramData expected;
  expected.add(between);
  EXPECT_TRUE(newer.buckets == expected.buckets);
  EXPECT_EQ(newer.count, expected.count);
  EXPECT_EQ(newer.sum_ns, expected.sum_ns);
}

// Nearest-rank quantile of the exact values, the definition quantile_ns estimates.
uint64_t exact_quantile(std::vector<uint64_t> sorted, double q) {
  size_t rank = static_cast<size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

TEST(Histogram, PercentilesMatchExactValuesWithinTheBucketError) {
  for (uint64_t seed : {5, 6, 7}) {
    // Log-normal latencies around 20 ms with a long tail, plus a second mode at 2 ms.
    std::mt19937_64 rng(seed);
    std::lognormal_distribution<double> slow(std::log(20e6), 0.6);
    std::lognormal_distribution<double> fast(std::log(2e6), 0.3);
    std::vector<uint64_t> values;
    Histogram h;
    for (int i = 0; i < 50'000; ++i) {
      double v = (i % 5 == 0) ? fast(rng) : slow(rng);
      uint64_t ns = static_cast<uint64_t>(std::clamp(v, 1e4, 6e10));
      values.push_back(ns);
      h.record(ns);
    }
    std::sort(values.begin(), values.end());
    HistogramData d;
    d.add(h);
    for (double q : {0.0001, 0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0}) {
      double exact = static_cast<double>(exact_quantile(values, q));
      double estimate = d.quantile_ns(q);
      EXPECT_LE(std::abs(estimate - exact) / exact, 1.0 / 128)
          << "q=" << q << " exact=" << exact << " estimate=" << estimate;
    }
  }
}

TEST(Histogram, QuantileOfEmptyIsZeroAndOutOfRangeQIsClamped) {
  HistogramData empty;
  EXPECT_EQ(empty.quantile_ns(0.5), 0.0);
  Histogram h;
  h.record(1'000'000);
  h.record(9'000'000);
  HistogramData d;
  d.add(h);
  EXPECT_EQ(d.quantile_ns(-1), d.quantile_ns(0));
  EXPECT_EQ(d.quantile_ns(2), d.quantile_ns(1));
  EXPECT_NEAR(d.quantile_ns(1), 9e6, 9e6 / 128);
}

} // namespace
} // namespace weir::metrics
