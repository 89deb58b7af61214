#pragma once

#include "weir/metrics/aggregator.h"

#include <cstdint>
#include <string>

// Canary analysis: a pure function of two windows of built-in metrics and the thresholds, so
// every verdict can be unit-tested without sockets and explained afterwards.
namespace weir::rollout {

struct Thresholds {
  uint64_t min_requests = 200;            // fewer canary requests → inconclusive, never pass
  double max_error_rate = 0.01;           // absolute, 0..1
  double max_error_rate_increase = 0.005; // canary minus stable, same window
  double max_p99_ms = 500;                // absolute; 0 = no limit
  double max_p99_increase = 0.5;          // relative to stable's p99 (0.5 = +50 %); < 0 = none
  // The relative p99 check needs this absolute difference too: sub-millisecond latencies on a
  // fast network jitter by more than 50 % (a fresh connection alone does that).
  double min_p99_increase_ms = 5;
};

enum class Outcome { pass, fail, inconclusive };
const char* outcome_name(Outcome o);

struct Verdict {
  Outcome outcome = Outcome::inconclusive;
  // One sentence with the measured numbers and the threshold they met or broke, e.g.
  // "error rate 3.10% > max 1.00%" or "inconclusive: 120 more requests needed".
  std::string reason;
  metrics::WindowStats canary;
  metrics::WindowStats stable;
};

// Every threshold is checked; a failure names the first broken one in this order: absolute
// error rate, error-rate increase, absolute p99, p99 increase. Relative checks against a stable
// version with too little traffic of its own are skipped (absolute ones still apply).
Verdict analyze(const metrics::WindowStats& canary, const metrics::WindowStats& stable,
                const Thresholds& thresholds);

} // namespace weir::rollout
