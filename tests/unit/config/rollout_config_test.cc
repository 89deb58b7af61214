#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <vector>

// Rollout plans (per route): defaults, every key, and one test per error message.
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

using Kind = RolloutStep::Kind;

RolloutStep step(Kind kind, uint32_t weight, Duration duration) {
  RolloutStep s;
  s.kind = kind;
  s.weight = weight;
  s.duration = duration;
  return s;
}

// Lines 1-13. Lines appended by steps_are() start at line 14 and by rollout_with() at line 15,
// indented as keys of the rollout map.
constexpr std::string_view kHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
  - { namespace: other, name: app, endpoints: [127.0.0.1:9003] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: 100 }, { service: app-v2/app, weight: 0 }]
    rollout:
      stable: app-v1/app
      canary: app-v2/app
)";

std::string steps_are(std::string_view lines) {
  return std::string(kHead) + std::string(lines);
}

std::string rollout_with(std::string_view lines) {
  return std::string(kHead) + "      steps: [{ set_weight: 100 }]\n" + std::string(lines);
}

Rollout rollout_of(const std::string& text) {
  const Config c = load_ok(text);
  return c.routes.empty() ? Rollout{} : c.routes[0].rollout;
}

RolloutAnalysis analysis_of(std::string_view analysis) {
  return rollout_of(rollout_with("      analysis: " + std::string(analysis) + "\n")).analysis;
}

// --- Defaults and round trips ---

TEST(ConfigRollout, AbsentIsDisabled) {
  const Config c = load_ok(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
)");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_FALSE(c.routes[0].rollout.enabled);
  EXPECT_EQ(c.routes[0].rollout, Rollout{});
}

TEST(ConfigRollout, PresentMeansEnabledWithDefaults) {
  const Rollout r = rollout_of(rollout_with(""));
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.stable, "app-v1/app");
  EXPECT_EQ(r.canary, "app-v2/app");
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_EQ(r.steps[0], step(Kind::set_weight, 100, Duration{0}));
  const RolloutAnalysis& a = r.analysis;
  EXPECT_EQ(a, RolloutAnalysis{});
  EXPECT_EQ(a.interval, Duration{5000});
  EXPECT_EQ(a.min_requests, 200u);
  EXPECT_EQ(a.max_error_rate, 0.01);
  EXPECT_EQ(a.max_error_rate_increase, 0.005);
  EXPECT_EQ(a.max_p99_latency, Duration{500});
  EXPECT_EQ(a.max_p99_increase, 0.5);
  EXPECT_EQ(a.failure_limit, 2u);
  EXPECT_EQ(a.inconclusive_limit, 6u);
  EXPECT_EQ(r.fast_abort_consecutive_errors, 0u);
  EXPECT_TRUE(r.require_ready);
  EXPECT_EQ(r.affinity_cookie, "");
  EXPECT_EQ(r.affinity_max_age, Duration{3600000});
  EXPECT_EQ(r.override_header, "");
  EXPECT_EQ(r.notify_webhook, "");
  EXPECT_EQ(r.max_canary_share_of_capacity, 100u);
}

TEST(ConfigRollout, EveryKeyRoundTrips) {
  const Rollout r = rollout_of(steps_are(R"(      steps:
        - set_weight: 10
        - pause: { duration: 30s }
        - pause: {}
        - analysis: { duration: 60s }
        - set_weight: 0
        - pause:
        - pause: null
        - set_weight: 100
      analysis:
        interval: 10s
        min_requests: 1000000000
        max_error_rate: 2%
        max_error_rate_increase: 0.25%
        max_p99_latency: 0s
        max_p99_increase: none
        failure_limit: 100
        inconclusive_limit: 1000
      fast_abort: { consecutive_errors: 100000 }
      require_ready: false
      affinity: { cookie: weir-version, max_age: 2h }
      override: { header: X-Weir-Canary }
      notify: { webhook: "http://127.0.0.1:9000/hook?route=r" }
      max_canary_share_of_capacity: 50%
)"));
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.stable, "app-v1/app");
  EXPECT_EQ(r.canary, "app-v2/app");
  EXPECT_EQ(r.steps, (std::vector<RolloutStep>{
                         step(Kind::set_weight, 10, Duration{0}),
                         step(Kind::pause, 0, Duration{30000}),
                         step(Kind::pause, 0, Duration{0}),
                         step(Kind::analysis, 0, Duration{60000}),
                         step(Kind::set_weight, 0, Duration{0}),
                         step(Kind::pause, 0, Duration{0}),
                         step(Kind::pause, 0, Duration{0}),
                         step(Kind::set_weight, 100, Duration{0}),
                     }));
  const RolloutAnalysis& a = r.analysis;
  EXPECT_EQ(a.interval, Duration{10000});
  EXPECT_EQ(a.min_requests, 1000000000u);
  EXPECT_EQ(a.max_error_rate, 0.02);
  EXPECT_EQ(a.max_error_rate_increase, 0.0025);
  EXPECT_EQ(a.max_p99_latency, Duration{0});
  EXPECT_EQ(a.max_p99_increase, -1.0);
  EXPECT_EQ(a.failure_limit, 100u);
  EXPECT_EQ(a.inconclusive_limit, 1000u);
  EXPECT_EQ(r.fast_abort_consecutive_errors, 100000u);
  EXPECT_FALSE(r.require_ready);
  EXPECT_EQ(r.affinity_cookie, "weir-version");
  EXPECT_EQ(r.affinity_max_age, Duration{7200000});
  EXPECT_EQ(r.override_header, "X-Weir-Canary");
  EXPECT_EQ(r.notify_webhook, "http://127.0.0.1:9000/hook?route=r");
  EXPECT_EQ(r.max_canary_share_of_capacity, 50u);
}

// Percentages and ratios read as the same doubles as the literals in config.h.
TEST(ConfigRollout, PercentagesAndRatios) {
  EXPECT_EQ(analysis_of("{ max_error_rate: 1% }").max_error_rate, 0.01);
  EXPECT_EQ(analysis_of("{ max_error_rate: 0.5% }").max_error_rate, 0.005);
  EXPECT_EQ(analysis_of("{ max_error_rate: 1.1% }").max_error_rate, 0.011);
  EXPECT_EQ(analysis_of("{ max_error_rate: 0.001% }").max_error_rate, 0.00001);
  EXPECT_EQ(analysis_of("{ max_error_rate: 100% }").max_error_rate, 1.0);
  EXPECT_EQ(analysis_of("{ max_error_rate: 0% }").max_error_rate, 0.0);
  EXPECT_EQ(analysis_of("{ max_error_rate: 0.01 }").max_error_rate, 0.01);
  EXPECT_EQ(analysis_of("{ max_error_rate: 0.015 }").max_error_rate, 0.015);
  EXPECT_EQ(analysis_of("{ max_error_rate: 1.0 }").max_error_rate, 1.0);
  EXPECT_EQ(analysis_of("{ max_error_rate: 0 }").max_error_rate, 0.0);
  EXPECT_EQ(analysis_of("{ max_error_rate_increase: 0.5% }").max_error_rate_increase, 0.005);
  EXPECT_EQ(analysis_of("{ max_error_rate_increase: 0.005 }").max_error_rate_increase, 0.005);
  EXPECT_EQ(analysis_of("{ max_p99_increase: 50% }").max_p99_increase, 0.5);
  EXPECT_EQ(analysis_of("{ max_p99_increase: 0.5 }").max_p99_increase, 0.5);
  EXPECT_EQ(analysis_of("{ max_p99_increase: 250% }").max_p99_increase, 2.5);
  EXPECT_EQ(analysis_of("{ max_p99_increase: 1000% }").max_p99_increase, 10.0);
  EXPECT_EQ(analysis_of("{ max_p99_increase: 0% }").max_p99_increase, 0.0);
  EXPECT_EQ(analysis_of("{ max_p99_increase: none }").max_p99_increase, -1.0);
  EXPECT_EQ(analysis_of("{ max_p99_increase: -1 }").max_p99_increase, -1.0);
}

TEST(ConfigRollout, PlainIntegerShareOfCapacity) {
  EXPECT_EQ(rollout_of(rollout_with("      max_canary_share_of_capacity: 1\n"))
                .max_canary_share_of_capacity,
            1u);
  EXPECT_EQ(rollout_of(rollout_with("      max_canary_share_of_capacity: 100\n"))
                .max_canary_share_of_capacity,
            100u);
}

TEST(ConfigRollout, AffinityMaxAgeDefaultsToOneHour) {
  const Rollout r = rollout_of(rollout_with("      affinity: { cookie: v }\n"));
  EXPECT_EQ(r.affinity_cookie, "v");
  EXPECT_EQ(r.affinity_max_age, Duration{3600000});
}

TEST(ConfigRollout, WebhookForms) {
  const auto webhook = [](std::string_view url) {
    return rollout_of(rollout_with("      notify: { webhook: \"" + std::string(url) + "\" }\n"))
        .notify_webhook;
  };
  EXPECT_EQ(webhook("http://[::1]:9000/"), "http://[::1]:9000/");
  EXPECT_EQ(webhook("HTTP://10.0.0.1:80/a/b"), "http://10.0.0.1:80/a/b");
}

TEST(ConfigRollout, StableAndCanaryMayBeAnyTwoBackends) {
  const Config c = load_ok(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v2/app }, { service: app-v1/app }]
    rollout: { stable: app-v2/app, canary: app-v1/app, steps: [{ set_weight: 50 }] }
)");
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].rollout.stable, "app-v2/app");
  EXPECT_EQ(c.routes[0].rollout.canary, "app-v1/app");
}

// --- rollout map errors ---

TEST(ConfigRollout, NotAMap) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }], rollout: canary }
)"),
            "t.yaml:6:80: routes[0].rollout: expected a map, got \"canary\"\n");
}

TEST(ConfigRollout, UnknownKeySuggestsClosest) {
  EXPECT_EQ(errors_of(rollout_with("      requre_ready: true\n")),
            "t.yaml:15:7: routes[0].rollout.requre_ready: unknown key \"requre_ready\" (did you "
            "mean \"require_ready\"?)\n");
}

TEST(ConfigRollout, UnknownKey) {
  EXPECT_EQ(errors_of(rollout_with("      canary_service: app-v2\n")),
            "t.yaml:15:7: routes[0].rollout.canary_service: unknown key \"canary_service\"\n");
}

TEST(ConfigRollout, MissingStableCanaryAndSteps) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    rollout: { require_ready: true }
)"),
            "t.yaml:9:14: routes[0].rollout: missing required key \"stable\"\n"
            "t.yaml:9:14: routes[0].rollout: missing required key \"canary\"\n"
            "t.yaml:9:14: routes[0].rollout: missing required key \"steps\"\n");
}

TEST(ConfigRollout, StableNotAServiceId) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }, { service: app-v2/app }]
    rollout: { stable: app, canary: [app-v2/app], steps: [{ set_weight: 10 }] }
)"),
            "t.yaml:10:24: routes[0].rollout.stable: expected a service as \"namespace/name\", "
            "got \"app\"\n"
            "t.yaml:10:37: routes[0].rollout.canary: expected a string, got a list\n");
}

TEST(ConfigRollout, StableAndCanaryTheSame) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    rollout:
      stable: app-v1/app
      canary: app-v1/app
      steps: [{ set_weight: 10 }]
)"),
            "t.yaml:11:15: routes[0].rollout.canary: must be a different service than stable, got "
            "\"app-v1/app\" for both\n");
}

TEST(ConfigRollout, StableNotABackend) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v2/app }]
    rollout: { stable: app-v1/app, canary: app-v2/app, steps: [{ set_weight: 10 }] }
)"),
            "t.yaml:10:24: routes[0].rollout.stable: service \"app-v1/app\" is not a backend of "
            "route \"r\"\n");
}

TEST(ConfigRollout, CanaryNotABackend) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    rollout: { stable: app-v1/app, canary: app-v3/app, steps: [{ set_weight: 10 }] }
)"),
            "t.yaml:10:44: routes[0].rollout.canary: service \"app-v3/app\" is not a backend of "
            "route \"r\"\n");
}

// Without a usable route name, the route is named by its key path.
TEST(ConfigRollout, NotABackendOfUnnamedRoute) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - listener: public
    backends: [{ service: app-v1/app }]
    rollout: { stable: app-v1/app, canary: app-v2/app, steps: [{ set_weight: 10 }] }
)"),
            "t.yaml:6:5: routes[0]: missing required key \"name\"\n"
            "t.yaml:8:44: routes[0].rollout.canary: service \"app-v2/app\" is not a backend of "
            "routes[0]\n");
}

// A malformed backend is reported once, not again as a missing stable or canary.
TEST(ConfigRollout, MalformedBackendHidesNotABackend) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }, { service: app-v2 }]
    rollout: { stable: app-v1/app, canary: app-v2/app, steps: [{ set_weight: 10 }] }
)"),
            "t.yaml:8:52: routes[0].backends[1].service: expected a service as "
            "\"namespace/name\", got \"app-v2\"\n");
}

TEST(ConfigRollout, RequireReadyNotABoolean) {
  EXPECT_EQ(errors_of(rollout_with("      require_ready: yes\n")),
            "t.yaml:15:22: routes[0].rollout.require_ready: expected true or false, got \"yes\"\n");
}

TEST(ConfigRollout, ShareOfCapacityZero) {
  EXPECT_EQ(errors_of(rollout_with("      max_canary_share_of_capacity: 0%\n")),
            "t.yaml:15:37: routes[0].rollout.max_canary_share_of_capacity: must be between 1% and "
            "100%, got \"0%\"\n");
}

TEST(ConfigRollout, ShareOfCapacityTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      max_canary_share_of_capacity: 101%\n")),
            "t.yaml:15:37: routes[0].rollout.max_canary_share_of_capacity: must be between 0% and "
            "100%, got \"101%\"\n");
}

TEST(ConfigRollout, ShareOfCapacityNotAPercentage) {
  EXPECT_EQ(errors_of(rollout_with("      max_canary_share_of_capacity: half\n")),
            "t.yaml:15:37: routes[0].rollout.max_canary_share_of_capacity: expected a percentage "
            "like 20%, got \"half\"\n");
}

// --- steps ---

TEST(ConfigRolloutSteps, NotAList) {
  EXPECT_EQ(errors_of(steps_are("      steps: { set_weight: 10 }\n")),
            "t.yaml:14:14: routes[0].rollout.steps: expected a list, got a map\n");
}

TEST(ConfigRolloutSteps, Empty) {
  EXPECT_EQ(errors_of(steps_are("      steps: []\n")),
            "t.yaml:14:14: routes[0].rollout.steps: must list at least one step\n");
}

TEST(ConfigRolloutSteps, StepNotAMap) {
  EXPECT_EQ(errors_of(steps_are("      steps: [pause]\n")),
            "t.yaml:14:15: routes[0].rollout.steps[0]: expected a map with one key (set_weight, "
            "pause, analysis, set_header_route or set_mirror), got \"pause\"\n");
}

TEST(ConfigRolloutSteps, StepWithNoKey) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ set_weight: 10 }, {}]\n")),
            "t.yaml:14:35: routes[0].rollout.steps[1]: expected a map with one key (set_weight, "
            "pause, analysis, set_header_route or set_mirror), got an empty map\n");
}

TEST(ConfigRolloutSteps, StepWithTwoKeys) {
  EXPECT_EQ(errors_of(steps_are(R"(      steps:
        - set_weight: 10
          pause: {}
)")),
            "t.yaml:15:11: routes[0].rollout.steps[0]: expected a map with one key (set_weight, "
            "pause, analysis, set_header_route or set_mirror), got 2 keys: \"set_weight\" and "
            "\"pause\"\n");
}

TEST(ConfigRolloutSteps, StepWithThreeKeys) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ set_weight: 10, pause: {}, analysis: {} }]\n")),
            "t.yaml:14:15: routes[0].rollout.steps[0]: expected a map with one key (set_weight, "
            "pause, analysis, set_header_route or set_mirror), got 3 keys: \"set_weight\", "
            "\"pause\" and \"analysis\"\n");
}

TEST(ConfigRolloutSteps, StepKeyNotAString) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ [set_weight]: 10 }]\n")),
            "t.yaml:14:17: routes[0].rollout.steps[0]: expected a string key, got a list\n");
}

TEST(ConfigRolloutSteps, UnknownKindSuggestsClosest) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ set_wieght: 10 }]\n")),
            "t.yaml:14:17: routes[0].rollout.steps[0].set_wieght: unknown step \"set_wieght\" "
            "(did you mean \"set_weight\"?)\n");
}

TEST(ConfigRolloutSteps, UnknownKind) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ promote: true }]\n")),
            "t.yaml:14:17: routes[0].rollout.steps[0].promote: unknown step \"promote\" (expected "
            "set_weight, pause, analysis, set_header_route or set_mirror)\n");
}

TEST(ConfigRolloutSteps, WeightTooLarge) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ set_weight: 101 }]\n")),
            "t.yaml:14:29: routes[0].rollout.steps[0].set_weight: must be between 0 and 100, got "
            "101\n");
}

TEST(ConfigRolloutSteps, WeightNotAnInteger) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ set_weight: 10% }]\n")),
            "t.yaml:14:29: routes[0].rollout.steps[0].set_weight: expected a non-negative "
            "integer, got \"10%\"\n");
}

TEST(ConfigRolloutSteps, WeightMissing) {
  EXPECT_EQ(errors_of(steps_are("      steps:\n        - set_weight:\n")),
            "t.yaml:15:11: routes[0].rollout.steps[0].set_weight: expected a non-negative "
            "integer, got an empty value\n");
}

TEST(ConfigRolloutSteps, PauseNotAMap) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ pause: 30s }]\n")),
            "t.yaml:14:24: routes[0].rollout.steps[0].pause: expected a map like { duration: 30s "
            "}, or {} for a manual gate, got \"30s\"\n");
}

TEST(ConfigRolloutSteps, PauseUnknownKey) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ pause: { duraton: 30s } }]\n")),
            "t.yaml:14:26: routes[0].rollout.steps[0].pause.duraton: unknown key \"duraton\" (did "
            "you mean \"duration\"?)\n");
}

TEST(ConfigRolloutSteps, PauseDurationZero) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ pause: { duration: 0s } }]\n")),
            "t.yaml:14:36: routes[0].rollout.steps[0].pause.duration: must be greater than 0 (a "
            "manual gate is written pause: {})\n");
}

TEST(ConfigRolloutSteps, PauseDurationWithoutUnit) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ pause: { duration: 30 } }]\n")),
            "t.yaml:14:36: routes[0].rollout.steps[0].pause.duration: expected a duration like "
            "500ms, 10s or 2m, got \"30\"\n");
}

TEST(ConfigRolloutSteps, PauseDurationTooLong) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ pause: { duration: 25h } }]\n")),
            "t.yaml:14:36: routes[0].rollout.steps[0].pause.duration: must be at most 24h, got "
            "\"25h\"\n");
}

TEST(ConfigRolloutSteps, AnalysisNotAMap) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ analysis: 60s }]\n")),
            "t.yaml:14:27: routes[0].rollout.steps[0].analysis: expected a map like { duration: "
            "60s }, got \"60s\"\n");
}

TEST(ConfigRolloutSteps, AnalysisEmpty) {
  EXPECT_EQ(errors_of(steps_are("      steps:\n        - analysis:\n")),
            "t.yaml:15:11: routes[0].rollout.steps[0].analysis: expected a map like { duration: "
            "60s }, got an empty value\n");
}

TEST(ConfigRolloutSteps, AnalysisWithoutDuration) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ analysis: {} }]\n")),
            "t.yaml:14:27: routes[0].rollout.steps[0].analysis: missing required key "
            "\"duration\"\n");
}

TEST(ConfigRolloutSteps, AnalysisDurationZero) {
  EXPECT_EQ(errors_of(steps_are("      steps: [{ analysis: { duration: 0s } }]\n")),
            "t.yaml:14:39: routes[0].rollout.steps[0].analysis.duration: must be greater than 0\n");
}

TEST(ConfigRolloutSteps, EveryBadStepIsReported) {
  EXPECT_EQ(errors_of(steps_are(R"(      steps:
        - set_weight: -5
        - pause: { duration: 1 }
        - analysis: { duration: 1m, interval: 5s }
)")),
            "t.yaml:15:23: routes[0].rollout.steps[0].set_weight: expected a non-negative "
            "integer, got \"-5\"\n"
            "t.yaml:16:30: routes[0].rollout.steps[1].pause.duration: expected a duration like "
            "500ms, 10s or 2m, got \"1\"\n"
            "t.yaml:17:37: routes[0].rollout.steps[2].analysis.interval: unknown key "
            "\"interval\"\n");
}

// --- analysis ---

TEST(ConfigRolloutAnalysis, NotAMap) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: true\n")),
            "t.yaml:15:17: routes[0].rollout.analysis: expected a map, got \"true\"\n");
}

TEST(ConfigRolloutAnalysis, UnknownKeySuggestsClosest) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rat: 1% }\n")),
            "t.yaml:15:19: routes[0].rollout.analysis.max_error_rat: unknown key "
            "\"max_error_rat\" (did you mean \"max_error_rate\"?)\n");
}

TEST(ConfigRolloutAnalysis, IntervalZero) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { interval: 0s }\n")),
            "t.yaml:15:29: routes[0].rollout.analysis.interval: must be greater than 0\n");
}

TEST(ConfigRolloutAnalysis, MinRequestsTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { min_requests: 1000000001 }\n")),
            "t.yaml:15:33: routes[0].rollout.analysis.min_requests: must be between 0 and "
            "1000000000, got 1000000001\n");
}

TEST(ConfigRolloutAnalysis, ErrorRateNotAPercentage) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rate: one }\n")),
            "t.yaml:15:35: routes[0].rollout.analysis.max_error_rate: expected a percentage like "
            "1% or 0.5%, or a ratio like 0.01, got \"one\"\n");
}

TEST(ConfigRolloutAnalysis, ErrorRateMalformedNumbers) {
  for (std::string_view bad : {"1.%", ".5%", "-1%", "1e-2", "0.0000000001", "1,5%", "%"}) {
    EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rate: \"" + std::string(bad) +
                                     "\" }\n")),
              "t.yaml:15:35: routes[0].rollout.analysis.max_error_rate: expected a percentage "
              "like 1% or 0.5%, or a ratio like 0.01, got \"" +
                  std::string(bad) + "\"\n")
        << bad;
  }
}

TEST(ConfigRolloutAnalysis, ErrorRateBareIntegerIsAmbiguous) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rate: 1 }\n")),
            "t.yaml:15:35: routes[0].rollout.analysis.max_error_rate: is ambiguous: write 1% for "
            "a percentage, or a ratio with a decimal point like 0.01, got \"1\"\n");
}

TEST(ConfigRolloutAnalysis, ErrorRatePercentTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rate: 100.5% }\n")),
            "t.yaml:15:35: routes[0].rollout.analysis.max_error_rate: must be between 0% and "
            "100%, got \"100.5%\"\n");
}

TEST(ConfigRolloutAnalysis, ErrorRateRatioTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rate_increase: 1.5 }\n")),
            "t.yaml:15:44: routes[0].rollout.analysis.max_error_rate_increase: must be between 0 "
            "and 1 as a ratio, got \"1.5\"\n");
}

TEST(ConfigRolloutAnalysis, HugePercentIsOutOfRange) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_error_rate: 12345678901234567890% }\n")),
            "t.yaml:15:35: routes[0].rollout.analysis.max_error_rate: must be between 0% and "
            "100%, got \"12345678901234567890%\"\n");
}

TEST(ConfigRolloutAnalysis, P99IncreaseNotAPercentage) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_p99_increase: off }\n")),
            "t.yaml:15:37: routes[0].rollout.analysis.max_p99_increase: expected a percentage "
            "like 1% or 0.5%, or a ratio like 0.01, or \"none\", got \"off\"\n");
}

TEST(ConfigRolloutAnalysis, P99IncreaseTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_p99_increase: 1001% }\n")),
            "t.yaml:15:37: routes[0].rollout.analysis.max_p99_increase: must be between 0% and "
            "1000%, got \"1001%\"\n");
}

TEST(ConfigRolloutAnalysis, P99IncreaseRatioTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_p99_increase: 10.5 }\n")),
            "t.yaml:15:37: routes[0].rollout.analysis.max_p99_increase: must be between 0 and 10 "
            "as a ratio, got \"10.5\"\n");
}

TEST(ConfigRolloutAnalysis, P99LatencyWithoutUnit) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { max_p99_latency: 500 }\n")),
            "t.yaml:15:36: routes[0].rollout.analysis.max_p99_latency: expected a duration like "
            "500ms, 10s or 2m, got \"500\"\n");
}

TEST(ConfigRolloutAnalysis, FailureLimitZero) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { failure_limit: 0 }\n")),
            "t.yaml:15:34: routes[0].rollout.analysis.failure_limit: must be between 1 and 100, "
            "got 0\n");
}

TEST(ConfigRolloutAnalysis, InconclusiveLimitTooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      analysis: { inconclusive_limit: 1001 }\n")),
            "t.yaml:15:39: routes[0].rollout.analysis.inconclusive_limit: must be between 1 and "
            "1000, got 1001\n");
}

// --- fast_abort, affinity, override, notify ---

TEST(ConfigRolloutFastAbort, NotAMap) {
  EXPECT_EQ(errors_of(rollout_with("      fast_abort: 20\n")),
            "t.yaml:15:19: routes[0].rollout.fast_abort: expected a map, got \"20\"\n");
}

TEST(ConfigRolloutFastAbort, MissingConsecutiveErrors) {
  EXPECT_EQ(errors_of(rollout_with("      fast_abort: {}\n")),
            "t.yaml:15:19: routes[0].rollout.fast_abort: missing required key "
            "\"consecutive_errors\"\n");
}

TEST(ConfigRolloutFastAbort, Zero) {
  EXPECT_EQ(errors_of(rollout_with("      fast_abort: { consecutive_errors: 0 }\n")),
            "t.yaml:15:41: routes[0].rollout.fast_abort.consecutive_errors: must be between 1 and "
            "100000, got 0\n");
}

TEST(ConfigRolloutFastAbort, TooLarge) {
  EXPECT_EQ(errors_of(rollout_with("      fast_abort: { consecutive_errors: 100001 }\n")),
            "t.yaml:15:41: routes[0].rollout.fast_abort.consecutive_errors: must be between 1 and "
            "100000, got 100001\n");
}

TEST(ConfigRolloutAffinity, MissingCookie) {
  EXPECT_EQ(errors_of(rollout_with("      affinity: { max_age: 1h }\n")),
            "t.yaml:15:17: routes[0].rollout.affinity: missing required key \"cookie\"\n");
}

TEST(ConfigRolloutAffinity, BadCookieName) {
  EXPECT_EQ(errors_of(rollout_with("      affinity: { cookie: \"weir;version\" }\n")),
            "t.yaml:15:27: routes[0].rollout.affinity.cookie: expected a cookie name made of "
            "letters, digits and !#$%&'*+-.^_`|~, got \"weir;version\"\n");
}

TEST(ConfigRolloutAffinity, MaxAgeZero) {
  EXPECT_EQ(errors_of(rollout_with("      affinity: { cookie: v, max_age: 0s }\n")),
            "t.yaml:15:39: routes[0].rollout.affinity.max_age: must be greater than 0\n");
}

TEST(ConfigRolloutAffinity, MaxAgeNotWholeSeconds) {
  EXPECT_EQ(errors_of(rollout_with("      affinity: { cookie: v, max_age: 1500ms }\n")),
            "t.yaml:15:39: routes[0].rollout.affinity.max_age: must be a whole number of seconds "
            "(a cookie's Max-Age), got \"1500ms\"\n");
}

TEST(ConfigRolloutAffinity, UnknownKey) {
  EXPECT_EQ(errors_of(rollout_with("      affinity: { cookie: v, max-age: 1h }\n")),
            "t.yaml:15:30: routes[0].rollout.affinity.max-age: unknown key \"max-age\" (did you "
            "mean \"max_age\"?)\n");
}

TEST(ConfigRolloutOverride, MissingHeader) {
  EXPECT_EQ(errors_of(rollout_with("      override: {}\n")),
            "t.yaml:15:17: routes[0].rollout.override: missing required key \"header\"\n");
}

TEST(ConfigRolloutOverride, BadHeaderName) {
  EXPECT_EQ(errors_of(rollout_with("      override: { header: \"x weir\" }\n")),
            "t.yaml:15:27: routes[0].rollout.override.header: expected a header name made of "
            "letters, digits and !#$%&'*+-.^_`|~, got \"x weir\"\n");
}

std::string webhook_error(std::string_view url) {
  return errors_of(rollout_with("      notify: { webhook: \"" + std::string(url) + "\" }\n"));
}

TEST(ConfigRolloutNotify, MissingWebhook) {
  EXPECT_EQ(errors_of(rollout_with("      notify: { url: \"http://127.0.0.1:9000/\" }\n")),
            "t.yaml:15:15: routes[0].rollout.notify: missing required key \"webhook\"\n"
            "t.yaml:15:17: routes[0].rollout.notify.url: unknown key \"url\"\n");
}

TEST(ConfigRolloutNotify, Https) {
  EXPECT_EQ(webhook_error("https://127.0.0.1:9000/hook"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: https webhooks are not supported\n");
}

TEST(ConfigRolloutNotify, NotHttp) {
  EXPECT_EQ(webhook_error("ftp://127.0.0.1:21/hook"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: expected an http:// URL like "
            "http://127.0.0.1:9000/hook, got \"ftp://127.0.0.1:21/hook\"\n");
}

TEST(ConfigRolloutNotify, HostName) {
  EXPECT_EQ(webhook_error("http://hooks.example:80/hook"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: in \"hooks.example:80\": expected a "
            "numeric IP address and port, e.g. 127.0.0.1:8080\n");
}

TEST(ConfigRolloutNotify, NoPort) {
  EXPECT_EQ(webhook_error("http://127.0.0.1/hook"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: in \"127.0.0.1\": expected a "
            "numeric IP address and port, e.g. 127.0.0.1:8080\n");
}

TEST(ConfigRolloutNotify, PortZero) {
  EXPECT_EQ(webhook_error("http://127.0.0.1:0/hook"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: in \"127.0.0.1:0\": port must be "
            "between 1 and 65535, got 0\n");
}

TEST(ConfigRolloutNotify, NoPath) {
  EXPECT_EQ(webhook_error("http://127.0.0.1:9000"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: expected a path starting with \"/\" "
            "after the port, like http://127.0.0.1:9000/hook, got \"http://127.0.0.1:9000\"\n");
}

TEST(ConfigRolloutNotify, PathWithSpace) {
  EXPECT_EQ(webhook_error("http://127.0.0.1:9000/a hook"),
            "t.yaml:15:26: routes[0].rollout.notify.webhook: the path must not contain spaces, "
            "control characters or \"#\", got \"http://127.0.0.1:9000/a hook\"\n");
}

} // namespace
} // namespace weir::config
