#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>

// rollout.hooks and rollout.analysis.metrics: every key read, defaults, and the errors.
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// Lines 1-14; what a test appends starts at line 15, indented as keys of the rollout map.
constexpr std::string_view kHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: 100 }, { service: app-v2/app, weight: 0 }]
    rollout:
      stable: app-v1/app
      canary: app-v2/app
      steps: [{ set_weight: 100 }]
      # appended below
)";

std::string with(std::string_view lines) {
  return std::string(kHead) + std::string(lines);
}

Rollout rollout_of(std::string_view lines) {
  const Config c = load_ok(with(lines));
  return c.routes.empty() ? Rollout{} : c.routes[0].rollout;
}

TEST(ConfigRolloutGates, HooksEveryKey) {
  const Rollout r = rollout_of(R"(      hooks:
        - { name: smoke, type: pre_rollout, url: "http://127.0.0.1:9100/smoke" }
        - name: approve
          type: confirm_promotion
          url: https://gates.example.com/approve?team=web
          timeout: 2s
          retries: 3
          ca_file: )" WEIR_SOURCE_DIR R"(/conf/weir.yaml
)");
  ASSERT_EQ(r.hooks.size(), 2u);
  EXPECT_EQ(r.hooks[0].name, "smoke");
  EXPECT_EQ(r.hooks[0].type, RolloutHook::Type::pre_rollout);
  EXPECT_EQ(r.hooks[0].url, "http://127.0.0.1:9100/smoke");
  EXPECT_EQ(r.hooks[0].timeout, Duration(5000));
  EXPECT_EQ(r.hooks[0].retries, 0u);
  EXPECT_EQ(r.hooks[1].type, RolloutHook::Type::confirm_promotion);
  EXPECT_EQ(r.hooks[1].url, "https://gates.example.com/approve?team=web");
  EXPECT_EQ(r.hooks[1].timeout, Duration(2000));
  EXPECT_EQ(r.hooks[1].retries, 3u);
  EXPECT_EQ(r.hooks[1].ca_file, WEIR_SOURCE_DIR "/conf/weir.yaml"); // any readable file here
}

TEST(ConfigRolloutGates, ACaFileThatCannotBeReadIsRefusedAtLoad) {
  std::string err = errors_of(with(R"(      hooks:
        - { name: h, type: rollback, url: "https://127.0.0.1:9/x", ca_file: /nonexistent/ca.pem }
)"));
  EXPECT_NE(err.find("cannot read \"/nonexistent/ca.pem\": No such file or directory"),
            std::string::npos)
      << err;
}

TEST(ConfigRolloutGates, EveryHookType) {
  const Rollout r = rollout_of(R"(      hooks:
        - { name: a, type: pre_rollout, url: "http://h/" }
        - { name: b, type: rollout, url: "http://h/" }
        - { name: c, type: confirm_rollout, url: "http://h/" }
        - { name: d, type: confirm_promotion, url: "http://h/" }
        - { name: e, type: post_rollout, url: "http://h/" }
        - { name: f, type: rollback, url: "http://h/" }
)");
  ASSERT_EQ(r.hooks.size(), 6u);
  for (size_t i = 0; i < r.hooks.size(); ++i)
    EXPECT_EQ(static_cast<size_t>(r.hooks[i].type), i);
}

TEST(ConfigRolloutGates, HookErrors) {
  EXPECT_EQ(
      errors_of(with(R"(      hooks:
        - { name: a, type: confirm, url: "http://h/" }
        - { name: b, type: gate, url: "ftp://h/x" }
        - { name: a, type: rollback, url: "http://h:99999/" }
        - { name: c, type: rollout, url: "http://h/", timeout: 5, retries: 11 }
        - { type: rollout, url: "http://[::1/" }
)")),
      "t.yaml:16:28: routes[0].rollout.hooks[0].type: unknown hook type \"confirm\" (expected "
      "pre_rollout, rollout, confirm_rollout, confirm_promotion, post_rollout or rollback)\n"
      "t.yaml:17:28: routes[0].rollout.hooks[1].type: unknown hook type \"gate\" (expected "
      "pre_rollout, rollout, confirm_rollout, confirm_promotion, post_rollout or rollback)\n"
      "t.yaml:17:39: routes[0].rollout.hooks[1].url: expected an http:// or https:// URL "
      "like http://127.0.0.1:9000/hook, got \"ftp://h/x\"\n"
      "t.yaml:18:19: routes[0].rollout.hooks[2].name: duplicate hook name \"a\" (first "
      "defined at line 16)\n"
      "t.yaml:18:43: routes[0].rollout.hooks[2].url: the port must be between 1 and 65535, "
      "got 99999\n"
      "t.yaml:19:64: routes[0].rollout.hooks[3].timeout: expected a duration like 500ms, 10s "
      "or 2m, got \"5\"\n"
      "t.yaml:19:76: routes[0].rollout.hooks[3].retries: must be between 0 and 10, got 11\n"
      "t.yaml:20:11: routes[0].rollout.hooks[4]: missing required key \"name\"\n"
      "t.yaml:20:33: routes[0].rollout.hooks[4].url: missing \"]\" after an IPv6 address\n");
}

TEST(ConfigRolloutGates, MetricsEveryKey) {
  const Rollout r = rollout_of(R"(      analysis:
        interval: 10s
        metrics:
          - name: error-ratio
            prometheus:
              address: http://127.0.0.1:9090
              query: sum(rate(x{service="{{canary}}"}[1m]))
            success_condition: result < 0.01
            failure_limit: 3
            timeout: 2s
          - name: up
            prometheus: { address: "https://prom.example.com/prefix/", query: "up", ca_file: )" WEIR_SOURCE_DIR
                               R"(/conf/weir.yaml }
            success_condition: "result >= 0.95 && result <= 1"
)");
  ASSERT_EQ(r.analysis.metrics.size(), 2u);
  const AnalysisMetric& a = r.analysis.metrics[0];
  EXPECT_EQ(a.name, "error-ratio");
  EXPECT_EQ(a.prometheus_address, "http://127.0.0.1:9090");
  EXPECT_EQ(a.query, "sum(rate(x{service=\"{{canary}}\"}[1m]))");
  EXPECT_EQ(a.success_condition, "result < 0.01");
  EXPECT_EQ(a.failure_limit, 3u);
  EXPECT_EQ(a.timeout, Duration(2000));
  const AnalysisMetric& b = r.analysis.metrics[1];
  EXPECT_EQ(b.prometheus_address, "https://prom.example.com/prefix/");
  EXPECT_EQ(b.ca_file, WEIR_SOURCE_DIR "/conf/weir.yaml");
  EXPECT_EQ(b.failure_limit, 0u); // analysis.failure_limit applies
  EXPECT_EQ(b.timeout, Duration(5000));
}

// A query may not outlive the interval it is judged in: the default timeout shrinks to fit.
TEST(ConfigRolloutGates, MetricTimeoutFitsTheInterval) {
  const Rollout r = rollout_of(R"(      analysis:
        interval: 2s
        metrics:
          - { name: m, prometheus: { address: "http://h:9090", query: up }, success_condition: "result == 1" }
)");
  ASSERT_EQ(r.analysis.metrics.size(), 1u);
  EXPECT_EQ(r.analysis.metrics[0].timeout, Duration(2000));
}

TEST(ConfigRolloutGates, MetricErrors) {
  EXPECT_EQ(errors_of(with(R"y(      analysis:
        interval: 2s
        metrics:
          - name: m
            prometheus: { address: "http://h:9090?x=1", query: "rate(x{v=\"{{version}}\"}[1m])" }
            success_condition: "result < 0.01 and result > 0"
            timeout: 3s
          - name: m
            prometheus: { address: "prom:9090", query: up, step: 1m }
            success_condition: "result <"
            failure_limit: 0
          - { name: n }
)y")),
            "t.yaml:19:36: routes[0].rollout.analysis.metrics[0].prometheus.address: expected an "
            "address like http://127.0.0.1:9090 without a query, got \"http://h:9090?x=1\"\n"
            "t.yaml:19:64: routes[0].rollout.analysis.metrics[0].prometheus.query: unknown "
            "placeholder {{version}} (expected {{route}}, {{stable}}, {{canary}}, "
            "{{stable_service}} or {{canary_service}})\n"
            "t.yaml:20:32: routes[0].rollout.analysis.metrics[0].success_condition: cannot parse "
            "\"result < 0.01 and result > 0\": at column 15: expected \"&&\", \"||\" or the end, "
            "got \"and\"\n"
            "t.yaml:21:22: routes[0].rollout.analysis.metrics[0].timeout: must not exceed "
            "analysis.interval (2s), got \"3s\"\n"
            "t.yaml:22:19: routes[0].rollout.analysis.metrics[1].name: duplicate metric name "
            "\"m\" (first defined at line 18)\n"
            "t.yaml:23:36: routes[0].rollout.analysis.metrics[1].prometheus.address: expected an "
            "http:// or https:// URL like http://127.0.0.1:9000/hook, got \"prom:9090\"\n"
            "t.yaml:23:60: routes[0].rollout.analysis.metrics[1].prometheus.step: unknown key "
            "\"step\"\n"
            "t.yaml:24:32: routes[0].rollout.analysis.metrics[1].success_condition: cannot parse "
            "\"result <\": at column 9: expected a number or \"result\", got the end\n"
            "t.yaml:25:28: routes[0].rollout.analysis.metrics[1].failure_limit: must be between 1 "
            "and 100, got 0\n"
            "t.yaml:26:13: routes[0].rollout.analysis.metrics[2]: missing required key "
            "\"prometheus\"\n"
            "t.yaml:26:13: routes[0].rollout.analysis.metrics[2]: missing required key "
            "\"success_condition\"\n");
}

} // namespace
} // namespace weir::config
