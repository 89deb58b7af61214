// When the version a promotion replaced is safe to delete (manager_cleanup.cc): only after its
// last request, connection, tunnel and sticky client are gone and the rollback window closed,
// plus the plan's grace period; each condition kept alive in turn holds it, and status names it
// with the time it has been pending. And the tunnels at cutover: the replaced version's drain
// after a promotion, the failed version's close after an abort or undo.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

class RolloutCleanupTest : public RolloutManagerTest {
protected:
  RolloutCleanupTest() {
    plan().steps = {set_weight(50), gate()};
    plan().cleanup_grace = 60s;
  }

  void promote() {
    ASSERT_EQ(manager->begin("r", ""), "");
    ASSERT_EQ(manager->promote("r", false), "");
    ASSERT_EQ(phase(), "Healthy");
  }

  json::Value cleanup() { return status()["cleanup"]; }
  std::vector<std::string> pending() {
    std::vector<std::string> out;
    json::Value all = cleanup(); // kept: the loop reads into it
    for (const auto& c : all["pending"].as_array())
      out.push_back(c.get_string("condition"));
    return out;
  }
  bool safe() { return cleanup().get_bool("safe_to_delete"); }
  std::string metric() {
    std::string out;
    manager->write_metrics(out);
    auto at = out.find("weir_version_safe_to_delete{namespace=\"app-v1\",service=\"app\"} ");
    if (at == std::string::npos) return "";
    return out.substr(out.find('}', at) + 2, 1);
  }
  // Nothing uses the old version any more.
  void quiet() {
    host.windows[kStable] = window(0, 0);
    host.in_flight.clear();
    host.upstream_connections.clear();
    host.tunnels.clear();
    host.operator_weights.clear();
  }
};

TEST_F(RolloutCleanupTest, EachConditionHoldsItUntilGoneAndTheGraceIsOver) {
  plan().notify_webhook = "http://127.0.0.1:9/hook";
  promote();
  EXPECT_EQ(cleanup().get_string("version"), kStable);
  EXPECT_EQ(pending(), (std::vector<std::string>{"requests"})) << "requests of the last 2 s";
  EXPECT_FALSE(safe());
  EXPECT_EQ(metric(), "0");

  // Each thing that uses the old version, kept alive in turn for 2 minutes: never safe.
  quiet();
  host.in_flight[kStable] = 1; // a slow request still in flight, on its upstream connection
  host.upstream_connections[kStable] = 1;
  advance(2min);
  EXPECT_EQ(pending(), (std::vector<std::string>{"requests", "connections"}));
  EXPECT_TRUE(host.idle_closed.empty())
      << "not while a request is in flight: its connection comes back to the pool";
  quiet();
  host.upstream_connections[kStable] = 2; // idle in the workers' pools
  advance(1s);
  EXPECT_EQ(pending(), (std::vector<std::string>{"connections"}));
  json::Value c = cleanup();
  EXPECT_EQ(c["pending"].as_array()[0].get_string("detail"), "2 upstream connections open");
  EXPECT_EQ(host.idle_closed, std::vector<std::string>{kStable})
      << "nothing else would close the idle ones";
  advance(2min);
  EXPECT_EQ(pending(), (std::vector<std::string>{"connections"})) << "until they are gone";
  quiet();
  host.tunnels["r|" + kStable] = 3;
  host.in_flight[kStable] = 3; // a tunnel's request is in flight as long as the tunnel
  advance(2min);
  EXPECT_EQ(pending(), (std::vector<std::string>{"tunnels"}));
  quiet();
  plan().affinity_cookie = "weir-version";
  host.operator_weights["r"] = {{kStable, 5}, {kCanary, 95}};
  advance(2min);
  auto p = pending();
  EXPECT_NE(std::find(p.begin(), p.end(), "sticky"), p.end()) << "a bucket share still maps to it";
  EXPECT_FALSE(safe());
  EXPECT_EQ(count("safe_to_delete"), 0u);

  // Everything gone: safe only once the grace period has passed since the last one went.
  quiet();
  advance(1s);
  EXPECT_TRUE(pending().empty());
  EXPECT_FALSE(safe());
  EXPECT_GT(cleanup().get_number("safe_in_ms"), 50000);
  advance(57s);
  EXPECT_FALSE(safe());
  advance(3s);
  EXPECT_TRUE(safe());
  EXPECT_EQ(metric(), "1");
  EXPECT_EQ(count("safe_to_delete"), 1u);
  ASSERT_FALSE(host.webhooks.empty());
  EXPECT_NE(host.webhooks.back().second.find("\"type\":\"safe_to_delete\""), std::string::npos)
      << "CI hears of it";

  // Used again: not safe any more, and said so.
  host.in_flight[kStable] = 1;
  advance(1s);
  EXPECT_FALSE(safe());
  EXPECT_EQ(metric(), "0");
  EXPECT_EQ(count("in_use_again"), 1u);
}

TEST_F(RolloutCleanupTest, AMirrorToItIsACondition) {
  host.cfg.routes.push_back(host.cfg.routes[0]);
  host.cfg.routes[1].name = "shadow";
  host.cfg.routes[1].rollout = {};
  host.cfg.routes[1].filters.mirror.enabled = true;
  host.cfg.routes[1].filters.mirror.service = kStable;
  promote();
  quiet();
  advance(2min);
  EXPECT_EQ(pending(), (std::vector<std::string>{"mirrored"}));
  EXPECT_FALSE(safe());
  host.cfg.routes.pop_back();
  advance(61s);
  EXPECT_TRUE(safe());
}

TEST_F(RolloutCleanupTest, OnceSafeAnUndoNeedsForce) {
  promote();
  quiet();
  advance(2min);
  ASSERT_TRUE(safe());
  std::string refused = manager->undo("r");
  EXPECT_NE(refused.find("safe to delete"), std::string::npos) << refused;
  EXPECT_NE(manager->drill("r", 5, nullptr), "") << "nor a drill: it may be gone";
  EXPECT_EQ(manager->undo("r", true), "");
}

TEST_F(RolloutCleanupTest, ANewStartLeavesTheLastPromotionsDrainGoing) {
  host.tunnels["r|" + kStable] = 5;
  promote();
  ASSERT_TRUE(host.drains.contains("r|" + kStable));
  ASSERT_EQ(manager->begin("r", ""), ""); // the replaced version is this rollout's canary
  EXPECT_TRUE(host.drains.contains("r|" + kStable))
      << "its old users' tunnels would stay on a version in preview";
}

TEST_F(RolloutCleanupTest, TheRollbackWindowIsACondition) {
  plan().rollback_window = 5min;
  promote();
  quiet();
  host.upstream_connections[kStable] = 4; // idle, kept warm for an undo
  advance(4min);
  EXPECT_EQ(pending(), (std::vector<std::string>{"connections", "rollback_window"}));
  EXPECT_TRUE(host.idle_closed.empty()) << "the old version is kept warm during the window";
  advance(1min);
  EXPECT_EQ(host.idle_closed, std::vector<std::string>{kStable}) << "and not after";
  host.upstream_connections.clear();
  advance(59s);
  EXPECT_FALSE(safe()) << "the grace counts from the window's close";
  advance(2s);
  EXPECT_TRUE(safe());
}

TEST_F(RolloutCleanupTest, AnUndoOrANewRolloutEndsIt) {
  promote();
  ASSERT_TRUE(status().find("cleanup"));
  ASSERT_EQ(manager->undo("r"), "");
  EXPECT_FALSE(status().find("cleanup"));
  std::string out;
  manager->write_metrics(out);
  EXPECT_EQ(out.find("weir_version_safe_to_delete{"), std::string::npos);
}

TEST_F(RolloutCleanupTest, TheReplacedVersionsTunnelsDrainOverTheWindow) {
  plan().tunnels_drain_over = 5min;
  host.tunnels["r|" + kStable] = 100;
  promote();
  ASSERT_TRUE(host.drains.contains("r|" + kStable));
  EXPECT_EQ(host.drains["r|" + kStable], std::make_pair(0ms, config::Duration(5min)));
  EXPECT_EQ(count("tunnels_draining"), 1u);
  host.tunnels["r|" + kStable] = 0;
  advance(1s);
  EXPECT_EQ(count("tunnels_drained"), 1u);
}

TEST_F(RolloutCleanupTest, AnAbortClosesTheCanarysTunnelsAfterTheGrace) {
  plan().tunnels_abort_grace = 20s;
  ASSERT_EQ(manager->begin("r", ""), "");
  host.tunnels["r|" + kCanary] = 7;
  ASSERT_EQ(manager->abort("r", "test"), "");
  EXPECT_EQ(host.drains["r|" + kCanary], std::make_pair(config::Duration(20s), 0ms));
  EXPECT_EQ(count("tunnels_closing"), 1u);
}

TEST_F(RolloutCleanupTest, AnUndoStopsTheDrainAndClosesTheUndoneVersions) {
  host.tunnels["r|" + kStable] = 4;
  promote();
  ASSERT_TRUE(host.drains.contains("r|" + kStable));
  host.tunnels["r|" + kCanary] = 6;
  ASSERT_EQ(manager->undo("r"), "");
  EXPECT_FALSE(host.drains.contains("r|" + kStable)) << "it serves again";
  EXPECT_TRUE(host.drains.contains("r|" + kCanary));
}

} // namespace
} // namespace weir::rollout
