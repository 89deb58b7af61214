#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Health checks, probes and outlier detection (per service) and retries (per route).
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

using Headers = std::vector<std::pair<std::string, std::string>>;

// Lines appended to either head start at line 9, indented as keys of its last item.
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

std::string service_with(std::string_view lines) {
  return std::string(kServiceHead) + std::string(lines);
}

std::string route_with(std::string_view lines) {
  return std::string(kRouteHead) + std::string(lines);
}

// --- Defaults and round trips ---

TEST(ConfigHealth, DefaultsWhenAbsent) {
  const Config c = load_ok(service_with(""));
  ASSERT_EQ(c.services.size(), 1u);
  const Service& s = c.services[0];
  EXPECT_FALSE(s.health_check.enabled);
  EXPECT_EQ(s.health_check, HealthCheck{});
  EXPECT_TRUE(s.probes.empty());
  EXPECT_TRUE(s.outlier_detection.enabled);
  EXPECT_EQ(s.outlier_detection.consecutive_failures, 5u);
  EXPECT_EQ(s.outlier_detection.base_ejection_time, Duration{30000});
  EXPECT_EQ(s.outlier_detection.max_ejection_percent, 50u);
  ASSERT_EQ(c.routes.size(), 1u);
  const Retries& r = c.routes[0].retries;
  EXPECT_EQ(r.attempts, 0u);
  EXPECT_TRUE(r.on_connect_failure);
  EXPECT_TRUE(r.on_reset);
  EXPECT_EQ(r.on_status, (std::vector<int>{502, 503, 504}));
  EXPECT_EQ(r.budget_percent, 20u);
  EXPECT_EQ(r.max_body_bytes, 65536u);
  EXPECT_FALSE(r.retry_other_backend);
}

TEST(ConfigHealth, PresentMeansEnabledWithDefaults) {
  const Config c = load_ok(service_with("    health_check: {}\n"));
  ASSERT_EQ(c.services.size(), 1u);
  const HealthCheck& h = c.services[0].health_check;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.type, HealthCheck::Type::http);
  EXPECT_EQ(h.path, "/healthz");
  EXPECT_EQ(h.interval, Duration{2000});
  EXPECT_EQ(h.timeout, Duration{1000});
  EXPECT_EQ(h.healthy_threshold, 2u);
  EXPECT_EQ(h.unhealthy_threshold, 3u);
  EXPECT_EQ(h.expected_status, (std::vector<StatusRange>{{200, 399}}));
}

TEST(ConfigHealth, EveryKeyRoundTrips) {
  const Config c = load_ok(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - namespace: app-v2
    name: app
    endpoints: [127.0.0.1:9101]
    health_check:
      type: http
      path: /ready?deep=1
      interval: 5s
      timeout: 500ms
      healthy_threshold: 1
      unhealthy_threshold: 100
      expected_status: [200, "204-299", 301-302]
    probes:
      - name: checkout
        request:
          method: POST
          path: /api/cart
          headers: { content-type: application/json, X-Trace: "a b\tc", host: shop.example }
          body: '{"sku":1}'
        expect:
          status: [200, 201-202]
          body_contains: ok
          header: { content-type: application/json }
          max_latency: 300ms
        interval: 10s
        timeout: 3s
        ready_after: 1
      - name: home
    outlier_detection:
      enabled: false
      consecutive_failures: 1000
      base_ejection_time: 1m
      max_ejection_percent: 100%
  - namespace: app-v3
    name: app
    endpoints: [127.0.0.1:9102]
    health_check: { type: tcp, interval: 1s, timeout: 1s }
    outlier_detection: { max_ejection_percent: 0 }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v2/app }]
    retries:
      attempts: 10
      on: [reset, 503, connect-failure]
      budget: 100%
      max_body: 16MiB
      retry_other_backend: true
  - name: r2
    listener: public
    match: { path_prefix: /b }
    backends: [{ service: app-v3/app }]
    retries: { attempts: 1, on: [], budget: 0, max_body: 0 }
  - name: r3
    listener: public
    match: { path_prefix: /c }
    backends: [{ service: app-v3/app }]
    retries: { max_body: 64KiB, budget: 7 }
)");
  ASSERT_EQ(c.services.size(), 2u);
  const Service& s = c.services[0];
  const HealthCheck& h = s.health_check;
  EXPECT_TRUE(h.enabled);
  EXPECT_EQ(h.type, HealthCheck::Type::http);
  EXPECT_EQ(h.path, "/ready?deep=1");
  EXPECT_EQ(h.interval, Duration{5000});
  EXPECT_EQ(h.timeout, Duration{500});
  EXPECT_EQ(h.healthy_threshold, 1u);
  EXPECT_EQ(h.unhealthy_threshold, 100u);
  EXPECT_EQ(h.expected_status, (std::vector<StatusRange>{{200, 200}, {204, 299}, {301, 302}}));

  ASSERT_EQ(s.probes.size(), 2u);
  const Probe& p = s.probes[0];
  EXPECT_EQ(p.name, "checkout");
  EXPECT_EQ(p.method, "POST");
  EXPECT_EQ(p.path, "/api/cart");
  EXPECT_EQ(p.headers, (Headers{{"content-type", "application/json"},
                                {"X-Trace", "a b\tc"},
                                {"host", "shop.example"}}));
  EXPECT_EQ(p.body, "{\"sku\":1}");
  EXPECT_EQ(p.expect_status, (std::vector<StatusRange>{{200, 200}, {201, 202}}));
  EXPECT_EQ(p.expect_body_contains, "ok");
  EXPECT_EQ(p.expect_headers, (Headers{{"content-type", "application/json"}}));
  EXPECT_EQ(p.max_latency, Duration{300});
  EXPECT_EQ(p.interval, Duration{10000});
  EXPECT_EQ(p.timeout, Duration{3000});
  EXPECT_EQ(p.ready_after, 1u);
  Probe home;
  home.name = "home";
  EXPECT_EQ(s.probes[1], home);

  EXPECT_FALSE(s.outlier_detection.enabled);
  EXPECT_EQ(s.outlier_detection.consecutive_failures, 1000u);
  EXPECT_EQ(s.outlier_detection.base_ejection_time, Duration{60000});
  EXPECT_EQ(s.outlier_detection.max_ejection_percent, 100u);

  const Service& tcp = c.services[1];
  EXPECT_TRUE(tcp.health_check.enabled);
  EXPECT_EQ(tcp.health_check.type, HealthCheck::Type::tcp);
  EXPECT_EQ(tcp.health_check.interval, Duration{1000});
  EXPECT_EQ(tcp.health_check.timeout, Duration{1000});
  EXPECT_TRUE(tcp.probes.empty());
  EXPECT_TRUE(tcp.outlier_detection.enabled);
  EXPECT_EQ(tcp.outlier_detection.max_ejection_percent, 0u);

  ASSERT_EQ(c.routes.size(), 3u);
  const Retries& r = c.routes[0].retries;
  EXPECT_EQ(r.attempts, 10u);
  EXPECT_TRUE(r.on_connect_failure);
  EXPECT_TRUE(r.on_reset);
  EXPECT_EQ(r.on_status, (std::vector<int>{503}));
  EXPECT_EQ(r.budget_percent, 100u);
  EXPECT_EQ(r.max_body_bytes, 16u * 1024 * 1024);
  EXPECT_TRUE(r.retry_other_backend);

  const Retries& none = c.routes[1].retries;
  EXPECT_EQ(none.attempts, 1u);
  EXPECT_FALSE(none.on_connect_failure);
  EXPECT_FALSE(none.on_reset);
  EXPECT_TRUE(none.on_status.empty());
  EXPECT_EQ(none.budget_percent, 0u);
  EXPECT_EQ(none.max_body_bytes, 0u);

  const Retries& sized = c.routes[2].retries;
  EXPECT_EQ(sized.max_body_bytes, 65536u);
  EXPECT_EQ(sized.budget_percent, 7u);
  EXPECT_TRUE(sized.on_connect_failure);
  EXPECT_EQ(sized.on_status, (std::vector<int>{502, 503, 504}));
}

TEST(ConfigHealth, ShortIntervalPullsTheDefaultTimeoutDown) {
  const Config c = load_ok(service_with("    health_check: { interval: 500ms }\n"));
  ASSERT_EQ(c.services.size(), 1u);
  EXPECT_EQ(c.services[0].health_check.interval, Duration{500});
  EXPECT_EQ(c.services[0].health_check.timeout, Duration{500});
}

TEST(ConfigRetries, OnlyListedConditionsApply) {
  const Config c = load_ok(route_with("    retries: { attempts: 2, on: [504, 500] }\n"));
  ASSERT_EQ(c.routes.size(), 1u);
  const Retries& r = c.routes[0].retries;
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_FALSE(r.on_connect_failure);
  EXPECT_FALSE(r.on_reset);
  EXPECT_EQ(r.on_status, (std::vector<int>{504, 500}));
}

TEST(ConfigRetries, SizesAndPercentages) {
  const auto loaded = [](std::string_view retries) {
    const Config c = load_ok(route_with("    retries: " + std::string(retries) + "\n"));
    return c.routes.empty() ? Retries{} : c.routes[0].retries;
  };
  EXPECT_EQ(loaded("{ max_body: 1MiB }").max_body_bytes, 1048576u);
  EXPECT_EQ(loaded("{ max_body: 100 }").max_body_bytes, 100u);
  EXPECT_EQ(loaded("{ max_body: 16777216 }").max_body_bytes, 16777216u);
  EXPECT_EQ(loaded("{ budget: 35% }").budget_percent, 35u);
  EXPECT_EQ(loaded("{ budget: 35 }").budget_percent, 35u);
  EXPECT_EQ(loaded("{ budget: \"0%\" }").budget_percent, 0u);
}

// --- health_check errors ---

TEST(ConfigHealth, NotAMap) {
  EXPECT_EQ(errors_of(service_with("    health_check: true\n")),
            "t.yaml:9:19: services[0].health_check: expected a map, got \"true\"\n");
}

TEST(ConfigHealth, UnknownKeySuggestsClosest) {
  EXPECT_EQ(errors_of(service_with("    health_check: { intervall: 2s, enabled: true }\n")),
            "t.yaml:9:21: services[0].health_check.intervall: unknown key \"intervall\" (did you "
            "mean \"interval\"?)\n"
            "t.yaml:9:36: services[0].health_check.enabled: unknown key \"enabled\"\n");
}

TEST(ConfigHealth, UnknownServiceKeySuggestsHealthCheck) {
  EXPECT_EQ(errors_of(service_with("    healthcheck: {}\n")),
            "t.yaml:9:5: services[0].healthcheck: unknown key \"healthcheck\" (did you mean "
            "\"health_check\"?)\n");
}

TEST(ConfigHealth, BadType) {
  EXPECT_EQ(errors_of(service_with("    health_check: { type: udp }\n")),
            "t.yaml:9:27: services[0].health_check.type: expected \"http\" or \"tcp\", got "
            "\"udp\"\n");
}

TEST(ConfigHealth, PathOnTcpCheck) {
  EXPECT_EQ(errors_of(service_with("    health_check: { type: tcp, path: /healthz }\n")),
            "t.yaml:9:38: services[0].health_check.path: only applies when type is \"http\"\n");
}

TEST(ConfigHealth, ExpectedStatusOnTcpCheck) {
  EXPECT_EQ(errors_of(service_with("    health_check: { type: tcp, expected_status: [200] }\n")),
            "t.yaml:9:49: services[0].health_check.expected_status: only applies when type is "
            "\"http\"\n");
}

TEST(ConfigHealth, PathMustStartWithSlash) {
  EXPECT_EQ(errors_of(service_with("    health_check: { path: healthz }\n")),
            "t.yaml:9:27: services[0].health_check.path: must start with \"/\", got "
            "\"healthz\"\n");
}

TEST(ConfigHealth, PathWithSpace) {
  EXPECT_EQ(errors_of(service_with("    health_check: { path: \"/a b\" }\n")),
            "t.yaml:9:27: services[0].health_check.path: must not contain spaces, control "
            "characters or \"#\", got \"/a b\"\n");
}

TEST(ConfigHealth, PathWithFragment) {
  EXPECT_EQ(errors_of(service_with("    health_check: { path: \"/a#b\" }\n")),
            "t.yaml:9:27: services[0].health_check.path: must not contain spaces, control "
            "characters or \"#\", got \"/a#b\"\n");
}

TEST(ConfigHealth, ZeroInterval) {
  EXPECT_EQ(errors_of(service_with("    health_check: { interval: 0s }\n")),
            "t.yaml:9:31: services[0].health_check.interval: must be greater than 0\n");
}

TEST(ConfigHealth, ZeroTimeout) {
  EXPECT_EQ(errors_of(service_with("    health_check: { timeout: 0ms }\n")),
            "t.yaml:9:30: services[0].health_check.timeout: must be greater than 0\n");
}

TEST(ConfigHealth, IntervalWithoutUnit) {
  EXPECT_EQ(errors_of(service_with("    health_check: { interval: 2 }\n")),
            "t.yaml:9:31: services[0].health_check.interval: expected a duration like 500ms, 10s "
            "or 2m, got \"2\"\n");
}

TEST(ConfigHealth, TimeoutLongerThanInterval) {
  EXPECT_EQ(errors_of(service_with("    health_check: { interval: 2s, timeout: 3s }\n")),
            "t.yaml:9:44: services[0].health_check.timeout: must not exceed interval (2s), got "
            "\"3s\"\n");
}

TEST(ConfigHealth, TimeoutLongerThanDefaultInterval) {
  EXPECT_EQ(errors_of(service_with("    health_check: { timeout: 2500ms }\n")),
            "t.yaml:9:30: services[0].health_check.timeout: must not exceed interval (2s), got "
            "\"2500ms\"\n");
}

TEST(ConfigHealth, HealthyThresholdZero) {
  EXPECT_EQ(errors_of(service_with("    health_check: { healthy_threshold: 0 }\n")),
            "t.yaml:9:40: services[0].health_check.healthy_threshold: must be between 1 and 100, "
            "got 0\n");
}

TEST(ConfigHealth, UnhealthyThresholdTooLarge) {
  EXPECT_EQ(errors_of(service_with("    health_check: { unhealthy_threshold: 101 }\n")),
            "t.yaml:9:42: services[0].health_check.unhealthy_threshold: must be between 1 and "
            "100, got 101\n");
}

TEST(ConfigHealth, ExpectedStatusNotAList) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: 200 }\n")),
            "t.yaml:9:38: services[0].health_check.expected_status: expected a list, got "
            "\"200\"\n");
}

TEST(ConfigHealth, ExpectedStatusEmpty) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [] }\n")),
            "t.yaml:9:38: services[0].health_check.expected_status: must list at least one "
            "status code or range\n");
}

TEST(ConfigHealth, ExpectedStatusNotACode) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [2xx] }\n")),
            "t.yaml:9:39: services[0].health_check.expected_status[0]: expected a status code "
            "like 200 or a range like 200-399, got \"2xx\"\n");
}

TEST(ConfigHealth, ExpectedStatusHalfRange) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [200-] }\n")),
            "t.yaml:9:39: services[0].health_check.expected_status[0]: expected a status code "
            "like 200 or a range like 200-399, got \"200-\"\n");
}

TEST(ConfigHealth, ExpectedStatusNotAScalar) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [[200]] }\n")),
            "t.yaml:9:39: services[0].health_check.expected_status[0]: expected a status code "
            "like 200 or a range like 200-399, got a list\n");
}

TEST(ConfigHealth, ExpectedStatusCodeOutOfRange) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [200, 600] }\n")),
            "t.yaml:9:44: services[0].health_check.expected_status[1]: status codes must be "
            "between 100 and 599, got 600\n");
}

TEST(ConfigHealth, ExpectedStatusRangeOutOfRange) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [99-399] }\n")),
            "t.yaml:9:39: services[0].health_check.expected_status[0]: status codes must be "
            "between 100 and 599, got 99-399\n");
}

TEST(ConfigHealth, ExpectedStatusRangeBackwards) {
  EXPECT_EQ(errors_of(service_with("    health_check: { expected_status: [399-200] }\n")),
            "t.yaml:9:39: services[0].health_check.expected_status[0]: a range must go from low "
            "to high, got 399-200\n");
}

// --- probe errors ---

TEST(ConfigProbes, NotAList) {
  EXPECT_EQ(errors_of(service_with("    probes: { name: p }\n")),
            "t.yaml:9:13: services[0].probes: expected a list, got a map\n");
}

TEST(ConfigProbes, ElementNotAMap) {
  EXPECT_EQ(errors_of(service_with("    probes: [checkout]\n")),
            "t.yaml:9:14: services[0].probes[0]: expected a map, got \"checkout\"\n");
}

TEST(ConfigProbes, MissingName) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ interval: 1s }]\n")),
            "t.yaml:9:14: services[0].probes[0]: missing required key \"name\"\n");
}

TEST(ConfigProbes, BadName) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: \"check out\" }]\n")),
            "t.yaml:9:22: services[0].probes[0].name: expected a name made of letters, digits, "
            "\".\", \"_\" or \"-\", got \"check out\"\n");
}

TEST(ConfigProbes, DuplicateName) {
  EXPECT_EQ(errors_of(service_with("    probes:\n"
                                   "      - name: checkout\n"
                                   "      - name: checkout\n")),
            "t.yaml:11:15: services[0].probes[1].name: duplicate probe name \"checkout\" (first "
            "defined at line 10)\n");
}

TEST(ConfigProbes, SameNameInTwoServicesIsFine) {
  const Config c = load_ok(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: a, name: app, endpoints: [127.0.0.1:9001], probes: [{ name: p }] }
  - { namespace: b, name: app, endpoints: [127.0.0.1:9002], probes: [{ name: p }] }
routes:
  - { name: r, listener: public, backends: [{ service: a/app }] }
)");
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[1].probes.size(), 1u);
}

TEST(ConfigProbes, UnknownProbeKey) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, ready_afer: 2 }]\n")),
            "t.yaml:9:25: services[0].probes[0].ready_afer: unknown key \"ready_afer\" (did you "
            "mean \"ready_after\"?)\n");
}

TEST(ConfigProbes, UnknownRequestKey) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { bdy: x } }]\n")),
            "t.yaml:9:36: services[0].probes[0].request.bdy: unknown key \"bdy\" (did you mean "
            "\"body\"?)\n");
}

TEST(ConfigProbes, UnknownExpectKey) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, expect: { headers: {} } }]\n")),
            "t.yaml:9:35: services[0].probes[0].expect.headers: unknown key \"headers\" (did you "
            "mean \"header\"?)\n");
}

TEST(ConfigProbes, RequestNotAMap) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: /x }]\n")),
            "t.yaml:9:34: services[0].probes[0].request: expected a map, got \"/x\"\n");
}

TEST(ConfigProbes, LowerCaseMethod) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { method: post } }]\n")),
            "t.yaml:9:44: services[0].probes[0].request.method: expected an HTTP method in "
            "upper-case letters, like GET or POST, got \"post\"\n");
}

TEST(ConfigProbes, PathMustStartWithSlash) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { path: api } }]\n")),
            "t.yaml:9:42: services[0].probes[0].request.path: must start with \"/\", got "
            "\"api\"\n");
}

TEST(ConfigProbes, PathWithControlCharacter) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { path: \"/a\\r\\n\" } }]\n")),
            "t.yaml:9:42: services[0].probes[0].request.path: must not contain spaces, control "
            "characters or \"#\", got \"/a\\x0d\\n\"\n");
}

TEST(ConfigProbes, HeadersNotAMap) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { headers: [a] } }]\n")),
            "t.yaml:9:45: services[0].probes[0].request.headers: expected a map, got a list\n");
}

TEST(ConfigProbes, BadHeaderName) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { headers: { \"x y\": 1 } } "
                                   "}]\n")),
            "t.yaml:9:47: services[0].probes[0].request.headers.x y: expected a header name made "
            "of letters, digits and !#$%&'*+-.^_`|~, got \"x y\"\n");
}

TEST(ConfigProbes, HeaderValueWithNewline) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { headers: { x-a: \"1\\nb: "
                                   "2\" } } }]\n")),
            "t.yaml:9:52: services[0].probes[0].request.headers.x-a: must not contain control "
            "characters, got \"1\\nb: 2\"\n");
}

TEST(ConfigProbes, HeaderValueNotAString) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { headers: { x-a: [1] } } "
                                   "}]\n")),
            "t.yaml:9:52: services[0].probes[0].request.headers.x-a: expected a string, got a "
            "list\n");
}

TEST(ConfigProbes, FramingHeaderRefused) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { headers: { "
                                   "Content-Length: 3 } } }]\n")),
            "t.yaml:9:47: services[0].probes[0].request.headers.Content-Length: header "
            "\"Content-Length\" is set by weir and cannot be given\n");
}

TEST(ConfigProbes, DuplicateHeaderIgnoringCase) {
  EXPECT_EQ(errors_of(service_with("    probes:\n"
                                   "      - name: p\n"
                                   "        expect:\n"
                                   "          header:\n"
                                   "            content-type: a\n"
                                   "            Content-Type: b\n")),
            "t.yaml:14:13: services[0].probes[0].expect.header.Content-Type: duplicate header "
            "\"Content-Type\" (first given at line 13)\n");
}

TEST(ConfigProbes, BodyNotAString) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, request: { body: { sku: 1 } } }]\n")),
            "t.yaml:9:42: services[0].probes[0].request.body: expected a string, got a map\n");
}

TEST(ConfigProbes, ExpectStatusOutOfRange) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, expect: { status: [200-700] } }]\n")),
            "t.yaml:9:44: services[0].probes[0].expect.status[0]: status codes must be between "
            "100 and 599, got 200-700\n");
}

TEST(ConfigProbes, BadMaxLatency) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, expect: { max_latency: fast } }]\n")),
            "t.yaml:9:48: services[0].probes[0].expect.max_latency: expected a duration like "
            "500ms, 10s or 2m, got \"fast\"\n");
}

TEST(ConfigProbes, ZeroInterval) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, interval: 0s }]\n")),
            "t.yaml:9:35: services[0].probes[0].interval: must be greater than 0\n");
}

TEST(ConfigProbes, ZeroTimeout) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, timeout: 0s }]\n")),
            "t.yaml:9:34: services[0].probes[0].timeout: must be greater than 0\n");
}

TEST(ConfigProbes, ReadyAfterZero) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, ready_after: 0 }]\n")),
            "t.yaml:9:38: services[0].probes[0].ready_after: must be between 1 and 100, got 0\n");
}

TEST(ConfigProbes, ReadyAfterTooLarge) {
  EXPECT_EQ(errors_of(service_with("    probes: [{ name: p, ready_after: 101 }]\n")),
            "t.yaml:9:38: services[0].probes[0].ready_after: must be between 1 and 100, got "
            "101\n");
}

// --- outlier_detection errors ---

TEST(ConfigOutlier, NotAMap) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: off\n")),
            "t.yaml:9:24: services[0].outlier_detection: expected a map, got \"off\"\n");
}

TEST(ConfigOutlier, UnknownKey) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { consecutive_failure: 3 }\n")),
            "t.yaml:9:26: services[0].outlier_detection.consecutive_failure: unknown key "
            "\"consecutive_failure\" (did you mean \"consecutive_failures\"?)\n");
}

TEST(ConfigOutlier, EnabledNotABoolean) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { enabled: yes }\n")),
            "t.yaml:9:35: services[0].outlier_detection.enabled: expected true or false, got "
            "\"yes\"\n");
}

TEST(ConfigOutlier, ConsecutiveFailuresZero) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { consecutive_failures: 0 }\n")),
            "t.yaml:9:48: services[0].outlier_detection.consecutive_failures: must be between 1 "
            "and 1000, got 0\n");
}

TEST(ConfigOutlier, ConsecutiveFailuresTooLarge) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { consecutive_failures: 1001 }\n")),
            "t.yaml:9:48: services[0].outlier_detection.consecutive_failures: must be between 1 "
            "and 1000, got 1001\n");
}

TEST(ConfigOutlier, ZeroEjectionTime) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { base_ejection_time: 0s }\n")),
            "t.yaml:9:46: services[0].outlier_detection.base_ejection_time: must be greater than "
            "0\n");
}

TEST(ConfigOutlier, EjectionPercentTooLarge) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { max_ejection_percent: 101 }\n")),
            "t.yaml:9:48: services[0].outlier_detection.max_ejection_percent: must be between 0% "
            "and 100%, got \"101\"\n");
}

TEST(ConfigOutlier, EjectionPercentNotANumber) {
  EXPECT_EQ(errors_of(service_with("    outlier_detection: { max_ejection_percent: half }\n")),
            "t.yaml:9:48: services[0].outlier_detection.max_ejection_percent: expected a "
            "percentage like 20%, got \"half\"\n");
}

// --- retries errors ---

TEST(ConfigRetries, NotAMap) {
  EXPECT_EQ(errors_of(route_with("    retries: 2\n")),
            "t.yaml:9:14: routes[0].retries: expected a map, got \"2\"\n");
}

TEST(ConfigRetries, UnknownKey) {
  EXPECT_EQ(errors_of(route_with("    retries: { attempt: 2 }\n")),
            "t.yaml:9:16: routes[0].retries.attempt: unknown key \"attempt\" (did you mean "
            "\"attempts\"?)\n");
}

TEST(ConfigRetries, TooManyAttempts) {
  EXPECT_EQ(errors_of(route_with("    retries: { attempts: 11 }\n")),
            "t.yaml:9:26: routes[0].retries.attempts: must be between 0 and 10, got 11\n");
}

TEST(ConfigRetries, NegativeAttempts) {
  EXPECT_EQ(errors_of(route_with("    retries: { attempts: -1 }\n")),
            "t.yaml:9:26: routes[0].retries.attempts: expected a non-negative integer, got "
            "\"-1\"\n");
}

TEST(ConfigRetries, OnNotAList) {
  EXPECT_EQ(errors_of(route_with("    retries: { on: reset }\n")),
            "t.yaml:9:20: routes[0].retries.on: expected a list, got \"reset\"\n");
}

TEST(ConfigRetries, UnknownCondition) {
  EXPECT_EQ(errors_of(route_with("    retries: { on: [timeout] }\n")),
            "t.yaml:9:21: routes[0].retries.on[0]: expected \"connect-failure\", \"reset\" or a "
            "status code from 500 to 599, got \"timeout\"\n");
}

TEST(ConfigRetries, MisspelledConditionSuggestsClosest) {
  EXPECT_EQ(errors_of(route_with("    retries: { on: [reset, connect_failure] }\n")),
            "t.yaml:9:28: routes[0].retries.on[1]: expected \"connect-failure\", \"reset\" or a "
            "status code from 500 to 599, got \"connect_failure\" (did you mean "
            "\"connect-failure\"?)\n");
}

TEST(ConfigRetries, ConditionNotAScalar) {
  EXPECT_EQ(errors_of(route_with("    retries: { on: [{ status: 502 }] }\n")),
            "t.yaml:9:21: routes[0].retries.on[0]: expected \"connect-failure\", \"reset\" or a "
            "status code from 500 to 599, got a map\n");
}

TEST(ConfigRetries, StatusNotA5xx) {
  EXPECT_EQ(errors_of(route_with("    retries: { on: [502, 404] }\n")),
            "t.yaml:9:26: routes[0].retries.on[1]: status codes must be between 500 and 599, got "
            "404\n");
}

TEST(ConfigRetries, ConditionListedTwice) {
  EXPECT_EQ(errors_of(route_with("    retries: { on: [502, reset, 502] }\n")),
            "t.yaml:9:33: routes[0].retries.on[2]: \"502\" is listed twice\n");
}

TEST(ConfigRetries, BudgetTooLarge) {
  EXPECT_EQ(errors_of(route_with("    retries: { budget: 150% }\n")),
            "t.yaml:9:24: routes[0].retries.budget: must be between 0% and 100%, got \"150%\"\n");
}

TEST(ConfigRetries, BudgetNotAPercentage) {
  EXPECT_EQ(errors_of(route_with("    retries: { budget: \"-5%\" }\n")),
            "t.yaml:9:24: routes[0].retries.budget: expected a percentage like 20%, got \"-5%\"\n");
}

TEST(ConfigRetries, BudgetFraction) {
  EXPECT_EQ(errors_of(route_with("    retries: { budget: 0.2 }\n")),
            "t.yaml:9:24: routes[0].retries.budget: expected a percentage like 20%, got \"0.2\"\n");
}

TEST(ConfigRetries, MaxBodyTooLarge) {
  EXPECT_EQ(errors_of(route_with("    retries: { max_body: 17MiB }\n")),
            "t.yaml:9:26: routes[0].retries.max_body: must be at most 16MiB, got \"17MiB\"\n");
}

TEST(ConfigRetries, MaxBodyOneByteTooLarge) {
  EXPECT_EQ(errors_of(route_with("    retries: { max_body: 16777217 }\n")),
            "t.yaml:9:26: routes[0].retries.max_body: must be at most 16MiB, got \"16777217\"\n");
}

TEST(ConfigRetries, MaxBodyDecimalUnit) {
  EXPECT_EQ(errors_of(route_with("    retries: { max_body: 64KB }\n")),
            "t.yaml:9:26: routes[0].retries.max_body: expected a size in bytes like 65536, 64KiB "
            "or 1MiB, got \"64KB\"\n");
}

TEST(ConfigRetries, MaxBodyHuge) {
  EXPECT_EQ(errors_of(route_with("    retries: { max_body: 99999999999999999999999MiB }\n")),
            "t.yaml:9:26: routes[0].retries.max_body: must be at most 16MiB, got "
            "\"99999999999999999999999MiB\"\n");
}

TEST(ConfigRetries, RetryOtherBackendNotABoolean) {
  EXPECT_EQ(errors_of(route_with("    retries: { retry_other_backend: maybe }\n")),
            "t.yaml:9:37: routes[0].retries.retry_other_backend: expected true or false, got "
            "\"maybe\"\n");
}

TEST(ConfigRetries, UnknownRouteKeySuggestsRetries) {
  EXPECT_EQ(errors_of(route_with("    retires: {}\n")),
            "t.yaml:9:5: routes[0].retires: unknown key \"retires\" (did you mean \"retries\"?)\n");
}

// Several mistakes in the new blocks are all reported, in file order.
TEST(ConfigHealth, ReportsEveryErrorInFileOrder) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - namespace: app-v1
    name: app
    endpoints: [127.0.0.1:9001]
    health_check: { type: tcp, path: /healthz, interval: 1s, timeout: 2s }
    probes:
      - { name: p, request: { method: get } }
      - { name: p, expect: { status: [600] } }
    outlier_detection: { max_ejection_percent: 101 }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
    retries: { attempts: 11, on: [404] }
)"),
            "t.yaml:7:38: services[0].health_check.path: only applies when type is \"http\"\n"
            "t.yaml:7:71: services[0].health_check.timeout: must not exceed interval (1s), got "
            "\"2s\"\n"
            "t.yaml:9:39: services[0].probes[0].request.method: expected an HTTP method in "
            "upper-case letters, like GET or POST, got \"get\"\n"
            "t.yaml:10:17: services[0].probes[1].name: duplicate probe name \"p\" (first defined "
            "at line 9)\n"
            "t.yaml:10:39: services[0].probes[1].expect.status[0]: status codes must be between "
            "100 and 599, got 600\n"
            "t.yaml:11:48: services[0].outlier_detection.max_ejection_percent: must be between 0% "
            "and 100%, got \"101\"\n"
            "t.yaml:16:26: routes[0].retries.attempts: must be between 0 and 10, got 11\n"
            "t.yaml:16:35: routes[0].retries.on[0]: status codes must be between 500 and 599, got "
            "404\n");
}

} // namespace
} // namespace weir::config
