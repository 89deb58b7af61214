// Rollback drills end to end (issue #18): after a promotion `rollout drill` asks the version an
// undo would return to (real weir-demo-upstream processes) the live version's probes and,
// mirrored, live GETs. Healthy: "rollback ready". Stopped: "not ready" with the reason, an event,
// and `rollout undo` then asks for --force. Timing (rollback_drill.every, the mirror's end) is a
// unit test on a ManualClock (tests/unit/rollout/manager_drill_test.cc).
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/load.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>

namespace weir::test {
namespace {

using namespace rollout;

TEST(RollbackDrill, ReadyWhileTheOldVersionServesNotReadyOnceItIsStopped) {
  DemoUpstream v1 = DemoUpstream::start("app-v1");
  DemoUpstream v2 = DemoUpstream::start("app-v2");
  const std::string socket = temp_path("weir", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 100"};
  // A probe on the old version: the drill sends it to both versions.
  const std::string probe =
      "    probes:\n      - { name: home, request: { path: / }, expect: { status: [200] }, "
      "interval: 1s }\n";
  Weir weir = Weir::start(header(socket, 2) + "services:\n" +
                          service("app-v1/app", v1.address(), std::string(kNoOutliers) + probe) +
                          service("app-v2/app", v2.address(), kNoOutliers) + "routes:\n" +
                          route("r", "/", plan));
  LoadGen load(weir.port(), 2, 100);
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_phase(socket, "Healthy", 10s)) << status_raw(socket);

  Reply ready = control(socket, "rollout drill r --requests 10");
  ASSERT_TRUE(ready.ok()) << ready.raw;
  json::Value d = ready.value["drill"];
  EXPECT_TRUE(d.get_bool("ready")) << ready.raw;
  EXPECT_EQ(d.get_string("target"), "app-v1/app");
  EXPECT_GE(d["synthetic"].get_number("sent"), 1);
  EXPECT_GE(d["mirrored"].get_number("compared"), 10) << ready.raw;
  EXPECT_EQ(d["mirrored"].get_number("diverged"), 0) << ready.raw;
  EXPECT_TRUE(contains(history_raw(socket), "rollback ready")) << history_raw(socket);
  EXPECT_TRUE(status(socket)["last_drill"].get_bool("ready"));

  // The old version stops (its namespace deleted too early, say): the drill says so.
  v1.stop();
  Reply failed = control(socket, "rollout drill r --requests 5");
  ASSERT_TRUE(failed.ok()) << failed.raw;
  d = failed.value["drill"];
  EXPECT_FALSE(d.get_bool("ready")) << failed.raw;
  const std::string reason = d.get_string("reason");
  EXPECT_TRUE(contains(reason, "app-v1/app")) << reason;
  EXPECT_TRUE(contains(reason, "refused") || contains(reason, "no endpoint")) << reason;
  json::Value::Array events = history(socket);
  EXPECT_EQ(count_events(events, "drill_failed"), 1u) << history_raw(socket);
  Reply undo = control(socket, "rollout undo r");
  EXPECT_FALSE(undo.ok());
  EXPECT_TRUE(contains(undo.error(), "drill") && contains(undo.error(), "--force")) << undo.raw;
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << "the drill never touched user traffic: " << load.report();

  Reply bad = control(socket, "rollout drill r --requests x");
  EXPECT_FALSE(bad.ok());
  EXPECT_TRUE(contains(bad.error(), "--requests")) << bad.raw;
}

} // namespace
} // namespace weir::test
