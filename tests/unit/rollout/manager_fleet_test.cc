// The rollout manager in a fleet: a follower shows the leader's state and runs nothing; a new
// leader goes on with the step's time left; a command the old leader ran and saved is known to
// the new one; a follower's fast abort stops the canary on its own workers and asks the leader.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

TEST_F(RolloutManagerTest, AFollowerShowsTheSavedStateAndRunsNothing) {
  plan().steps = {set_weight(10), pause(20s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(4s);
  std::string saved = host.saved;
  ASSERT_NE(saved, "");

  // Another replica, following what the leader saved.
  manager.reset();
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->set_role(Manager::Role::follow, "run by the fleet's leader weir-1");
  manager->start();
  json::Value s = status();
  EXPECT_EQ(s.get_string("phase"), "Progressing");
  EXPECT_EQ(s.get_number("step"), 1);
  EXPECT_EQ(s.get_string("fleet"), "run by the fleet's leader weir-1");
  EXPECT_TRUE(s["held"].is_null());
  EXPECT_TRUE(manager->any_running());
  EXPECT_FALSE(manager->next_due()) << "a follower runs no timer";
  advance(30s);
  EXPECT_EQ(step(), 1) << "the step's end is the leader's to act on";
  EXPECT_EQ(host.saved, saved) << "a follower never saves";

  // Nobody can lead: the same, but held.
  manager->set_role(Manager::Role::follow, "the fleet's store is unreachable", true);
  EXPECT_EQ(status().get_string("held"), "the fleet's store is unreachable");
}

TEST_F(RolloutManagerTest, ANewLeaderGoesOnWithTheStepsTimeLeftAndSaysItTookOver) {
  plan().steps = {set_weight(10), pause(20s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(5s);
  std::string saved = host.saved;
  manager.reset();
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->set_role(Manager::Role::follow, "run by weir-0");
  manager->start();
  advance(3s); // the old leader's lease runs out meanwhile
  manager->set_role(Manager::Role::lead, "taken over by weir-1, the fleet's leader now,");
  EXPECT_EQ(remaining_ms(), 12000) << "20 s - 5 s - 3 s";
  EXPECT_TRUE(status()["fleet"].is_null());
  std::string events = manager->history_json("r");
  EXPECT_NE(events.find("taken over by weir-1, the fleet's leader now, at step 2 with 12000ms"),
            std::string::npos)
      << events;
  advance(12s);
  EXPECT_EQ(phase(), "Healthy");
}

TEST_F(RolloutManagerTest, ACommandRunAndSavedIsKnownToTheNextLeader) {
  plan().steps = {set_weight(10), gate(), set_weight(50), gate()};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_FALSE(manager->command_ran("r", "weir-2-1-7"));
  manager->note_command("r", "weir-2-1-7");
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_TRUE(manager->command_ran("r", "weir-2-1-7"));
  std::string saved = host.saved;
  manager.reset();
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_TRUE(manager->command_ran("r", "weir-2-1-7")) << "saved with the state it produced";
  EXPECT_FALSE(manager->command_ran("r", "weir-2-1-8"));
  EXPECT_FALSE(manager->command_ran("other", "weir-2-1-7"));
}

TEST_F(RolloutManagerTest, AFollowersFastAbortStopsTheCanaryHereAndAsksTheLeader) {
  plan().steps = {set_weight(50), gate()};
  ASSERT_EQ(manager->begin("r", ""), "");
  std::string saved = host.saved;
  manager.reset();
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  std::vector<std::string> asked;
  manager->set_to_leader(
      [&](const std::string& route, const std::string& op, const std::string& why) {
        asked.push_back(route + " " + op + ": " + why);
      });
  manager->set_role(Manager::Role::follow, "run by weir-0");
  manager->start();
  manager->on_fast_abort({"r", kCanary, 5, 100ms, {5}});
  EXPECT_EQ(host.canary_weight(), 0) << "at once, on this replica";
  ASSERT_EQ(asked.size(), 1u);
  EXPECT_NE(asked[0].find("r abort: fast abort on a follower: 5 consecutive errors"),
            std::string::npos)
      << asked[0];
  EXPECT_EQ(phase(), "Paused") << "at its gate: the leader records the abort";
}

} // namespace
} // namespace weir::rollout
