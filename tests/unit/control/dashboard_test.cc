// The dashboard's pure parts: an action's JSON as the control command it runs (and the bodies
// refused), the weight history, and the charts' one-second series drawn from the aggregator's
// history (fine and coarse samples) on a wall-clock grid.
#include "weir/control/dashboard.h"
#include "weir/control/weight_history.h"
#include "weir/metrics/aggregator.h"

#include <gtest/gtest.h>

namespace weir::control {
namespace {

using namespace std::chrono_literals;

std::string command(std::string_view body) {
  auto [problem, line] = Dashboard::action_command(body);
  EXPECT_EQ(problem, "") << body;
  return line;
}
std::string problem(std::string_view body) {
  auto [why, line] = Dashboard::action_command(body);
  EXPECT_EQ(line, "") << body;
  return why;
}

TEST(DashboardAction, EachActionIsTheControlSocketsCommandLine) {
  EXPECT_EQ(command(R"({"action":"promote","route":"web"})"), "rollout promote web");
  EXPECT_EQ(command(R"({"action":"promote","route":"web","full":true})"),
            "rollout promote web --full");
  EXPECT_EQ(command(R"({"action":"pause","route":"web"})"), "rollout pause web");
  EXPECT_EQ(command(R"({"action":"resume","route":"web"})"), "rollout resume web");
  EXPECT_EQ(command(R"({"action":"abort","route":"web"})"), "rollout abort web");
  EXPECT_EQ(command(R"({"action":"set_weight","route":"web","weights":{"a/app":70,"b/app":30}})"),
            "set weight web a/app=70 b/app=30");
  EXPECT_EQ(command(R"({"action":"set_weight","route":"web","weights":{"a/app":0},"force":true})"),
            "set weight web a/app=0 --force");
}

TEST(DashboardAction, ABodyCannotAddWordsOrFlagsOfItsOwn) {
  EXPECT_EQ(problem(R"({"action":"abort","route":"web --force"})"), "\"route\" must name a route");
  EXPECT_EQ(problem(R"({"action":"abort","route":"--full"})"), "\"route\" must name a route");
  EXPECT_EQ(problem(R"({"action":"abort","route":"web\nreload"})"), "\"route\" must name a route");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a/app x":1}})"),
            "\"weights\" must name services");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a/app":"1 --force"}})"),
            "the weight of a/app must be a whole number from 0 to 1000000");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a/app":1.5}})"),
            "the weight of a/app must be a whole number from 0 to 1000000");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a/app":-1}})"),
            "the weight of a/app must be a whole number from 0 to 1000000");
}

TEST(DashboardAction, AKeyGivenTwiceOrAServiceWithAnEqualsSignIsRefused) {
  EXPECT_EQ(problem(R"({"action":"pause","action":"abort","route":"web"})"),
            "a key is given twice");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a/app":1,"a/app":2}})"),
            "a service is given twice");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a/app=5":1}})"),
            "\"weights\" must name services");
}

TEST(DashboardAction, WhatIsNotAnActionIsRefusedWithWhy) {
  EXPECT_EQ(problem(""),
            "expected a JSON object such as {\"action\":\"promote\",\"route\":\"web\"}");
  EXPECT_EQ(problem("[1]"),
            "expected a JSON object such as {\"action\":\"promote\",\"route\":\"web\"}");
  EXPECT_EQ(problem(R"({"action":"reload","route":"web"})"),
            "\"action\" must be promote, pause, resume, abort or set_weight");
  EXPECT_EQ(problem(R"({"action":"promote"})"), "\"route\" must name a route");
  EXPECT_EQ(problem(R"({"action":"abort","route":"web","force":true})"),
            "\"force\" belongs to set_weight only");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{}})"),
            "\"weights\" must be an object of service: weight");
  EXPECT_EQ(problem(R"({"action":"set_weight","route":"web","weights":{"a":1},"force":"yes"})"),
            "\"force\" must be true or false");
}

TEST(DashboardPaths, TheDashboardsPathsAndNoOthers) {
  EXPECT_TRUE(Dashboard::serves("/"));
  EXPECT_TRUE(Dashboard::serves("/dashboard"));
  EXPECT_TRUE(Dashboard::serves("/dashboard/state.json"));
  EXPECT_FALSE(Dashboard::serves("/metrics"));
  EXPECT_FALSE(Dashboard::serves("/dashboards"));
  EXPECT_NE(Dashboard::security_headers().find("frame-ancestors 'none'"), std::string::npos);
}

TEST(WeightHistory, KeepsChangesOnlyAndAnswersTheWeightInForce) {
  WeightHistory h;
  h.record("web", {{"a", 90}, {"b", 10}}, 1000);
  h.record("web", {{"a", 90}, {"b", 10}}, 2000);
  h.record("web", {{"a", 50}, {"b", 50}}, 3000);
  EXPECT_EQ(h.changes("web"), 2u);
  EXPECT_EQ(h.at("web", "a", 999), std::nullopt);
  EXPECT_EQ(h.at("web", "a", 1000), 90u);
  EXPECT_EQ(h.at("web", "b", 2999), 10u);
  EXPECT_EQ(h.at("web", "b", 3000), 50u);
  EXPECT_EQ(h.at("web", "c", 3000), std::nullopt);
  // Old changes go, except the one still in force at the start of what is kept.
  h.record("web", {{"a", 0}, {"b", 100}}, 3000 + WeightHistory::kKeepMs + 10);
  EXPECT_EQ(h.changes("web"), 2u);
  EXPECT_EQ(h.at("web", "a", 3000 + WeightHistory::kKeepMs), 50u);
  h.keep_only({"other"});
  EXPECT_EQ(h.changes("web"), 0u);
}

// One backend taking `rps` requests a second (1 % errors, 2 ms each), sampled once a second
// for `seconds`: the aggregator's fine history (61 s) and coarse one (10 s samples).
struct Traffic {
  metrics::Registry cells;
  metrics::Aggregator aggregator;
  metrics::Aggregator::Clock::time_point t = metrics::Aggregator::Clock::time_point{} + 1000h;
  void run(const metrics::BackendKey& key, int seconds, int rps) {
    metrics::BackendCells* c = cells.backend(key);
    for (int s = 0; s < seconds; ++s) {
      for (int i = 0; i < rps; ++i) {
        c->requests.add();
        c->total.record(2'000'000);
      }
      c->upstream_errors.add(static_cast<uint64_t>(rps / 100));
      t += 1s;
      aggregator.sample({&cells}, t);
    }
  }
};

TEST(DashboardSeries, FiveMinutesOfOneSecondPointsFromTheFineAndCoarseHistory) {
  Traffic traffic;
  const metrics::BackendKey key{"web", "a/app"};
  traffic.aggregator.sample({&traffic.cells}, traffic.t);
  // 100 requests/s for 205 s, then 300/s for the last 40 s: the fine history (the last 60 s)
  // starts 5 s after a coarse sample.
  traffic.run(key, 205, 100);
  traffic.run(key, 40, 300);

  auto points = traffic.aggregator.series(key, 5);
  ASSERT_FALSE(points.empty());
  EXPECT_EQ(points.back().at, traffic.t);
  EXPECT_NEAR(points.back().stats.rps, 300, 0.01);

  WeightHistory weights;
  const int64_t wall_now = 1'800'000'000'000;
  weights.record("web", {{"a/app", 100}}, wall_now - 100'000);
  weights.record("web", {{"a/app", 40}}, wall_now - 30'000);
  json::Writer w;
  write_series(w, "web", {"a/app"}, traffic.aggregator, weights, traffic.t, wall_now);
  auto parsed = json::parse(w.str());
  ASSERT_TRUE(parsed.value) << parsed.error;
  const json::Value& s = *parsed.value;
  EXPECT_EQ(s.get_number("step_ms"), 1000);
  EXPECT_EQ(s.get_number("end_ms"), static_cast<double>(wall_now));
  EXPECT_EQ(s.get_number("points"), 300);
  const auto& rps = s["backends"]["a/app"]["rps"].as_array();
  const auto& errors = s["backends"]["a/app"]["error_rate"].as_array();
  const auto& p99 = s["backends"]["a/app"]["p99_ms"].as_array();
  const auto& weight = s["backends"]["a/app"]["weight"].as_array();
  ASSERT_EQ(rps.size(), 300u);
  ASSERT_EQ(weight.size(), 300u);
  // The last minute: one-second points, each the 5 s ending there.
  EXPECT_NEAR(rps[299].as_number(), 300, 0.01);
  EXPECT_NEAR(errors[299].as_number(), 0.01, 1e-9);
  EXPECT_NEAR(p99[299].as_number(), 2.0, 0.05);
  EXPECT_NEAR(rps[255].as_number(), 100, 0.01) << "45 s ago: before the change";
  // Before that: the coarse 10 s spans, a point for each of their seconds.
  EXPECT_NEAR(rps[150].as_number(), 100, 0.01);
  // Before the history: nothing known.
  EXPECT_TRUE(rps[0].is_null());
  EXPECT_FALSE(rps[70].is_null()) << "245 s of history reach back to point 55";
  // No hole from there on, where the coarse history meets the fine one neither.
  for (size_t i = 56; i < 300; ++i)
    EXPECT_FALSE(rps[i].is_null()) << "point " << i;
  // The weight in force at each point.
  EXPECT_TRUE(weight[0].is_null());
  EXPECT_EQ(weight[250].as_number(), 100);
  EXPECT_EQ(weight[299].as_number(), 40);
  EXPECT_EQ(weight[270].as_number(), 40);
  EXPECT_EQ(weight[268].as_number(), 100);
}

TEST(DashboardSeries, AWindowWithoutRequestsHasNoErrorRateNorP99) {
  Traffic traffic;
  const metrics::BackendKey key{"web", "a/app"};
  traffic.aggregator.sample({&traffic.cells}, traffic.t);
  traffic.run(key, 20, 100);
  traffic.run(key, 10, 0); // an aborted canary: no request any more
  WeightHistory weights;
  json::Writer w;
  write_series(w, "web", {"a/app"}, traffic.aggregator, weights, traffic.t, 1'800'000'000'000, 30);
  auto parsed = json::parse(w.str());
  ASSERT_TRUE(parsed.value);
  const json::Value& b = (*parsed.value)["backends"]["a/app"];
  EXPECT_EQ(b["rps"].as_array().back().as_number(), 0);
  EXPECT_TRUE(b["error_rate"].as_array().back().is_null());
  EXPECT_TRUE(b["p99_ms"].as_array().back().is_null());
  EXPECT_NEAR(b["error_rate"].as_array()[10].as_number(), 0.01, 1e-9) << "while it served";
}

TEST(DashboardSeries, ABackendWithNoHistoryIsAllNull) {
  metrics::Aggregator empty;
  WeightHistory weights;
  json::Writer w;
  write_series(w, "web", {"a/app"}, empty, weights,
               metrics::Aggregator::Clock::time_point{} + 1000h, 1'800'000'000'000, 10);
  auto parsed = json::parse(w.str());
  ASSERT_TRUE(parsed.value);
  for (const auto& v : (*parsed.value)["backends"]["a/app"]["rps"].as_array())
    EXPECT_TRUE(v.is_null());
}

} // namespace
} // namespace weir::control
