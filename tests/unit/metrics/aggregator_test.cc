#include "weir/metrics/aggregator.h"
#include "weir/metrics/registry.h"

#include <chrono>
#include <cmath>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace weir::metrics {
namespace {

using namespace std::chrono_literals;
using Clock = Aggregator::Clock;

// Two synthetic workers feeding one backend; the test plays the once-a-second merge with its own
// clock, so every window's arithmetic is exact.
class AggregatorTest : public ::testing::Test {
protected:
  const BackendKey key{"app", "app-v1/app"};
  Registry worker_a, worker_b;
  BackendCells* a = worker_a.backend(key);
  BackendCells* b = worker_b.backend(key);
  Aggregator agg;
  Clock::time_point t0 = Clock::time_point{} + 1000h;
  int second = 0;

  // One second of traffic: worker a serves 10 requests (1 upstream error, 1 client error), worker
  // b serves 5; every request takes `latency`. Then the merge samples.
  void tick(uint64_t latency_ns = 1'000'000) {
    for (int i = 0; i < 10; ++i) {
      a->requests.add();
      a->total.record(latency_ns);
    }
    a->upstream_errors.add();
    a->client_errors.add();
    for (int i = 0; i < 5; ++i) {
      b->requests.add();
      b->total.record(latency_ns);
    }
    sample();
  }
  void sample() { agg.sample({&worker_a, &worker_b}, t0 + std::chrono::seconds(++second)); }
};

TEST_F(AggregatorTest, UnknownKeyHasNoWindow) {
  sample();
  EXPECT_FALSE(agg.window({"app", "nope/x"}, 1s).has_value());
  EXPECT_EQ(agg.latest({"app", "nope/x"}), nullptr);
  ASSERT_EQ(agg.keys().size(), 1u);
  EXPECT_EQ(agg.keys()[0], key);
}

TEST_F(AggregatorTest, WindowsSumEveryWorkerOverExactlyTheirLength) {
  sample(); // the baseline: all zero
  for (int i = 0; i < 400; ++i)
    tick();
  for (auto [len, secs] : {std::pair{1s, 1.0}, {10s, 10.0}, {60s, 60.0}, {300s, 300.0}}) {
    auto w = agg.window(key, len);
    ASSERT_TRUE(w.has_value());
    EXPECT_DOUBLE_EQ(w->seconds, secs);
    EXPECT_EQ(w->requests, static_cast<uint64_t>(15 * secs));
    EXPECT_EQ(w->errors, static_cast<uint64_t>(secs));
    EXPECT_EQ(w->client_errors, static_cast<uint64_t>(secs));
    EXPECT_DOUBLE_EQ(w->rps, 15.0);
    EXPECT_DOUBLE_EQ(w->error_rate, 1.0 / 15.0);
    EXPECT_NEAR(w->p50_ms, 1.0, 1.0 / 128);
    EXPECT_NEAR(w->mean_ms, 1.0, 1e-9);
  }
  const BackendTotals* totals = agg.latest(key);
  ASSERT_NE(totals, nullptr);
  EXPECT_EQ(totals->requests, 400u * 15);
  EXPECT_EQ(totals->upstream_errors, 400u);
}

TEST_F(AggregatorTest, ShortHistoryClampsTheWindowToWhatIsKept) {
  sample();
  for (int i = 0; i < 5; ++i)
    tick();
  auto w = agg.window(key, 300s);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(w->seconds, 5.0);
  EXPECT_EQ(w->requests, 75u);
  EXPECT_DOUBLE_EQ(w->rps, 15.0);
  // Between 60 s and 300 s the coarse (10 s) samples serve: 75 s of history.
  for (int i = 0; i < 70; ++i)
    tick();
  w = agg.window(key, 300s);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(w->seconds, 75.0);
  EXPECT_EQ(w->requests, 75u * 15);
}

TEST_F(AggregatorTest, PercentilesAreOfTheWindowNotOfAllTime) {
  sample();
  for (int i = 0; i < 50; ++i)
    tick(1'000'000); // 1 ms
  for (int i = 0; i < 10; ++i)
    tick(20'000'000); // then 20 ms
  auto last10 = agg.window(key, 10s);
  auto last60 = agg.window(key, 60s);
  ASSERT_TRUE(last10 && last60);
  EXPECT_NEAR(last10->p50_ms, 20.0, 20.0 / 128);
  EXPECT_NEAR(last10->p99_ms, 20.0, 20.0 / 128);
  EXPECT_NEAR(last60->p50_ms, 1.0, 1.0 / 128);
  EXPECT_NEAR(last60->p90_ms, 20.0, 20.0 / 128); // 10 of 60 seconds were slow
  EXPECT_NEAR(last60->mean_ms, (50 * 1.0 + 10 * 20.0) / 60, 1e-9);
}

TEST_F(AggregatorTest, IdleWindowHasZeroRatesNotNaN) {
  sample();
  tick();
  for (int i = 0; i < 3; ++i)
    sample(); // no traffic
  auto w = agg.window(key, 1s);
  ASSERT_TRUE(w.has_value());
  EXPECT_EQ(w->requests, 0u);
  EXPECT_EQ(w->rps, 0.0);
  EXPECT_EQ(w->error_rate, 0.0);
  EXPECT_EQ(w->p99_ms, 0.0);
  EXPECT_EQ(w->mean_ms, 0.0);
}

// The merge's timer is late now and then (a busy control thread): every window is as long as the
// samples it spans really are, and its rate is per real second.
TEST_F(AggregatorTest, LateSamplesGiveWindowsTheirRealLength) {
  auto at = t0;
  agg.sample({&worker_a, &worker_b}, at);
  for (int i = 0; i < 20; ++i) {
    for (int r = 0; r < 15; ++r)
      a->requests.add();
    at += 1500ms;
    agg.sample({&worker_a, &worker_b}, at);
  }
  auto one = agg.window(key, 1s);
  ASSERT_TRUE(one.has_value());
  EXPECT_DOUBLE_EQ(one->seconds, 1.5);
  EXPECT_EQ(one->requests, 15u);
  EXPECT_DOUBLE_EQ(one->rps, 10.0);
  auto ten = agg.window(key, 10s);
  ASSERT_TRUE(ten.has_value());
  EXPECT_DOUBLE_EQ(ten->seconds, 10.5); // the newest sample at least 10 s old
  EXPECT_EQ(ten->requests, 7u * 15);
  EXPECT_DOUBLE_EQ(ten->rps, 10.0);
}

// A version that starts serving between two samples (a rollout's canary) is counted from the
// sample before it appeared, so its first window is not empty and not too long.
TEST_F(AggregatorTest, BackendSeenLaterCountsFromThePreviousSample) {
  sample();
  tick();
  const BackendKey canary{"app", "app-v2/app"};
  BackendCells* c = worker_b.backend(canary);
  for (int i = 0; i < 7; ++i)
    c->requests.add();
  c->upstream_errors.add();
  sample();
  auto w = agg.window(canary, 1s);
  ASSERT_TRUE(w.has_value());
  EXPECT_DOUBLE_EQ(w->seconds, 1.0);
  EXPECT_EQ(w->requests, 7u);
  EXPECT_EQ(w->errors, 1u);
  EXPECT_DOUBLE_EQ(w->error_rate, 1.0 / 7);
  // A longer window than its history is clamped to that history.
  auto longer = agg.window(canary, 60s);
  ASSERT_TRUE(longer.has_value());
  EXPECT_DOUBLE_EQ(longer->seconds, 1.0);
  EXPECT_EQ(longer->requests, 7u);
}

// Coarse (10 s) history keeps the 5 min window right however the one-second samples fall: the
// first coarse sample after at least 10 s, not every tenth sample.
TEST_F(AggregatorTest, CoarseSamplesAreTenSecondsApartEvenWhenSamplesDrift) {
  auto at = t0;
  agg.sample({&worker_a, &worker_b}, at);
  for (int i = 0; i < 200; ++i) {
    a->requests.add();
    at += 1300ms; // 260 s in all
    agg.sample({&worker_a, &worker_b}, at);
  }
  auto w = agg.window(key, 120s);
  ASSERT_TRUE(w.has_value());
  EXPECT_GE(w->seconds, 120.0);
  EXPECT_LT(w->seconds, 120.0 + 10.0 + 1.3);
  EXPECT_EQ(w->requests, static_cast<uint64_t>(std::llround(w->seconds / 1.3)));
}

// User and synthetic traffic of one backend, each in its own aggregator sampled at the same
// instants, merge exactly: counters add, and the p99 comes from the merged histogram. The numbers
// are chosen so that the larger of the two p99s (500 ms) is wrong: 200 requests, of which 98 take
// 1 ms, 100 take 10 ms and 2 take 500 ms, have their 198th fastest (the p99) at 10 ms.
TEST(AggregatorMerge, MergedWindowAddsCountsAndTakesP99FromTheMergedHistogram) {
  const BackendKey key{"app", "app-v2/app"};
  Registry user_cells, synthetic_cells;
  BackendCells* user = user_cells.backend(key);
  BackendCells* synthetic = synthetic_cells.backend(key);
  Aggregator users, synthetics;
  const auto t0 = Clock::time_point{} + 1000h;
  users.sample({&user_cells}, t0);
  synthetics.sample({&synthetic_cells}, t0);
  for (int i = 0; i < 100; ++i) {
    user->requests.add();
    user->total.record(10'000'000);
  }
  user->upstream_errors.add();
  for (int i = 0; i < 100; ++i) {
    synthetic->requests.add();
    synthetic->total.record(i < 98 ? 1'000'000 : 500'000'000);
  }
  synthetic->upstream_errors.add(3);
  synthetic->client_errors.add();
  users.sample({&user_cells}, t0 + 1s);
  synthetics.sample({&synthetic_cells}, t0 + 1s);

  auto u = users.window(key, 1s);
  auto s = synthetics.window(key, 1s);
  auto m = Aggregator::merged_window(users, synthetics, key, 1s);
  ASSERT_TRUE(u && s && m);
  EXPECT_NEAR(u->p99_ms, 10.0, 0.1);
  EXPECT_NEAR(s->p99_ms, 500.0, 4.0);
  EXPECT_EQ(m->requests, 200u);
  EXPECT_EQ(m->errors, 4u);
  EXPECT_EQ(m->client_errors, 1u);
  EXPECT_DOUBLE_EQ(m->error_rate, 4.0 / 200);
  EXPECT_DOUBLE_EQ(m->seconds, 1.0);
  EXPECT_DOUBLE_EQ(m->rps, 200.0);
  EXPECT_NEAR(m->p99_ms, 10.0, 0.1);
  EXPECT_NEAR(m->p50_ms, 10.0, 0.1); // the 100th of 200: after the 98 at 1 ms
  EXPECT_NEAR(m->mean_ms, (98 * 1.0 + 100 * 10.0 + 2 * 500.0) / 200, 1e-9);
  // Exactly what one aggregator fed with all 200 requests says.
  Registry both_cells;
  BackendCells* both = both_cells.backend(key);
  Aggregator all;
  all.sample({&both_cells}, t0);
  for (int i = 0; i < 100; ++i)
    both->total.record(10'000'000);
  for (int i = 0; i < 100; ++i)
    both->total.record(i < 98 ? 1'000'000 : 500'000'000);
  both->requests.add(200);
  both->upstream_errors.add(4);
  both->client_errors.add();
  all.sample({&both_cells}, t0 + 1s);
  auto a = all.window(key, 1s);
  ASSERT_TRUE(a);
  EXPECT_EQ(m->p50_ms, a->p50_ms);
  EXPECT_EQ(m->p90_ms, a->p90_ms);
  EXPECT_EQ(m->p99_ms, a->p99_ms);
  EXPECT_EQ(m->p999_ms, a->p999_ms);
}

TEST(AggregatorMerge, OneSidedAndUnknownKeys) {
  const BackendKey key{"app", "app-v2/app"};
  Registry cells;
  Aggregator users, synthetics;
  const auto t0 = Clock::time_point{} + 1000h;
  users.sample({&cells}, t0);
  cells.backend(key)->requests.add(7);
  users.sample({&cells}, t0 + 1s);
  synthetics.sample({}, t0 + 1s);
  // The synthetic side never saw the key: the user side alone, and the other way round.
  auto m = Aggregator::merged_window(users, synthetics, key, 10s);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->requests, 7u);
  auto r = Aggregator::merged_window(synthetics, users, key, 10s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->requests, m->requests);
  EXPECT_FALSE(Aggregator::merged_window(users, synthetics, {"app", "nope/x"}, 10s));
}

} // namespace
} // namespace weir::metrics
