#include "weir/rollout/analysis.h"

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

} // namespace weir::rollout
