// Fast abort counted on the control thread from the workers' reports (rollout/fast_abort.h): the
// runs of every worker add up to the threshold, a success ends only its own worker's run,
// reports of an older rollout epoch are dropped, and the trip tells the real count and window.
// Time is a ManualClock; no workers or sockets.
#include "weir/base/clock.h"
#include "weir/rollout/fast_abort.h"

#include <chrono>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <vector>

namespace weir::rollout {
namespace {

using namespace std::chrono_literals;

const std::string kRoute = "r";
const std::string kCanary = "app-v2/app";
const std::string kStable = "app-v1/app";

class FastAbortTest : public ::testing::Test {
protected:
  std::optional<FastAbort::Trip> error(unsigned worker, uint32_t threshold = 5,
                                       const std::string& service = kCanary) {
    return counter.error(kRoute, service, worker, counter.epoch(kRoute), threshold, clock.now());
  }

  ManualClock clock;
  FastAbort counter;
};

TEST_F(FastAbortTest, TheSumOfTheWorkersRunsReachesTheThresholdExactly) {
  // Threshold 5 over two workers: the 5th error trips, whichever worker sends it (the old
  // per-worker share, 5 / 2 = 2, tripped at the 2nd error of one worker).
  EXPECT_FALSE(error(0));
  clock.advance(10ms);
  EXPECT_FALSE(error(1));
  clock.advance(10ms);
  EXPECT_FALSE(error(0));
  clock.advance(10ms);
  EXPECT_FALSE(error(1));
  EXPECT_EQ(counter.errors(kRoute, kCanary), 4u);
  clock.advance(15ms);
  auto trip = error(0);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->route, kRoute);
  EXPECT_EQ(trip->service, kCanary);
  EXPECT_EQ(trip->errors, 5u);
  EXPECT_EQ(trip->window, 45ms); // first error to last
  EXPECT_EQ(trip->per_worker, (std::vector<uint32_t>{3, 2}));
}

TEST_F(FastAbortTest, TheTripCountEqualsTheErrorsReported) {
  // Every error is reported and counted once: a trip after N reports says N, for any threshold
  // and any spread over the workers.
  for (uint32_t threshold : {1u, 2u, 3u, 7u, 20u}) {
    FastAbort fresh;
    std::optional<FastAbort::Trip> trip;
    uint32_t reported = 0;
    while (!trip) {
      trip = fresh.error(kRoute, kCanary, reported % 3, 0, threshold, clock.now());
      ++reported;
    }
    EXPECT_EQ(trip->errors, reported) << "threshold " << threshold;
    EXPECT_EQ(trip->errors, threshold);
    uint32_t sum = 0;
    for (uint32_t n : trip->per_worker)
      sum += n;
    EXPECT_EQ(sum, threshold);
  }
}

TEST_F(FastAbortTest, ASuccessEndsOnlyItsOwnWorkersRun) {
  error(0);
  error(0);
  error(1);
  counter.success(kRoute, kCanary, 0, counter.epoch(kRoute));
  EXPECT_EQ(counter.errors(kRoute, kCanary), 1u); // worker 1's run stays
  EXPECT_FALSE(error(1));
  EXPECT_FALSE(error(0));
  EXPECT_FALSE(error(0));
  auto trip = error(1);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->errors, 5u);
  EXPECT_EQ(trip->per_worker, (std::vector<uint32_t>{2, 3}));
}

TEST_F(FastAbortTest, AVersionFailingHalfItsRequestsNeverTrips) {
  for (int i = 0; i < 1000; ++i) {
    unsigned worker = static_cast<unsigned>(i % 2);
    EXPECT_FALSE(error(worker));
    counter.success(kRoute, kCanary, worker, counter.epoch(kRoute));
  }
}

TEST_F(FastAbortTest, VersionsAreCountedApart) {
  for (int i = 0; i < 4; ++i) {
    EXPECT_FALSE(error(0, 5, kCanary));
    EXPECT_FALSE(error(1, 5, kStable));
  }
  EXPECT_EQ(counter.errors(kRoute, kCanary), 4u);
  EXPECT_EQ(counter.errors(kRoute, kStable), 4u);
  auto trip = error(1, 5, kStable);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->service, kStable);
  EXPECT_EQ(counter.errors(kRoute, kCanary), 4u);
}

TEST_F(FastAbortTest, AResetDropsTheRunsAndReportsOfTheOldEpoch) {
  uint64_t before = counter.epoch(kRoute);
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(error(i % 2));
  uint64_t after = counter.reset(kRoute);
  EXPECT_NE(after, before);
  EXPECT_EQ(counter.epoch(kRoute), after);
  EXPECT_EQ(counter.errors(kRoute, kCanary), 0u);
  // Requests still running on a snapshot of the old epoch: their errors do not count.
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(counter.error(kRoute, kCanary, 0, before, 5, clock.now()));
  EXPECT_EQ(counter.errors(kRoute, kCanary), 0u);
  // Nor does their success end a run of the new epoch.
  EXPECT_FALSE(error(1));
  counter.success(kRoute, kCanary, 1, before);
  EXPECT_EQ(counter.errors(kRoute, kCanary), 1u);
  // The new rollout trips after a full run of its own.
  for (int i = 0; i < 3; ++i)
    EXPECT_FALSE(error(0));
  auto trip = error(1);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->errors, 5u);
}

TEST_F(FastAbortTest, ATripClearsTheRunsSoTheNextNeedsAFullRun) {
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(error(i % 2, 5));
  ASSERT_TRUE(error(0, 5));
  EXPECT_EQ(counter.errors(kRoute, kCanary), 0u);
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(error(1, 5));
  auto trip = error(1, 5);
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->errors, 5u);
  EXPECT_EQ(trip->per_worker, (std::vector<uint32_t>{0, 5}));
}

TEST_F(FastAbortTest, TheWindowSpansTheOldestRunToTheLastError) {
  // Worker 0's run is cut by a success; its later error starts a new run. The window starts at
  // the oldest error still in a run.
  error(0);
  clock.advance(100ms);
  counter.success(kRoute, kCanary, 0, counter.epoch(kRoute));
  clock.advance(100ms);
  error(1); // t = 200ms: the oldest error still counted
  clock.advance(50ms);
  error(0);
  clock.advance(50ms);
  error(0);
  clock.advance(30ms);
  auto trip = error(1, 4); // t = 330ms
  ASSERT_TRUE(trip);
  EXPECT_EQ(trip->errors, 4u);
  EXPECT_EQ(trip->window, 130ms);
}

TEST_F(FastAbortTest, ThresholdZeroIsOff) {
  for (int i = 0; i < 100; ++i)
    EXPECT_FALSE(error(0, 0));
  EXPECT_EQ(counter.errors(kRoute, kCanary), 0u);
}

TEST_F(FastAbortTest, RoutesHaveTheirOwnEpochs) {
  counter.reset("other");
  EXPECT_EQ(counter.epoch(kRoute), 0u);
  EXPECT_EQ(counter.epoch("other"), 1u);
  EXPECT_EQ(counter.epochs().size(), 1u);
  EXPECT_FALSE(error(0));
  EXPECT_EQ(counter.errors(kRoute, kCanary), 1u);
}

} // namespace
} // namespace weir::rollout
