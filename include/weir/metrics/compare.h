#pragma once

#include "weir/metrics/aggregator.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace weir::metrics {

// One backend of a route over one window, as the comparison sees it.
struct BackendWindow {
  std::string service; // "namespace/name"
  uint32_t configured_weight = 0;
  WindowStats stats;
};

// How one backend does against its route's baseline over the same window. The baseline is the
// backend with the highest configured weight: the version most traffic is meant to go to.
struct BackendComparison {
  std::string service;
  std::string baseline;
  // Both sides served requests in the window. When false the numbers below are 0 / nullopt:
  // an idle backend's error rate of 0 says nothing about the version.
  bool comparable = false;
  double error_rate_diff = 0; // backend − baseline (0.05: five percentage points worse)
  // backend / baseline; 1 when both are 0; nullopt when only the baseline's is 0 (no finite
  // ratio says "errors where the baseline has none").
  std::optional<double> error_rate_ratio;
  double p99_diff_ms = 0;          // backend − baseline
  std::optional<double> p99_ratio; // backend / baseline; nullopt when the baseline's p99 is 0
};

// Index of the baseline: the highest configured weight, the first listed on a tie; -1 when
// `backends` is empty.
int baseline_index(const std::vector<BackendWindow>& backends);

// Every backend except the baseline compared with it, in the order given; empty for fewer than
// two backends. A pure function: the admin listener, `watch` and the rollout analysis share it.
std::vector<BackendComparison> compare_backends(const std::vector<BackendWindow>& backends);

} // namespace weir::metrics
