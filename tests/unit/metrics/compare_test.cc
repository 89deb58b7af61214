#include "weir/metrics/compare.h"

#include <gtest/gtest.h>

namespace weir::metrics {
namespace {

BackendWindow backend(std::string service, uint32_t weight, uint64_t requests, double error_rate,
                      double p99_ms) {
  BackendWindow b;
  b.service = std::move(service);
  b.configured_weight = weight;
  b.stats.requests = requests;
  b.stats.errors = static_cast<uint64_t>(error_rate * static_cast<double>(requests));
  b.stats.error_rate = error_rate;
  b.stats.p99_ms = p99_ms;
  return b;
}

TEST(Compare, BaselineIsTheHighestConfiguredWeightFirstOnATie) {
  EXPECT_EQ(baseline_index({}), -1);
  EXPECT_EQ(baseline_index({backend("a/x", 1, 0, 0, 0)}), 0);
  EXPECT_EQ(baseline_index({backend("canary/x", 10, 0, 0, 0), backend("stable/x", 90, 0, 0, 0)}),
            1);
  EXPECT_EQ(baseline_index({backend("a/x", 50, 0, 0, 0), backend("b/x", 50, 0, 0, 0)}), 0);
  EXPECT_EQ(baseline_index({backend("a/x", 0, 0, 0, 0), backend("b/x", 0, 0, 0, 0)}), 0);
}

TEST(Compare, FewerThanTwoBackendsCompareNothing) {
  EXPECT_TRUE(compare_backends({}).empty());
  EXPECT_TRUE(compare_backends({backend("a/x", 1, 100, 0.1, 5)}).empty());
}

TEST(Compare, EachOtherBackendAgainstTheBaseline) {
  // The canary is listed first; the baseline is the heavier stable version.
  auto out = compare_backends({backend("canary/app", 10, 100, 0.05, 30),
                               backend("stable/app", 90, 900, 0.01, 20),
                               backend("other/app", 5, 50, 0.0, 10)});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].service, "canary/app");
  EXPECT_EQ(out[0].baseline, "stable/app");
  EXPECT_TRUE(out[0].comparable);
  EXPECT_NEAR(out[0].error_rate_diff, 0.04, 1e-12);
  ASSERT_TRUE(out[0].error_rate_ratio.has_value());
  EXPECT_NEAR(*out[0].error_rate_ratio, 5.0, 1e-12);
  EXPECT_NEAR(out[0].p99_diff_ms, 10.0, 1e-12);
  ASSERT_TRUE(out[0].p99_ratio.has_value());
  EXPECT_NEAR(*out[0].p99_ratio, 1.5, 1e-12);

  EXPECT_EQ(out[1].service, "other/app");
  EXPECT_NEAR(out[1].error_rate_diff, -0.01, 1e-12);
  EXPECT_NEAR(*out[1].error_rate_ratio, 0.0, 1e-12);
  EXPECT_NEAR(out[1].p99_diff_ms, -10.0, 1e-12);
  EXPECT_NEAR(*out[1].p99_ratio, 0.5, 1e-12);
}

TEST(Compare, ZeroErrorRates) {
  // Both clean: equal, ratio 1.
  auto both = compare_backends({backend("a/x", 2, 100, 0, 10), backend("b/x", 1, 100, 0, 10)});
  ASSERT_EQ(both.size(), 1u);
  EXPECT_EQ(both[0].error_rate_diff, 0.0);
  ASSERT_TRUE(both[0].error_rate_ratio.has_value());
  EXPECT_EQ(*both[0].error_rate_ratio, 1.0);
  EXPECT_EQ(both[0].p99_diff_ms, 0.0);
  EXPECT_EQ(*both[0].p99_ratio, 1.0);
  // Errors where the baseline has none: no finite ratio, the difference still says how much.
  auto worse = compare_backends({backend("a/x", 2, 100, 0, 10), backend("b/x", 1, 100, 0.2, 10)});
  ASSERT_EQ(worse.size(), 1u);
  EXPECT_FALSE(worse[0].error_rate_ratio.has_value());
  EXPECT_NEAR(worse[0].error_rate_diff, 0.2, 1e-12);
}

TEST(Compare, ABackendWithoutRequestsIsNotComparable) {
  for (auto [canary_requests, stable_requests] : {std::pair{0, 100}, {100, 0}, {0, 0}}) {
    auto out = compare_backends({backend("stable/x", 9, stable_requests, 0.01, 20),
                                 backend("canary/x", 1, canary_requests, 0, 0)});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_FALSE(out[0].comparable);
    EXPECT_EQ(out[0].error_rate_diff, 0.0);
    EXPECT_EQ(out[0].p99_diff_ms, 0.0);
    EXPECT_FALSE(out[0].error_rate_ratio.has_value());
    EXPECT_FALSE(out[0].p99_ratio.has_value());
  }
}

TEST(Compare, ZeroBaselineP99HasNoRatio) {
  auto out = compare_backends({backend("a/x", 2, 10, 0, 0), backend("b/x", 1, 10, 0, 3)});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FALSE(out[0].p99_ratio.has_value());
  EXPECT_EQ(out[0].p99_diff_ms, 3.0);
}

} // namespace
} // namespace weir::metrics
