// rollout.strategy: blue_green and the keys of a cutover (rollback window, tunnels, cleanup,
// rollback drills): the steps a blue/green plan is made of, defaults, and each error message.
#include "load_helpers.h"

#include <gtest/gtest.h>

namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

using Kind = RolloutStep::Kind;

// Lines 1-11; what a test appends starts at line 12, as keys of the rollout map.
std::string plan(std::string_view lines) {
  return std::string(R"(
listeners: [{name: public, address: 127.0.0.1:0}]
services:
  - {namespace: app-v1, name: app, endpoints: [127.0.0.1:9001]}
  - {namespace: app-v2, name: app, endpoints: [127.0.0.1:9002]}
routes:
  - name: r
    listener: public
    backends: [{service: app-v1/app, weight: 100}, {service: app-v2/app, weight: 0}]
    rollout:
      stable: app-v1/app
      canary: app-v2/app
)") + std::string(lines);
}

TEST(BlueGreenConfig, PreviewAnalysisAndAutoPromotionMakeTheSteps) {
  Config c = load_ok(plan(R"(
      strategy: blue_green
      preview: {header: X-Preview, secret: s3cret-preview}
      pre_promotion: {analysis: {duration: 60s}}
      auto_promotion: {after: 30s}
      rollback_window: 15m
)"));
  const Rollout& r = c.routes[0].rollout;
  EXPECT_EQ(r.strategy, Rollout::Strategy::blue_green);
  EXPECT_EQ(r.preview_header, "x-preview");
  EXPECT_EQ(r.preview_secret, "s3cret-preview");
  EXPECT_EQ(r.rollback_window, std::chrono::minutes(15));
  ASSERT_EQ(r.steps.size(), 3u);
  EXPECT_EQ(r.steps[0].kind, Kind::set_header_route);
  EXPECT_EQ(r.steps[0].header_route_name, "preview");
  EXPECT_TRUE(r.steps[0].header_route_secret);
  ASSERT_EQ(r.steps[0].header_route.size(), 1u);
  EXPECT_EQ(r.steps[0].header_route[0].name, "x-preview");
  EXPECT_EQ(r.steps[0].header_route[0].value, "s3cret-preview");
  EXPECT_EQ(r.steps[1].kind, Kind::analysis);
  EXPECT_EQ(r.steps[1].duration, std::chrono::seconds(60));
  EXPECT_EQ(r.steps[2].kind, Kind::pause);
  EXPECT_EQ(r.steps[2].duration, std::chrono::seconds(30));
}

TEST(BlueGreenConfig, DefaultsPromoteOnceThePreviewPassedAndKeepTenMinutes) {
  Config c = load_ok(plan(R"(
      strategy: blue_green
      preview: {header: x-preview, secret: s3cret-preview}
)"));
  const Rollout& r = c.routes[0].rollout;
  ASSERT_EQ(r.steps.size(), 1u) << "no analysis, promoted at once (Argo's autoPromotionEnabled)";
  EXPECT_EQ(r.rollback_window, std::chrono::minutes(10));
  EXPECT_EQ(r.tunnels_drain_over, std::chrono::minutes(5));
  EXPECT_EQ(r.cleanup_grace, std::chrono::minutes(10));
}

TEST(BlueGreenConfig, AutoPromotionFalseIsAManualGate) {
  Config c = load_ok(plan(R"(
      strategy: blue_green
      preview: {header: x-preview, secret: s3cret-preview}
      auto_promotion: false
)"));
  const Rollout& r = c.routes[0].rollout;
  ASSERT_EQ(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[1].kind, Kind::pause);
  EXPECT_EQ(r.steps[1].duration.count(), 0);
}

TEST(BlueGreenConfig, CutoverKeysOfACanaryPlan) {
  Config c = load_ok(plan(R"(
      steps: [{set_weight: 100}]
      rollback_window: 5m
      tunnels: {drain_over: 2m, abort_grace: 10s}
      cleanup: {grace_period: 30m}
      rollback_drill: {every: 1m}
)"));
  const Rollout& r = c.routes[0].rollout;
  EXPECT_EQ(r.strategy, Rollout::Strategy::canary);
  EXPECT_EQ(r.rollback_window, std::chrono::minutes(5));
  EXPECT_EQ(r.tunnels_drain_over, std::chrono::minutes(2));
  EXPECT_EQ(r.tunnels_abort_grace, std::chrono::seconds(10));
  EXPECT_EQ(r.cleanup_grace, std::chrono::minutes(30));
  EXPECT_EQ(r.rollback_drill_every, std::chrono::minutes(1));
  EXPECT_EQ(load_ok(plan("      steps: [{set_weight: 100}]\n")).routes[0].rollout.rollback_window,
            Duration{0})
      << "a canary plan's undo has no window unless given";
}

TEST(BlueGreenConfig, Errors) {
  EXPECT_EQ(errors_of(plan("      strategy: bluegreen\n      steps: [{set_weight: 100}]\n")),
            "t.yaml:12:17: routes[0].rollout.strategy: unknown strategy \"bluegreen\" (did you "
            "mean \"blue_green\"?) (expected canary or blue_green)\n");
  EXPECT_EQ(errors_of(plan("      strategy: blue_green\n")),
            "t.yaml:10:7: routes[0].rollout: missing required key \"preview\"\n");
  EXPECT_EQ(errors_of(plan(R"(
      strategy: blue_green
      preview: {header: x-preview, secret: s3cret-preview}
      steps: [{set_weight: 100}]
)")),
            "t.yaml:15:14: routes[0].rollout.steps: a blue_green plan has no steps: preview, "
            "pre_promotion and auto_promotion make them (strategy: canary takes steps)\n");
  EXPECT_EQ(errors_of(plan(R"(
      strategy: blue_green
      preview: {header: x-preview, secret: short}
)")),
            "t.yaml:14:44: routes[0].rollout.preview.secret: expected 8 to 256 visible "
            "characters, no spaces\n");
  EXPECT_EQ(errors_of(plan(R"(
      steps: [{set_weight: 100}]
      preview: {header: x-preview, secret: s3cret-preview}
)")),
            "t.yaml:14:16: routes[0].rollout.preview: is a key of blue/green plans: add "
            "`strategy: blue_green`\n");
  EXPECT_EQ(errors_of(plan(R"(
      strategy: blue_green
      preview: {header: x-preview, secret: s3cret-preview}
      auto_promotion: true
)")),
            "t.yaml:15:23: routes[0].rollout.auto_promotion: expected {after: 30s} or false, got "
            "\"true\"\n");
  EXPECT_EQ(errors_of(plan(R"(
      strategy: blue_green
      preview: {header: Cookie, secret: s3cret-preview}
)")),
            "t.yaml:14:25: routes[0].rollout.preview.header: cannot be \"cookie\": weir or HTTP "
            "gives it a meaning; use a header of your own, like x-preview\n");
  EXPECT_EQ(errors_of(plan(R"(
      strategy: blue_green
      preview: {header: x-weir-canary, secret: s3cret-preview}
      override: {header: X-Weir-Canary}
)")),
            "t.yaml:14:16: routes[0].rollout.preview: the preview header must differ from the "
            "override header \"X-Weir-Canary\"\n");
  EXPECT_EQ(errors_of(plan("      steps: [{set_weight: 100}]\n      rollback_drill: {every: "
                           "500ms}\n")),
            "t.yaml:13:31: routes[0].rollout.rollback_drill.every: must be at least 1s, got "
            "\"500ms\"\n");
}

} // namespace
} // namespace weir::config
