// A rollout judged by its mirrored answers (issue #15's acceptance): the canary takes no user
// traffic, set_mirror copies every request to it, and analysis.max_divergence compares its
// answers with stable's. A canary that changes one JSON field in 5 % of its answers is caught
// and the rollout aborts; an identical canary passes with noise 0 and is promoted. The rule
// itself (noise, minimum compared, failure_limit) is unit-tested on a ManualClock in
// tests/unit/rollout/manager_mirror_test.cc; this is the real run, processes and sockets.
#include "rollout_helpers.h"
#include "support/load.h"
#include "support/run.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace weir::test {
namespace {

using namespace rollout;

// Stable: two endpoints answering {"price":"10",...}, so the noise between two copies of the
// same version is measured. The canary: one endpoint, with `canary_args`. The route compares the
// JSON field price only (served_by differs by endpoint), and mirrors nothing of its own: the
// plan's set_mirror sends every request's copy to the canary.
struct MirrorRollout {
  explicit MirrorRollout(std::vector<std::string> canary_args)
      : s1(DemoUpstream::start("s1", {"--json-field", "price=10"})),
        s2(DemoUpstream::start("s2", {"--json-field", "price=10"})),
        canary(DemoUpstream::start("c1", std::move(canary_args))),
        socket(temp_path("ctl", ".sock")) {
    Plan plan;
    plan.steps = {"set_mirror: { percent: 100 }", "analysis: { duration: 2s }", "set_weight: 100"};
    plan.analysis = "{ interval: 1s, min_requests: 50, max_divergence: 1%, failure_limit: 2, "
                    "inconclusive_limit: 5 }";
    const std::string mirror = "    mirror:\n      service: app-v2/app\n      percent: 0\n"
                               "      compare: { json_fields: [price] }\n";
    weir = std::make_unique<Weir>(Weir::start(
        header(socket, 1) + "services:\n" +
        "  - namespace: app-v1\n    name: app\n    endpoints: [" + s1.address() + ", " +
        s2.address() + "]\n" + kNoOutliers + service("app-v2/app", canary.address(), kNoOutliers) +
        "routes:\n" + route("r", "/", plan, mirror)));
  }

  DemoUpstream s1, s2, canary;
  std::string socket;
  std::unique_ptr<Weir> weir;
};

TEST(RolloutMirror, ACanaryChangingOneJsonFieldInFivePercentIsCaughtAndAborted) {
  MirrorRollout m({"--json-field", "price=10", "--json-diverge-rate", "0.05"});
  LoadGen load(m.weir->port(), 4, 400);
  ASSERT_TRUE(load.wait_for(0, 100, 10s)) << load.report();
  Reply started = control(m.socket, "rollout start r");
  ASSERT_TRUE(started.ok()) << started.raw;

  // Two failed intervals of 1 s abort it.
  ASSERT_TRUE(wait_phase(m.socket, "Degraded", 10s))
      << status_raw(m.socket) << history_raw(m.socket);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  EXPECT_EQ(load.served_by(0)["c1"], 0u) << "the canary never answered a client";
  std::string aborted;
  for (const auto& e : history(m.socket))
    if (e.get_string("type") == "aborted") aborted = e.get_string("message");
  EXPECT_TRUE(contains(aborted, "analysis failed 2 intervals in a row: divergence ")) << aborted;
  EXPECT_TRUE(contains(aborted, "> max 1.00%; last: GET /")) << aborted;
  EXPECT_TRUE(contains(aborted, ": json field price")) << aborted;

  json::Value s = status(m.socket);
  EXPECT_FALSE(s.find("mirror")) << "the abort ends the rollout's mirror: " << status_raw(m.socket);
  const json::Value& d = s["divergence"];
  EXPECT_GE(d.get_number("compared"), 100) << status_raw(m.socket);
  EXPECT_GT(d.get_number("rate"), 0.01) << status_raw(m.socket);
  EXPECT_EQ(d.get_number("noise_diverged"), 0) << status_raw(m.socket);
  ASSERT_FALSE(d["recent"].as_array().empty()) << status_raw(m.socket);
  EXPECT_EQ(d["recent"].as_array()[0].get_string("method"), "GET");
  EXPECT_EQ(d["recent"].as_array()[0].get_string("what"), "json field price");

  // What an operator sees.
  RunResult cli = run_command({WEIRCTL_BIN, "--socket", m.socket, "rollout", "status", "r"});
  EXPECT_EQ(cli.code, 0) << cli.err;
  EXPECT_TRUE(contains(cli.out, "last diverging requests:")) << cli.out;
  EXPECT_TRUE(contains(cli.out, "json field price")) << cli.out;
}

TEST(RolloutMirror, AnIdenticalCanaryPassesWithNoNoiseAndIsPromoted) {
  MirrorRollout m({"--json-field", "price=10"});
  LoadGen load(m.weir->port(), 4, 400);
  ASSERT_TRUE(load.wait_for(0, 100, 10s)) << load.report();
  Reply started = control(m.socket, "rollout start r");
  ASSERT_TRUE(started.ok()) << started.raw;
  ASSERT_TRUE(wait_phase(m.socket, "Healthy", 10s))
      << status_raw(m.socket) << history_raw(m.socket);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  size_t passes = 0;
  for (const auto& e : history(m.socket)) {
    if (e.get_string("type") != "analysis") continue;
    EXPECT_EQ(e["details"].get_string("outcome"), "pass") << history_raw(m.socket);
    const json::Value& d = e["details"]["divergence"];
    EXPECT_EQ(d.get_number("diverged"), 0) << history_raw(m.socket);
    EXPECT_EQ(d.get_number("noise_diverged"), 0) << history_raw(m.socket);
    EXPECT_GT(d.get_number("noise_compared"), 0) << "two stable endpoints: noise is measured";
    ++passes;
  }
  EXPECT_GE(passes, 2u) << history_raw(m.socket);
}

} // namespace
} // namespace weir::test
