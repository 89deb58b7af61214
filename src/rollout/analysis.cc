#include "weir/rollout/analysis.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace weir::rollout {

namespace {
std::string percent(double ratio) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", ratio * 100.0);
  return buf;
}
std::string ms(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1fms", v);
  return buf;
}
} // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
  case Outcome::pass:
    return "pass";
  case Outcome::fail:
    return "fail";
  case Outcome::inconclusive:
    return "inconclusive";
  }
  return "inconclusive";
}

Verdict analyze(const metrics::WindowStats& canary, const metrics::WindowStats& stable,
                const Thresholds& t) {
  Verdict v;
  v.canary = canary;
  v.stable = stable;
  if (canary.requests < t.min_requests) {
    v.outcome = Outcome::inconclusive;
    v.reason = "inconclusive: " + std::to_string(t.min_requests - canary.requests) +
               " more canary requests needed (" + std::to_string(canary.requests) + " of " +
               std::to_string(t.min_requests) + ")";
    return v;
  }
  // The stable side is only a reference when it saw enough traffic itself.
  bool stable_usable = stable.requests >= t.min_requests;
  v.outcome = Outcome::fail;
  if (canary.error_rate > t.max_error_rate) {
    v.reason = "error rate " + percent(canary.error_rate) + " > max " + percent(t.max_error_rate);
    return v;
  }
  if (stable_usable && canary.error_rate - stable.error_rate > t.max_error_rate_increase) {
    v.reason = "error rate " + percent(canary.error_rate) + " is " +
               percent(canary.error_rate - stable.error_rate) + " above stable's " +
               percent(stable.error_rate) + " > max increase " + percent(t.max_error_rate_increase);
    return v;
  }
  if (t.max_p99_ms > 0 && canary.p99_ms > t.max_p99_ms) {
    v.reason = "p99 " + ms(canary.p99_ms) + " > max " + ms(t.max_p99_ms);
    return v;
  }
  if (stable_usable && t.max_p99_increase >= 0 && stable.p99_ms > 0 &&
      canary.p99_ms > stable.p99_ms * (1.0 + t.max_p99_increase) &&
      canary.p99_ms - stable.p99_ms >= t.min_p99_increase_ms) {
    v.reason = "p99 " + ms(canary.p99_ms) + " > stable's " + ms(stable.p99_ms) + " + " +
               percent(t.max_p99_increase);
    return v;
  }
  v.outcome = Outcome::pass;
  v.reason = "pass: " + std::to_string(canary.requests) + " requests, error rate " +
             percent(canary.error_rate) + " (stable " + percent(stable.error_rate) + "), p99 " +
             ms(canary.p99_ms) + " (stable " + ms(stable.p99_ms) + ")";
  return v;
}

uint64_t min_compared(double max_divergence, uint64_t min_requests) {
  constexpr uint64_t kFloor = 20;
  const uint64_t ceiling = std::max(kFloor, min_requests);
  if (max_divergence <= 0) return ceiling;
  const double one_alone = std::ceil(1.0 / max_divergence - 1e-9);
  if (one_alone >= static_cast<double>(ceiling)) return ceiling;
  return std::max(kFloor, static_cast<uint64_t>(one_alone));
}

mirror::DivergenceCounts counts_since(const mirror::DivergenceCounts& now,
                                      const mirror::DivergenceCounts& then) {
  if (now.compared < then.compared || now.noise_compared < then.noise_compared ||
      now.diverged < then.diverged || now.noise_diverged < then.noise_diverged)
    return now;
  return {now.compared - then.compared, now.diverged - then.diverged,
          now.noise_compared - then.noise_compared, now.noise_diverged - then.noise_diverged};
}

DivergenceVerdict analyze_divergence(const mirror::DivergenceCounts& c, double max_divergence,
                                     uint64_t min_compared, const mirror::Divergence* last) {
  DivergenceVerdict v;
  v.counts = c;
  v.min_compared = min_compared;
  auto ratio = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
  };
  v.rate = ratio(c.diverged, c.compared);
  v.noise = ratio(c.noise_diverged, c.noise_compared);
  v.divergence = v.rate - v.noise;
  if (c.compared < min_compared) {
    v.outcome = Outcome::inconclusive;
    v.reason = "inconclusive: " + std::to_string(min_compared - c.compared) +
               " more compared answers needed for max_divergence (" + std::to_string(c.compared) +
               " of " + std::to_string(min_compared) + ")";
    return v;
  }
  const std::string measured = "divergence " + percent(std::max(0.0, v.divergence)) + " (" +
                               std::to_string(c.diverged) + " of " + std::to_string(c.compared) +
                               " compared answers differ, noise " + percent(v.noise) + " of " +
                               std::to_string(c.noise_compared) + ")";
  // A difference of two rates: compare with a little slack for the rounding of each.
  if (v.divergence > max_divergence + 1e-12) {
    v.outcome = Outcome::fail;
    v.reason = measured + " > max " + percent(max_divergence);
    if (last) v.reason += "; last: " + last->method + " " + last->path + ": " + last->what;
    return v;
  }
  v.outcome = Outcome::pass;
  v.reason = measured;
  return v;
}

} // namespace weir::rollout
