#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>

// retries.per_try_timeout, retries.min_concurrency and
// outlier_detection.consecutive_gateway_failures (issue #10).
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// Lines appended start at line 9, indented as keys of the route (or of the service).
constexpr std::string_view kRouteHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
)";

constexpr std::string_view kServiceHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
routes:
  - { name: r, listener: public, backends: [{ service: app-v1/app }] }
services:
  - namespace: app-v1
    name: app
    endpoints: [127.0.0.1:9001]
)";

std::string route_with(std::string_view lines) {
  return std::string(kRouteHead) + std::string(lines);
}

std::string service_with(std::string_view lines) {
  return std::string(kServiceHead) + std::string(lines);
}

TEST(ConfigRetryTimeouts, DefaultsAreOffAndAFloorOfThree) {
  const Config c = load_ok(route_with("    retries: { attempts: 2 }\n"));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].retries.per_try_timeout, Duration{0});
  EXPECT_EQ(c.routes[0].retries.min_concurrency, 3u);
  const Config s = load_ok(service_with(""));
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[0].outlier_detection.consecutive_gateway_failures, 0u);
  EXPECT_EQ(s.services[0].outlier_detection.consecutive_failures, 5u);
}

TEST(ConfigRetryTimeouts, ReadAsWritten) {
  const Config c = load_ok(
      route_with("    retries: { attempts: 2, per_try_timeout: 250ms, min_concurrency: 0 }\n"));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].retries.per_try_timeout, Duration{250});
  EXPECT_EQ(c.routes[0].retries.min_concurrency, 0u);
  const Config s = load_ok(service_with(
      "    outlier_detection: { consecutive_failures: 7, consecutive_gateway_failures: 2 }\n"));
  ASSERT_EQ(s.services.size(), 1u);
  EXPECT_EQ(s.services[0].outlier_detection.consecutive_gateway_failures, 2u);
  EXPECT_EQ(s.services[0].outlier_detection.consecutive_failures, 7u);
}

TEST(ConfigRetryTimeouts, PerTryTimeoutTakesAUnit) {
  EXPECT_EQ(errors_of(route_with("    retries: { per_try_timeout: 200 }\n")),
            "t.yaml:9:33: routes[0].retries.per_try_timeout: expected a duration like 500ms, 10s "
            "or 2m, got \"200\"\n");
  EXPECT_EQ(errors_of(route_with("    retries: { per_try_timeout: 0s }\n")), "");
}

TEST(ConfigRetryTimeouts, MinConcurrencyRange) {
  EXPECT_EQ(errors_of(route_with("    retries: { min_concurrency: 10001 }\n")),
            "t.yaml:9:33: routes[0].retries.min_concurrency: must be between 0 and 10000, got "
            "10001\n");
  EXPECT_EQ(errors_of(route_with("    retries: { min_concurrency: -1 }\n")),
            "t.yaml:9:33: routes[0].retries.min_concurrency: expected a non-negative integer, got "
            "\"-1\"\n");
}

TEST(ConfigRetryTimeouts, GatewayFailuresRange) {
  EXPECT_EQ(
      errors_of(service_with("    outlier_detection: { consecutive_gateway_failures: 1001 }\n")),
      "t.yaml:9:56: services[0].outlier_detection.consecutive_gateway_failures: must be "
      "between 0 and 1000, got 1001\n");
}

} // namespace
} // namespace weir::config
