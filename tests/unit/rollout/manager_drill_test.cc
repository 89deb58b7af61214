// Rollback drills (manager_drill.cc): after a promotion the version `rollout undo` would return
// to is asked the live version's probes and, mirrored (GET and HEAD only), live GETs; the status
// classes are compared. A ready drill and a failed one are events with their reason, a failed one
// makes `rollout undo` ask for --force, and rollback_drill.every runs them during the window.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

class RolloutDrillTest : public RolloutManagerTest {
protected:
  RolloutDrillTest() { plan().steps = {set_weight(100)}; }

  void promote() {
    ASSERT_EQ(manager->begin("r", ""), "");
    ASSERT_EQ(phase(), "Healthy");
  }

  // Starts a drill; its report lands in `report` (error in `error`).
  void start(uint32_t requests = 5) {
    report.clear();
    error.clear();
    ASSERT_EQ(manager->drill("r", requests,
                             [this](std::string e, std::string r) {
                               error = std::move(e);
                               report = std::move(r);
                             }),
              "");
  }
  Host::DrillAnswer pair(int target, int live, std::string target_error = "") {
    return {"probe home: GET /", "127.0.0.1:9000", target, std::move(target_error), live, ""};
  }
  void mirror_compared(uint64_t compared, uint64_t diverged) {
    host.divergences["r"].compared += compared;
    host.divergences["r"].diverged += diverged;
  }
  json::Value parsed() {
    auto p = json::parse(report);
    return p.value ? *p.value : json::Value();
  }

  std::string report, error;
};

TEST_F(RolloutDrillTest, ReadyWhenTheRollbackTargetAnswersAsTheLiveVersion) {
  promote();
  start();
  ASSERT_EQ(host.drills.size(), 1u);
  EXPECT_EQ(host.drills[0].target, kStable) << "the version an undo returns to";
  EXPECT_EQ(host.drills[0].live, kCanary);
  EXPECT_EQ(host.mirrors["r"], std::make_pair(kStable, 100.0));
  EXPECT_TRUE(host.safe_only_mirrors.contains("r")) << "never a write to the old version";
  host.drills[0].done({pair(200, 200), pair(204, 200)});
  EXPECT_TRUE(report.empty()) << "waits for the mirrored GETs";
  mirror_compared(5, 0);
  advance(250ms);
  ASSERT_FALSE(report.empty());
  EXPECT_TRUE(parsed().get_bool("ready")) << report;
  EXPECT_EQ(parsed()["mirrored"].get_number("compared"), 5);
  EXPECT_EQ(parsed()["synthetic"].get_number("same_class"), 2);
  EXPECT_FALSE(host.mirrors.contains("r")) << "the drill's mirror ends with it";
  EXPECT_EQ(count("drill_passed"), 1u);
  EXPECT_NE(history().back().get_string("message").find("rollback ready"), std::string::npos);
  EXPECT_TRUE(status()["last_drill"].get_bool("ready"));
  EXPECT_EQ(manager->undo("r"), "");
}

TEST_F(RolloutDrillTest, AStoppedRollbackTargetIsNotReadyAndUndoAsksForForce) {
  promote();
  start();
  host.drills[0].done({pair(0, 200, "connect failed: Connection refused")});
  advance(Manager::kDrillMirrorFor); // no live GET arrived: judged on the probes alone
  ASSERT_FALSE(report.empty());
  EXPECT_FALSE(parsed().get_bool("ready"));
  EXPECT_NE(parsed().get_string("reason").find("Connection refused"), std::string::npos) << report;
  EXPECT_EQ(count("drill_failed"), 1u);
  std::string refused = manager->undo("r");
  EXPECT_NE(refused.find("drill"), std::string::npos) << refused;
  EXPECT_NE(refused.find("--force"), std::string::npos) << refused;
  EXPECT_EQ(manager->undo("r", true), "");
}

TEST_F(RolloutDrillTest, NoEndpointOrDivergingMirroredAnswersAreNotReady) {
  promote();
  start();
  host.drills[0].done({});
  advance(Manager::kDrillMirrorFor);
  EXPECT_NE(parsed().get_string("reason").find("no endpoint of " + kStable), std::string::npos)
      << report;

  start(3);
  host.drills[1].done({pair(200, 200)});
  host.recent["r"] = {{"GET", "/cart", "status 2xx vs 5xx", {}}};
  mirror_compared(3, 1);
  advance(250ms);
  EXPECT_FALSE(parsed().get_bool("ready"));
  EXPECT_NE(parsed().get_string("reason").find("1 of 3 mirrored live GETs"), std::string::npos)
      << report;
  EXPECT_NE(parsed().get_string("reason").find("/cart: status 2xx vs 5xx"), std::string::npos);

  // A passing drill clears the failed one.
  start(1);
  host.drills[2].done({pair(200, 200)});
  mirror_compared(1, 0);
  advance(250ms);
  EXPECT_TRUE(parsed().get_bool("ready"));
  EXPECT_EQ(manager->undo("r"), "");
}

TEST_F(RolloutDrillTest, OnlyAfterAPromotion) {
  EXPECT_NE(manager->drill("r", 5, nullptr).find("no promoted rollout"), std::string::npos);
  plan().steps = {set_weight(10), gate()};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_NE(manager->drill("r", 5, nullptr), "");
}

TEST_F(RolloutDrillTest, AnUndoCallsARunningDrillOff) {
  promote();
  start();
  ASSERT_EQ(manager->undo("r"), "");
  EXPECT_NE(error.find("called off"), std::string::npos);
  EXPECT_FALSE(host.mirrors.contains("r"));
  host.drills[0].done({pair(200, 200)}); // a late answer changes nothing
  EXPECT_EQ(count("drill_passed"), 0u);
}

TEST_F(RolloutDrillTest, EveryDrillsRunDuringTheRollbackWindowOnly) {
  plan().rollback_window = 5min;
  plan().rollback_drill_every = 2min;
  promote();
  advance(2min);
  ASSERT_EQ(host.drills.size(), 1u);
  host.drills[0].done({pair(200, 200)});
  advance(Manager::kDrillMirrorFor);
  EXPECT_EQ(count("drill_passed"), 1u);
  advance(2min);
  ASSERT_EQ(host.drills.size(), 2u);
  host.drills[1].done({pair(200, 200)});
  advance(20min);
  EXPECT_EQ(host.drills.size(), 2u) << "none that would end after the window";
  EXPECT_NE(manager->drill("r", 5, nullptr).find("rollback window is over"), std::string::npos);
}

} // namespace
} // namespace weir::rollout
