// Blue/green plans (strategy: blue_green) in the rollout manager: the new version takes only
// preview traffic (its header route at weight 0, top-up) and is judged on it, promotion switches
// 100 % in one change, and the rollback window keeps `rollout undo` one step away. The steps are
// the ones config/blue_green_reader.cc makes (tests/unit/config/blue_green_config_test.cc).
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

const std::string kSecret = "preview-secret-123";

class RolloutBlueGreenTest : public RolloutManagerTest {
protected:
  // preview → analysis (when given) → pause (auto_promotion.after) or a gate (nullopt).
  void blue_green(std::optional<config::Duration> analysis_for,
                  std::optional<config::Duration> after) {
    config::Rollout& p = plan();
    p.strategy = config::Rollout::Strategy::blue_green;
    p.preview_header = "x-preview";
    p.preview_secret = kSecret;
    p.rollback_window = 10min;
    config::RolloutStep preview;
    preview.kind = config::RolloutStep::Kind::set_header_route;
    preview.header_route_name = "preview";
    preview.header_route_secret = true;
    preview.header_route = {{config::ValueMatch::Type::exact, "x-preview", kSecret}};
    p.steps = {preview};
    if (analysis_for) p.steps.push_back(analysis(*analysis_for));
    if (!after || after->count() > 0) p.steps.push_back(pause(after.value_or(0ms)));
  }

  // Every weight the canary was ever given.
  std::vector<uint32_t> canary_weights() {
    std::vector<uint32_t> out;
    for (const auto& [route, weights] : host.weight_changes)
      for (const auto& [svc, w] : weights)
        if (svc == kCanary) out.push_back(w);
    return out;
  }

  bool mentions_secret() {
    if (manager->status_json("r").find(kSecret) != std::string::npos) return true;
    if (manager->history_json("r").find(kSecret) != std::string::npos) return true;
    for (const auto& [url, body] : host.webhooks)
      if (body.find(kSecret) != std::string::npos) return true;
    return false;
  }
};

TEST_F(RolloutBlueGreenTest, PreviewIsJudgedAtWeightZeroThenTheSwitchIsOneChange) {
  blue_green(3s, 0ms);
  plan().notify_webhook = "http://127.0.0.1:9/hook";
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_TRUE(host.header_routes.contains("r"));
  EXPECT_EQ(host.header_routes["r"].first, kCanary);
  EXPECT_EQ(host.header_routes["r"].second[0].second[0].value, kSecret);
  EXPECT_EQ(status().get_string("strategy"), "blue_green");
  EXPECT_EQ(status()["header_routes"].as_array()[0]["headers"].as_array()[0].get_string("value"),
            "(secret)");
  advance(1s);
  // Judged with the canary at 0 %: its preview traffic counts.
  ASSERT_EQ(outcomes().size(), 1u);
  EXPECT_EQ(outcomes()[0], "pass");
  EXPECT_EQ(host.canary_weight(), 0);
  advance(3s);
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(canary_weights(), (std::vector<uint32_t>{0, 100})) << "no step between 0 and 100";
  EXPECT_FALSE(host.header_routes.contains("r")) << "the preview ends with the switch";
  EXPECT_NE(history().back().get_string("message").find("switched to " + kCanary + " at once"),
            std::string::npos);
  EXPECT_FALSE(mentions_secret()) << "status, events and webhooks never show the secret";
}

TEST_F(RolloutBlueGreenTest, AFailingPreviewIsAbortedAndNeverGetsUserTraffic) {
  blue_green(10s, 0ms);
  host.windows[kCanary] = window(1000, 50); // 5 % errors on the preview
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(3s);
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_EQ(count("aborted"), 1u);
  for (uint32_t w : canary_weights())
    EXPECT_EQ(w, 0u) << "a failed preview never took user traffic";
  EXPECT_FALSE(host.header_routes.contains("r"));
}

TEST_F(RolloutBlueGreenTest, WithoutAutoPromotionItWaitsAtAPreviewGate) {
  blue_green(std::nullopt, std::nullopt);
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(phase(), "Paused");
  EXPECT_NE(status().get_string("message").find("previewing " + kCanary), std::string::npos);
  EXPECT_EQ(host.canary_weight(), 0);
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
}

TEST_F(RolloutBlueGreenTest, ThinPreviewTrafficIsToppedUpAtWeightZero) {
  blue_green(10s, 0ms);
  plan().analysis.top_up.enabled = true;
  host.windows[kCanary] = kStarved;
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_TRUE(host.top_ups.contains("r")) << "top-up starts with the preview";
  ASSERT_EQ(manager->abort("r", "test"), "");
  EXPECT_FALSE(host.top_ups.contains("r"));
}

TEST_F(RolloutBlueGreenTest, UndoIsOneStepInsideTheRollbackWindowAndForcedAfter) {
  blue_green(std::nullopt, 0ms);
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(phase(), "Healthy");
  auto window = status()["rollback_window"];
  EXPECT_TRUE(window.get_bool("open"));
  EXPECT_EQ(window.get_number("remaining_ms"), 600000);
  EXPECT_EQ(window.get_string("undo_to"), kStable);
  ASSERT_EQ(manager->undo("r"), "");
  EXPECT_EQ(host.canary_weight(), 0);
  EXPECT_EQ(canary_weights(), (std::vector<uint32_t>{0, 100, 0}));
  EXPECT_EQ(phase(), "Degraded");

  // Again, and this time the window closes first.
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_EQ(phase(), "Healthy");
  advance(10min);
  EXPECT_EQ(count("rollback_window_closed"), 1u);
  EXPECT_FALSE(status()["rollback_window"].get_bool("open"));
  std::string refused = manager->undo("r");
  EXPECT_NE(refused.find("rollback window"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
  EXPECT_EQ(host.canary_weight(), 100);
  ASSERT_EQ(manager->undo("r", true), "");
  EXPECT_EQ(host.canary_weight(), 0);
}

TEST_F(RolloutBlueGreenTest, TheWindowOutlivesARestart) {
  blue_green(std::nullopt, 0ms);
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(4min);
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(status()["rollback_window"].get_number("remaining_ms"), 360000);
  advance(6min);
  EXPECT_FALSE(status()["rollback_window"].get_bool("open"));
}

TEST_F(RolloutBlueGreenTest, TheSecretIsNeverSavedAndComesBackFromThePlan) {
  blue_green(10s, 0ms);
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.saved.find(kSecret), std::string::npos) << "the state file: on disk, shared";
  manager = std::make_unique<Manager>(io, host, clock);
  host.header_routes.clear();
  manager->start();
  ASSERT_TRUE(host.header_routes.contains("r"));
  EXPECT_EQ(host.header_routes["r"].second[0].second[0].value, kSecret) << "from the plan";
  EXPECT_FALSE(mentions_secret());
}

TEST_F(RolloutBlueGreenTest, AReloadThatChangesTheSecretRevokesTheOldOneAtOnce) {
  blue_green(10s, 0ms);
  ASSERT_EQ(manager->begin("r", ""), "");
  plan().steps[0].header_route[0].value = "another-secret-456";
  plan().preview_secret = "another-secret-456";
  manager->on_reload();
  EXPECT_EQ(host.header_routes["r"].second[0].second[0].value, "another-secret-456");
  EXPECT_EQ(count("preview"), 1u);
  EXPECT_EQ(manager->status_json("r").find("another-secret-456"), std::string::npos);

  // The plan becomes a canary plan: the preview ends with the reload, and no secret shows.
  plan().strategy = config::Rollout::Strategy::canary;
  plan().steps = {set_weight(10), gate()};
  manager->on_reload();
  EXPECT_FALSE(host.header_routes.contains("r"));
  EXPECT_EQ(phase(), "Paused") << "the rest of a changed plan waits for the operator";
  EXPECT_EQ(manager->status_json("r").find("another-secret"), std::string::npos);
}

} // namespace
} // namespace weir::rollout
