#include "weir/rollout/query_template.h"

#include <gtest/gtest.h>

namespace weir::rollout {
namespace {

TEST(QueryTemplate, ReplacesEveryKnownPlaceholder) {
  const auto vars = query_variables("web", "app-v1/app", "app-v2/app");
  EXPECT_EQ(vars.at("stable_service"), "app");
  EXPECT_EQ(vars.at("canary"), "app-v2/app");
  EXPECT_EQ(render_query("sum(rate(weir_upstream_responses_total{route=\"{{route}}\",service=\""
                         "{{canary}}\",code=~\"5..\"}[1m])) / sum(rate(weir_upstream_responses_"
                         "total{route=\"{{ route }}\",service=\"{{canary}}\"}[1m]))",
                         vars),
            "sum(rate(weir_upstream_responses_total{route=\"web\",service=\"app-v2/app\",code=~"
            "\"5..\"}[1m])) / sum(rate(weir_upstream_responses_total{route=\"web\",service=\"app-"
            "v2/app\"}[1m]))");
  EXPECT_EQ(render_query("{{stable}} {{stable_service}} {{canary_service}}", vars),
            "app-v1/app app app");
}

TEST(QueryTemplate, LeavesOtherTextAlone) {
  const auto vars = query_variables("web", "a/s", "b/c");
  EXPECT_EQ(render_query("", vars), "");
  EXPECT_EQ(render_query("up", vars), "up");
  EXPECT_EQ(render_query("{{nope}} {x} {{route", vars), "{{nope}} {x} {{route");
  EXPECT_EQ(render_query("{{route}}{{route}}", vars), "webweb");
}

TEST(QueryTemplate, UnknownPlaceholdersForTheLoader) {
  EXPECT_TRUE(unknown_query_variables("{{route}} {{ canary }} {{stable_service}}").empty());
  EXPECT_EQ(unknown_query_variables("{{route}} {{service}} {{canary}} {{ver}}"),
            (std::vector<std::string>{"service", "ver"}));
}

} // namespace
} // namespace weir::rollout
