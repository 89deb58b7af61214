#pragma once

#include <array>
#include <atomic>
#include <bit>
#include <cstdint>

namespace weir::metrics {

// Log-linear latency histogram over nanoseconds: exact below 64 ns, then 64 sub-buckets per
// power of two, so any value is within 1/128 (< 0.8 %) of its bucket's midpoint — from 10 µs to
// 60 s and beyond (values above ~68 s share the last bucket). Histograms merge by adding
// buckets. One writer thread (the worker); readers on other threads see monotonic counts.
class Histogram {
public:
  static constexpr int kSubBits = 6;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits; // 64
  static constexpr int kMaxExponent = 36;                   // 2^36 ns ≈ 68.7 s
  static constexpr size_t kBuckets = (kMaxExponent - kSubBits + 1) * kSub + kSub;

  static size_t bucket_of(uint64_t ns) {
    if (ns < kSub) return static_cast<size_t>(ns);
    int e = 63 - std::countl_zero(ns);
    if (e > kMaxExponent) return kBuckets - 1;
    uint64_t sub = (ns >> (e - kSubBits)) & (kSub - 1);
    return static_cast<size_t>((e - kSubBits + 1) * kSub + sub);
  }
  // Lowest value of a bucket, and its width.
  static uint64_t bucket_low(size_t b) {
    if (b < kSub) return b;
    int e = static_cast<int>(b / kSub) + kSubBits - 1;
    uint64_t sub = b % kSub;
    return (uint64_t{1} << e) + (sub << (e - kSubBits));
  }
  static uint64_t bucket_width(size_t b) {
    if (b < kSub) return 1;
    int e = static_cast<int>(b / kSub) + kSubBits - 1;
    return uint64_t{1} << (e - kSubBits);
  }
  static double bucket_mid(size_t b) {
    return static_cast<double>(bucket_low(b)) + static_cast<double>(bucket_width(b) - 1) / 2.0;
  }

  // Worker thread only (single writer): relaxed load + store, no read-modify-write.
  void record(uint64_t ns) {
    bump(buckets_[bucket_of(ns)], 1);
    bump(count_, 1);
    bump(sum_ns_, ns);
  }

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum_ns() const { return sum_ns_.load(std::memory_order_relaxed); }
  uint64_t bucket(size_t b) const { return buckets_[b].load(std::memory_order_relaxed); }

private:
  static void bump(std::atomic<uint64_t>& cell, uint64_t by) {
    cell.store(cell.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
  std::array<std::atomic<uint64_t>, kBuckets> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_ns_{0};
};

// A plain (non-atomic) histogram for merged views and windows on the control thread.
struct HistogramData {
  std::array<uint64_t, Histogram::kBuckets> buckets{};
  uint64_t count = 0;
  uint64_t sum_ns = 0;

  void add(const Histogram& h);
  void add(const HistogramData& h);
  void subtract(const HistogramData& h); // for windows: newer total minus older total
  // Value at quantile q in [0,1] (bucket midpoint), 0 when empty.
  double quantile_ns(double q) const;
};

} // namespace weir::metrics
