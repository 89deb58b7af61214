#pragma once

#include "weir/metrics/aggregator.h"
#include "weir/mirror/divergence.h"

#include <cstdint>
#include <string>
#include <vector>

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

// Shadow comparison (analysis.max_divergence): the canary's mirrored answers against the ones
// clients got from stable, over one interval (the difference of two DivergenceBook tallies).
struct DivergenceVerdict {
  Outcome outcome = Outcome::inconclusive;
  // e.g. "divergence 4.50% (9 of 200 compared answers differ, noise 0.00% of 50) > max 1.00%;
  // last: GET /price: json field price"
  std::string reason;
  mirror::DivergenceCounts counts; // of the interval
  double rate = 0;                 // diverged / compared
  double noise = 0;                // noise_diverged / noise_compared; 0 when none compared
  double divergence = 0;           // rate - noise: what is judged
  uint64_t min_compared = 0;
};

// The fewest compared answers an interval needs before max_divergence judges it: enough that
// one diverging answer alone stays within max_divergence (1 / max_divergence), at least 20 (a
// rate from fewer is noise itself) and at most min_requests (max(20, min_requests) when that is
// lower than 20), so a strict threshold does not stall every interval.
uint64_t min_compared(double max_divergence, uint64_t min_requests);

// Fails when (diverged / compared) - (noise_diverged / noise_compared) > max_divergence, with
// at least min_compared compared answers (fewer: inconclusive). `last` (may be null): the most
// recent diverging request, named in a failure's reason.
DivergenceVerdict analyze_divergence(const mirror::DivergenceCounts& interval,
                                     double max_divergence, uint64_t min_compared,
                                     const mirror::Divergence* last);

// What an interval counted: the tally now less the tally at the interval's start (a tally that
// went backwards, a fresh process's, counts from zero).
mirror::DivergenceCounts counts_since(const mirror::DivergenceCounts& now,
                                      const mirror::DivergenceCounts& then);

} // namespace weir::rollout
