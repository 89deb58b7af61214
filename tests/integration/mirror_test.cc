// Request mirroring and shadow comparison end to end: real weir, demo upstreams as the route's
// backend and as the mirror, a scripted server where a test reads what the mirror got.
#include "support/client.h"
#include "support/http_server.h"
#include "support/load.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <algorithm>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <vector>

namespace weir::test {
namespace {

std::string service(const std::string& ns, const std::vector<std::string>& endpoints) {
  std::string s = "  - namespace: " + ns + "\n    name: app\n    endpoints: [";
  for (size_t i = 0; i < endpoints.size(); ++i)
    s += (i ? ", " : "") + endpoints[i];
  return s + "]\n";
}

// A route on `prefix` to app-v1/app, mirroring to `mirror` with the YAML lines of `mirror_keys`
// (each indented by 6 spaces already).
std::string route(const std::string& name, const std::string& prefix, const std::string& mirror,
                  const std::string& mirror_keys) {
  return "  - name: " + name + "\n    listener: public\n    match: {path_prefix: " + prefix +
         "}\n    backends:\n      - service: app-v1/app\n    mirror:\n      service: " + mirror +
         "\n" + mirror_keys;
}

std::string config(const std::string& services, const std::string& routes) {
  return "workers: 1\nadmin:\n  address: 127.0.0.1:0\nlisteners:\n  - name: public\n"
         "    address: 127.0.0.1:0\nservices:\n" +
         services + "routes:\n" + routes;
}

// The value of the series `series` (name and labels exactly as written) in /metrics; -1 absent.
double metric(uint16_t admin, const std::string& series) {
  HttpResponse r = http_request(admin, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// Every weir_mirror_ series in /metrics, for a failure's message.
std::string mirror_series(uint16_t admin) {
  std::istringstream in(http_request(admin, "GET", "/metrics").body);
  std::string line, out;
  while (std::getline(in, line))
    if (line.rfind("weir_mirror_", 0) == 0) out += line + "\n";
  return out;
}

std::string comparisons(const std::string& route, const std::string& role,
                        const std::string& result) {
  return "weir_mirror_comparisons_total{route=\"" + route + "\",role=\"" + role + "\",result=\"" +
         result + "\"}";
}

TEST(Mirror, CopiesTheSampledShareWithMethodPathBodyAndHeader) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  TestHttpServer shadow(
      [](const TestHttpServer::Request&) { return TestHttpServer::Reply(200, "shadow\n"); });
  const std::string shadow_address = "127.0.0.1:" + std::to_string(shadow.port());
  Weir weir =
      Weir::start(config(service("app-v1", {v1.address()}) + service("shadow", {shadow_address}),
                         route("quarter", "/quarter", "shadow/app", "      percent: 25%\n") +
                             route("all", "/all", "shadow/app", "      percent: 100\n")));
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = http_request(weir.port(), "GET", "/quarter/" + std::to_string(i));
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(r.header("x-served-by"), "v1"); // the client's answer is the backend's
  }
  ASSERT_TRUE(wait_until([&] { return shadow.request_count() >= 5; }, 5s));
  HttpResponse post =
      http_request(weir.port(), "POST", "/all/orders?id=7",
                   {{"Host", "shop.example"}, {"Content-Type", "text/plain"}}, "twelve bytes");
  ASSERT_EQ(post.status, 200);
  EXPECT_EQ(post.body, "twelve bytes"); // the demo upstream echoes; the mirror's answer is unseen
  ASSERT_TRUE(wait_until([&] { return shadow.request_count() >= 6; }, 5s));
  std::vector<TestHttpServer::Request> got = shadow.requests();
  ASSERT_EQ(got.size(), 6u) << "percent 25 of 20 requests on one worker is exactly 5";
  // Every fourth request: the credit reaches 100 on the 4th, 8th, ... The copies travel on
  // connections of their own, so they may arrive in another order than they were sent.
  std::vector<int> sampled;
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].method, "GET");
    EXPECT_EQ(got[i].header("x-weir-mirror"), "1");
    ASSERT_TRUE(got[i].target.starts_with("/quarter/")) << got[i].target;
    sampled.push_back(std::stoi(got[i].target.substr(9)));
  }
  std::sort(sampled.begin(), sampled.end());
  EXPECT_EQ(sampled, (std::vector<int>{3, 7, 11, 15, 19}));
  const TestHttpServer::Request& p = got[5];
  EXPECT_EQ(p.method, "POST");
  EXPECT_EQ(p.target, "/all/orders?id=7");
  EXPECT_EQ(p.body, "twelve bytes");
  EXPECT_EQ(p.header("host"), "shop.example");
  EXPECT_EQ(p.header("content-type"), "text/plain");
  EXPECT_EQ(p.header("x-weir-mirror"), "1");
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(weir.admin_port(), "weir_mirror_requests_total{route=\"quarter\",service="
                                         "\"shadow/app\",role=\"mirror\",result=\"2xx\"}") == 5;
      },
      5s));
}

TEST(Mirror, ABodyOverTheLimitIsNotMirroredButCounted) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  TestHttpServer shadow(
      [](const TestHttpServer::Request&) { return TestHttpServer::Reply(200, ""); });
  const std::string shadow_address = "127.0.0.1:" + std::to_string(shadow.port());
  Weir weir =
      Weir::start(config(service("app-v1", {v1.address()}) + service("shadow", {shadow_address}),
                         route("r", "/", "shadow/app", "      max_body_bytes: 4\n")));
  HttpResponse r = http_request(weir.port(), "PUT", "/big", {}, "more than four");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "more than four");
  EXPECT_TRUE(wait_until(
      [&] {
        return metric(weir.admin_port(),
                      "weir_mirror_dropped_total{route=\"r\",reason=\"body_too_large\"}") == 1;
      },
      5s));
  EXPECT_EQ(shadow.request_count(), 0u);
}

// A mirror that refuses connections, and one that answers after 2 s with max_in_flight 4: under
// a short load every client request is answered; the copies fail or are dropped, and counted.
TEST(Mirror, ADownOrSlowMirrorFailsNoClientRequest) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream slow = DemoUpstream::start("slow", {"--delay-ms", "2000"});
  const std::string down = "127.0.0.1:" + std::to_string(unused_port());
  Weir weir = Weir::start(config(
      service("app-v1", {v1.address()}) + service("down", {down}) +
          service("slow", {slow.address()}),
      route("to-down", "/down", "down/app", "      percent: 50%\n") +
          route("to-slow", "/slow", "slow/app", "      percent: 50%\n      max_in_flight: 4\n")));
  const auto load_started = std::chrono::steady_clock::now();
  {
    LoadGen down_load(weir.port(), 2, 150, "/down");
    LoadGen slow_load(weir.port(), 2, 150, "/slow");
    ASSERT_TRUE(wait_until(
        [&] { return down_load.responses() >= 150 && slow_load.responses() >= 150; }, 10s));
    down_load.stop();
    slow_load.stop();
    EXPECT_EQ(down_load.failures(), 0u) << down_load.report();
    EXPECT_EQ(slow_load.failures(), 0u) << slow_load.report();
    // No client waits for the mirror: the slowest of ~150 requests, half of them copied to a
    // mirror that answers after 2 s, took far less than that (a client held for its copy would
    // take 2 s; the bound leaves a busy CPU ten times the usual few milliseconds and more).
    EXPECT_LT(slow_load.slowest(), 1000ms) << slow_load.report();
    EXPECT_LT(down_load.slowest(), 1000ms) << down_load.report();
  }
  // The down mirror is tried about once a second, not once per copy: a refused endpoint backs
  // off (kConnectBackOff) and the copies meanwhile are dropped as backing_off.
  const double connects =
      metric(weir.admin_port(), "weir_mirror_requests_total{route=\"to-down\",service="
                                "\"down/app\",role=\"mirror\",result=\"connect\"}");
  const double backing_off = metric(
      weir.admin_port(), "weir_mirror_dropped_total{route=\"to-down\",reason=\"backing_off\"}");
  const double load_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_started).count();
  EXPECT_GT(connects, 0);
  EXPECT_LE(connects, load_seconds + 2) << "a refused mirror was tried again within its back-off";
  EXPECT_GE(connects + backing_off, 50) << "about half of 150 requests were copies";
  EXPECT_GT(metric(weir.admin_port(),
                   "weir_mirror_dropped_total{route=\"to-slow\",reason=\"in_flight\"}"),
            0);
}

// compare: a canary that changes one JSON field in a share of its answers diverges in about that
// share; an identical one in none, and neither do two stable endpoints (noise).
TEST(Mirror, ShadowComparisonCountsDivergenceAndNoise) {
  DemoUpstream s1 = DemoUpstream::start("s1", {"--json-field", "price=10"});
  DemoUpstream s2 = DemoUpstream::start("s2", {"--json-field", "price=10"});
  DemoUpstream diverging =
      DemoUpstream::start("c1", {"--json-field", "price=10", "--json-diverge-rate", "0.3"});
  DemoUpstream identical = DemoUpstream::start("c2", {"--json-field", "price=10"});
  // Every copy is compared: the 200 requests go out faster than a loaded machine's mirror
  // settles them, and the default max_in_flight (64) would drop some (in CI: 12 of 100).
  const std::string compare = "      max_in_flight: 1000\n      compare:\n"
                              "        json_fields: [price]\n        headers: [content-type]\n";
  Weir weir = Weir::start(config(service("app-v1", {s1.address(), s2.address()}) +
                                     service("diverging", {diverging.address()}) +
                                     service("identical", {identical.address()}),
                                 route("diverging", "/d", "diverging/app", compare) +
                                     route("identical", "/i", "identical/app", compare)));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(http_request(weir.port(), "GET", "/d/" + std::to_string(i)).status, 200);
    ASSERT_EQ(http_request(weir.port(), "GET", "/i/" + std::to_string(i)).status, 200);
  }
  const uint16_t admin = weir.admin_port();
  auto total = [&](const std::string& route, const std::string& role) {
    return metric(admin, comparisons(route, role, "same")) +
           metric(admin, comparisons(route, role, "diverged"));
  };
  ASSERT_TRUE(wait_until(
      [&] { return total("diverging", "mirror") == 100 && total("identical", "mirror") == 100; },
      5s))
      << total("diverging", "mirror") << " " << total("identical", "mirror") << "\n"
      << mirror_series(admin);
  const double diverged = metric(admin, comparisons("diverging", "mirror", "diverged"));
  EXPECT_GE(diverged, 12);
  EXPECT_LE(diverged, 50);
  EXPECT_EQ(metric(admin, comparisons("identical", "mirror", "diverged")), 0);
  // Noise: a quarter of the compared GETs also went to the other stable endpoint.
  ASSERT_TRUE(wait_until([&] { return total("identical", "noise") == 25; }, 5s))
      << total("identical", "noise");
  EXPECT_EQ(metric(admin, comparisons("identical", "noise", "diverged")), 0);
  EXPECT_EQ(metric(admin, comparisons("diverging", "noise", "diverged")), 0);
}

} // namespace
} // namespace weir::test
