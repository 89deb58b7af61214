// Rollouts v2 (issue 10): the manager's gates (hooks), external metrics judged with the built-in
// figures in one verdict, and top-up traffic for thin services. The fake host holds every hook
// call and metric query until the test answers it, as a slow server would.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using Type = config::RolloutHook::Type;

config::RolloutHook hook(const std::string& name, Type type) {
  config::RolloutHook h;
  h.name = name;
  h.type = type;
  h.url = "http://127.0.0.1:1/" + name;
  return h;
}

HookResult answer(int status, std::string message = "") {
  return HookResult{status >= 200 && status < 300, status, 1, std::move(message)};
}

TEST_F(RolloutManagerTest, APreRolloutHookAnswering500RefusesTheStartWithItsReason) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  plan().hooks = {hook("migrations", Type::pre_rollout)};
  std::string result = "no answer";
  ASSERT_EQ(manager->begin("r", "", [&](std::string e) { result = e; }), "");
  ASSERT_EQ(host.hook_calls.size(), 1u);
  EXPECT_EQ(result, "no answer") << "the start waits for the hook";
  EXPECT_EQ(phase(), "Idle");
  EXPECT_TRUE(host.weight_changes.empty()) << "no weight moves before the hook says go";
  EXPECT_NE(manager->begin("r", ""), "") << "one start at a time";
  EXPECT_NE(host.hook_calls[0].body.find("\"type\":\"pre_rollout\""), std::string::npos);

  host.hook_calls[0].done(answer(500, "schema migration 42 pending"));
  EXPECT_EQ(result,
            "start refused: pre_rollout hook migrations: HTTP 500 (schema migration 42 pending)");
  EXPECT_EQ(phase(), "Idle");
  EXPECT_TRUE(host.weight_changes.empty());
  EXPECT_EQ(count("refused"), 1u);

  ASSERT_EQ(manager->begin("r", "", [&](std::string e) { result = e; }), "");
  ASSERT_EQ(host.hook_calls.size(), 2u);
  host.hook_calls[1].done(answer(200));
  EXPECT_EQ(result, "");
  EXPECT_EQ(phase(), "Paused"); // at the gate after set_weight 10
  EXPECT_EQ(host.canary_weight(), 10);
}

TEST_F(RolloutManagerTest, ConfirmPromotionHoldsTheRolloutUntilTheHookAnswers2xx) {
  plan().steps = {set_weight(50)};
  plan().hooks = {hook("qa-signoff", Type::confirm_promotion)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.canary_weight(), 50);
  ASSERT_EQ(host.hook_calls.size(), 1u);
  EXPECT_EQ(status().get_string("waiting_for"), "confirm_promotion");
  host.hook_calls[0].done(answer(403, "not yet"));
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(host.canary_weight(), 50);
  EXPECT_NE(status().get_string("message").find("HTTP 403"), std::string::npos);
  // Asked again each interval; an unchanged refusal is not repeated in the history.
  advance(1s);
  ASSERT_EQ(host.hook_calls.size(), 2u);
  host.hook_calls[1].done(answer(403, "not yet"));
  EXPECT_EQ(count("waiting"), 1u);
  advance(1s);
  ASSERT_EQ(host.hook_calls.size(), 3u);
  host.hook_calls[2].done(answer(200));
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
}

TEST_F(RolloutManagerTest, ConfirmRolloutHoldsTheFirstStep) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  plan().hooks = {hook("window", Type::confirm_rollout)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.canary_weight(), 0);
  EXPECT_EQ(status().get_string("waiting_for"), "confirm_rollout");
  ASSERT_EQ(host.hook_calls.size(), 1u);
  host.hook_calls[0].done(answer(200));
  EXPECT_EQ(host.canary_weight(), 10);
  EXPECT_EQ(count("gate"), 1u);
}

TEST_F(RolloutManagerTest, ARolloutHookFailureIsAFailedIntervalAndARollbackHook2xxAborts) {
  plan().steps = {set_weight(10), analysis(10s), set_weight(100)};
  plan().hooks = {hook("smoke", Type::rollout)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  ASSERT_EQ(host.hook_calls.size(), 1u);
  EXPECT_EQ(count("analysis"), 0u) << "the verdict waits for the hook";
  host.hook_calls[0].done(answer(500, "checkout broken"));
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
  advance(1s);
  ASSERT_EQ(host.hook_calls.size(), 2u);
  host.hook_calls[1].done(answer(500, "checkout broken"));
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_NE(status().get_string("message").find("hook smoke: HTTP 500"), std::string::npos)
      << status().get_string("message");

  host.hook_calls.clear();
  plan().hooks = {hook("big-red-button", Type::rollback)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  ASSERT_EQ(host.hook_calls.size(), 1u);
  host.hook_calls[0].done(answer(404));
  EXPECT_EQ(phase(), "Progressing") << "a rollback hook's refusal changes nothing";
  advance(1s);
  host.hook_calls[1].done(answer(200, "pressed"));
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_NE(status().get_string("message").find("rollback hook big-red-button answered 200"),
            std::string::npos);
}

TEST_F(RolloutManagerTest, PostRolloutHooksHearOfPromotionAndAbort) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  plan().hooks = {hook("notify", Type::post_rollout)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_TRUE(host.hook_calls.empty());
  ASSERT_EQ(manager->promote("r", true), "");
  ASSERT_EQ(host.hook_calls.size(), 1u);
  EXPECT_NE(host.hook_calls[0].body.find("\"phase\":\"Healthy\""), std::string::npos);
  host.hook_calls[0].done(answer(500));
  EXPECT_EQ(phase(), "Healthy") << "post_rollout is informational";
  EXPECT_EQ(count("hook"), 1u);
}

config::AnalysisMetric error_ratio() {
  config::AnalysisMetric m;
  m.name = "error-ratio";
  m.prometheus_address = "http://127.0.0.1:9090";
  m.query = "sum(rate(errors{route=\"{{route}}\",service=\"{{canary}}\"}[1m]))";
  m.success_condition = "result < 0.01";
  m.failure_limit = 2;
  return m;
}

TEST_F(RolloutManagerTest, AFailingExternalMetricAbortsAtItsFailureLimitInOneVerdictAnInterval) {
  plan().steps = {set_weight(10), analysis(10s), set_weight(100)};
  plan().analysis.metrics = {error_ratio()};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  ASSERT_EQ(host.queries.size(), 1u);
  EXPECT_EQ(host.queries[0].query, "sum(rate(errors{route=\"r\",service=\"app-v2/app\"}[1m]))");
  EXPECT_EQ(count("analysis"), 0u);
  host.queries[0].done(MetricValue{true, 0.05, ""});
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
  EXPECT_EQ(history().back().get_string("message"),
            "metric error-ratio = 0.05 fails result < 0.01");
  EXPECT_EQ(phase(), "Progressing") << "failure_limit 2";
  advance(1s);
  ASSERT_EQ(host.queries.size(), 2u);
  host.queries[1].done(MetricValue{true, 0.07, ""});
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_NE(status().get_string("message").find("metric error-ratio failed 2 intervals in a row"),
            std::string::npos)
      << status().get_string("message");
  EXPECT_EQ(count("analysis"), 2u);
}

TEST_F(RolloutManagerTest, AnExternalMetricWithoutAnAnswerIsInconclusiveAndLateAnswersAreDropped) {
  plan().steps = {set_weight(10), analysis(2s), set_weight(100)};
  plan().analysis.metrics = {error_ratio()};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  host.queries[0].done(MetricValue{false, 0, "no data: the query returned an empty vector"});
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"inconclusive"}));
  EXPECT_NE(history().back().get_string("message").find("empty vector"), std::string::npos);
  advance(1s);
  host.queries[1].done(MetricValue{true, 0.001, ""});
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"inconclusive", "pass"}));
  EXPECT_EQ(phase(), "Healthy") << "built-in and metric both pass: the step goes on";

  // An answer for a rollout that ended in between is dropped.
  ASSERT_EQ(manager->begin("r", ""), ""); // the reverse rollout
  advance(1s);
  ASSERT_EQ(host.queries.size(), 3u);
  ASSERT_EQ(manager->abort("r", "test"), "");
  size_t events = history().size();
  host.queries[2].done(MetricValue{true, 0.5, ""});
  EXPECT_EQ(history().size(), events);
}

TEST_F(RolloutManagerTest, TopUpRunsWhileRealCanaryTrafficIsBelowMinRequests) {
  plan().steps = {set_weight(10), analysis(3s), set_weight(100)};
  plan().analysis.top_up.enabled = true;
  plan().analysis.top_up.rate = 20;
  host.windows = {{kStable, window(100, 0)}, {kCanary, window(10, 0)}};
  ASSERT_EQ(manager->begin("r", ""), "");
  // 110 real requests an interval at 10 % is ~11 for the canary, below min_requests 50.
  ASSERT_EQ(host.top_ups.count("r"), 1u);
  EXPECT_EQ(count("top_up"), 1u);
  EXPECT_TRUE(status()["top_up"].get_bool("running"));
  host.synthetic = {{kCanary, window(45, 0)}, {kStable, window(45, 0)}};
  advance(1s);
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"pass"}));
  EXPECT_NE(history().back().get_string("message").find("45 of the canary's 55 requests synthetic"),
            std::string::npos)
      << history().back().get_string("message");
  json::Value last = status()["last_analysis"];
  EXPECT_EQ(last["synthetic"]["canary"].get_number("requests"), 45);
  EXPECT_EQ(last["canary"].get_number("requests"), 55);
  // Real traffic grows: top-up stops.
  host.windows[kCanary] = window(500, 0);
  advance(1s);
  EXPECT_EQ(host.top_ups.count("r"), 0u);
  EXPECT_EQ(count("top_up"), 2u);
  // The inconclusive reason says how many canary requests are missing.
  host.synthetic.clear();
  host.windows[kCanary] = window(20, 0);
  advance(1s);
  EXPECT_NE(history().back().get_string("message").find("30 more canary requests needed"),
            std::string::npos)
      << history().back().get_string("message");
}

TEST_F(RolloutManagerTest, AbortCallsOffAStartWaitingOnItsPreRolloutHooks) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  plan().hooks = {hook("slow", Type::pre_rollout)};
  std::string result = "none";
  ASSERT_EQ(manager->begin("r", "", [&](std::string e) { result = e; }), "");
  EXPECT_TRUE(status().get_bool("starting"));
  ASSERT_EQ(manager->abort("r", "aborted by operator"), "");
  EXPECT_FALSE(status().get_bool("starting"));
  // The hook's late 2xx starts nothing; the caller hears the start was called off.
  host.hook_calls[0].done(answer(200));
  EXPECT_NE(result.find("start cancelled"), std::string::npos) << result;
  EXPECT_EQ(phase(), "Idle");
  EXPECT_TRUE(host.weight_changes.empty());
}

TEST_F(RolloutManagerTest, SkippedIntervalsAreOneEventAndARollbackHooks2xxIsTheVerdict) {
  plan().steps = {set_weight(10), analysis(60s), set_weight(100)};
  plan().hooks = {hook("button", Type::rollback)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s); // asked; no answer for a while
  advance(10s);
  EXPECT_EQ(count("skipped"), 1u) << "ten skipped intervals, one event";
  host.hook_calls[0].done(answer(200, "pressed"));
  EXPECT_EQ(phase(), "Degraded");
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
  for (const auto& e : history()) {
    if (e.get_string("type") != "analysis") continue;
    EXPECT_NE(e.get_string("message").find("rollback hook button answered 200"), std::string::npos);
  }
}

TEST_F(RolloutManagerTest, APlanRemovedAndAddedAgainStartsFromThePlansVersions) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->promote("r", true), "");
  ASSERT_EQ(manager->begin("r", ""), ""); // the reverse rollout: stable app-v2
  plan().enabled = false;
  manager->on_reload();
  plan().enabled = true;
  manager->on_reload();
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Idle");
  EXPECT_EQ(s.get_string("stable"), kStable) << "no stale roles";
  EXPECT_EQ(s.get_string("canary"), kCanary);
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(status().get_string("stable"), kStable);
}

} // namespace
} // namespace weir::rollout
