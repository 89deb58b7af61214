#include "weir/rollout/analysis.h"

#include <gtest/gtest.h>

// analysis.max_divergence: the canary's mirrored answers against stable's, less the noise two
// stable endpoints show, judged once an interval compared enough of them.
namespace weir::rollout {
namespace {

mirror::DivergenceCounts counts(uint64_t compared, uint64_t diverged, uint64_t noise_compared = 0,
                                uint64_t noise_diverged = 0) {
  return {compared, diverged, noise_compared, noise_diverged};
}

TEST(RolloutDivergence, MinimumComparedIsWhatOneDivergenceAloneStaysWithin) {
  EXPECT_EQ(min_compared(0.01, 200), 100u); // one of 100 is 1 %: exactly the limit
  EXPECT_EQ(min_compared(0.10, 200), 20u);  // never fewer than 20
  EXPECT_EQ(min_compared(0.5, 200), 20u);
  EXPECT_EQ(min_compared(0.001, 200), 200u); // capped by min_requests
  EXPECT_EQ(min_compared(0, 200), 200u);     // nothing may differ: as much as min_requests asks
  EXPECT_EQ(min_compared(0.001, 5), 20u);    // a min_requests under 20 still needs 20
  EXPECT_EQ(min_compared(0.03, 200), 34u);
}

TEST(RolloutDivergence, FailsAboveTheLimitAndNamesRateNoiseAndTheLastRequest) {
  mirror::Divergence last{"GET", "/price?id=7", "json field price", {}};
  auto v = analyze_divergence(counts(200, 10, 50, 0), 0.01, 100, &last);
  EXPECT_EQ(v.outcome, Outcome::fail);
  EXPECT_DOUBLE_EQ(v.rate, 0.05);
  EXPECT_DOUBLE_EQ(v.noise, 0);
  EXPECT_EQ(v.reason, "divergence 5.00% (10 of 200 compared answers differ, noise 0.00% of 50) > "
                      "max 1.00%; last: GET /price?id=7: json field price");
}

TEST(RolloutDivergence, NoiseIsSubtracted) {
  // 6 % of the canary's answers differ, but so do 5 % of two stable endpoints' answers: what
  // the canary changed is 1 %, within the limit.
  auto v = analyze_divergence(counts(400, 24, 100, 5), 0.01, 100, nullptr);
  EXPECT_EQ(v.outcome, Outcome::pass) << v.reason;
  EXPECT_NEAR(v.divergence, 0.01, 1e-12);
  EXPECT_EQ(v.reason, "divergence 1.00% (24 of 400 compared answers differ, noise 5.00% of 100)");
  // Without noise pairs the noise is 0, not unknown.
  v = analyze_divergence(counts(400, 24), 0.01, 100, nullptr);
  EXPECT_EQ(v.outcome, Outcome::fail);
  EXPECT_DOUBLE_EQ(v.noise, 0);
  // Noisier stable than canary: shown as 0, never as a negative divergence.
  v = analyze_divergence(counts(100, 0, 100, 10), 0, 100, nullptr);
  EXPECT_EQ(v.outcome, Outcome::pass);
  EXPECT_EQ(v.reason, "divergence 0.00% (0 of 100 compared answers differ, noise 10.00% of 100)");
}

TEST(RolloutDivergence, AtTheLimitPassesAndZeroToleratesNothing) {
  EXPECT_EQ(analyze_divergence(counts(100, 1), 0.01, 100, nullptr).outcome, Outcome::pass);
  EXPECT_EQ(analyze_divergence(counts(100, 2), 0.01, 100, nullptr).outcome, Outcome::fail);
  EXPECT_EQ(analyze_divergence(counts(300, 0), 0, 200, nullptr).outcome, Outcome::pass);
  EXPECT_EQ(analyze_divergence(counts(300, 1), 0, 200, nullptr).outcome, Outcome::fail);
}

TEST(RolloutDivergence, TooFewComparedIsInconclusiveWhateverTheyShow) {
  auto v = analyze_divergence(counts(99, 99), 0.01, 100, nullptr);
  EXPECT_EQ(v.outcome, Outcome::inconclusive);
  EXPECT_EQ(v.reason,
            "inconclusive: 1 more compared answers needed for max_divergence (99 of 100)");
  EXPECT_EQ(analyze_divergence(counts(0, 0), 0.01, 100, nullptr).outcome, Outcome::inconclusive);
}

TEST(RolloutDivergence, AnIntervalCountsWhatWasComparedSinceItsStart) {
  auto c = counts_since(counts(1200, 30, 300, 2), counts(1000, 20, 250, 2));
  EXPECT_EQ(c.compared, 200u);
  EXPECT_EQ(c.diverged, 10u);
  EXPECT_EQ(c.noise_compared, 50u);
  EXPECT_EQ(c.noise_diverged, 0u);
  // A tally that went backwards (a new process) counts from zero.
  c = counts_since(counts(40, 1), counts(1000, 20));
  EXPECT_EQ(c.compared, 40u);
  EXPECT_EQ(c.diverged, 1u);
}

} // namespace
} // namespace weir::rollout
