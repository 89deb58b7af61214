// Top-up traffic for thin services (issue #10, rollout.analysis.top_up) end to end: the real weir
// and weir-demo-upstream binaries on loopback. The demo upstreams count the requests that carry
// the tag header apart from the others (--count-header), so the test sees what reached each
// version; weir's /metrics and /stats.json must show the same synthetic figures and leave the
// user figures alone. The pacing itself (even spacing, no bursts, the in-flight cap) is a unit
// test on a ManualClock (tests/unit/rollout/top_up_traffic_test.cc).
#include "support/client.h"
#include "support/control.h"
#include "support/load.h"
#include "support/process.h"
#include "support/run.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <gtest/gtest.h>
#include <map>
#include <sstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr const char* kTag = "x-weir-synthetic";
constexpr const char* kPromtool = "/usr/bin/promtool";

using Counts = DemoUpstream::Counts;

json::Value control(const std::string& socket, const std::string& command) {
  auto c = connect_control(socket);
  if (!c) return {};
  return c->command(command);
}

// Every sample of a text exposition, keyed by the series as written: name{labels}.
std::map<std::string, double> samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

std::string series(const std::string& name, const std::string& ns) {
  return name + "{route=\"r\",namespace=\"" + ns + "\",service=\"app\"}";
}

std::string service(const std::string& ns, const DemoUpstream& up) {
  return "  - namespace: " + ns + "\n    name: app\n    endpoints: [" + up.address() +
         "]\n    outlier_detection: { enabled: false }\n";
}

// Route "r" over app-v1/app (stable) and app-v2/app (canary) with a rollout plan.
std::string config(const std::string& socket, const DemoUpstream& v1, const DemoUpstream& v2,
                   const std::string& steps, const std::string& analysis) {
  return "workers: 2\ncontrol:\n  socket: " + socket +
         "\nadmin:\n  address: 127.0.0.1:0\nlisteners:\n  - name: public\n    address: "
         "127.0.0.1:0\nservices:\n" +
         service("app-v1", v1) + service("app-v2", v2) +
         "routes:\n  - name: r\n    listener: public\n    backends:\n"
         "      - { service: app-v1/app, weight: 100 }\n"
         "      - { service: app-v2/app, weight: 0 }\n"
         "    rollout:\n      stable: app-v1/app\n      canary: app-v2/app\n      steps: " +
         steps + "\n      analysis: " + analysis + "\n";
}

// With no real traffic at all, a rollout's canary can never reach min_requests (1000 here, with
// a limit on inconclusive intervals that is never reached in the test): top-up runs for as long
// as the analysis step lasts.
// The requests are HEAD: their answers carry a Content-Length but no body, and must count as
// successes, not as timeouts.
TEST(TopUpTraffic, TaggedRequestsReachBothVersionsAtTheRateAndAreCountedApart) {
  DemoUpstream v1 = DemoUpstream::start("app-v1", {"--count-header", kTag});
  DemoUpstream v2 = DemoUpstream::start("app-v2", {"--count-header", kTag});
  const std::string socket = temp_path("weir", ".sock");
  Weir weir = Weir::start(config(
      socket, v1, v2, "[{ set_weight: 10 }, { analysis: { duration: 5m } }]",
      "{ interval: 1s, min_requests: 1000, inconclusive_limit: 1000, top_up: { rate: 20/s, "
      "timeout: 1s, request: { method: HEAD, path: /top-up, headers: { x-probe: weir } } } }"));
  const uint16_t admin = weir.admin_port();

  // Real traffic, before and during top-up: 20 requests through weir.
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(http_request(weir.port(), "GET", "/").status, 200);
  json::Value started = control(socket, "rollout start r");
  ASSERT_TRUE(started.get_bool("ok")) << started.get_string("error");
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(http_request(weir.port(), "GET", "/").status, 200);

  // 20/s in all: 10/s to each version. Measured over the time 30 more reach each one.
  ASSERT_TRUE(wait_until([&] { return v1.counts().with > 0 && v2.counts().with > 0; }, 5s))
      << weir.proc->output();
  const Counts a0 = v1.counts(), b0 = v2.counts();
  const auto t0 = Clock::now();
  ASSERT_TRUE(wait_until(
      [&] { return v1.counts().with >= a0.with + 30 && v2.counts().with >= b0.with + 30; }, 10s));
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const Counts a1 = v1.counts(), b1 = v2.counts();
  const double rate_v1 = static_cast<double>(a1.with - a0.with) / seconds;
  const double rate_v2 = static_cast<double>(b1.with - b0.with) / seconds;
  std::printf("top-up: %.1f/s to app-v1, %.1f/s to app-v2 (measured over %.2f s)\n", rate_v1,
              rate_v2, seconds);
  EXPECT_NEAR(rate_v1, 10.0, 2.5) << seconds << " s";
  EXPECT_NEAR(rate_v2, 10.0, 2.5) << seconds << " s";
  // User requests reached the upstreams untagged: exactly the 20 sent.
  EXPECT_EQ(a1.without + b1.without, 20);

  // /metrics: synthetic counters per version, as many as the upstreams saw (give or take the
  // requests in flight between the two reads); the user counters hold the 20 user requests only.
  const Counts a2 = v1.counts(), b2 = v2.counts();
  HttpResponse m = http_request(admin, "GET", "/metrics");
  ASSERT_EQ(m.status, 200);
  const Counts a3 = v1.counts(), b3 = v2.counts();
  auto s = samples(m.body);
  const double syn_v1 = s[series("weir_synthetic_requests_total", "app-v1")];
  const double syn_v2 = s[series("weir_synthetic_requests_total", "app-v2")];
  EXPECT_GE(syn_v1, static_cast<double>(a2.with) - 4);
  EXPECT_LE(syn_v1, static_cast<double>(a3.with));
  EXPECT_GE(syn_v2, static_cast<double>(b2.with) - 4);
  EXPECT_LE(syn_v2, static_cast<double>(b3.with));
  EXPECT_EQ(s[series("weir_synthetic_errors_total", "app-v1")], 0);
  EXPECT_EQ(s[series("weir_synthetic_errors_total", "app-v2")], 0);
  EXPECT_EQ(s[series("weir_backend_requests_total", "app-v1")] +
                s[series("weir_backend_requests_total", "app-v2")],
            20);
  EXPECT_NE(m.body.find("# TYPE weir_synthetic_requests_total counter"), std::string::npos);
  EXPECT_NE(m.body.find("# HELP weir_synthetic_errors_total "), std::string::npos);
  if (::access(kPromtool, X_OK) == 0) {
    std::string file = temp_path("metrics", ".txt");
    ASSERT_TRUE(write_file(file, m.body));
    RunResult check =
        run_command({"/bin/sh", "-c", std::string(kPromtool) + " check metrics < " + file});
    EXPECT_EQ(check.code, 0) << check.out << check.err;
  }

  // /stats.json: the user figures stay user-only; the synthetic ones and their share apart.
  ASSERT_TRUE(wait_until(
      [&] {
        auto st = json::parse(http_request(admin, "GET", "/stats.json").body);
        if (!st.value) return false;
        const json::Value& b = (*st.value)["routes"]["r"]["backends"]["app-v2/app"];
        return b["synthetic"]["total"].get_number("requests", 0) > 0 &&
               b["synthetic"]["share"].get_number("10s", -1) > 0;
      },
      5s));
  auto st = json::parse(http_request(admin, "GET", "/stats.json").body);
  ASSERT_TRUE(st.value);
  const json::Value& r = (*st.value)["routes"]["r"]["backends"];
  EXPECT_EQ(r["app-v1/app"]["total"].get_number("requests", -1) +
                r["app-v2/app"]["total"].get_number("requests", -1),
            20);
  for (const char* id : {"app-v1/app", "app-v2/app"}) {
    const json::Value& syn = r[id]["synthetic"];
    EXPECT_GT(syn["total"].get_number("requests", 0), 20) << id;
    EXPECT_EQ(syn["total"].get_number("errors", -1), 0) << id;
    EXPECT_GT(syn["windows"]["10s"].get_number("rps", 0), 5) << id;
    EXPECT_GT(syn["share"].get_number("10s", 0), 0.5) << id; // at most a few user requests
    EXPECT_LE(syn["share"].get_number("10s", 2), 1.0) << id;
  }

  // An abort stops top-up: once the requests in flight are done, nothing more arrives.
  ASSERT_TRUE(control(socket, "rollout abort r").get_bool("ok"));
  Counts last_v1 = v1.counts(), last_v2 = v2.counts();
  auto quiet_since = Clock::now();
  ASSERT_TRUE(wait_until(
      [&] {
        Counts n1 = v1.counts(), n2 = v2.counts();
        if (n1.with != last_v1.with || n2.with != last_v2.with) {
          last_v1 = n1;
          last_v2 = n2;
          quiet_since = Clock::now();
        }
        return Clock::now() - quiet_since >= 1s; // ten intervals of a version's share
      },
      5s, 20ms));
}

// ---------------------------------------------------------------------------------------------
// Acceptance (issue #10): with real traffic at 5 requests/s and top_up, a healthy canary is
// promoted and a canary failing 5 % of its requests is aborted by analysis.
//
// The numbers. Real traffic: 5/s, half of it to the canary at set_weight 50: 2.5/s, about 5 per
// 2 s interval, far below min_requests 100, so without top-up every interval is inconclusive.
// Top-up at 400/s sends 200/s to each version: every window of the analysis (2 s, at least one
// second of it after top-up started, as the once-a-second samples fall) holds at least 200
// canary requests. A canary failing 5 % of them has an expected 10 or more errors in it, while an
// interval passes only at an error rate of at most max_error_rate 1 %, i.e. at most 2 errors of
// 200 (4 of 400): P <= 0.23 % for 200 and 2e-5 for 400 (binomial). failure_limit 1 aborts on the
// first failed interval; a promotion would need both intervals of the 4 s analysis step to pass.
// The healthy canary has no errors at all and the relative p99 check is off
// (max_p99_increase: none), so latency noise between two local processes cannot fail it. No
// fast_abort in the plan: an abort can only come from the analysis.
const char* kAcceptanceSteps = "[{ set_weight: 50 }, { analysis: { duration: 4s } }, "
                               "{ set_weight: 100 }]";
const char* kAcceptanceAnalysis =
    "{ interval: 2s, min_requests: 100, max_error_rate: 1%, max_error_rate_increase: 0.5%, "
    "max_p99_latency: 500ms, max_p99_increase: none, failure_limit: 1, inconclusive_limit: 5, "
    "top_up: { rate: 400/s, timeout: 1s } }";

std::string events_text(const std::string& socket) {
  std::string out;
  const json::Value history = control(socket, "rollout history r");
  for (const auto& e : history["events"].as_array())
    out += e.get_string("type") + ": " + e.get_string("message") + "\n";
  return out;
}

std::string phase(const std::string& socket) {
  return control(socket, "rollout status r")["rollout"].get_string("phase");
}

// The first event of `type`, or a null Value.
json::Value event(const std::string& socket, const std::string& type) {
  const json::Value history = control(socket, "rollout history r");
  for (const auto& e : history["events"].as_array())
    if (e.get_string("type") == type) return e;
  return {};
}

TEST(TopUpAcceptance, HealthyCanaryWithFiveRequestsPerSecondIsPromoted) {
  DemoUpstream v1 = DemoUpstream::start("app-v1");
  DemoUpstream v2 = DemoUpstream::start("app-v2");
  const std::string socket = temp_path("weir", ".sock");
  Weir weir = Weir::start(config(socket, v1, v2, kAcceptanceSteps, kAcceptanceAnalysis));
  LoadGen load(weir.port(), 1, 5.0);
  ASSERT_TRUE(load.wait_for(0, 5)); // real traffic flows before the start
  const auto started = Clock::now();
  json::Value reply = control(socket, "rollout start r");
  ASSERT_TRUE(reply.get_bool("ok")) << reply.get_string("error");
  ASSERT_TRUE(wait_until([&] { return phase(socket) == "Healthy"; }, 20s))
      << phase(socket) << "\n"
      << events_text(socket) << weir.proc->output();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  load.stop();
  std::printf("healthy canary promoted %.1f s after the start; real traffic %.1f/s\n", seconds,
              load.rate());
  EXPECT_NEAR(load.rate(), 5.0, 1.0);
  EXPECT_EQ(load.failures(), 0u) << load.report();
  // Top-up ran, and the passing verdict counted its requests (the analysis event says how many
  // were synthetic).
  const std::string events = events_text(socket);
  EXPECT_NE(events.find("top_up: top-up on"), std::string::npos) << events;
  json::Value pass;
  const json::Value history = control(socket, "rollout history r");
  for (const auto& e : history["events"].as_array())
    if (e.get_string("type") == "analysis" && e.get_string("message").rfind("pass", 0) == 0)
      pass = e;
  ASSERT_FALSE(pass.is_null()) << events;
  EXPECT_NE(pass.get_string("message").find("synthetic]"), std::string::npos) << events;
  EXPECT_EQ(events.find("aborted"), std::string::npos) << events;
}

TEST(TopUpAcceptance, CanaryFailingFivePercentWithFiveRequestsPerSecondIsAbortedByAnalysis) {
  DemoUpstream v1 = DemoUpstream::start("app-v1");
  DemoUpstream v2 = DemoUpstream::start("app-v2", {"--fail-rate", "0.05"});
  const std::string socket = temp_path("weir", ".sock");
  Weir weir = Weir::start(config(socket, v1, v2, kAcceptanceSteps, kAcceptanceAnalysis));
  LoadGen load(weir.port(), 1, 5.0);
  ASSERT_TRUE(load.wait_for(0, 5));
  json::Value reply = control(socket, "rollout start r");
  ASSERT_TRUE(reply.get_bool("ok")) << reply.get_string("error");
  ASSERT_TRUE(wait_until([&] { return phase(socket) == "Degraded"; }, 20s))
      << phase(socket) << "\n"
      << events_text(socket) << weir.proc->output();
  load.stop();
  const std::string events = events_text(socket);
  std::printf("%s", events.c_str());
  EXPECT_NE(events.find("top_up: top-up on"), std::string::npos) << events;
  EXPECT_EQ(events.find("promoted"), std::string::npos) << events;
  // Aborted by the analysis, for the canary's error rate, not by a fast abort.
  json::Value aborted = event(socket, "aborted");
  ASSERT_FALSE(aborted.is_null()) << events;
  const std::string why = aborted.get_string("message");
  EXPECT_EQ(why.rfind("analysis failed", 0), 0u) << why;
  EXPECT_NE(why.find("error rate"), std::string::npos) << why;
  EXPECT_EQ(why.find("fast abort"), std::string::npos) << why;
  // The failed verdict judged mostly synthetic requests: the real ones alone were too few.
  json::Value failed;
  const json::Value history = control(socket, "rollout history r");
  for (const auto& e : history["events"].as_array())
    if (e.get_string("type") == "analysis" && e.get_string("message").rfind("error rate", 0) == 0)
      failed = e;
  ASSERT_FALSE(failed.is_null()) << events;
  EXPECT_NE(failed.get_string("message").find("synthetic]"), std::string::npos) << events;
}

} // namespace
} // namespace weir::test
