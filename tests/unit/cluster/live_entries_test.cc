// The fleet's live state as store entries: one entry per route or service, read back whole, a
// bad entry skipped without hiding the rest.
#include "weir/cluster/live_entries.h"

#include <gtest/gtest.h>

namespace weir::cluster {
namespace {

TEST(LiveEntries, RoundTripOneEntryPerRouteAndService) {
  control::LiveState live;
  live.weight_overrides["web"] = {{"app-v1/app", 30}, {"app-v2/app", 70}};
  live.rollout_weights["api"] = {{"app-v1/api", 100}, {"app-v2/api", 0}};
  live.drained["app-v1/app"] = {"10.0.0.1:80", "10.0.0.2:80"};
  live.extra["rollouts"] = R"({"api":{"phase":"Progressing"}})";
  auto entries = live_entries(live);
  EXPECT_EQ(entries.size(), 4u);
  EXPECT_EQ(entries.at("live/weights/web"), R"({"app-v1/app":30,"app-v2/app":70})");
  EXPECT_EQ(entries.at("live/drained/app-v1/app"), R"(["10.0.0.1:80","10.0.0.2:80"])");
  for (const auto& [key, value] : entries)
    EXPECT_TRUE(is_live_key(key)) << key;
  EXPECT_FALSE(is_live_key("replicas/weir-0"));
  EXPECT_FALSE(is_live_key("commands/x"));
  std::vector<std::string> errors;
  EXPECT_EQ(live_from_entries(entries, &errors), live);
  EXPECT_TRUE(errors.empty());
}

TEST(LiveEntries, ABadEntryIsSkippedAndNamedTheRestApplies) {
  std::map<std::string, std::string> data = {
      {"live/weights/web", R"({"app-v1/app":-1})"},
      {"live/weights/api", R"({"app-v1/api":100})"},
      {"live/drained/app-v1/app", "not json"},
      {"rollouts", "[]"},
      {"replicas/weir-1", "{}"},
  };
  std::vector<std::string> errors;
  control::LiveState live = live_from_entries(data, &errors);
  EXPECT_EQ(live.weight_overrides.size(), 1u);
  EXPECT_EQ(live.weight_overrides.at("api").at("app-v1/api"), 100u);
  EXPECT_TRUE(live.drained.empty());
  EXPECT_TRUE(live.extra.empty());
  ASSERT_EQ(errors.size(), 3u);
  EXPECT_NE(errors[0].find("live/drained/app-v1/app"), std::string::npos) << errors[0];
}

} // namespace
} // namespace weir::cluster
