// Rollouts v2 (issue 10), the manager's side of "what the status says is what traffic gets":
// one owner of a route's weights at a time, status from the live split, one event per verdict,
// fast-abort runs reset at a start, restart and undo, the roles after an abort, unknown routes,
// and the weir_rollout_* metrics. Each test failed on the manager before the change.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;

TEST_F(RolloutManagerTest, IdleStatusReportsTheSplitTrafficGetsFromTheConfig) {
  host.cfg.routes[0].backends[0].weight = 90;
  host.cfg.routes[0].backends[1].weight = 10;
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Idle");
  EXPECT_EQ(s.get_number("canary_weight"), 10) << "the config gives the canary 10 %";
  EXPECT_EQ(s.get_string("weights_from"), "config");
  ASSERT_EQ(s["split"].as_array().size(), 2u);
  EXPECT_DOUBLE_EQ(s["split"].as_array()[1].get_number("share"), 0.1);
}

TEST_F(RolloutManagerTest, OperatorWeightsAreRefusedDuringARolloutUnlessForcedWhichPauses) {
  plan().steps = {set_weight(10), pause(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  std::string refused = manager->guard_weights("r", false, "set weight r app-v2/app=50");
  EXPECT_NE(refused.find("belong to the plan"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
  EXPECT_EQ(phase(), "Progressing");

  EXPECT_EQ(manager->guard_weights("r", true, "set weight r app-v1/app=50 app-v2/app=50 --force"),
            "");
  host.operator_weights["r"] = {{kStable, 50}, {kCanary, 50}}; // what the controller then does
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(count("override"), 1u);
  EXPECT_NE(history().back().get_string("message").find("app-v2/app=50"), std::string::npos);
  // The status says what traffic gets, and where the plan stood.
  json::Value s = status();
  EXPECT_EQ(s.get_number("canary_weight"), 50);
  EXPECT_EQ(s.get_number("plan_weight"), 10);
  EXPECT_EQ(s.get_string("weights_from"), "operator");
  // A paused timed step keeps its time while the operator holds the weights.
  advance(1h);
  EXPECT_EQ(step(), 1);

  // Resume: the plan takes its weights back, and says so.
  ASSERT_EQ(manager->resume("r"), "");
  EXPECT_TRUE(host.operator_weights.empty());
  EXPECT_EQ(count("weights"), 1u);
  EXPECT_EQ(status().get_number("canary_weight"), 10);

  // Outside a rollout the operator owns the weights: nothing to refuse.
  ASSERT_EQ(manager->abort("r", "test"), "");
  EXPECT_EQ(manager->guard_weights("r", false, "clear weight r"), "");
}

TEST_F(RolloutManagerTest, AfterAnAbortTheRolloutsWeightsKeepTheCanaryAtZero) {
  host.cfg.routes[0].backends[0].weight = 90;
  host.cfg.routes[0].backends[1].weight = 10;
  plan().steps = {set_weight(20), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->abort("r", "test"), "");
  // No operator override: the route's split is the rollout's, canary 0 (not the config's 10).
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Degraded");
  EXPECT_EQ(s.get_number("canary_weight"), 0);
  EXPECT_EQ(s.get_string("weights_from"), "rollout");
}

TEST_F(RolloutManagerTest, AnAnalysisStepsEndRecordsOneVerdictPerInterval) {
  plan().steps = {set_weight(10), analysis(2s), set_weight(100)};
  host.windows[kCanary] = kStarved;
  ASSERT_EQ(manager->begin("r", ""), "");
  // Intervals at 1 s and 2 s; at 2 s the step's time is over too: still one verdict.
  advance(2s);
  EXPECT_EQ(count("analysis"), 2u);
  EXPECT_EQ(phase(), "Progressing") << "inconclusive_limit 3 is not reached after 2 intervals";
  EXPECT_EQ(status().get_number("inconclusive"), 2);
  advance(1s);
  EXPECT_EQ(count("analysis"), 3u);
  EXPECT_EQ(phase(), "Paused");
  // Every verdict has its own time.
  std::vector<std::string> times;
  for (const auto& e : history())
    if (e.get_string("type") == "analysis") times.push_back(e.get_string("time"));
  EXPECT_NE(times[0], times[1]);
  EXPECT_NE(times[1], times[2]);
}

TEST_F(RolloutManagerTest, AnAnalysisStepsLastIntervalIsJudgedBeforeItGoesOn) {
  // Intervals end at 1 s and 2 s, and so does the step: the pass at 1 s judged only the first
  // second, so the step goes on after the verdict on the second, whichever wakes first.
  plan().steps = {set_weight(10), analysis(2s), set_weight(100)};
  host.windows[kCanary] = kHealthy;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(1s);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"pass"}));
  advance(1s);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"pass", "pass"}));
  EXPECT_EQ(phase(), "Healthy");
}

TEST_F(RolloutManagerTest, AStepThatEndsBetweenIntervalsWaitsForTheIntervalItEndsIn) {
  // The intervals run from the start (1 s, 2 s, 3 s); the analysis step runs from 0.5 s to
  // 2.5 s. The pass at 2 s says nothing of 2-2.5 s: the verdict at 3 s decides.
  plan().steps = {set_weight(10), pause(500ms), analysis(2s), set_weight(100)};
  host.windows[kCanary] = kHealthy;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(2s);
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"pass", "pass"}));
  host.windows[kCanary] = kThreePercentErrors;
  advance(500ms);
  EXPECT_EQ(step(), 2) << status().get_string("message");
  EXPECT_NE(phase(), "Healthy");
  advance(500ms);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"pass", "pass", "fail"}));
  EXPECT_NE(phase(), "Healthy");
  host.windows[kCanary] = kHealthy;
  advance(1s);
  EXPECT_EQ(phase(), "Healthy") << "the next passing interval moves on";
}

TEST_F(RolloutManagerTest, AnAnalysisStepGoesOnAtTheFirstPassingIntervalAfterItsEnd) {
  plan().steps = {set_weight(10), analysis(2s), set_weight(100)};
  host.windows[kCanary] = kStarved;
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(2s);
  EXPECT_EQ(step(), 1);
  EXPECT_NE(status().get_string("message").find("waiting for a passing interval"),
            std::string::npos);
  host.windows[kCanary] = kHealthy;
  advance(1s);
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"inconclusive", "inconclusive", "pass"}));
}

TEST_F(RolloutManagerTest, EveryStartResetsTheWorkersFastAbortRuns) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.fast_abort_resets, 1);
  ASSERT_EQ(manager->abort("r", "test"), "");
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.fast_abort_resets, 2);
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_EQ(host.fast_abort_resets, 3);
}

TEST_F(RolloutManagerTest, AStartAfterAnAbortKeepsTheVersionThatServesAsStable) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->promote("r", true), "");
  ASSERT_EQ(phase(), "Healthy"); // app-v2 serves
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(status().get_string("stable"), kCanary) << "the reverse start";
  ASSERT_EQ(manager->abort("r", "test"), "");
  EXPECT_EQ(host.weight_changes.back().second, (Weights{{kCanary, 100}, {kStable, 0}}));
  // app-v2 still serves: it stays stable, and app-v1 is tried again as canary, from 0.
  size_t before = host.weight_changes.size();
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(status().get_string("stable"), kCanary);
  EXPECT_EQ(status().get_string("canary"), kStable);
  ASSERT_GT(host.weight_changes.size(), before);
  EXPECT_EQ(host.weight_changes[before].second, (Weights{{kCanary, 100}, {kStable, 0}}));
}

TEST_F(RolloutManagerTest, RestartRunsTheSameRolloutFromItsFirstStep) {
  plan().steps = {set_weight(10), pause(5s), set_weight(50), gate(), set_weight(100)};
  EXPECT_NE(manager->restart("r"), "") << "nothing to restart before a start";
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(5s);
  ASSERT_EQ(step(), 3);
  ASSERT_EQ(host.canary_weight(), 50);
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_EQ(phase(), "Progressing");
  EXPECT_EQ(step(), 1);
  EXPECT_EQ(host.canary_weight(), 10);
  EXPECT_EQ(remaining_ms(), 5000);
  EXPECT_EQ(count("restarted"), 1u);
  // After an abort too, with the same versions.
  ASSERT_EQ(manager->abort("r", "test"), "");
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_EQ(status().get_string("canary"), kCanary);
  EXPECT_EQ(host.canary_weight(), 10);
}

TEST_F(RolloutManagerTest, UndoGivesThePromotedRouteBackToThePreviousStable) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  EXPECT_NE(manager->undo("r").find("nothing to undo"), std::string::npos);
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_NE(manager->undo("r").find("rollout abort"), std::string::npos)
      << "a running rollout is rolled back with abort";
  ASSERT_EQ(manager->promote("r", true), "");
  ASSERT_EQ(host.canary_weight(), 100);
  ASSERT_EQ(manager->undo("r"), "");
  EXPECT_EQ(host.weight_changes.back().second, (Weights{{kStable, 100}, {kCanary, 0}}));
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_EQ(count("undone"), 1u);
  EXPECT_NE(manager->undo("r"), "");
  // The next start tries the undone version again.
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(status().get_string("stable"), kStable);
  EXPECT_EQ(status().get_string("canary"), kCanary);
}

TEST_F(RolloutManagerTest, UnknownRoutesAreNamedAsUnknown) {
  for (const std::string& err :
       {manager->begin("nosuch", ""), manager->pause("nosuch"), manager->resume("nosuch"),
        manager->promote("nosuch", false), manager->abort("nosuch", "x"), manager->undo("nosuch"),
        manager->restart("nosuch")})
    EXPECT_EQ(err, "unknown route \"nosuch\"");
  config::Route plain;
  plain.name = "plain";
  host.cfg.routes.push_back(plain);
  EXPECT_EQ(manager->pause("plain"), "route \"plain\" has no rollout plan");
  EXPECT_EQ(manager->status_json("nosuch"), "");
}

TEST_F(RolloutManagerTest, RolloutStateIsInTheMetrics) {
  plan().steps = {set_weight(10), pause(5s), set_weight(100)};
  std::string idle;
  manager->write_metrics(idle);
  EXPECT_NE(idle.find("weir_rollout_phase{route=\"r\",phase=\"Idle\"} 1\n"), std::string::npos)
      << idle;
  EXPECT_NE(idle.find("weir_rollout_step{route=\"r\"} 0\n"), std::string::npos);
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(2s);
  std::string out;
  manager->write_metrics(out);
  EXPECT_NE(out.find("# TYPE weir_rollout_phase gauge\n"), std::string::npos);
  EXPECT_NE(out.find("weir_rollout_phase{route=\"r\",phase=\"Progressing\"} 1\n"),
            std::string::npos);
  EXPECT_NE(out.find("weir_rollout_phase{route=\"r\",phase=\"Idle\"} 0\n"), std::string::npos);
  EXPECT_NE(out.find("weir_rollout_canary_weight{route=\"r\"} 10\n"), std::string::npos) << out;
  EXPECT_NE(out.find("weir_rollout_step{route=\"r\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("weir_rollout_analysis_total{route=\"r\",outcome=\"pass\"} 2\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("weir_rollout_analysis_total{route=\"r\",outcome=\"fail\"} 0\n"),
            std::string::npos);
}

TEST_F(RolloutManagerTest, AnAbortDropsAnOperatorsForcedWeights) {
  plan().steps = {set_weight(10), pause(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->guard_weights("r", true, "set weight r app-v2/app=50 --force"), "");
  host.operator_weights["r"] = {{kStable, 50}, {kCanary, 50}};
  // The canary fails while the operator holds the weights: the abort must take its traffic.
  manager->on_fast_abort({"r", kCanary, 5, 40ms, {5}});
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_TRUE(host.operator_weights.empty());
  EXPECT_EQ(status().get_number("canary_weight"), 0);
}

TEST_F(RolloutManagerTest, FastAbortReportsRunOnlyWhileARolloutRuns) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  EXPECT_TRUE(host.fast_abort_on.empty());
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.fast_abort_on.count("r"), 1u) << "also while paused at the gate";
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_TRUE(host.fast_abort_on.empty());
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->abort("r", "test"), "");
  EXPECT_TRUE(host.fast_abort_on.empty());
}

TEST_F(RolloutManagerTest, AReloadThatRemovesThePlanEndsTheRolloutAndItsTopUp) {
  plan().steps = {set_weight(10), pause(10s), set_weight(100)};
  plan().analysis.top_up.enabled = true;
  host.windows = {{kStable, window(10, 0)}, {kCanary, window(1, 0)}};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(host.top_ups.count("r"), 1u);
  plan().enabled = false;
  manager->on_reload();
  EXPECT_TRUE(host.top_ups.empty()) << "no synthetic traffic for a rollout that is gone";
  EXPECT_TRUE(host.fast_abort_on.empty());
  EXPECT_FALSE(manager->next_due()) << "no timer left";
  EXPECT_TRUE(host.weight_changes.back().second.empty()) << "the config's weights again";
  EXPECT_EQ(history().back().get_string("type"), "aborted");
  EXPECT_NE(history().back().get_string("message").find("plan was removed"), std::string::npos);
  // Back with a plan, the route is Idle and follows the config.
  plan().enabled = true;
  manager->on_reload();
  EXPECT_EQ(phase(), "Idle");
  EXPECT_EQ(status().get_string("weights_from"), "config");
}

TEST_F(RolloutManagerTest, AReloadThatChangesTheStepsHoldsARunningRollout) {
  plan().steps = {set_weight(10), pause(10s), set_weight(50), pause(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(10s);
  ASSERT_EQ(step(), 3);
  plan().steps = {set_weight(10), set_weight(100)}; // shorter: step 4 is past its end
  manager->on_reload();
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(host.canary_weight(), 50) << "no jump to 100 %";
  EXPECT_NE(status().get_string("message").find("rollout restart"), std::string::npos);
  // Neither resume nor a step-promote may walk into a plan that moved: restart, promote
  // --full or abort.
  EXPECT_NE(manager->resume("r").find("steps changed"), std::string::npos);
  EXPECT_NE(manager->promote("r", false).find("steps changed"), std::string::npos);
  EXPECT_EQ(host.canary_weight(), 50);
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_EQ(phase(), "Healthy") << "the new plan from step 1: 10 %, then 100 %";
  // A reload that leaves the steps alone changes nothing.
  size_t events = history().size();
  manager->on_reload();
  EXPECT_EQ(history().size(), events);
}

TEST_F(RolloutManagerTest, WeirRestartedWithOtherStepsHoldsTheRollout) {
  plan().steps = {set_weight(10), analysis(20s), set_weight(50), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(host.canary_weight(), 10);
  manager.reset(); // weir dies; the state file stays
  plan().steps = {set_weight(5)};
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(host.canary_weight(), 10) << "not promoted by a one-step plan";
  EXPECT_NE(status().get_string("message").find("steps differ"), std::string::npos)
      << status().get_string("message");
  EXPECT_NE(manager->resume("r"), "");
  // The same plan after a restart goes on where it was (RestartResumes… tests that too).
  manager.reset();
  plan().steps = {set_weight(5)};
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(phase(), "Paused") << "still held: nothing was decided";
}

TEST_F(RolloutManagerTest, AStartWaitingOnItsHooksChangesNoRolesAndBlocksUndo) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(manager->promote("r", true), ""); // app-v2 serves
  config::RolloutHook pre;
  pre.name = "pre";
  pre.type = config::RolloutHook::Type::pre_rollout;
  plan().hooks = {pre};
  std::string result = "none";
  ASSERT_EQ(manager->begin("r", "", [&](std::string e) { result = e; }), "");
  ASSERT_EQ(host.hook_calls.size(), 1u);
  // The hook hears of the reverse rollout; the state keeps the promoted roles meanwhile.
  EXPECT_NE(host.hook_calls[0].body.find("\"stable\":\"" + kCanary + "\""), std::string::npos);
  EXPECT_EQ(status().get_string("stable"), kStable);
  EXPECT_EQ(status().get_string("canary"), kCanary);
  EXPECT_NE(manager->undo("r"), "") << "not while a start waits";
  host.hook_calls[0].done(HookResult{false, 500, 1, "no"});
  EXPECT_NE(result.find("start refused"), std::string::npos);
  EXPECT_EQ(phase(), "Healthy");
  ASSERT_EQ(manager->undo("r"), "");
  EXPECT_EQ(host.weight_changes.back().second, (Weights{{kStable, 100}, {kCanary, 0}}));
}

TEST_F(RolloutManagerTest, AnAnswerAboutAnEndedRolloutIsNotRecorded) {
  plan().steps = {set_weight(50)};
  config::RolloutHook confirm;
  confirm.name = "qa";
  confirm.type = config::RolloutHook::Type::confirm_promotion;
  plan().hooks = {confirm};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(host.hook_calls.size(), 1u);
  ASSERT_EQ(manager->abort("r", "test"), "");
  size_t events = history().size();
  host.hook_calls[0].done(HookResult{true, 200, 1, ""});
  EXPECT_EQ(history().size(), events);
  EXPECT_EQ(phase(), "Degraded");
}

} // namespace
} // namespace weir::rollout
