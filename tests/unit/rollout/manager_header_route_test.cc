// The rollout manager's header routes (set_header_route, Argo Rollouts' setHeaderRoute): a step
// gives the host the named route to the canary, a later step of the same name replaces or (no
// headers) removes it, and promotion, abort and restart drop them all; a restored rollout sets
// them again; status shows them.
#include "manager_fixture.h"

namespace weir::rollout {
namespace {

using namespace fake;
using namespace std::chrono_literals;

using Headers = std::vector<config::ValueMatch>;
using Type = config::ValueMatch::Type;

config::RolloutStep header_route(std::string name, Headers headers) {
  config::RolloutStep s;
  s.kind = config::RolloutStep::Kind::set_header_route;
  s.header_route_name = std::move(name);
  s.header_route = std::move(headers);
  return s;
}

const Headers kTesters{{Type::exact, "x-tester", "yes"}};
const Headers kMobile{{Type::regex, "user-agent", ".*Mobile.*"}};

using RolloutHeaderRouteTest = RolloutManagerTest;

TEST_F(RolloutHeaderRouteTest, StepsSetReplaceAndRemoveUntilTheEnd) {
  plan().steps = {header_route("testers", kTesters),
                  pause(2s),
                  header_route("mobile", kMobile),
                  pause(2s),
                  header_route("testers", {}),
                  gate(),
                  set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  EXPECT_EQ(host.canary_weight(), 0);
  ASSERT_TRUE(host.header_routes.contains("r"));
  EXPECT_EQ(host.header_routes["r"].first, kCanary);
  EXPECT_EQ(host.header_routes["r"].second, (FakeHost::HeaderRoutes{{"testers", kTesters}}));
  EXPECT_EQ(history()[1].get_string("message"),
            "step 1: set_header_route testers: requests with x-tester: \"yes\" go to " + kCanary);
  auto routes = status()["header_routes"].as_array();
  ASSERT_EQ(routes.size(), 1u);
  EXPECT_EQ(routes[0].get_string("name"), "testers");
  EXPECT_EQ(routes[0]["headers"].as_array()[0].get_string("value"), "yes");
  advance(2s);
  EXPECT_EQ(host.header_routes["r"].second,
            (FakeHost::HeaderRoutes{{"testers", kTesters}, {"mobile", kMobile}}));
  advance(2s);
  EXPECT_EQ(host.header_routes["r"].second, (FakeHost::HeaderRoutes{{"mobile", kMobile}}));
  EXPECT_EQ(phase(), "Paused"); // at the gate the header route stays
  ASSERT_EQ(manager->promote("r", false), "");
  EXPECT_EQ(phase(), "Healthy");
  EXPECT_FALSE(host.header_routes.contains("r")) << "the promotion ends the header routes";
  EXPECT_TRUE(status()["header_routes"].as_array().empty());
}

TEST_F(RolloutHeaderRouteTest, AbortAndRestartDropThem) {
  plan().steps = {header_route("testers", kTesters), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  ASSERT_TRUE(host.header_routes.contains("r"));
  ASSERT_EQ(manager->abort("r", "by hand"), "");
  EXPECT_FALSE(host.header_routes.contains("r"));
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_TRUE(host.header_routes.contains("r"));
  plan().steps = {gate(), set_weight(100)};
  manager->on_reload(); // held for the operator; the header route stays meanwhile
  EXPECT_TRUE(host.header_routes.contains("r"));
  ASSERT_EQ(manager->restart("r"), "");
  EXPECT_FALSE(host.header_routes.contains("r")) << "the new plan from step 1 has none";
}

TEST_F(RolloutHeaderRouteTest, ARestoredRolloutSetsThemAgain) {
  plan().steps = {header_route("mobile", kMobile), gate(), set_weight(100)};
  ASSERT_EQ(manager->begin("r", ""), "");
  // weir restarts: the controller's header routes are gone with the process, the state stays.
  std::string saved = host.saved;
  manager.reset();
  host.header_routes.clear();
  host.saved = saved;
  manager = std::make_unique<Manager>(io, host, clock);
  manager->start();
  EXPECT_EQ(phase(), "Paused");
  ASSERT_TRUE(host.header_routes.contains("r"));
  EXPECT_EQ(host.header_routes["r"].second, (FakeHost::HeaderRoutes{{"mobile", kMobile}}));
}

} // namespace
} // namespace weir::rollout
