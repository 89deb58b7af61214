// The drain schedule at explicit times: none before the delay, then evenly over the window, all
// at once without one, and two workers' phases interleaving.
#include "weir/runtime/drain_schedule.h"

#include <gtest/gtest.h>
#include <set>

namespace weir::runtime {
namespace {

using namespace std::chrono_literals;
using Clock = DrainSchedule::Clock;

const Clock::time_point t0 = Clock::time_point{} + 1000h;

TEST(DrainSchedule, NoneBeforeTheDelayThenEvenlyOverTheWindow) {
  DrainSchedule s(t0, 1s, 2s, 4);
  EXPECT_EQ(s.count(), 4u);
  EXPECT_EQ(s.due(t0), 0u);
  EXPECT_EQ(s.due(t0 + 999ms), 0u);
  EXPECT_EQ(s.at(0), t0 + 1s);
  EXPECT_EQ(s.due(t0 + 1s), 1u);
  EXPECT_EQ(s.at(1), t0 + 1500ms);
  EXPECT_EQ(s.at(2), t0 + 2s);
  EXPECT_EQ(s.at(3), t0 + 2500ms);
  EXPECT_EQ(s.due(t0 + 1499ms), 1u);
  EXPECT_EQ(s.due(t0 + 1500ms), 2u);
  EXPECT_EQ(s.due(t0 + 2499ms), 3u);
  EXPECT_EQ(s.due(t0 + 2500ms), 4u);
  EXPECT_EQ(s.due(t0 + 1h), 4u);
}

TEST(DrainSchedule, TwentyOverTwoSecondsAreAHundredMillisecondsApart) {
  DrainSchedule s(t0, 0s, 2s, 20);
  for (size_t k = 0; k < 20; ++k) {
    EXPECT_EQ(s.at(k), t0 + k * 100ms) << k;
    EXPECT_EQ(s.due(s.at(k)), k + 1) << k;
  }
  EXPECT_LT(s.at(19), t0 + 2s); // all inside the window
}

TEST(DrainSchedule, NoWindowClosesAllAtTheDelay) {
  DrainSchedule s(t0, 3s, 0s, 7);
  EXPECT_EQ(s.due(t0 + 3s - 1ns), 0u);
  EXPECT_EQ(s.due(t0 + 3s), 7u);
  DrainSchedule now(t0, 0s, 0s, 5);
  EXPECT_EQ(now.due(t0), 5u);
}

TEST(DrainSchedule, PhasesInterleaveTwoWorkersSlots) {
  DrainSchedule first(t0, 0s, 2s, 2, 0.0), second(t0, 0s, 2s, 2, 0.5);
  std::set<Clock::time_point> times = {first.at(0), first.at(1), second.at(0), second.at(1)};
  EXPECT_EQ(times, (std::set<Clock::time_point>{t0, t0 + 500ms, t0 + 1s, t0 + 1500ms}));
  EXPECT_EQ(second.due(t0 + 499ms), 0u);
  EXPECT_EQ(second.due(t0 + 500ms), 1u);
}

TEST(DrainSchedule, NothingToCloseAndNegativeTimes) {
  DrainSchedule none(t0, 1s, 1s, 0);
  EXPECT_EQ(none.due(t0 + 1h), 0u);
  DrainSchedule clamped(t0, -5s, -1s, 3);
  EXPECT_EQ(clamped.due(t0), 3u); // a negative delay or window is none
}

} // namespace
} // namespace weir::runtime
