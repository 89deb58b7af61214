// Issue 10's acceptance for gates and external metrics, end to end: the real weir, demo
// upstreams, hook endpoints scripted by the test (TestHttpServer) and Debian's real Prometheus
// scraping weir and the demo upstreams. A rollout gated by confirm_promotion waits until the hook
// answers 2xx; a pre_rollout hook answering 500 stops `rollout start` with its reason; a
// Prometheus-based metric that fails aborts the rollout.
#include "rollout_helpers.h"
#include "support/http_server.h"
#include "support/load.h"
#include "support/prometheus.h"
#include "support/run.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <string>

namespace weir::test {
namespace {

using namespace rollout;
using Reply = TestHttpServer::Reply;
using Request = TestHttpServer::Request;

// No built-in reason to stop or pause: whatever the test sees comes from its gates or metrics.
constexpr const char* kLaxAnalysis =
    "{ interval: 500ms, min_requests: 0, max_error_rate: 100%, max_error_rate_increase: 100%, "
    "max_p99_latency: 0s, max_p99_increase: none, failure_limit: 2, inconclusive_limit: 1000 }";

double canary_weight(const std::string& socket) {
  return live_weight(socket, "r", "app-v2/app");
}

class RolloutGates : public ::testing::Test {
protected:
  void SetUp() override { socket_ = temp_path("weir-gates", ".sock"); }
  DemoUpstream v1_, v2_;
  std::string socket_;
  Weir weir_;
};

TEST_F(RolloutGates, ConfirmPromotionWaitsUntilTheHookAnswers2xx) {
  v1_ = DemoUpstream::start("app-v1");
  v2_ = DemoUpstream::start("app-v2");
  TestHttpServer hook([](const Request&) { return Reply{403, "QA sign-off pending"}; });
  Plan plan;
  plan.steps = {"set_weight: 50"};
  plan.analysis = kLaxAnalysis;
  plan.extra = "      hooks:\n        - { name: qa, type: confirm_promotion, url: \"" +
               hook.url("/qa") + "\", timeout: 1s }\n";
  weir_ = Weir::start(two_versions(socket_, 1, v1_, v2_, plan));

  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  // Asked, refused, and asked again an interval later; meanwhile the canary stays at 50 %.
  ASSERT_TRUE(wait_until([&] { return hook.request_count() >= 2; }, 10s)) << status_raw(socket_);
  json::Value s = status(socket_);
  EXPECT_EQ(s.get_string("phase"), "Progressing") << status_raw(socket_);
  EXPECT_EQ(s.get_string("waiting_for"), "confirm_promotion") << status_raw(socket_);
  EXPECT_TRUE(contains(s.get_string("message"), "HTTP 403 (QA sign-off pending)"))
      << status_raw(socket_);
  EXPECT_EQ(canary_weight(socket_), 50);

  const Request asked = hook.requests()[0];
  EXPECT_EQ(asked.method, "POST");
  EXPECT_EQ(asked.target, "/qa");
  EXPECT_EQ(asked.header("content-type"), "application/json");
  auto body = json::parse(asked.body);
  ASSERT_TRUE(body.value) << asked.body;
  EXPECT_EQ(body.value->get_string("type"), "confirm_promotion");
  EXPECT_EQ(body.value->get_string("route"), "r");
  EXPECT_EQ(body.value->get_string("canary"), "app-v2/app");
  EXPECT_EQ(body.value->get_number("canary_weight"), 50);

  hook.set_handler([](const Request&) { return Reply{200, "signed off"}; });
  const auto flipped = Clock::now();
  ASSERT_TRUE(wait_phase(socket_, "Healthy", 10s)) << status_raw(socket_);
  const long took = ms_since(flipped);
  EXPECT_LT(took, 3000) << "promoted an interval (500ms) after the hook said yes";
  EXPECT_EQ(canary_weight(socket_), 100);
  std::printf("promoted %ld ms after the hook answered 2xx (%zu calls)\n", took,
              hook.request_count());
  EXPECT_GE(count_events(history(socket_), "hook"), 2u) << history_raw(socket_);
}

TEST_F(RolloutGates, PreRolloutHookAnswering500StopsTheStartWithItsReason) {
  v1_ = DemoUpstream::start("app-v1");
  v2_ = DemoUpstream::start("app-v2");
  TestHttpServer hook([](const Request&) { return Reply{500, "schema migration 42 pending\n"}; });
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: {}", "set_weight: 100"};
  plan.analysis = kLaxAnalysis;
  plan.extra = "      hooks:\n        - { name: migrations, type: pre_rollout, url: \"" +
               hook.url("/pre") + "\", timeout: 1s, retries: 1 }\n";
  weir_ = Weir::start(two_versions(socket_, 1, v1_, v2_, plan));

  const std::string reason = "start refused: pre_rollout hook migrations: HTTP 500 (schema "
                             "migration 42 pending) after 2 attempts";
  rollout::Reply refused = control(socket_, "rollout start r");
  EXPECT_FALSE(refused.ok()) << refused.raw;
  EXPECT_EQ(refused.error(), reason) << refused.raw;
  EXPECT_EQ(hook.request_count(), 2u); // the first attempt and one retry
  EXPECT_EQ(status(socket_).get_string("phase"), "Idle") << status_raw(socket_);
  EXPECT_EQ(canary_weight(socket_), 0);
  EXPECT_EQ(count_events(history(socket_), "refused"), 1u) << history_raw(socket_);

  // What an operator sees with weirctl: the same reason, and a failure exit status.
  RunResult cli = run_command({WEIRCTL_BIN, "--socket", socket_, "rollout", "start", "r"});
  EXPECT_TRUE(cli.exited);
  EXPECT_NE(cli.code, 0) << cli.out;
  EXPECT_TRUE(contains(cli.out + cli.err, reason)) << cli.out << cli.err;
  EXPECT_EQ(canary_weight(socket_), 0);

  hook.set_handler([](const Request&) { return Reply{200, "migrated"}; });
  rollout::Reply started = control(socket_, "rollout start r");
  EXPECT_TRUE(started.ok()) << started.raw;
  EXPECT_TRUE(wait_gate(socket_, 1, 5s)) << status_raw(socket_);
  EXPECT_EQ(canary_weight(socket_), 10);
}

TEST_F(RolloutGates, AFailingPrometheusMetricAbortsTheRollout) {
  if (!Prometheus::available())
    GTEST_SKIP() << Prometheus::kBinary << " is missing: ./dev deps installs it";
  // The canary answers 30 % of its requests with 500; weir's own analysis is told to accept
  // that, and fast abort is off: only the external metric can stop it.
  v1_ = DemoUpstream::start("app-v1", {"--metrics", "/metrics"});
  v2_ = DemoUpstream::start("app-v2", {"--metrics", "/metrics", "--fail-rate", "0.3"});
  const auto t0 = Clock::now();
  Prometheus prom = Prometheus::start(
      {{"app-v1/app", {v1_.address()}}, {"app-v2/app", {v2_.address()}}, {"weir", {}}}, 500ms);

  Plan plan;
  plan.steps = {"set_weight: 50", "analysis: { duration: 60s }", "set_weight: 100"};
  plan.analysis =
      "\n        interval: 1s\n        min_requests: 0\n        max_error_rate: 100%\n"
      "        max_error_rate_increase: 100%\n        max_p99_latency: 0s\n"
      "        max_p99_increase: none\n        failure_limit: 2\n        inconclusive_limit: 1000\n"
      "        metrics:\n"
      "          - name: canary-5xx\n"
      "            prometheus:\n"
      "              address: " +
      prom.address() +
      "\n              query: sum(rate(weir_demo_responses_total{job=\"{{canary}}\",code=\"5xx\"}"
      "[3s])) / sum(rate(weir_demo_responses_total{job=\"{{canary}}\"}[3s]))\n"
      "            success_condition: result < 0.05\n"
      "            failure_limit: 2\n";
  weir_ = Weir::start(header(socket_, 1) + "admin:\n  address: 127.0.0.1:0\nservices:\n" +
                      service("app-v1/app", v1_.address(), kNoOutliers) +
                      service("app-v2/app", v2_.address(), kNoOutliers) + "routes:\n" +
                      route("r", "/", plan));
  auto admin = weir_.proc->wait_for_line("weir: admin ", 2s);
  ASSERT_TRUE(admin) << weir_.proc->output();
  ASSERT_TRUE(prom.set_targets("weir", {"127.0.0.1:" + std::to_string(port_at_end(*admin))}));

  LoadGen load(weir_.port(), 2, 100);
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  ASSERT_TRUE(wait_phase(socket_, "Degraded", 40s)) << status_raw(socket_) << history_raw(socket_);
  const long aborted_after = ms_since(t0);
  EXPECT_EQ(canary_weight(socket_), 0);

  // The abort names the metric, its value and its condition; nothing else failed.
  const auto events = history(socket_);
  std::string abort_message;
  for (const auto& e : events)
    if (e.get_string("type") == "aborted") abort_message = e.get_string("message");
  EXPECT_TRUE(contains(abort_message, "metric canary-5xx failed 2 intervals in a row"))
      << history_raw(socket_);
  EXPECT_TRUE(contains(abort_message, "fails result < 0.05")) << abort_message;

  // The metric's value is the canary's real error share (30 % ± sampling noise).
  std::string value =
      prom.query("sum(rate(weir_demo_responses_total{job=\"app-v2/app\",code=\"5xx\"}[3s])) / "
                 "sum(rate(weir_demo_responses_total{job=\"app-v2/app\"}[3s]))");
  EXPECT_TRUE(contains(value, "\"value\"")) << value;
  // Prometheus scrapes weir too (its target was added after weir started).
  EXPECT_TRUE(
      wait_until([&] { return contains(prom.query("up{job=\"weir\"}"), "\"1\"]"); }, 15s, 100ms))
      << prom.query("up");
  load.stop();
  std::printf("aborted by the Prometheus metric %ld ms after Prometheus started\n", aborted_after);
}

} // namespace
} // namespace weir::test
