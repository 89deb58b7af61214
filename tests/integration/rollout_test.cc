// Rollouts end to end (issue #6): the real weir and weir-demo-upstream binaries on loopback
// ports chosen by the kernel, driven through the control socket (`rollout start|pause|resume|
// promote|abort|status|history`). Plans use short durations and a 1 s analysis interval, so
// every wait is a condition with a deadline.
//
// What depends on time alone (a timed step ends exactly on time, a gate holds, failure and
// inconclusive limits, operator pause/resume, the time left after a restart, readiness waits,
// capacity caps, webhook event contents) is a unit test on a ManualClock in
// tests/unit/rollout/manager_test.cc. What stays here is one real-time run per feature, on real
// sockets and processes.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/control.h"
#include "support/load.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <optional>
#include <poll.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

using namespace rollout;

// ---------------------------------------------------------------------------------------------
// Sockets run by the test

// A listening loopback socket; `accept` false leaves connections in the backlog forever (the
// kernel completes the handshake, nobody reads): a webhook that hangs.
int listen_socket(uint16_t& port) {
  int fd = listen_loopback(port);
  if (fd < 0) throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
  return fd;
}

// weir-demo-upstream on a given port: how a version comes back changed at the same address.
DemoUpstream start_demo_on(uint16_t port, const std::string& name,
                           std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {DEMO_UPSTREAM_BIN, "--listen", address_of(port), "--name", name};
  argv.insert(argv.end(), extra.begin(), extra.end());
  DemoUpstream up;
  up.proc = Process::start(argv);
  if (!up.proc) throw std::runtime_error("cannot start demo upstream");
  auto line = up.proc->wait_for_line("listening on", 10s);
  if (line) up.port = port_at_end(*line);
  if (!line || up.port != port) {
    ADD_FAILURE() << "weir-demo-upstream " << name << " did not listen on port " << port << ":\n"
                  << up.proc->output();
    throw std::runtime_error("demo upstream did not start");
  }
  return up;
}

// A webhook receiver: one thread accepts connections one at a time, reads a request (head and
// Content-Length body), answers 204 and closes. Thread contract: requests() from any thread.
class WebhookServer {
public:
  struct Request {
    std::string head;
    std::string body;
  };

  WebhookServer() {
    fd_ = listen_socket(port_);
    if (::pipe2(wake_, O_CLOEXEC) != 0) throw std::runtime_error("webhook: pipe");
    thread_ = std::thread([this] { loop(); });
  }
  WebhookServer(const WebhookServer&) = delete;
  WebhookServer& operator=(const WebhookServer&) = delete;
  ~WebhookServer() {
    char c = 0;
    (void)!::write(wake_[1], &c, 1);
    thread_.join();
    ::close(fd_);
    ::close(wake_[0]);
    ::close(wake_[1]);
  }

  uint16_t port() const { return port_; }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  // The parsed bodies, in arrival order (null Values for bodies that are not JSON).
  std::vector<json::Value> events() const {
    std::vector<json::Value> out;
    for (const auto& r : requests()) {
      auto parsed = json::parse(r.body);
      out.push_back(parsed.value ? *parsed.value : json::Value());
    }
    return out;
  }
  bool received(const std::string& type) const {
    for (const auto& e : events())
      if (e.get_string("type") == type) return true;
    return false;
  }

private:
  // Waits for fd to be readable; false when woken to stop or after 2 s.
  bool readable(int fd) {
    pollfd fds[2] = {{wake_[0], POLLIN, 0}, {fd, POLLIN, 0}};
    if (::poll(fds, 2, 2000) <= 0) return false;
    return !fds[0].revents && fds[1].revents;
  }

  void loop() {
    for (;;) {
      if (!readable(fd_)) {
        pollfd w{wake_[0], POLLIN, 0};
        if (::poll(&w, 1, 0) > 0) return;
        continue;
      }
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      std::string buf;
      Request req;
      bool done = false;
      while (!done && readable(c)) {
        char chunk[4096];
        ssize_t n = ::read(c, chunk, sizeof chunk);
        if (n <= 0) break;
        buf.append(chunk, static_cast<size_t>(n));
        size_t end = buf.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        std::string head = buf.substr(0, end);
        size_t length = 0;
        std::string lower = head;
        for (char& ch : lower)
          ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (size_t at = lower.find("content-length:"); at != std::string::npos)
          length = std::strtoul(head.c_str() + at + 15, nullptr, 10);
        if (buf.size() >= end + 4 + length) {
          req.head = head;
          req.body = buf.substr(end + 4, length);
          done = true;
        }
      }
      if (done) {
        std::string_view out = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n"
                               "Connection: close\r\n\r\n";
        (void)!::send(c, out.data(), out.size(), MSG_NOSIGNAL);
        std::lock_guard lock(mutex_);
        requests_.push_back(std::move(req));
      }
      ::close(c);
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  int wake_[2] = {-1, -1};
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
  std::thread thread_;
};

// The share of `name` among the 2xx responses counted in `by`.
double share(const std::map<std::string, uint64_t>& by, const std::string& name) {
  uint64_t total = 0;
  for (const auto& [n, c] : by)
    total += c;
  auto it = by.find(name);
  return total == 0 || it == by.end()
             ? 0.0
             : static_cast<double>(it->second) / static_cast<double>(total);
}

std::string describe(const std::map<std::string, uint64_t>& by) {
  std::string out;
  for (const auto& [n, c] : by)
    out += (out.empty() ? "" : " ") + (n.empty() ? "(none)" : n) + "=" + std::to_string(c);
  return out;
}

// =============================================================================================
// 1. A healthy canary through the whole plan under steady load.

TEST(RolloutPlan, HealthyCanaryUnderLoadFollowsThePlanWithoutAFailedRequest) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 10",              //
                "pause: {}",                   // 1: gate, split measured at 10 %
                "set_weight: 50",              //
                "pause: { duration: 1s }",     //
                "analysis: { duration: 1s }",  //
                "pause: {}",                   // 5: gate, split measured at 50 %
                "set_weight: 100",             //
                "pause: { duration: 500ms }"}; //
  plan.extra = "      fast_abort: { consecutive_errors: 20 }\n";
  Weir weir = Weir::start(two_versions(socket, 2, v1, v2, plan));
  EXPECT_EQ(status(socket).get_string("phase"), "Idle") << status_raw(socket);

  // Keep-alive clients at a paced 1,200 requests/s, running from before the start until after
  // the promotion.
  LoadGen load(weir.port(), 16, 1200);
  ASSERT_TRUE(load.wait_for(0, 500, 10s)) << load.report();
  EXPECT_EQ(load.served_by(0)["v2"], 0u) << "v2 served before the rollout started";

  Reply started = control(socket, "rollout start r");
  ASSERT_TRUE(started.ok()) << started.raw;
  ASSERT_TRUE(wait_gate(socket, 1, 5s)) << status_raw(socket) << history_raw(socket);
  {
    json::Value s = status(socket);
    EXPECT_EQ(s.get_number("canary_weight"), 10) << status_raw(socket);
    EXPECT_EQ(s.get_string("stable"), "app-v1/app");
    EXPECT_EQ(s.get_string("canary"), "app-v2/app");
    const auto& steps = s["steps"].as_array();
    ASSERT_EQ(steps.size(), plan.steps.size()) << status_raw(socket);
    EXPECT_TRUE(steps[0].get_bool("done"));
    EXPECT_TRUE(steps[1].get_bool("current"));
    EXPECT_FALSE(steps[1].get_bool("done"));
    EXPECT_FALSE(steps[2].get_bool("current"));
  }
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 10);
  EXPECT_EQ(live_weight(socket, "r", "app-v1/app"), 90);

  // The gate holds while 2,000 requests measure the split (that it holds however long is a unit
  // test).
  {
    int epoch = load.new_epoch();
    int not_paused = 0;
    std::string first_bad;
    bool measured = wait_until(
        [&] {
          json::Value s = status(socket);
          if (s.get_string("phase") != "Paused" || s.get_number("step") != 1) {
            if (not_paused++ == 0) first_bad = status_raw(socket);
          }
          return load.count(epoch) >= 2000;
        },
        20s, 50ms);
    ASSERT_TRUE(measured) << load.report();
    EXPECT_EQ(not_paused, 0) << "the manual gate did not hold: " << first_bad;
    auto by = load.served_by(epoch);
    double canary = share(by, "v2");
    EXPECT_NEAR(canary, 0.10, 0.02) << describe(by);
    EXPECT_NEAR(share(by, "v1") + canary, 1.0, 1e-9) << describe(by);
    std::printf("[rollout] split at 10%%: %s (%.2f%% canary)\n", describe(by).c_str(),
                canary * 100);
  }

  // Through set_weight 50, a timed pause and an analysis step to the second gate.
  Reply promoted = control(socket, "rollout promote r");
  ASSERT_TRUE(promoted.ok()) << promoted.raw;
  ASSERT_TRUE(wait_gate(socket, 5, 10s)) << status_raw(socket) << history_raw(socket);
  EXPECT_EQ(status(socket).get_number("canary_weight"), 50) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 50);
  {
    int epoch = load.new_epoch();
    ASSERT_TRUE(load.wait_for(epoch, 2000, 20s)) << load.report();
    auto by = load.served_by(epoch);
    double canary = share(by, "v2");
    EXPECT_NEAR(canary, 0.50, 0.02) << describe(by);
    std::printf("[rollout] split at 50%%: %s (%.2f%% canary)\n", describe(by).c_str(),
                canary * 100);
    EXPECT_EQ(status(socket).get_string("phase"), "Paused") << status_raw(socket);
  }
  // The analysis step went on only after a passing verdict.
  {
    auto events = history(socket);
    bool passed = false;
    for (const auto& e : events)
      passed = passed ||
               (e.get_string("type") == "analysis" && e["details"].get_string("outcome") == "pass");
    EXPECT_TRUE(passed) << history_raw(socket);
  }

  // After the last gate the plan runs to its end.
  promoted = control(socket, "rollout promote r");
  ASSERT_TRUE(promoted.ok()) << promoted.raw;
  ASSERT_TRUE(wait_phase(socket, "Healthy", 5s)) << status_raw(socket) << history_raw(socket);
  {
    json::Value s = status(socket);
    EXPECT_EQ(s.get_number("canary_weight"), 100) << status_raw(socket);
    for (const auto& step : s["steps"].as_array()) {
      EXPECT_TRUE(step.get_bool("done")) << status_raw(socket);
      EXPECT_FALSE(step.get_bool("current")) << status_raw(socket);
    }
    EXPECT_EQ(count_events(history(socket), "promoted"), 1u) << history_raw(socket);
  }
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 100);
  EXPECT_EQ(live_weight(socket, "r", "app-v1/app"), 0);
  ASSERT_TRUE(workers_caught_up(socket, "app-v1/app", v1.address()));
  {
    int epoch = load.new_epoch();
    ASSERT_TRUE(load.wait_for(epoch, 1500, 20s)) << load.report();
    // Compared within one reading: the load goes on, so a second reading may hold one more.
    auto by = load.served_by(epoch);
    uint64_t served = 0;
    for (const auto& [name, n] : by)
      served += n;
    EXPECT_EQ(by["v2"], served) << describe(by);
  }

  load.stop();
  for (const auto& e : history(socket))
    if (e.get_string("type") == "analysis")
      std::printf("[rollout] verdict: %s\n", e.get_string("message").c_str());
  std::printf("[rollout] %llu requests at %.0f/s, %llu failed\n",
              static_cast<unsigned long long>(load.responses()), load.rate(),
              static_cast<unsigned long long>(load.failures()));
  EXPECT_EQ(load.failures(), 0u) << load.report();
  EXPECT_GE(load.rate(), 1000.0) << load.report();
}

// =============================================================================================
// 2. Fast abort: a canary that fails every request is rolled back within a second.

struct FastAbortRun {
  uint64_t failed = 0;
  long abort_ms = -1;
  std::string report; // the load's statuses and first failures, the rollout history
};

FastAbortRun run_fast_abort(const std::string& route_extra) {
  FastAbortRun out;
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2", {"--status", "500"});
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: {}", "set_weight: 100"};
  plan.extra = "      fast_abort: { consecutive_errors: 20 }\n";
  Weir weir = Weir::start(two_versions(socket, 2, v1, v2, plan, route_extra));
  constexpr int kConnections = 8;
  LoadGen load(weir.port(), kConnections, 1000);
  if (!load.wait_for(0, 300, 10s)) {
    ADD_FAILURE() << load.report();
    return out;
  }
  uint64_t before = load.failures();
  EXPECT_EQ(before, 0u) << load.report();

  auto t0 = Clock::now();
  Reply started = control(socket, "rollout start r");
  EXPECT_TRUE(started.ok()) << started.raw;
  bool aborted = wait_phase(socket, "Degraded", 5s);
  out.abort_ms = ms_since(t0);
  EXPECT_TRUE(aborted) << status_raw(socket) << history_raw(socket);
  if (!aborted) return out;
  json::Value s = status(socket);
  EXPECT_EQ(s.get_number("canary_weight", -1), 0) << status_raw(socket);
  EXPECT_TRUE(contains(s.get_string("message"), "fast abort")) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 0);
  auto events = history(socket);
  EXPECT_EQ(count_events(events, "aborted"), 1u) << history_raw(socket);
  // Once rolled back (on every worker), every request goes to stable and succeeds.
  EXPECT_TRUE(workers_caught_up(socket, "app-v1/app", v1.address()));
  int epoch = load.new_epoch();
  EXPECT_TRUE(load.wait_for(epoch, 500, 10s)) << load.report();
  // Compared within one reading: the load goes on, so a second reading may hold one more.
  auto by = load.served_by(epoch);
  uint64_t served = 0;
  for (const auto& [name, n] : by)
    served += n;
  EXPECT_EQ(by["v1"], served) << describe(by);
  load.stop();
  out.failed = load.failures() - before;
  out.report = load.report() + history_raw(socket);
  // Every client connection may have had one request in flight at the canary when the abort
  // reached the workers. (consecutive_errors counts the canary's errors on the route, not per
  // worker: two workers must not let 2 x 19 errors through.)
  EXPECT_LE(out.failed, 20u + kConnections) << load.report();
  return out;
}

TEST(RolloutFastAbort, FailingCanaryIsRolledBackWithinASecond) {
  FastAbortRun run = run_fast_abort("");
  std::printf("[rollout] fast abort: %llu failed client requests, aborted %ld ms after start\n",
              static_cast<unsigned long long>(run.failed), run.abort_ms);
  EXPECT_LE(run.abort_ms, 1000) << run.report;
  // Nothing retries here: the run of canary errors that tripped the abort reached clients.
  EXPECT_GE(run.failed, 1u);
}

TEST(RolloutFastAbort, RetriesOnTheOtherBackendHideTheFailingCanaryFromClients) {
  FastAbortRun run = run_fast_abort(
      "    retries: { attempts: 1, on: [500, 502, 503], retry_other_backend: true }\n");
  std::printf("[rollout] fast abort with retries: %llu failed client requests, aborted %ld ms "
              "after start\n",
              static_cast<unsigned long long>(run.failed), run.abort_ms);
  // The retried attempts still count against the canary: it is aborted all the same.
  EXPECT_LE(run.abort_ms, 1000) << run.report;
  EXPECT_EQ(run.failed, 0u) << run.report;
}

// =============================================================================================
// 3. Analysis end to end: real errors through the metric windows abort the rollout. (The p99
// and too-little-traffic verdicts and the limits are unit tests: analysis_test, manager_test.)

// Starts a rollout whose second step is a long pause, with `rps` of load, and waits for the
// verdict that aborts it; returns the history.
json::Value::Array abort_by_analysis(const std::vector<std::string>& canary_args,
                                     const std::string& analysis, int threads, double rps,
                                     std::chrono::milliseconds within, std::string& why) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2", canary_args);
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 50", "pause: { duration: 60s }", "set_weight: 100"};
  plan.analysis = analysis;
  plan.extra = "      fast_abort: { consecutive_errors: 20 }\n";
  Weir weir = Weir::start(two_versions(socket, 2, v1, v2, plan));
  LoadGen load(weir.port(), threads, rps);
  EXPECT_TRUE(load.wait_for(0, 50, 10s)) << load.report();
  Reply started = control(socket, "rollout start r");
  EXPECT_TRUE(started.ok()) << started.raw;
  auto t0 = Clock::now();
  EXPECT_TRUE(wait_phase(socket, "Degraded", within)) << status_raw(socket) << "\n"
                                                      << history_raw(socket) << "\n"
                                                      << load.report();
  std::printf("[rollout] aborted by analysis %ld ms after start\n", ms_since(t0));
  json::Value s = status(socket);
  why = s.get_string("message");
  EXPECT_EQ(s.get_number("canary_weight", -1), 0) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 0);
  EXPECT_FALSE(contains(why, "fast abort")) << why;
  return history(socket);
}

// The analysis verdicts in order, with the aborting event's message last.
std::vector<json::Value> verdicts(const json::Value::Array& events) {
  std::vector<json::Value> out;
  for (const auto& e : events)
    if (e.get_string("type") == "analysis") out.push_back(e);
  return out;
}

std::string dump(const json::Value::Array& events) {
  std::string out;
  for (const auto& e : events)
    out += e.get_string("type") + ": " + e.get_string("message") + "\n";
  return out;
}

TEST(RolloutAnalysis, ThreePercentErrorsAbortAfterFailureLimitIntervals) {
  std::string why;
  auto events = abort_by_analysis({"--fail-rate", "0.03"}, kAnalysis, 8, 600, 15s, why);
  EXPECT_TRUE(contains(why, "analysis failed 2 intervals")) << why << "\n" << dump(events);
  EXPECT_TRUE(contains(why, "error rate")) << why;
  auto v = verdicts(events);
  ASSERT_GE(v.size(), 2u) << dump(events);
  // The two verdicts before the abort failed, and say by how much.
  for (size_t i = v.size() - 2; i < v.size(); ++i) {
    const json::Value& d = v[i]["details"];
    EXPECT_EQ(d.get_string("outcome"), "fail") << dump(events);
    EXPECT_TRUE(contains(v[i].get_string("message"), "error rate")) << v[i].get_string("message");
    EXPECT_TRUE(contains(v[i].get_string("message"), "%")) << v[i].get_string("message");
    EXPECT_GE(d["canary"].get_number("requests"), 50) << dump(events);
    EXPECT_GT(d["canary"].get_number("errors"), 0) << dump(events);
    EXPECT_GT(d["canary"].get_number("error_rate"), 0.005) << dump(events);
    EXPECT_LT(d["canary"].get_number("error_rate"), 0.10) << dump(events);
    EXPECT_EQ(d["stable"].get_number("errors"), 0) << dump(events);
    EXPECT_NEAR(d["thresholds"].get_number("max_error_rate"), 0.01, 1e-9) << dump(events);
  }
  EXPECT_EQ(count_events(events, "aborted"), 1u) << dump(events);
  EXPECT_EQ(count_events(events, "promoted"), 0u) << dump(events);
}

// =============================================================================================
// 4. An unready canary cannot be rolled out.

TEST(RolloutReadiness, UnreadyCanaryIsRefusedWithTheReasonAndStartsOnceReady) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  DemoUpstream v3 = DemoUpstream::start("v3", {"--status", "503"});
  const uint16_t v3_port = v3.port;
  const std::string socket = temp_path("ctl", ".sock");
  const std::string timing = "        interval: 200ms\n        timeout: 1s\n"
                             "        ready_after: 2\n";
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: {}", "set_weight: 100"};
  plan.extra = "      require_ready: true\n";
  Weir weir = Weir::start(
      header(socket, 1) + "services:\n" + service("app-v1/app", v1.address(), kNoOutliers) +
      service("app-v2/app", v2.address(),
              std::string(kNoOutliers) +
                  "    probes:\n      - name: body\n        request: { path: / }\n"
                  "        expect: { body_contains: \"nope\" }\n" +
                  timing) +
      service("app-v3/app", v3.address(),
              std::string(kNoOutliers) +
                  "    probes:\n      - name: status\n        request: { path: / }\n"
                  "        expect: { status: [200] }\n" +
                  timing) +
      "routes:\n" + route("r", "/", plan, "", {"app-v3/app"}));

  // Refused, with the failing probe's reason (once the probe has run).
  Reply refused;
  ASSERT_TRUE(wait_until(
      [&] {
        refused = control(socket, "rollout start r");
        return !refused.ok() && contains(refused.error(), "body does not contain");
      },
      5s, 50ms))
      << refused.raw;
  EXPECT_TRUE(contains(refused.error(), "not ready")) << refused.raw;
  EXPECT_TRUE(contains(refused.error(), "app-v2/app")) << refused.raw;
  EXPECT_TRUE(contains(refused.error(), "nope")) << refused.raw;
  EXPECT_EQ(status(socket).get_string("phase"), "Idle") << status_raw(socket);
  EXPECT_EQ(count_events(history(socket), "started"), 0u) << history_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 0);
  auto seen = served_by(weir.port(), 20);
  EXPECT_EQ(seen["v1"], 20);

  Reply refused3;
  ASSERT_TRUE(wait_until(
      [&] {
        refused3 = control(socket, "rollout start r app-v3/app");
        return !refused3.ok() && contains(refused3.error(), "503");
      },
      5s, 50ms))
      << refused3.raw;
  EXPECT_TRUE(contains(refused3.error(), "not ready")) << refused3.raw;
  EXPECT_TRUE(contains(refused3.error(), "app-v3/app")) << refused3.raw;

  // v3 comes back healthy at the same address: its probe passes, the rollout starts.
  v3.proc->signal(SIGKILL);
  ASSERT_TRUE(v3.proc->wait_exit(5s));
  DemoUpstream v3_ready = start_demo_on(v3_port, "v3");
  Reply accepted;
  ASSERT_TRUE(wait_until(
      [&] {
        accepted = control(socket, "rollout start r app-v3/app");
        return accepted.ok();
      },
      5s, 50ms))
      << accepted.raw;
  ASSERT_TRUE(wait_gate(socket, 1, 5s)) << status_raw(socket) << history_raw(socket);
  json::Value s = status(socket);
  EXPECT_EQ(s.get_string("canary"), "app-v3/app") << status_raw(socket);
  EXPECT_EQ(s.get_number("canary_weight"), 10) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v3/app"), 10);
  seen = served_by(weir.port(), 100);
  EXPECT_EQ(seen["v3"], 10) << seen["v1"] << " v1, " << seen["v2"] << " v2";
  EXPECT_EQ(seen["v2"], 0);
}

// =============================================================================================
// 5. A kill -9 during a pause: the rollout continues where it was, with the time it had left.

TEST(RolloutState, KillNineDuringAPauseResumesAtTheSameStepWithTheRemainingTime) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("ctl", ".sock");
  const std::string state_dir = temp_path("state");
  std::filesystem::create_directories(state_dir);
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: { duration: 20s }", "set_weight: 100"};
  // No traffic here: the analysis stays inconclusive, and must not pause the rollout.
  plan.analysis = "{ interval: 1s, min_requests: 50, inconclusive_limit: 1000 }";
  const std::string yaml = two_versions(socket, 1, v1, v2, plan, "", state_dir);
  auto first = std::make_unique<Weir>(Weir::start(yaml));

  Reply started = control(socket, "rollout start r");
  ASSERT_TRUE(started.ok()) << started.raw;
  // Two seconds into the 20 s pause: enough to tell "continued" from "started again".
  double before = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        json::Value s = status(socket);
        if (s.get_string("phase") != "Progressing" || s.get_number("step") != 1) return false;
        before = s.get_number("step_remaining_ms", -1);
        return before >= 0 && before <= 18000;
      },
      10s, 20ms))
      << status_raw(socket);
  // kill -9 on purpose: wait_exit collects it, so Weir's destructor expects no clean exit.
  first->proc->signal(SIGKILL);
  auto killed = Clock::now();
  ASSERT_TRUE(first->proc->wait_exit(5s));
  first.reset();

  Weir second = Weir::start(yaml);
  json::Value s = status(socket);
  long down_ms = ms_since(killed);
  double after = s.get_number("step_remaining_ms", -1);
  std::printf("[rollout] remaining before kill -9: %.0f ms, after restart: %.0f ms (%ld ms down)\n",
              before, after, down_ms);
  EXPECT_EQ(s.get_string("phase"), "Progressing") << status_raw(socket);
  EXPECT_EQ(s.get_number("step"), 1) << status_raw(socket);
  EXPECT_EQ(s.get_number("canary_weight"), 10) << status_raw(socket);
  EXPECT_EQ(s.get_string("canary"), "app-v2/app") << status_raw(socket);
  // The pause goes on with what was left at the kill (minus, at most, the time weir was down),
  // not from its full 20 s.
  EXPECT_LE(after, before + 500) << "the pause restarted instead of continuing: "
                                 << status_raw(socket);
  EXPECT_GE(after, before - static_cast<double>(down_ms) - 1500) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 10);
  auto events = history(socket);
  EXPECT_EQ(count_events(events, "started"), 1u) << dump(events);
  EXPECT_GE(count_events(events, "restored"), 1u) << dump(events);
  auto seen = served_by(second.port(), 100);
  EXPECT_EQ(seen["v2"], 10) << seen["v1"] << " v1";

  // The restored rollout still runs: skipping the pause finishes the plan.
  Reply skipped = control(socket, "rollout promote r");
  ASSERT_TRUE(skipped.ok()) << skipped.raw;
  ASSERT_TRUE(wait_phase(socket, "Healthy", 5s)) << status_raw(socket) << history_raw(socket);
  seen = served_by(second.port(), 20);
  EXPECT_EQ(seen["v2"], 20);
}

// =============================================================================================
// 6. Sticky versions: a client moves from stable to canary only, never back.

// A simulated browser: its cookie jar holds weir's affinity cookie.
struct CookieClient {
  std::string cookie;                // the bucket, "" until weir set one
  std::vector<std::string> versions; // the version it got at each stage
  int set_cookies = 0;               // Set-Cookie headers received
  int inconsistent = 0;              // two requests in one stage got different versions
  int failures = 0;
};

std::string cookie_from(const HttpResponse& r, const std::string& name) {
  for (const auto& [k, v] : r.headers) {
    if (!iequals(k, "set-cookie")) continue;
    if (v.compare(0, name.size() + 1, name + "=") != 0) continue;
    size_t end = v.find(';');
    return v.substr(name.size() + 1,
                    end == std::string::npos ? std::string::npos : end - name.size() - 1);
  }
  return {};
}

// Each client sends two requests (on connections shared by the thread that runs it), with its
// cookie when it has one, and records the version it got.
void run_stage(uint16_t port, std::vector<CookieClient>& clients) {
  constexpr int kThreads = 8;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      std::unique_ptr<RawClient> conn;
      for (size_t i = static_cast<size_t>(t); i < clients.size(); i += kThreads) {
        CookieClient& c = clients[i];
        std::string version;
        for (int n = 0; n < 2; ++n) {
          std::vector<std::pair<std::string, std::string>> headers;
          if (!c.cookie.empty()) headers.emplace_back("Cookie", "weir-version=" + c.cookie);
          if (!conn) conn = RawClient::connect(port);
          std::optional<HttpResponse> r;
          if (conn && conn->send(build_request("GET", "/", headers, {})))
            r = conn->read_response(5s);
          if (!r || r->status != 200) {
            ++c.failures;
            conn.reset();
            continue;
          }
          if (iequals(r->header("connection"), "close")) conn.reset();
          std::string set = cookie_from(*r, "weir-version");
          if (!set.empty()) {
            ++c.set_cookies;
            c.cookie = set;
          }
          std::string got = r->header("x-served-by");
          if (!version.empty() && got != version) ++c.inconsistent;
          version = got;
        }
        c.versions.push_back(version);
      }
    });
  for (auto& t : threads)
    t.join();
}

TEST(RolloutAffinity, ThousandClientsNeverMoveBackFromCanaryAndOverrideForcesAVersion) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: {}",       "set_weight: 50",
                "pause: {}",      "set_weight: 100", "pause: {}"};
  plan.extra = "      affinity: { cookie: weir-version, max_age: 1h }\n"
               "      override: { header: x-weir-canary, secret: test-secret-1 }\n";
  Weir weir = Weir::start(two_versions(socket, 2, v1, v2, plan));
  ASSERT_TRUE(control(socket, "rollout start r").ok());

  std::vector<CookieClient> clients(1000);
  auto canary_share = [&](size_t stage) {
    int n = 0;
    for (const auto& c : clients)
      n += c.versions.size() > stage && c.versions[stage] == "v2" ? 1 : 0;
    return static_cast<double>(n) / static_cast<double>(clients.size());
  };
  auto forced = [&](const std::string& value) {
    std::map<std::string, int> seen;
    for (int i = 0; i < 30; ++i)
      ++seen[http_request(weir.port(), "GET", "/", {{"x-weir-canary", value}})
                 .header("x-served-by")];
    return seen;
  };

  const std::vector<std::pair<size_t, double>> stages = {{1, 0.10}, {3, 0.50}, {5, 1.0}};
  for (size_t stage = 0; stage < stages.size(); ++stage) {
    if (stage > 0) {
      ASSERT_TRUE(control(socket, "rollout promote r").ok());
    }
    ASSERT_TRUE(wait_gate(socket, stages[stage].first, 5s)) << status_raw(socket);
    run_stage(weir.port(), clients);
    double got = canary_share(stage);
    std::printf("[rollout] affinity stage %zu: %.1f%% of clients on the canary (weight %.0f%%)\n",
                stage, got * 100, stages[stage].second * 100);
    if (stages[stage].second == 1.0) {
      EXPECT_EQ(got, 1.0);
    } else {
      EXPECT_NEAR(got, stages[stage].second, 0.05);
    }
    if (stage == 0) {
      // The override forces a version whatever the weights and the cookie say — with the
      // secret; without it (an outsider) the value is ignored.
      auto always = forced("always:test-secret-1");
      EXPECT_EQ(always["v2"], 30) << always["v1"] << " went to v1";
      auto never = forced("never:test-secret-1");
      EXPECT_EQ(never["v1"], 30) << never["v2"] << " went to v2";
      auto outsider = forced("always");
      EXPECT_LT(outsider["v2"], 30) << "a value without the secret forced the canary";
      auto wrong = forced("always:test-secret-2");
      EXPECT_LT(wrong["v2"], 30) << "a wrong secret forced the canary";
    }
  }
  // At 100 % "never" still reaches stable.
  auto never = forced("never:test-secret-1");
  EXPECT_EQ(never["v1"], 30) << never["v2"] << " went to v2";

  Reply aborted = control(socket, "rollout abort r");
  ASSERT_TRUE(aborted.ok()) << aborted.raw;
  EXPECT_EQ(status(socket).get_string("phase"), "Degraded");
  run_stage(weir.port(), clients);
  EXPECT_EQ(canary_share(3), 0.0);

  int no_cookie = 0, extra_cookies = 0, inconsistent = 0, failures = 0, moved_back = 0;
  for (const auto& c : clients) {
    no_cookie += c.cookie.empty() ? 1 : 0;
    extra_cookies += c.set_cookies > 1 ? 1 : 0;
    inconsistent += c.inconsistent;
    failures += c.failures;
    // Stages 0..2 are 10, 50 and 100 %; stage 3 is after the abort.
    for (size_t i = 1; i < 3 && i < c.versions.size(); ++i)
      moved_back += c.versions[i - 1] == "v2" && c.versions[i] == "v1" ? 1 : 0;
  }
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(no_cookie, 0) << "clients that never got an affinity cookie";
  EXPECT_EQ(extra_cookies, 0) << "clients whose cookie weir replaced";
  EXPECT_EQ(inconsistent, 0) << "clients that got both versions within one stage";
  EXPECT_EQ(moved_back, 0) << "clients moved from canary back to stable while the weight grew";
}

// =============================================================================================
// 7. Webhook events, and a webhook that cannot be reached never holds a rollout up.

TEST(RolloutWebhook, EventsArePostedAndAnUnreachableWebhookNeverBlocks) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  WebhookServer hook;
  uint16_t hang_port = 0;
  int hang_fd = listen_socket(hang_port); // accepts nothing: every POST waits for weir's timeout
  const ClosedPort closed;
  const uint16_t closed_port = closed.port();
  const std::string socket = temp_path("ctl", ".sock");
  auto plan_with = [](uint16_t port) {
    Plan p;
    p.steps = {"set_weight: 50", "pause: { duration: 300ms }", "set_weight: 100"};
    p.extra = "      notify: { webhook: \"http://127.0.0.1:" + std::to_string(port) + "/hook\" }\n";
    return p;
  };
  Weir weir = Weir::start(
      header(socket, 1) + "services:\n" + service("app-v1/app", v1.address(), kNoOutliers) +
      service("app-v2/app", v2.address(), kNoOutliers) + "routes:\n" +
      route("r", "/", plan_with(hook.port())) + route("closed", "/closed", plan_with(closed_port)) +
      route("hang", "/hang", plan_with(hang_port)));

  // Unreachable webhooks first: each plan completes as if there were none.
  for (const std::string r : {"closed", "hang"}) {
    auto t0 = Clock::now();
    Reply started = control(socket, "rollout start " + r);
    EXPECT_TRUE(started.ok()) << started.raw;
    EXPECT_LT(ms_since(t0), 1000) << "`rollout start` waited for the webhook";
    EXPECT_TRUE(wait_phase(socket, "Healthy", 5s, r)) << status_raw(socket, r);
    long took = ms_since(t0);
    std::printf("[rollout] plan with webhook '%s' done in %ld ms\n", r.c_str(), took);
    // 300 ms of pause; a hanging webhook times out after 2 s per event, which must not count.
    EXPECT_LT(took, 1800) << history_raw(socket, r);
    EXPECT_EQ(live_weight(socket, r, "app-v2/app"), 100);
  }

  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_phase(socket, "Healthy", 5s)) << status_raw(socket);
  ASSERT_TRUE(wait_until([&] { return hook.received("promoted"); }, 5s))
      << hook.requests().size() << " events";
  // A second rollout (from the promoted version), aborted.
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  Reply aborted = control(socket, "rollout abort r");
  ASSERT_TRUE(aborted.ok()) << aborted.raw;
  ASSERT_TRUE(wait_until([&] { return hook.received("aborted"); }, 5s))
      << hook.requests().size() << " events";

  std::multiset<std::string> types;
  for (const auto& req : hook.requests()) {
    EXPECT_EQ(req.head.compare(0, 15, "POST /hook HTTP"), 0) << req.head;
    std::string lower = req.head;
    for (char& ch : lower)
      ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    EXPECT_TRUE(contains(lower, "content-type: application/json")) << req.head;
  }
  std::vector<json::Value> events = hook.events();
  for (const auto& e : events) {
    ASSERT_TRUE(e.is_object()) << "a webhook body is not JSON";
    EXPECT_EQ(e.get_string("route"), "r");
    EXPECT_NE(e.get_string("time"), "");
    EXPECT_NE(e.get_string("message"), "");
    types.insert(e.get_string("type"));
  }
  std::string all;
  for (const auto& t : types)
    all += t + " ";
  EXPECT_EQ(types.count("started"), 2u) << all;
  EXPECT_GE(types.count("step"), 3u) << all;
  EXPECT_EQ(types.count("promoted"), 1u) << all;
  EXPECT_EQ(types.count("aborted"), 1u) << all;
  for (const auto& e : events) {
    if (e.get_string("type") == "promoted") {
      EXPECT_EQ(e.get_string("phase"), "Healthy");
      EXPECT_EQ(e.get_number("canary_weight"), 100);
      EXPECT_EQ(e.get_string("stable"), "app-v1/app");
      EXPECT_EQ(e.get_string("canary"), "app-v2/app");
    }
    if (e.get_string("type") == "aborted") {
      EXPECT_EQ(e.get_string("phase"), "Degraded");
      EXPECT_EQ(e.get_number("canary_weight"), 0);
    }
  }
  ::close(hang_fd);
}

// =============================================================================================
// 8. After a promotion, the next rollout starts from the promoted version.

TEST(RolloutRestart, NextRolloutAfterPromotionStartsFromThePromotedVersion) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: {}", "set_weight: 100"};
  Weir weir = Weir::start(two_versions(socket, 1, v1, v2, plan));
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket, 1, 5s)) << status_raw(socket);
  ASSERT_TRUE(control(socket, "rollout promote r").ok());
  ASSERT_TRUE(wait_phase(socket, "Healthy", 5s)) << status_raw(socket);
  EXPECT_EQ(served_by(weir.port(), 20)["v2"], 20);

  Reply again = control(socket, "rollout start r");
  ASSERT_TRUE(again.ok()) << again.raw;
  ASSERT_TRUE(wait_gate(socket, 1, 5s)) << status_raw(socket);
  json::Value s = status(socket);
  EXPECT_EQ(s.get_string("stable"), "app-v2/app") << status_raw(socket);
  EXPECT_EQ(s.get_string("canary"), "app-v1/app") << status_raw(socket);
  EXPECT_EQ(s.get_number("canary_weight"), 10) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 90);
  EXPECT_EQ(live_weight(socket, "r", "app-v1/app"), 10);
  auto seen = served_by(weir.port(), 100);
  EXPECT_EQ(seen["v2"], 90);
  EXPECT_EQ(seen["v1"], 10);

  // Rolling this one back leaves the promoted version serving.
  ASSERT_TRUE(control(socket, "rollout abort r").ok());
  EXPECT_EQ(served_by(weir.port(), 20)["v2"], 20);
}

} // namespace
} // namespace weir::test

namespace weir::test {
namespace {

TEST(RolloutCapacity, CanaryNeverGetsMoreThanItsEndpointsCanCarry) {
  // Stable has four endpoints, the canary one: relative to stable it can carry 25 % of the
  // route, so a plan asking 70 % gets 25 % (and the history says why); promotion still moves
  // everything to it (the plan's end is an explicit decision).
  std::vector<DemoUpstream> stable;
  std::string addresses;
  for (int i = 0; i < 4; ++i) {
    stable.push_back(DemoUpstream::start("v1-" + std::to_string(i)));
    addresses += (i ? ", " : "") + stable.back().address();
  }
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 70", "pause: {}", "set_weight: 100"};
  std::string yaml =
      header(socket, 1) + "services:\n" + service("app-v1/app", addresses, kNoOutliers) +
      service("app-v2/app", v2.address(), kNoOutliers) + "routes:\n" + route("r", "/", plan);
  Weir weir = Weir::start(yaml);
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket, 1, 5s)) << status_raw(socket);
  EXPECT_EQ(status(socket).get_number("canary_weight"), 25) << status_raw(socket);
  EXPECT_EQ(live_weight(socket, "r", "app-v2/app"), 25);
  EXPECT_EQ(live_weight(socket, "r", "app-v1/app"), 75);
  auto seen = served_by(weir.port(), 400);
  EXPECT_EQ(seen["v2"], 100) << seen["v1-0"] << " " << seen["v1-1"];
  EXPECT_TRUE(contains(history_raw(socket), "capped to 25%")) << history_raw(socket);
  ASSERT_TRUE(control(socket, "rollout promote r").ok());
  ASSERT_TRUE(wait_phase(socket, "Healthy", 5s)) << status_raw(socket);
  EXPECT_EQ(served_by(weir.port(), 20)["v2"], 20);
}

} // namespace
} // namespace weir::test

namespace weir::test {
namespace {

TEST(RolloutWatch, WatchStreamsTheRolloutsEventsAndState) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 10", "pause: {}", "set_weight: 100"};
  Weir weir = Weir::start(two_versions(socket, 1, v1, v2, plan));
  auto watcher = ControlClient::connect(socket);
  ASSERT_TRUE(watcher);
  ASSERT_TRUE(watcher->send("watch r 200ms\n"));
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket, 1, 5s)) << status_raw(socket);
  ASSERT_TRUE(control(socket, "rollout promote r").ok());
  // Every event arrives exactly once across the stream's lines, in order, with the state.
  std::vector<std::string> types;
  std::string last_phase;
  auto deadline = Clock::now() + 10s;
  while (Clock::now() < deadline &&
         std::find(types.begin(), types.end(), "promoted") == types.end()) {
    auto line = watcher->read_line(2s);
    ASSERT_TRUE(line) << "watch stream ended";
    auto parsed = json::parse(*line);
    ASSERT_TRUE(parsed.value) << *line;
    const json::Value& rollout = (*parsed.value)["rollout"];
    ASSERT_TRUE(rollout.is_object()) << *line;
    last_phase = rollout["status"].get_string("phase");
    for (const auto& e : rollout["events"].as_array())
      types.push_back(e.get_string("type"));
  }
  ASSERT_FALSE(types.empty());
  EXPECT_EQ(types.front(), "started");
  EXPECT_EQ(std::count(types.begin(), types.end(), "started"), 1);
  EXPECT_EQ(std::count(types.begin(), types.end(), "promoted"), 1);
  EXPECT_NE(std::find(types.begin(), types.end(), "paused"), types.end());
  EXPECT_EQ(last_phase, "Healthy");
}

} // namespace
} // namespace weir::test
