// Blue/green end to end (issue #18): the real weir and weir-demo-upstream binaries under a steady
// load. While the new version is previewed, only preview requests (the header with its secret)
// and weir's own top-up and probes reach it: the demo upstream counts what arrives without
// weir's synthetic tag, and that is exactly the preview requests the test sent. The
// pre-promotion analysis judges the preview: a version with 5 % errors is aborted and never
// takes a user request; a healthy one is switched to, 100 % at once, and `rollout undo` inside
// the rollback window switches back; the load loses no request at either switch.
// What depends on time alone (the window's end, --force after it, the steps a plan is made of)
// is a unit test on a ManualClock (tests/unit/rollout/manager_blue_green_test.cc).
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/load.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <sstream>

namespace weir::test {
namespace {

using namespace rollout;

constexpr const char* kTag = "x-weir-synthetic";
constexpr const char* kSecret = "let-me-preview-42";

using Counts = DemoUpstream::Counts;

// Route "r" over app-v1 (blue, serving) and app-v2 (green), and app-v3 when given, with a
// blue/green plan.
std::string config(const std::string& socket, const DemoUpstream& v1, const DemoUpstream& v2,
                   const std::string& auto_promotion, const DemoUpstream* v3 = nullptr) {
  return header(socket, 2) + "services:\n" + service("app-v1/app", v1.address(), kNoOutliers) +
         service("app-v2/app", v2.address(), kNoOutliers) +
         (v3 ? service("app-v3/app", v3->address(), kNoOutliers) : "") +
         "routes:\n  - name: r\n    listener: public\n    backends:\n"
         "      - { service: app-v1/app, weight: 100 }\n"
         "      - { service: app-v2/app, weight: 0 }\n" +
         (v3 ? "      - { service: app-v3/app, weight: 0 }\n" : "") +
         "    rollout:\n      strategy: blue_green\n      stable: app-v1/app\n"
         "      canary: app-v2/app\n"
         "      preview: { header: x-preview, secret: " +
         kSecret +
         " }\n"
         "      pre_promotion: { analysis: { duration: 4s } }\n"
         "      auto_promotion: " +
         auto_promotion +
         "\n      rollback_window: 10m\n"
         // No relative p99 check: the new version's top-up runs on fresh connections, and
         // under sanitizers its p99 is often twice the stable one's; errors are the test's.
         "      analysis: { interval: 1s, min_requests: 10, max_error_rate: 1%, "
         "max_error_rate_increase: 0.5%, max_p99_increase: none, failure_limit: 2, "
         "inconclusive_limit: 20, "
         "top_up: { rate: 200/s } }\n";
}

// `n` preview requests; the x-served-by of each.
std::map<std::string, int> preview(uint16_t port, int n, const std::string& secret) {
  std::map<std::string, int> by;
  for (int i = 0; i < n; ++i) {
    HttpResponse r = http_request(port, "GET", "/", {{"x-preview", secret}});
    by[r.status == 200 ? r.header("x-served-by") : "status " + std::to_string(r.status)]++;
  }
  return by;
}

TEST(BlueGreen, OnlyPreviewTrafficUntilTheSwitchThenUndoAndNoRequestLost) {
  DemoUpstream v1 = DemoUpstream::start("app-v1", {"--count-header", kTag});
  DemoUpstream v2 = DemoUpstream::start("app-v2", {"--count-header", kTag});
  const std::string socket = temp_path("weir", ".sock");
  Weir weir = Weir::start(config(socket, v1, v2, "false"));
  LoadGen load(weir.port(), 4, 300);
  ASSERT_TRUE(load.wait_for(0, 100)) << load.report();

  ASSERT_TRUE(control(socket, "rollout start r").ok());
  const int previewing = load.new_epoch();
  // The preview: the secret reaches the new version, a wrong one does not.
  EXPECT_EQ(preview(weir.port(), 20, kSecret), (std::map<std::string, int>{{"app-v2", 20}}));
  EXPECT_EQ(preview(weir.port(), 5, "not-the-secret"), (std::map<std::string, int>{{"app-v1", 5}}));
  // Judged on the preview and top-up traffic, then held at the preview gate.
  ASSERT_TRUE(wait_gate(socket, 2, 15s)) << status_raw(socket);
  json::Value st = status(socket);
  EXPECT_EQ(st.get_string("strategy"), "blue_green");
  EXPECT_EQ(st.get_number("canary_weight", -1), 0);
  EXPECT_TRUE(contains(st.get_string("message"), "previewing app-v2/app")) << status_raw(socket);
  EXPECT_FALSE(contains(status_raw(socket) + history_raw(socket), kSecret))
      << "the secret is never shown";
  EXPECT_GE(count_events(history(socket), "analysis"), 3u) << history_raw(socket);
  EXPECT_EQ(count_events(history(socket), "aborted"), 0u) << history_raw(socket);
  ASSERT_TRUE(load.wait_for(previewing, 500)) << load.report();
  // Not one user request reached the new version: what it got untagged is the 20 previews.
  EXPECT_EQ(v2.counts().without, 20);
  EXPECT_GT(v2.counts().with, 20) << "top-up reached it";
  EXPECT_EQ(load.served_by(previewing).count("app-v2"), 0u) << load.report();

  // The switch: every request sent after the reply goes to the new version.
  ASSERT_TRUE(control(socket, "rollout promote r").ok());
  ASSERT_EQ(status(socket).get_string("phase"), "Healthy");
  const int switched = load.new_epoch();
  ASSERT_TRUE(load.wait_for(switched, 300)) << load.report();
  const auto after_switch = load.served_by(switched); // read once: the load goes on
  EXPECT_EQ(after_switch.size(), 1u) << load.report();
  EXPECT_TRUE(after_switch.contains("app-v2")) << load.report();
  json::Value window = status(socket)["rollback_window"];
  EXPECT_TRUE(window.get_bool("open")) << status_raw(socket);
  EXPECT_EQ(window.get_string("undo_to"), "app-v1/app");

  // Undo inside the window: back to the old version in one step.
  Reply undo = control(socket, "rollout undo r");
  ASSERT_TRUE(undo.ok()) << undo.raw;
  const int undone = load.new_epoch();
  ASSERT_TRUE(load.wait_for(undone, 300)) << load.report();
  const auto after_undo = load.served_by(undone);
  EXPECT_EQ(after_undo.size(), 1u) << load.report();
  EXPECT_TRUE(after_undo.contains("app-v1")) << load.report();
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << "no request lost at the switch or the undo: " << load.report();
}

TEST(BlueGreen, PrePromotionAnalysisAbortsAFivePercentErrorVersionAndPromotesAHealthyOne) {
  DemoUpstream v1 = DemoUpstream::start("app-v1", {"--count-header", kTag});
  DemoUpstream bad = DemoUpstream::start("app-v2", {"--count-header", kTag, "--fail-rate", "0.05"});
  DemoUpstream good = DemoUpstream::start("app-v3", {"--count-header", kTag});
  const std::string socket = temp_path("weir", ".sock");
  Weir weir = Weir::start(config(socket, v1, bad, "{ after: 1s }", &good));
  LoadGen load(weir.port(), 4, 300);
  ASSERT_TRUE(load.wait_for(0, 100)) << load.report();

  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_phase(socket, "Degraded", 20s)) << status_raw(socket);
  json::Value::Array events = history(socket);
  ASSERT_EQ(count_events(events, "aborted"), 1u) << history_raw(socket);
  EXPECT_TRUE(contains(events.back().get_string("message") + history_raw(socket), "error rate"))
      << history_raw(socket);
  EXPECT_EQ(count_events(events, "promoted"), 0u);
  EXPECT_EQ(bad.counts().without, 0) << "no user request reached the failing version";

  // The same plan with a healthy new version is promoted on its own once the analysis passed.
  const int before = load.new_epoch();
  Reply start = control(socket, "rollout start r app-v3/app");
  ASSERT_TRUE(start.ok()) << start.raw;
  ASSERT_TRUE(wait_phase(socket, "Healthy", 20s)) << status_raw(socket);
  ASSERT_TRUE(load.wait_for(before, 100));
  EXPECT_EQ(load.served_by(before).count("app-v2"), 0u);
  EXPECT_EQ(count_events(history(socket), "promoted"), 1u) << history_raw(socket);
  const int after = load.new_epoch();
  ASSERT_TRUE(load.wait_for(after, 300)) << load.report();
  const auto promoted = load.served_by(after);
  EXPECT_EQ(promoted.size(), 1u) << load.report();
  EXPECT_TRUE(promoted.contains("app-v3")) << load.report();
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

} // namespace
} // namespace weir::test
