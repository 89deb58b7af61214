// The rollout manager's mirroring: set_mirror steps set and clear the live mirror to the canary
// (promotion, abort and restart clear it; a restored rollout sets it again), and
// analysis.max_divergence judges each interval's shadow comparisons, at weight 0 too.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

class RolloutMirrorTest : public RolloutManagerTest {
protected:
  RolloutMirrorTest() {
    plan().analysis.max_divergence = 0.01;
    plan().analysis.min_requests = 200; // 100 compared answers needed for 1 %
  }
  // The mirror thread compared `compared` more answers, `diverged` of them differing, and
  // `noise` more between two stable endpoints (none differing).
  void compare(uint64_t compared, uint64_t diverged, uint64_t noise = 0) {
    auto& c = host.divergences["r"];
    c.compared += compared;
    c.diverged += diverged;
    c.noise_compared += noise;
    if (diverged > 0)
      host.recent["r"].push_back({"GET", "/price?id=" + std::to_string(c.diverged),
                                  "json field price", std::chrono::system_clock::now()});
  }
  std::string last_event(const std::string& type) {
    std::string out;
    for (const auto& e : history())
      if (e.get_string("type") == type) out = e.get_string("message");
    return out;
  }
};

TEST_F(RolloutMirrorTest, SetMirrorMirrorsToTheCanaryUntilALaterStepOrTheEnd) {
  plan().steps = {set_mirror(10), pause(2s),     set_mirror(25.5), pause(2s),      set_mirror(0),
                  pause(2s),      set_mirror(5), gate(),           set_weight(100)};
  plan().analysis.max_divergence = -1;
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.mirrors["r"], (std::pair<std::string, double>{kCanary, 10}));
  EXPECT_EQ(status()["mirror"].get_number("percent"), 10);
  EXPECT_EQ(status()["mirror"].get_string("service"), kCanary);
  EXPECT_EQ(history()[1].get_string("message"),
            "step 1: set_mirror 10% of the requests mirrored to " + kCanary);
  advance(2s);
  EXPECT_EQ(host.mirrors["r"].second, 25.5);
  advance(2s);
  EXPECT_FALSE(host.mirrors.contains("r")) << "0: the route mirrors as its config says";
  EXPECT_FALSE(status().find("mirror"));
  advance(2s);
  EXPECT_EQ(host.mirrors["r"].second, 5);
  EXPECT_EQ(phase(), "Paused"); // at the gate the mirror goes on
  EXPECT_TRUE(host.mirrors.contains("r"));
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_FALSE(host.mirrors.contains("r")) << "the promotion ends the rollout's mirror";
}

TEST_F(RolloutMirrorTest, AbortAndRestartClearTheMirror) {
  plan().steps = {set_mirror(50), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_TRUE(host.mirrors.contains("r"));
  ASSERT_EQ(manager->abort("r", "by hand"), "");
  EXPECT_FALSE(host.mirrors.contains("r"));
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_EQ(host.mirrors["r"].second, 50);
  plan().steps = {gate(), set_weight(100)};
  manager->on_reload(); // the plan changed: held, the mirror stays until the operator decides
  EXPECT_TRUE(host.mirrors.contains("r"));
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_FALSE(host.mirrors.contains("r")) << "the new plan from step 1 has no mirror yet";
}

TEST_F(RolloutMirrorTest, ARestoredRolloutSetsItsMirrorAgain) {
  plan().steps = {set_mirror(20), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  // weir restarts: the controller's live mirror is gone with the process, the state file stays.
  std::string saved = host.saved;
  manager.reset();
  host.mirrors.clear();
  host.divergences["r"] = {}; // the new process's tally starts at zero
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(phase(), "Paused");
  EXPECT_EQ(host.mirrors["r"], (std::pair<std::string, double>{kCanary, 20}));
}

TEST_F(RolloutMirrorTest, ACanaryThatDivergesIsAbortedAtWeightZero) {
  plan().steps = {set_mirror(100), analysis(10s), set_weight(100)};
  compare(5000, 700); // before this rollout: not its business
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.canary_weight(), 0);
  compare(200, 10, 50); // 5 % of the canary's answers differ, stable's never
  advance(1s);
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
  auto details = history().back()["details"];
  EXPECT_EQ(details["builtin"].get_string("outcome"), "not judged");
  EXPECT_EQ(details["divergence"].get_number("compared"), 200);
  EXPECT_EQ(details["divergence"].get_number("rate"), 0.05);
  compare(200, 10, 50);
  advance(1s);
  EXPECT_EQ(phase(), "Degraded");
  EXPECT_EQ(last_event("aborted"),
            "analysis failed 2 intervals in a row: divergence 5.00% (10 of 200 compared answers "
            "differ, noise 0.00% of 50) > max 1.00%; last: GET /price?id=720: json field price");
  EXPECT_FALSE(host.mirrors.contains("r"));
  // Status: the comparisons since the rollout started and the last diverging requests.
  auto d = status()["divergence"];
  EXPECT_EQ(d.get_number("compared"), 400);
  EXPECT_EQ(d.get_number("diverged"), 20);
  EXPECT_EQ(d.get_number("noise_compared"), 100);
  EXPECT_EQ(d["recent"].as_array().size(), 3u);
  EXPECT_EQ(d["recent"].as_array()[0].get_string("path"), "/price?id=720") << "newest first";
  EXPECT_EQ(d["recent"].as_array()[0].get_string("what"), "json field price");
}

TEST_F(RolloutMirrorTest, AnIdenticalCanaryPassesAndTheRolloutGoesOn) {
  plan().steps = {set_mirror(100), analysis(2s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  compare(150, 0, 40);
  advance(1s);
  compare(150, 1, 40); // 0.67 %: within 1 %
  advance(1s);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"pass", "pass"}));
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_EQ(host.canary_weight(), 100);
}

TEST_F(RolloutMirrorTest, TooFewComparedAnswersAreInconclusiveAndPause) {
  plan().steps = {set_mirror(1), analysis(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  for (int i = 0; i < 3; ++i) {
    compare(30, 30);
    advance(1s);
  }
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"inconclusive", "inconclusive", "inconclusive"}));
  EXPECT_EQ(phase(), "Paused");
  EXPECT_NE(status().get_string("message").find("70 more compared answers needed"),
            std::string::npos)
      << status().get_string("message");
}

TEST_F(RolloutMirrorTest, WithTrafficTheDivergenceIsJudgedBesideTheBuiltInMetrics) {
  plan().steps = {set_weight(10), set_mirror(50), analysis(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  compare(300, 1);
  advance(1s);
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"pass"}));
  EXPECT_NE(history().back().get_string("message").find("; divergence 0.33% (1 of 300"),
            std::string::npos)
      << history().back().get_string("message");
  // Healthy metrics do not save a canary whose answers differ.
  compare(300, 30);
  advance(1s);
  compare(300, 30);
  advance(1s);
  EXPECT_EQ(phase(), "Degraded");
}

TEST_F(RolloutMirrorTest, WithoutAMirrorToTheCanaryNothingIsJudgedAtWeightZero) {
  plan().steps = {pause(3s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  compare(500, 500);
  advance(2s);
  EXPECT_TRUE(outcomes().empty());
  // The route's own mirror to the canary with compare feeds the analysis too.
  host.cfg.routes[0].filters.mirror.enabled = true;
  host.cfg.routes[0].filters.mirror.service = kCanary;
  host.cfg.routes[0].filters.mirror.compare.enabled = true;
  compare(500, 500);
  advance(1s);
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
}

} // namespace
} // namespace weir::rollout
