// Rollouts v2 (issue 10), "what the status says is what traffic gets", end to end: the real weir
// and two demo upstreams, the control socket, /metrics and /stats.json. The status reports the
// split that requests really get, with the same numbers in `show routes` and /metrics; an
// operator's weights during a rollout are refused unless forced (which pauses it); after an
// abort `clear weight` keeps the canary at 0; an unknown route is named as unknown.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/load.h"
#include "support/run.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>

namespace weir::test {
namespace {

using namespace rollout;

// One sample of /metrics, by its series as written (name{labels}); -1 when absent.
double sample(uint16_t admin, const std::string& series) {
  HttpResponse r = http_request(admin, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// A route "r" over app-v1/app (configured 90) and app-v2/app (10) with `steps`, an admin
// listener, one worker (so a share of N requests is exact: weighted round robin).
std::string config(const std::string& socket, const DemoUpstream& v1, const DemoUpstream& v2,
                   const std::vector<std::string>& steps) {
  Plan plan;
  plan.steps = steps;
  return header(socket, 1) + "admin:\n  address: 127.0.0.1:0\nservices:\n" +
         service("app-v1/app", v1.address(), kNoOutliers) +
         service("app-v2/app", v2.address(), kNoOutliers) +
         "routes:\n  - name: r\n    listener: public\n    match: { path_prefix: / }\n"
         "    backends:\n      - { service: app-v1/app, weight: 90 }\n"
         "      - { service: app-v2/app, weight: 10 }\n" +
         rollout_yaml(plan);
}

double share_in_show_routes(const std::string& socket, const std::string& service) {
  Reply routes = control(socket, "show routes");
  for (const auto& r : routes.value["routes"].as_array())
    if (r.get_string("name") == "r") return backend_field(r, service, "share").as_number();
  return -1;
}

class RolloutTruth : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("app-v1");
    v2_ = DemoUpstream::start("app-v2");
    socket_ = temp_path("weir-truth", ".sock");
  }
  void start(const std::vector<std::string>& steps) {
    weir_ = Weir::start(config(socket_, v1_, v2_, steps));
    admin_ = weir_.admin_port();
  }
  DemoUpstream v1_, v2_;
  std::string socket_;
  Weir weir_;
  uint16_t admin_ = 0;
};

TEST_F(RolloutTruth, StatusShowRoutesMetricsAndTrafficAgreeBeforeDuringAndAfterAnOverride) {
  start({"set_weight: 20", "pause: {}", "set_weight: 100"});
  // Idle: the config's 10 % is what the canary gets, and every view says so.
  json::Value s = status(socket_);
  EXPECT_EQ(s.get_string("phase"), "Idle");
  EXPECT_EQ(s.get_number("canary_weight"), 10) << s.get_string("message");
  EXPECT_EQ(s.get_string("weights_from"), "config");
  EXPECT_DOUBLE_EQ(share_in_show_routes(socket_, "app-v2/app"), 0.1);
  EXPECT_EQ(sample(admin_, "weir_rollout_canary_weight{route=\"r\"}"), 10);
  EXPECT_EQ(sample(admin_, "weir_rollout_phase{route=\"r\",phase=\"Idle\"}"), 1);
  auto served = served_by(weir_.port(), 200);
  EXPECT_EQ(served["app-v2"], 20) << "app-v1: " << served["app-v1"];
  // And what the versions really served, once the metrics merge (once a second) has seen it.
  ASSERT_TRUE(wait_until(
      [&] { return status(socket_)["observed"].get_number("stable_requests") == 180; }, 5s, 50ms))
      << status_raw(socket_);
  EXPECT_EQ(status(socket_)["observed"].get_number("canary_requests"), 20);
  EXPECT_DOUBLE_EQ(status(socket_)["observed"].get_number("canary_share"), 0.1);

  // Progressing to the gate at 20 %.
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket_, 1, 5s));
  EXPECT_EQ(status(socket_).get_number("canary_weight"), 20);
  EXPECT_EQ(status(socket_).get_string("weights_from"), "rollout");
  EXPECT_EQ(sample(admin_, "weir_rollout_canary_weight{route=\"r\"}"), 20);
  EXPECT_EQ(sample(admin_, "weir_rollout_step{route=\"r\"}"), 2);
  EXPECT_EQ(sample(admin_, "weir_rollout_phase{route=\"r\",phase=\"Paused\"}"), 1);

  // The operator's 50/50 is refused while the plan owns the weights...
  Reply refused = control(socket_, "set weight r app-v1/app=50 app-v2/app=50");
  EXPECT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("--force"), std::string::npos) << refused.raw;
  EXPECT_EQ(live_weight(socket_, "r", "app-v2/app"), 20);
  EXPECT_FALSE(control(socket_, "clear weight r").ok());
  // ...and taken with --force, recorded, and reported as what traffic gets.
  ASSERT_TRUE(control(socket_, "set weight r app-v1/app=50 app-v2/app=50 --force").ok());
  s = status(socket_);
  EXPECT_EQ(s.get_number("canary_weight"), 50);
  EXPECT_EQ(s.get_number("plan_weight"), 20);
  EXPECT_EQ(s.get_string("weights_from"), "operator");
  EXPECT_EQ(sample(admin_, "weir_rollout_canary_weight{route=\"r\"}"), 50);
  EXPECT_DOUBLE_EQ(share_in_show_routes(socket_, "app-v2/app"), 0.5);
  served = served_by(weir_.port(), 100);
  EXPECT_EQ(served["app-v2"], 50);
  json::Value::Array events = history(socket_);
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().get_string("type"), "override");
  EXPECT_NE(events.back().get_string("message").find("app-v2/app=50"), std::string::npos);
  // Who: the kernel's credentials of the control client (this test process).
  EXPECT_NE(events.back().get_string("message").find("(by uid " + std::to_string(::getuid()) +
                                                     ", pid " + std::to_string(::getpid()) + ")"),
            std::string::npos)
      << events.back().get_string("message");
  // /stats.json carries the same status.
  HttpResponse stats = http_request(admin_, "GET", "/stats.json");
  auto parsed = json::parse(stats.body);
  ASSERT_TRUE(parsed.value) << stats.body;
  EXPECT_EQ((*parsed.value)["routes"]["r"]["rollout"].get_number("canary_weight"), 50);

  // Passing the gate gives the weights back to the plan.
  ASSERT_TRUE(control(socket_, "rollout promote r").ok());
  ASSERT_TRUE(wait_phase(socket_, "Healthy", 5s));
  s = status(socket_);
  EXPECT_EQ(s.get_number("canary_weight"), 100);
  EXPECT_EQ(s.get_string("weights_from"), "rollout");
  served = served_by(weir_.port(), 50);
  EXPECT_EQ(served["app-v2"], 50);
}

TEST_F(RolloutTruth, ClearWeightAfterAnAbortKeepsTheCanaryAtZero) {
  start({"set_weight: 20", "pause: {}", "set_weight: 100"});
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket_, 1, 5s));
  ASSERT_TRUE(control(socket_, "rollout abort r").ok());
  ASSERT_TRUE(control(socket_, "clear weight r").ok()) << "no operator override to refuse";
  json::Value s = status(socket_);
  EXPECT_EQ(s.get_string("phase"), "Degraded");
  EXPECT_EQ(s.get_number("canary_weight"), 0);
  EXPECT_EQ(live_weight(socket_, "r", "app-v2/app"), 0);
  auto served = served_by(weir_.port(), 100);
  EXPECT_EQ(served["app-v2"], 0) << "the failed canary must not come back at its config weight";
  // An operator may still send it traffic on purpose; clearing that goes back to 0, not 10.
  ASSERT_TRUE(control(socket_, "set weight r app-v2/app=10").ok());
  EXPECT_EQ(status(socket_).get_string("weights_from"), "operator");
  ASSERT_TRUE(control(socket_, "clear weight r").ok());
  EXPECT_EQ(live_weight(socket_, "r", "app-v2/app"), 0);
}

TEST_F(RolloutTruth, RestartRunsTheRolloutAgainAndUndoGivesTheRouteBack) {
  start({"set_weight: 20", "pause: {}", "set_weight: 100"});
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket_, 1, 5s));
  ASSERT_TRUE(control(socket_, "rollout abort r").ok());
  EXPECT_EQ(served_by(weir_.port(), 50)["app-v2"], 0);
  // restart: the aborted rollout again, same versions, from step 1.
  Reply restarted = control(socket_, "rollout restart r");
  ASSERT_TRUE(restarted.ok()) << restarted.raw;
  ASSERT_TRUE(wait_gate(socket_, 1, 5s));
  EXPECT_EQ(status(socket_).get_string("canary"), "app-v2/app");
  EXPECT_EQ(served_by(weir_.port(), 50)["app-v2"], 10);
  EXPECT_EQ(count_events(history(socket_), "restarted"), 1u);
  // undo after a promotion: app-v1 takes the whole route again at once.
  EXPECT_FALSE(control(socket_, "rollout undo r").ok()) << "nothing promoted yet";
  ASSERT_TRUE(control(socket_, "rollout promote r --full").ok());
  ASSERT_TRUE(wait_phase(socket_, "Healthy", 5s));
  EXPECT_EQ(served_by(weir_.port(), 20)["app-v2"], 20);
  Reply undone = control(socket_, "rollout undo r");
  ASSERT_TRUE(undone.ok()) << undone.raw;
  EXPECT_EQ(undone.value["rollout"].get_string("phase"), "Degraded");
  EXPECT_EQ(undone.value["rollout"].get_number("canary_weight"), 0);
  EXPECT_EQ(served_by(weir_.port(), 20)["app-v1"], 20);
  // The rollout families of /metrics are valid exposition text.
  HttpResponse m = http_request(admin_, "GET", "/metrics");
  EXPECT_NE(m.body.find("weir_rollout_phase{route=\"r\",phase=\"Degraded\"} 1"), std::string::npos);
  std::string file = temp_path("metrics", ".txt");
  ASSERT_TRUE(write_file(file, m.body));
  RunResult check = run_command({"/bin/sh", "-c", "/usr/bin/promtool check metrics < " + file});
  EXPECT_EQ(check.code, 0) << check.out << check.err;
  // The flag may come first too: flags stand anywhere after a command's name.
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  Reply flag_first = control(socket_, "rollout promote --full r");
  EXPECT_TRUE(flag_first.ok()) << flag_first.raw;
  EXPECT_TRUE(wait_phase(socket_, "Healthy", 5s));
}

TEST_F(RolloutTruth, AReloadSaysTheRouteChangedWhenItsPlanOrRetriesDidAndEndsAPlanItRemoves) {
  start({"set_weight: 20", "pause: {}", "set_weight: 100"});
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket_, 1, 5s));
  auto changed = [&](const std::string& from, const std::string& to) {
    std::string text = read_file(weir_.config_path);
    size_t at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    text.replace(at, from.size(), to);
    EXPECT_TRUE(write_file(weir_.config_path, text));
    Reply r = control(socket_, "reload");
    EXPECT_TRUE(r.ok()) << r.raw;
    for (const auto& name : r.value["changes"]["routes_changed"].as_array())
      if (name.as_string() == "r") return true;
    return false;
  };
  EXPECT_TRUE(changed("interval: 1s", "interval: 2s")) << "an analysis setting";
  EXPECT_TRUE(changed("    rollout:\n", "    retries: { attempts: 1 }\n    rollout:\n"));
  // The plan gone: the rollout ends and the route follows the file's 90/10 again.
  std::string text = read_file(weir_.config_path);
  ASSERT_TRUE(write_file(weir_.config_path, text.substr(0, text.find("    rollout:\n"))));
  Reply r = control(socket_, "reload");
  ASSERT_TRUE(r.ok()) << r.raw;
  EXPECT_EQ(live_weight(socket_, "r", "app-v2/app"), 10);
  EXPECT_EQ(served_by(weir_.port(), 100)["app-v2"], 10);
  EXPECT_EQ(control(socket_, "rollout status r").error(), "route \"r\" has no rollout plan");
}

TEST_F(RolloutTruth, ABadForcedWeightCommandIsRefusedAndPausesNothing) {
  start({"set_weight: 20", "pause: { duration: 1m }", "set_weight: 100"});
  ASSERT_TRUE(control(socket_, "rollout start r").ok());
  ASSERT_TRUE(wait_phase(socket_, "Progressing", 5s));
  for (const char* bad :
       {"set weight r nosuch/app=5 --force", "set weight r app-v1/app=5 app-v1/app=6 --force",
        "set weight r app-v2/app=x --force"}) {
    Reply r = control(socket_, bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(status(socket_).get_string("phase"), "Progressing") << bad << ": " << r.raw;
  }
  EXPECT_NE(control(socket_, "set weight r app-v1/app=5 app-v1/app=6 --force")
                .error()
                .find("given twice"),
            std::string::npos);
  EXPECT_EQ(count_events(history(socket_), "override"), 0u);
}

TEST_F(RolloutTruth, AnUnknownRouteIsNamedAsUnknown) {
  start({"set_weight: 20", "pause: {}", "set_weight: 100"});
  for (const char* command :
       {"rollout status nosuch", "rollout history nosuch", "rollout start nosuch",
        "rollout abort nosuch", "rollout undo nosuch", "rollout restart nosuch"}) {
    Reply r = control(socket_, command);
    EXPECT_FALSE(r.ok()) << command;
    EXPECT_EQ(r.error(), "unknown route \"nosuch\"") << command;
  }
}

} // namespace
} // namespace weir::test
