#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// rollout.analysis.top_up: defaults, every key, and the errors (the golden case
// invalid/bad-top-up has one of each in a file).
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// Lines 1-14; the top_up map is line 15, its keys from line 16 on (10 spaces in).
constexpr std::string_view kHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: 100 }, { service: app-v2/app, weight: 0 }]
    rollout:
      stable: app-v1/app
      canary: app-v2/app
      steps: [{ set_weight: 100 }]
      analysis:
)";

std::string with_top_up(std::string_view lines) {
  return std::string(kHead) + "        top_up:" + std::string(lines);
}

TopUp top_up_of(std::string_view lines) {
  const Config c = load_ok(with_top_up(lines));
  return c.routes.empty() ? TopUp{} : c.routes[0].rollout.analysis.top_up;
}

TEST(ConfigTopUp, AbsentIsOffAndAnEmptyMapTakesTheDefaults) {
  const Config c = load_ok(std::string(kHead) + "        min_requests: 10\n");
  EXPECT_FALSE(c.routes[0].rollout.analysis.top_up.enabled);
  const TopUp t = top_up_of(" {}\n");
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.rate, 20);
  EXPECT_EQ(t.method, "GET");
  EXPECT_EQ(t.path, "/");
  EXPECT_EQ(t.host, "");
  EXPECT_TRUE(t.headers.empty());
  EXPECT_EQ(t.body, "");
  EXPECT_EQ(t.timeout, Duration(2000));
}

TEST(ConfigTopUp, EveryKey) {
  const TopUp t = top_up_of(R"(
          rate: 2.5/s
          timeout: 750ms
          request:
            method: POST
            path: /orders?dry_run=1
            host: shop.example:8443
            headers: { authorization: "Bearer t", X-Tenant: blue }
            body: '{"n":1}'
)");
  EXPECT_TRUE(t.enabled);
  EXPECT_EQ(t.rate, 2.5);
  EXPECT_EQ(t.timeout, Duration(750));
  EXPECT_EQ(t.method, "POST");
  EXPECT_EQ(t.path, "/orders?dry_run=1");
  EXPECT_EQ(t.host, "shop.example:8443");
  const std::vector<std::pair<std::string, std::string>> headers{{"authorization", "Bearer t"},
                                                                 {"X-Tenant", "blue"}};
  EXPECT_EQ(t.headers, headers);
  EXPECT_EQ(t.body, R"({"n":1})");
}

TEST(ConfigTopUp, RateNeedsItsUnitAndABound) {
  EXPECT_EQ(top_up_of(" { rate: 1000/s }\n").rate, 1000);
  EXPECT_EQ(top_up_of(" { rate: 0.5/s }\n").rate, 0.5);
  const std::string at = "t.yaml:15:25: routes[0].rollout.analysis.top_up.rate: ";
  EXPECT_EQ(errors_of(with_top_up(" { rate: 20 }\n")),
            at + "expected requests per second like 20/s, got \"20\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { rate: 20/m }\n")),
            at + "expected requests per second like 20/s, got \"20/m\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { rate: /s }\n")),
            at + "expected requests per second like 20/s, got \"/s\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { rate: 0/s }\n")),
            at + "must be greater than 0/s and at most 1000/s, got \"0/s\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { rate: 1000.5/s }\n")),
            at + "must be greater than 0/s and at most 1000/s, got \"1000.5/s\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { rate: -1/s }\n")),
            at + "expected requests per second like 20/s, got \"-1/s\"\n");
}

TEST(ConfigTopUp, TimeoutTakesAUnitAndIsPositive) {
  EXPECT_EQ(errors_of(with_top_up(" { timeout: 2 }\n")),
            "t.yaml:15:28: routes[0].rollout.analysis.top_up.timeout: expected a duration like "
            "500ms, 10s or 2m, got \"2\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { timeout: 0s }\n")),
            "t.yaml:15:28: routes[0].rollout.analysis.top_up.timeout: must be greater than 0\n");
}

TEST(ConfigTopUp, RequestErrors) {
  const std::string at = "routes[0].rollout.analysis.top_up.request.";
  EXPECT_EQ(errors_of(with_top_up(" { request: { method: \"GE T\" } }\n")),
            "t.yaml:15:38: " + at +
                "method: expected a method made of letters, digits and !#$%&'*+-.^_`|~, got "
                "\"GE T\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { path: health } }\n")),
            "t.yaml:15:36: " + at +
                "path: expected a path starting with \"/\" without spaces, control characters "
                "or \"#\", got \"health\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { path: \"/a b\" } }\n")),
            "t.yaml:15:36: " + at +
                "path: expected a path starting with \"/\" without spaces, control characters "
                "or \"#\", got \"/a b\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { host: \"a/b\" } }\n")),
            "t.yaml:15:36: " + at +
                "host: expected a host like shop.example or shop.example:8080, got \"a/b\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { verb: GET } }\n")),
            "t.yaml:15:30: " + at + "verb: unknown key \"verb\"\n");
}

TEST(ConfigTopUp, HeaderErrors) {
  const std::string at = "routes[0].rollout.analysis.top_up.request.headers";
  EXPECT_EQ(errors_of(with_top_up(" { request: { headers: { \"a:b\": x } } }\n")),
            "t.yaml:15:41: " + at +
                ": expected a header name made of letters, digits and !#$%&'*+-.^_`|~, got "
                "\"a:b\"\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { headers: { x-a: \"1\\r\\nx-b: 2\" } } }\n")),
            "t.yaml:15:46: " + at + ".x-a: a header value must not contain CR, LF or NUL\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { headers: { Host: x } } }\n")),
            "t.yaml:15:47: " + at + ".Host: header \"Host\" is set by weir (use request.host)\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { headers: { connection: x } } }\n")),
            "t.yaml:15:53: " + at + ".connection: header \"connection\" is set by weir\n");
  EXPECT_EQ(errors_of(with_top_up(" { request: { headers: [a] } }\n")),
            "t.yaml:15:39: " + at + ": expected a map, got a list\n");
}

} // namespace
} // namespace weir::config
