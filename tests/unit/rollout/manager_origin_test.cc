// Who did it: an operator's rollout command, from the control socket or the dashboard, leaves
// its origin in the events it causes; the plan's own events have none.
#include "manager_fixture.h"
#include "weir/control/command_table.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

class Peer : public control::Responder {
public:
  explicit Peer(std::string name) : name_(std::move(name)) {}
  void reply(std::string line) override { replies.push_back(std::move(line)); }
  void stream(std::string) override {}
  bool open() const override { return true; }
  std::string peer() const override { return name_; }
  std::vector<std::string> replies;

private:
  std::string name_;
};

TEST_F(RolloutManagerTest, AnOperatorsCommandLeavesItsOriginInTheEventsItCauses) {
  plan().steps = {set_weight(10), gate(), set_weight(100)};
  control::CommandTable table;
  manager->register_commands(table);
  auto socket = std::make_shared<Peer>("uid 1000, pid 4242");
  table.dispatch("rollout start r", socket);
  ASSERT_EQ(socket->replies.size(), 1u);
  EXPECT_EQ(phase(), "Paused");
  auto dashboard = std::make_shared<Peer>("dashboard 127.0.0.1:52310");
  table.dispatch("rollout promote r", dashboard);
  ASSERT_EQ(dashboard->replies.size(), 1u);
  EXPECT_EQ(phase(), "Healthy");

  std::map<std::string, std::string> origin_of; // the last event of each type
  for (const auto& e : history())
    origin_of[e.get_string("type")] = e.get_string("origin");
  EXPECT_EQ(origin_of["started"], "uid 1000, pid 4242");
  EXPECT_EQ(origin_of["promoted"], "dashboard 127.0.0.1:52310");
  // The gate is the plan's doing, though a command caused the step that reached it.
  bool gate_event = false;
  for (const auto& e : history())
    if (e.get_string("type") == "paused") {
      gate_event = true;
      EXPECT_EQ(e.get_string("origin"), "uid 1000, pid 4242")
          << "reached at once within the start command";
    }
  EXPECT_TRUE(gate_event);

  // A later abort by the plan's own analysis would carry none; a manual one names its sender.
  table.dispatch("rollout start r", socket);
  table.dispatch("rollout abort r", dashboard);
  EXPECT_EQ(history().back().get_string("type"), "aborted");
  EXPECT_EQ(history().back().get_string("origin"), "dashboard 127.0.0.1:52310");
  // Saved with the state, so a restart (or a fleet's follower) shows it too.
  EXPECT_NE(host.saved.find("\"origin\":\"dashboard 127.0.0.1:52310\""), std::string::npos);
}

TEST_F(RolloutManagerTest, ThePlansOwnEventsHaveNoOrigin) {
  plan().steps = {set_weight(10), pause(5s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  advance(5s);
  EXPECT_EQ(phase(), "Healthy");
  for (const auto& e : history())
    EXPECT_EQ(e.find("origin"), nullptr) << e.get_string("type");
}

} // namespace
} // namespace weir::rollout

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

// The state file keeps an analysis's outcome (not its large details): after a restart the
// dashboard still tells a failed interval from an inconclusive one.
TEST_F(RolloutManagerTest, AnAnalysisOutcomeOutlivesARestart) {
  plan().steps = {set_weight(10), analysis(10s), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  host.windows[kCanary] = kThreePercentErrors;
  advance(1s);
  ASSERT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
  const std::string saved = host.saved;
  manager.reset();
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(outcomes(), (std::vector<std::string>{"fail"}));
}

} // namespace
} // namespace weir::rollout
