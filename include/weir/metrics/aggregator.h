#pragma once

#include "weir/metrics/histogram.h"
#include "weir/metrics/registry.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace weir::metrics {

// Totals of one route × backend, summed over every worker at one instant.
struct BackendTotals {
  uint64_t requests = 0;
  uint64_t upstream_errors = 0;
  uint64_t client_errors = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  HistogramData total; // request duration
  HistogramData ttfb;
  void add(const BackendCells& c);
  void subtract(const BackendTotals& older);
};

// What a window of time says about a backend: what `watch`, /stats.json and the canary
// analysis read.
struct WindowStats {
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t errors = 0; // upstream-caused only
  uint64_t client_errors = 0;
  double rps = 0;
  double error_rate = 0; // errors / requests, 0 when no requests
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0;
  double mean_ms = 0;
};

// The raw figures of a window, before they become rates and quantiles. Two of them over the same
// time (the user and the synthetic aggregator, sampled at the same instants) add exactly:
// counters summed, histograms merged bucket by bucket, so the p99 of the sum is the p99 of all
// requests together, not the larger of two p99s.
struct WindowTotals {
  double seconds = 0;
  uint64_t requests = 0;
  uint64_t errors = 0; // upstream-caused only
  uint64_t client_errors = 0;
  HistogramData total; // request duration
  // Adds `o`'s counts and buckets; the span is the longer of the two.
  void add(const WindowTotals& o);
  WindowStats stats() const;
};

// Merges every worker's cells once a second into sliding windows (1 s, 10 s, 1 min, 5 min).
// Control thread only.
class Aggregator {
public:
  using Clock = std::chrono::steady_clock;

  // Reads all registries now and records the totals as the newest sample.
  void sample(const std::vector<const Registry*>& registries, Clock::time_point now);
  // The same from totals already summed: another replica's, as it published them (cluster/).
  void sample_totals(std::map<BackendKey, BackendTotals> sums, Clock::time_point now);
  // Stats over the last `window` (clamped to the history kept); nullopt for an unknown key.
  std::optional<WindowStats> window(const BackendKey& key, std::chrono::seconds window) const;
  // The same window as counts and a histogram, for merging with another aggregator's.
  std::optional<WindowTotals> window_totals(const BackendKey& key,
                                            std::chrono::seconds window) const;
  // `a` and `b` over the same window merged exactly (WindowTotals::add); nullopt when neither
  // has the key, the one that has it when only one does.
  static std::optional<WindowStats> merged_window(const Aggregator& a, const Aggregator& b,
                                                  const BackendKey& key,
                                                  std::chrono::seconds window);
  // The history as a chart draws it (the admin dashboard), oldest first: one point per
  // ten-second sample from before the one-second samples start (its figures since the previous
  // one), then one per one-second sample, each the `smooth` seconds ending there (fewer at the
  // start). Computed when asked: the aggregator keeps nothing more for it.
  struct SeriesPoint {
    Clock::time_point from, at; // the span the figures cover
    WindowStats stats;
  };
  std::vector<SeriesPoint> series(const BackendKey& key, size_t smooth) const;
  // Cumulative totals at the newest sample (for counters that never go backwards).
  const BackendTotals* latest(const BackendKey& key) const;
  std::vector<BackendKey> keys() const;

private:
  // What history keeps of a sample: the counters and the non-zero buckets of the duration
  // histogram (latencies cluster, so this is a few KiB instead of 16).
  struct Compact {
    uint64_t requests = 0, upstream_errors = 0, client_errors = 0;
    uint64_t count = 0, sum_ns = 0;
    std::vector<std::pair<uint16_t, uint64_t>> buckets;
    static std::shared_ptr<const Compact> of(const BackendTotals& t);
    void add_to(HistogramData& h, int sign) const;
  };
  struct Sample {
    Clock::time_point at;
    std::shared_ptr<const Compact> totals;
  };
  struct History {
    std::deque<Sample> fine;   // one a second, last 61
    std::deque<Sample> coarse; // one every 10 s, last 31
  };
  std::map<BackendKey, History> history_;
  std::map<BackendKey, BackendTotals> latest_;
  std::optional<Clock::time_point> last_sample_;
};

} // namespace weir::metrics
