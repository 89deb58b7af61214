// The rollout manager's time-driven decisions on a ManualClock: step plans with timed pauses and
// gates, analysis intervals with their failure and inconclusive limits, operator pause/resume,
// readiness waits, and a restart that resumes with the wall-clock time really left. The host is a
// fake (no workers, no sockets); asio timers are armed but never run: the test moves the clock
// and calls run_due(), as the timers would.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

TEST_F(RolloutManagerTest, TimedPauseEndsExactlyAtItsDurationAndAGateHoldsForever) {
  plan().steps = {set_weight(10), pause(5s), set_weight(50), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(step(), 1);
  EXPECT_EQ(host.canary_weight(), 10);
  EXPECT_EQ(remaining_ms(), 5000);

  advance(4999ms);
  EXPECT_EQ(step(), 1);
  EXPECT_EQ(remaining_ms(), 1);
  EXPECT_EQ(host.canary_weight(), 10);
  advance(1ms);
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(step(), 3);
  EXPECT_EQ(host.canary_weight(), 50);

  // A manual gate does not time out: a day later it still holds, and nothing else moved.
  size_t changes = host.weight_changes.size();
  advance(24h);
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(step(), 3);
  EXPECT_EQ(host.weight_changes.size(), changes);
  EXPECT_EQ(count("promoted"), 0u);
  EXPECT_NE(manager->resume("r"), "") << "a gate is passed by promote, not resume";

  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
  EXPECT_EQ(host.weight_changes.back().second, (Weights{{kStable, 0}, {kCanary, 100}}));
  EXPECT_EQ(count("promoted"), 1u);
  // After the promotion only the check of what still uses the replaced version waits on time
  // (manager_cleanup.cc): once a second.
  EXPECT_EQ(manager->next_due(), clock.now() + 1s);
}

TEST_F(RolloutManagerTest, AnalysisRunsEveryIntervalOnlyWhileTheCanaryHasTraffic) {
  plan().steps = {pause(3s), set_weight(20), pause(2500ms), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(3s); // weight 0 until here: nothing to judge
  EXPECT_TRUE(outcomes().empty());
  EXPECT_EQ(host.canary_weight(), 20);
  advance(2s);
  EXPECT_EQ(outcomes().size(), 2u);
  advance(500ms);
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"pass", "pass"}));
  advance(10s);
  EXPECT_EQ(outcomes().size(), 2u) << "analysis stops with the promotion";
}

TEST_F(RolloutManagerTest, AnalysisStepGoesOnOnlyAfterAPassingInterval) {
  plan().analysis.inconclusive_limit = 10;
  plan().steps = {set_weight(20), analysis(2s), set_weight(100)};
  host.windows[kCanary] = kStarved;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(2s);
  // At the step's end the last verdict was inconclusive: it waits for the next interval.
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(step(), 1);
  advance(500ms);
  host.windows[kCanary] = kHealthy;
  advance(499ms);
  EXPECT_EQ(step(), 1);
  advance(1ms); // 3 s: the interval that passes
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
  std::vector<std::string> seen = outcomes();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_EQ(seen.back(), "pass");
  for (size_t i = 0; i + 1 < seen.size(); ++i)
    EXPECT_EQ(seen[i], "inconclusive");
}

TEST_F(RolloutManagerTest, FailureLimitAbortsAfterThatManyFailedIntervalsInARow) {
  plan().steps = {set_weight(50), pause(60s), set_weight(100)};
  host.windows[kCanary] = kThreePercentErrors;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(status().get_number("failures"), 1);
  // A passing interval in between resets the count.
  host.windows[kCanary] = kHealthy;
  advance(1s);
  EXPECT_EQ(status().get_number("failures"), 0);
  host.windows[kCanary] = kThreePercentErrors;
  advance(1s);
  EXPECT_EQ(phase(), "Progressing");
  advance(1s); // the second failure in a row
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Degraded");
  EXPECT_NE(s.get_string("message").find("analysis failed 2 intervals in a row"), std::string::npos)
      << s.get_string("message");
  EXPECT_NE(s.get_string("message").find("error rate 3.00%"), std::string::npos)
      << s.get_string("message");
  EXPECT_EQ(host.canary_weight(), 0);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"fail", "pass", "fail", "fail"}));
  EXPECT_FALSE(manager->next_due());
  advance(120s);
  EXPECT_EQ(count("promoted"), 0u);
  EXPECT_EQ(count("aborted"), 1u);
}

TEST_F(RolloutManagerTest, SlowCanaryFailsOnP99) {
  plan().steps = {set_weight(50), pause(60s), set_weight(100)};
  host.windows[kCanary] = window(1000, 0, 700);
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(2s);
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Degraded");
  EXPECT_NE(s.get_string("message").find("p99"), std::string::npos) << s.get_string("message");
  EXPECT_NE(s.get_string("message").find("> max 500"), std::string::npos)
      << s.get_string("message");
}

TEST_F(RolloutManagerTest, InconclusiveLimitPausesKeepsTheWeightAndTheTimeLeft) {
  plan().steps = {set_weight(10), pause(10s), set_weight(100)};
  host.windows[kCanary] = kStarved;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(3s); // inconclusive_limit 3 at a 1 s interval
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Paused");
  EXPECT_NE(s.get_string("message").find("3 inconclusive intervals"), std::string::npos)
      << s.get_string("message");
  EXPECT_EQ(s.get_number("inconclusive"), 3);
  EXPECT_EQ(remaining_ms(), 7000);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"inconclusive", "inconclusive", "inconclusive"}));
  for (const auto& e : history()) {
    if (e.get_string("type") == "analysis") {
      EXPECT_NE(e.get_string("message").find("more canary requests needed"), std::string::npos);
    }
  }
  // It stays there, whatever the time: no promotion, no weight change, no more verdicts.
  size_t changes = host.weight_changes.size();
  EXPECT_FALSE(manager->next_due());
  advance(1h);
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(host.canary_weight(), 10);
  EXPECT_EQ(host.weight_changes.size(), changes);
  EXPECT_EQ(outcomes().size(), 3u);
  EXPECT_EQ(remaining_ms(), 7000);

  // Resumed with traffic: the pause goes on with its 7 s.
  host.windows[kCanary] = kHealthy;
  ASSERT_EQ(manager->resume("r"), "");
  EXPECT_EQ(status().get_number("inconclusive"), 0);
  advance(6999ms);
  EXPECT_EQ(step(), 1);
  advance(1ms);
  EXPECT_EQ(phase(), "Healthy");
}

TEST_F(RolloutManagerTest, OperatorPauseStopsTheStepClockAndResumeContinuesWithWhatWasLeft) {
  plan().steps = {set_weight(10), pause(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(4s);
  ASSERT_EQ(manager->pause("r"), "");
  EXPECT_EQ(remaining_ms(), 6000);
  size_t verdicts = outcomes().size();
  advance(100s);
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(remaining_ms(), 6000);
  EXPECT_EQ(outcomes().size(), verdicts) << "no analysis while paused";
  ASSERT_EQ(manager->resume("r"), "");
  advance(5999ms);
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(remaining_ms(), 1);
  advance(1ms);
  EXPECT_EQ(phase(), "Healthy");
}

TEST_F(RolloutManagerTest, PromoteSkipsATimedStep) {
  plan().steps = {set_weight(10), pause(1h), set_weight(40), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_EQ(step(), 3);
  EXPECT_EQ(host.canary_weight(), 40);
  ASSERT_EQ(manager->promote("r", true), "");
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
}

TEST_F(RolloutManagerTest, RestartResumesWithTheWallClockTimeReallyLeft) {
  plan().steps = {set_weight(10), pause(20s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(4s);
  EXPECT_EQ(remaining_ms(), 16000);
  std::string saved = host.saved;
  ASSERT_NE(saved, "");

  // kill -9 (nothing saved at exit), 3 s down; the new process's monotonic clock starts from
  // another origin, so only the wall-clock deadline in the state file can tell what is left.
  manager.reset();
  clock.advance(3s);
  clock.restart_monotonic(Clock::Steady::time_point{} + 7h);
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Progressing");
  EXPECT_EQ(s.get_number("step"), 1);
  EXPECT_EQ(s.get_number("canary_weight"), 10);
  EXPECT_EQ(s.get_string("canary"), kCanary);
  EXPECT_EQ(remaining_ms(), 13000) << "20 s - 4 s before the kill - 3 s down";
  EXPECT_EQ(count("started"), 1u);
  EXPECT_EQ(count("restored"), 1u);
  advance(12999ms);
  EXPECT_EQ(step(), 1);
  advance(1ms);
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
}

TEST_F(RolloutManagerTest, RestartAfterTheDeadlinePassedGoesOnAtOnce) {
  plan().steps = {set_weight(10), pause(5s), set_weight(60), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  std::string saved = host.saved;
  manager.reset();
  clock.advance(1min); // down longer than the pause had left
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(step(), 3);
  EXPECT_EQ(host.canary_weight(), 60);
}

TEST_F(RolloutManagerTest, RestartKeepsAnOperatorPauseWithItsRemainingTime) {
  plan().steps = {set_weight(10), pause(20s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(5s);
  ASSERT_EQ(manager->pause("r"), "");
  std::string saved = host.saved;
  manager.reset();
  clock.advance(10min); // a paused step does not run down while weir is down either
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(remaining_ms(), 15000);
  ASSERT_EQ(manager->resume("r"), "");
  advance(15s);
  EXPECT_EQ(phase(), "Healthy");
}

TEST_F(RolloutManagerTest, UnreadyCanaryIsRefusedThenAStepWaitsForReadinessEverySecond) {
  plan().require_ready = true;
  plan().steps = {pause(2s), set_weight(10), gate(), set_weight(100)};
  host.ready_by_service[kCanary] = false;
  std::string refused = manager->begin("r", "");
  EXPECT_NE(refused.find("not ready"), std::string::npos) << refused;
  EXPECT_NE(refused.find("body does not contain"), std::string::npos) << refused;
  EXPECT_EQ(phase(), "Idle");

  host.ready_by_service[kCanary] = true;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  host.ready_by_service[kCanary] = false; // unready before it gets traffic: the step waits
  advance(1s);
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(host.canary_weight(), 0);
  EXPECT_EQ(count("waiting"), 1u);
  advance(1500ms);
  host.ready_by_service[kCanary] = true;
  advance(499ms);
  EXPECT_EQ(host.canary_weight(), 0);
  advance(1ms); // the next one-second retry
  EXPECT_EQ(host.canary_weight(), 10);
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(count("waiting"), 1u) << "one event for the whole wait";

  // Unready with traffic: the next analysis interval rolls back.
  host.ready_by_service[kCanary] = false;
  ASSERT_EQ(manager->promote("r", false), "");
  advance(1s);
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_NE(status().get_string("message").find("became unready"), std::string::npos);
  EXPECT_EQ(host.canary_weight(), 0);
}

TEST_F(RolloutManagerTest, FastAbortRollsBackOnlyForTheCanary) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  plan().fast_abort_consecutive_errors = 20;
  ASSERT_EQ(manager->begin("r", ""), "");
  manager->on_fast_abort({"r", kStable, 20, 300ms, {12, 8}});
  EXPECT_EQ(phase(), "Paused");
  // The message tells what the control thread counted: the real errors and their window.
  manager->on_fast_abort({"r", kCanary, 21, 340ms, {12, 9}});
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_NE(status().get_string("message").find("fast abort: 21 consecutive errors from " +
                                                kCanary + " in 340 ms"),
            std::string::npos)
      << status().get_string("message");
  EXPECT_EQ(host.canary_weight(), 0);
}

TEST_F(RolloutManagerTest, NextRolloutAfterPromotionStartsFromThePromotedVersion) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->promote("r", false), "");
  ASSERT_EQ(phase(), "Healthy");
  ASSERT_EQ(manager->begin("r", ""), "");
  json::Value s = status();
  EXPECT_EQ(s.get_string("stable"), kCanary);
  EXPECT_EQ(s.get_string("canary"), kStable);
  EXPECT_EQ(host.weight_changes.back().second, (Weights{{kCanary, 90}, {kStable, 10}}));
  // Rolling this one back leaves the promoted version serving.
  ASSERT_EQ(manager->abort("r", "aborted by operator"), "");
  EXPECT_EQ(host.weight_changes.back().second, (Weights{{kCanary, 100}, {kStable, 0}}));
}

TEST_F(RolloutManagerTest, CapacityCapsTheCanaryWeightButNotThePromotion) {
  host.available[kStable] = 4;
  plan().steps = {set_weight(70), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.canary_weight(), 25);
  EXPECT_EQ(count("capped"), 1u);
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_EQ(host.canary_weight(), 100);
}

TEST_F(RolloutManagerTest, EveryEventGoesToTheWebhookWithTheStateItLeftBehind) {
  plan().notify_webhook = "http://127.0.0.1:9/hook";
  plan().steps = {set_weight(50), pause(300ms), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(300ms);
  ASSERT_EQ(phase(), "Healthy");
  std::vector<std::string> types;
  for (const auto& [url, body] : host.webhooks) {
    EXPECT_EQ(url, "http://127.0.0.1:9/hook");
    auto parsed = json::parse(body);
    ASSERT_TRUE(parsed.value) << body;
    EXPECT_EQ(parsed.value->get_string("route"), "r");
    EXPECT_NE(parsed.value->get_string("time"), "");
    types.push_back(parsed.value->get_string("type"));
    if (types.back() == "promoted") {
      EXPECT_EQ(parsed.value->get_string("phase"), "Healthy");
      EXPECT_EQ(parsed.value->get_number("canary_weight"), 100);
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"started", "step", "step", "step", "promoted"}));
}

} // namespace
} // namespace weir::rollout
