#include "weir/rollout/analysis.h"

#include <gtest/gtest.h>

namespace weir::rollout {
namespace {

metrics::WindowStats window(uint64_t requests, uint64_t errors, double p99_ms) {
  metrics::WindowStats w;
  w.requests = requests;
  w.errors = errors;
  w.error_rate = requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0;
  w.p99_ms = p99_ms;
  w.seconds = 10;
  w.rps = static_cast<double>(requests) / 10.0;
  return w;
}

struct Case {
  const char* name;
  metrics::WindowStats canary;
  metrics::WindowStats stable;
  Outcome outcome;
  const char* reason_contains;
};

TEST(RolloutAnalysis, TableOfVerdicts) {
  Thresholds t; // min 200, error 1 %, +0.5 %, p99 500 ms, +50 %
  const Case cases[] = {
      {"too little traffic", window(120, 0, 10), window(5000, 0, 10), Outcome::inconclusive,
       "inconclusive: 80 more canary requests needed (120 of 200)"},
      {"no traffic at all", window(0, 0, 0), window(0, 0, 0), Outcome::inconclusive,
       "200 more canary requests needed"},
      {"exactly min_requests passes", window(200, 0, 10), window(5000, 0, 10), Outcome::pass,
       "pass: 200 requests"},
      {"healthy", window(1000, 5, 100), window(9000, 40, 90), Outcome::pass, "pass"},
      {"absolute error rate", window(1000, 31, 10), window(9000, 0, 10), Outcome::fail,
       "error rate 3.10% > max 1.00%"},
      {"error rate at the limit passes", window(1000, 10, 10), window(9000, 45, 10), Outcome::pass,
       "pass"},
      {"relative error rate", window(1000, 9, 10), window(9000, 0, 10), Outcome::fail,
       "0.90% above stable's 0.00% > max increase 0.50%"},
      {"relative skipped when stable is too quiet", window(1000, 9, 10), window(50, 0, 10),
       Outcome::pass, "pass"},
      {"absolute p99", window(1000, 0, 650), window(9000, 0, 600), Outcome::fail,
       "p99 650.0ms > max 500.0ms"},
      {"relative p99", window(1000, 0, 160), window(9000, 0, 100), Outcome::fail,
       "p99 160.0ms > stable's 100.0ms + 50.00%"},
      {"p99 increase at the limit passes", window(1000, 0, 150), window(9000, 0, 100),
       Outcome::pass, "pass"},
      {"first broken threshold is named", window(1000, 50, 900), window(9000, 0, 100),
       Outcome::fail, "error rate 5.00% > max 1.00%"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Verdict v = analyze(c.canary, c.stable, t);
    EXPECT_EQ(outcome_name(v.outcome), std::string(outcome_name(c.outcome)));
    EXPECT_NE(v.reason.find(c.reason_contains), std::string::npos) << v.reason;
    EXPECT_EQ(v.canary.requests, c.canary.requests);
  }
}

TEST(RolloutAnalysis, RelativeP99NeedsAnAbsoluteDifferenceToo) {
  Thresholds t; // +50 % and at least 5 ms
  // 1.1 ms against 0.6 ms is +83 % but only 0.5 ms: loopback noise, not a slower version.
  EXPECT_EQ(analyze(window(1000, 0, 1.1), window(9000, 0, 0.6), t).outcome, Outcome::pass);
  EXPECT_EQ(analyze(window(1000, 0, 12), window(9000, 0, 6), t).outcome, Outcome::fail);
}

TEST(RolloutAnalysis, ThresholdsCanBeTurnedOff) {
  Thresholds t;
  t.max_p99_ms = 0;        // no absolute latency limit
  t.max_p99_increase = -1; // no relative one either
  Verdict v = analyze(window(1000, 0, 5000), window(9000, 0, 10), t);
  EXPECT_EQ(v.outcome, Outcome::pass) << v.reason;
}

TEST(RolloutAnalysis, NeverPassesOrFailsOnTooLittleTraffic) {
  Thresholds t;
  for (uint64_t n = 0; n < t.min_requests; n += 7) {
    Verdict bad = analyze(window(n, n, 9000), window(9000, 0, 10), t);
    EXPECT_EQ(bad.outcome, Outcome::inconclusive) << n;
    Verdict good = analyze(window(n, 0, 1), window(9000, 0, 10), t);
    EXPECT_EQ(good.outcome, Outcome::inconclusive) << n;
  }
}

} // namespace
} // namespace weir::rollout
