#include "weir/control/render.h"

#include <gtest/gtest.h>
#include <string>

// `weirctl rollout status` with mirroring: the live mirror, the set_mirror steps, the interval's
// divergence verdict, and the comparisons since the start with the last diverging requests.
namespace weir::control::render {
namespace {

const char* const kStatus = R"json({"route":"web","phase":"Progressing","stable":"v1/app",
  "canary":"v2/app","canary_weight":0,"step":1,"message":"progressing",
  "steps":[{"set_mirror":12.5,"current":false,"done":true},
           {"analysis_ms":10000,"current":true,"done":false}],
  "mirror":{"service":"v2/app","percent":12.5},
  "last_analysis":{"outcome":"fail","reason":"divergence 5.00% (...)",
    "stable":{"requests":0,"errors":0,"error_rate":0,"p99_ms":0,"rps":0},
    "canary":{"requests":0,"errors":0,"error_rate":0,"p99_ms":0,"rps":0},
    "builtin":{"outcome":"not judged","reason":"canary at 0%"},
    "divergence":{"outcome":"fail",
      "reason":"divergence 5.00% (10 of 200 compared answers differ) > max 1.00%"}},
  "divergence":{"compared":400,"diverged":20,"noise_compared":100,"noise_diverged":1,
    "rate":0.05,"noise":0.01,"divergence":0.04,"max_divergence":0.01,
    "recent":[
      {"time":"T2","method":"GET","path":"/price?id=9","what":"json field price"},
      {"time":"T1","method":"POST","path":"/cart","what":"status 2xx vs 5xx"}]}})json";

TEST(RenderRolloutMirror, MirrorDivergenceAndTheLastDivergingRequests) {
  auto parsed = json::parse(kStatus);
  ASSERT_TRUE(parsed.value) << parsed.error;
  const std::string out = rollout(*parsed.value);
  EXPECT_NE(out.find("mirror: 12.5% of the requests copied to v2/app\n"), std::string::npos) << out;
  EXPECT_NE(out.find("1. set_mirror 12.5%"), std::string::npos) << out;
  EXPECT_NE(out.find("divergence: fail \u2014 divergence 5.00% (10 of 200"), std::string::npos)
      << out;
  EXPECT_NE(
      out.find(
          "divergence since the start: 4% (20 of 400 compared answers differ, noise 1% of 100), "
          "max 1%\n"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("last diverging requests:\n"), std::string::npos) << out;
  const size_t newest = out.find("/price?id=9");
  const size_t older = out.find("/cart");
  EXPECT_NE(newest, std::string::npos) << out;
  EXPECT_NE(out.find("json field price"), std::string::npos) << out;
  EXPECT_LT(newest, older) << out;
  // Weight 0: the built-in windows were not judged, so no table of zeros.
  EXPECT_EQ(out.find("REQUESTS"), std::string::npos) << out;
}

TEST(RenderRolloutMirror, NothingAboutMirroringWithoutIt) {
  auto parsed = json::parse(R"({"route":"web","phase":"Idle","stable":"v1/app",
    "canary":"v2/app","canary_weight":0,"step":0,"message":"no rollout started","steps":[]})");
  ASSERT_TRUE(parsed.value);
  const std::string out = rollout(*parsed.value);
  EXPECT_EQ(out.find("mirror"), std::string::npos) << out;
  EXPECT_EQ(out.find("divergence"), std::string::npos) << out;
}

} // namespace
} // namespace weir::control::render
