// Rollout fast abort end to end (issue #10): the real weir with two workers and a canary that
// fails every request. The abort says how many errors there really were (every worker's run
// added up on the control thread, not a per-worker share of the threshold), exactly that many
// reached the canary, and a rollout started again after errors starts counting from zero.
//
// Requests go one at a time, each on a new connection (so both workers get some), and after each
// a barrier: `undrain` of an endpoint that is not drained publishes a snapshot and replies only
// once every worker has installed it, which a worker does only after it has finished (and
// reported) the request it answered before. So after the barrier the control thread has counted
// every error so far, and the phase read next is the one those errors led to — no timing guess.
// (The counting rules themselves are unit tests: tests/unit/rollout/fast_abort_test.cc.)
#include "support/client.h"
#include "support/control.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <chrono>
#include <gtest/gtest.h>
#include <regex>
#include <sstream>
#include <string>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kStable = "app-v1/app";
constexpr const char* kCanary = "app-v2/app";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// Two workers by default; the canary (app-v2) answers 500 to everything. The plan sends all
// traffic to the canary and waits at a gate; analysis is kept out of the way (a long interval),
// so only fast abort can end the rollout.
std::string config(const std::string& socket, const DemoUpstream& v1, const DemoUpstream& v2,
                   int workers, int threshold) {
  return "workers: " + std::to_string(workers) + "\ncontrol:\n  socket: " + socket +
         "\nadmin: { address: \"127.0.0.1:0\" }\n"
         "listeners:\n  - name: public\n    address: 127.0.0.1:0\n"
         "services:\n"
         "  - namespace: app-v1\n    name: app\n    endpoints: [" +
         v1.address() +
         "]\n    outlier_detection: { enabled: false }\n"
         "  - namespace: app-v2\n    name: app\n    endpoints: [" +
         v2.address() +
         "]\n    outlier_detection: { enabled: false }\n"
         "routes:\n  - name: r\n    listener: public\n    backends:\n"
         "      - { service: app-v1/app, weight: 100 }\n"
         "      - { service: app-v2/app, weight: 0 }\n"
         "    rollout:\n      stable: app-v1/app\n      canary: app-v2/app\n"
         "      steps:\n        - set_weight: 100\n        - pause: {}\n"
         "      analysis: { interval: 60s, min_requests: 1000000 }\n"
         "      fast_abort: { consecutive_errors: " +
         std::to_string(threshold) + " }\n";
}

// The sum of a /metrics family's samples whose labels contain `label_part`; -1 without an answer.
double metric_sum(uint16_t admin, const std::string& family, const std::string& label_part) {
  HttpResponse r = http_request(admin, "GET", "/metrics");
  if (r.status != 200) return -1;
  std::istringstream in(r.body);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0 || !contains(line, label_part)) continue;
    sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

class FastAbortRun {
public:
  FastAbortRun(int workers, int threshold)
      : v1_(DemoUpstream::start("v1")), v2_(DemoUpstream::start("v2", {"--status", "500"})),
        socket_(temp_path("fast-abort", ".sock")),
        weir_(Weir::start(config(socket_, v1_, v2_, workers, threshold))) {}

  json::Value command(const std::string& line) {
    auto c = connect_control(socket_);
    if (!c) return {};
    json::Value v = c->command(line);
    last_ = c->last_line();
    return v;
  }
  json::Value status() { return command("rollout status r")["rollout"]; }
  std::string phase() { return status().get_string("phase"); }

  // Starts the rollout and waits until the workers send everything to the canary.
  bool start() {
    json::Value r = command("rollout start r");
    if (!r.get_bool("ok")) {
      ADD_FAILURE() << "rollout start: " << last_;
      return false;
    }
    return barrier() && wait_until(
                            [&] {
                              HttpResponse resp = http_request(weir_.port(), "GET", "/");
                              if (resp.status == 500) ++canary_errors_;
                              if (resp.status == 500) barrier();
                              return resp.status == 500;
                            },
                            10s);
  }

  // One request on a new connection, then the barrier. Its status.
  int request() {
    HttpResponse r = http_request(weir_.port(), "GET", "/");
    if (r.status == 500) ++canary_errors_;
    barrier();
    return r.status;
  }

  // Every worker has installed a snapshot published after this call, hence finished (and
  // reported) every request answered before it.
  bool barrier() {
    json::Value r = command("undrain " + std::string(kStable) + " " + v1_.address());
    EXPECT_TRUE(r.get_bool("ok")) << last_;
    return r.get_bool("ok");
  }

  // Sends requests until the rollout is aborted (at most `limit`); how many were sent.
  int until_aborted(int limit) {
    int sent = 0;
    while (sent < limit && phase() != "Degraded") {
      request();
      ++sent;
    }
    return sent;
  }

  double canary_errors_in_metrics() {
    return metric_sum(weir_.admin_port(), "weir_upstream_errors_total", "namespace=\"app-v2\"");
  }

  int canary_errors_seen() const { return canary_errors_; }
  std::string history() {
    command("rollout history r");
    return last_;
  }

private:
  DemoUpstream v1_;
  DemoUpstream v2_;
  std::string socket_;
  Weir weir_;
  std::string last_;
  int canary_errors_ = 0;
};

TEST(RolloutFastAbortCount, TheAbortSaysTheErrorsThatReallyReachedTheCanary) {
  // Two workers, threshold 5: the old per-worker share (5 / 2 = 2) aborted after 2 or 3 errors
  // while saying "5 consecutive errors".
  FastAbortRun run(2, 5);
  ASSERT_TRUE(run.start());
  run.until_aborted(50);
  ASSERT_EQ(run.phase(), "Degraded") << run.history();
  std::string message = run.status().get_string("message");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      message, m, std::regex(R"(fast abort: (\d+) consecutive errors from app-v2/app)")))
      << message;
  int said = std::stoi(m[1].str());
  EXPECT_EQ(said, 5) << message;
  // Exactly that many errors reached the canary: as the client saw them and as weir counted them.
  EXPECT_EQ(run.canary_errors_seen(), said) << message;
  EXPECT_EQ(run.canary_errors_in_metrics(), said) << message;
  // With the time they took and each worker's share.
  EXPECT_TRUE(std::regex_search(message, std::regex(R"( in \d+ ms)"))) << message;
  std::printf("[fast abort] %s\n", message.c_str());
}

TEST(RolloutFastAbortCount, ARolloutStartedAgainAfterErrorsCountsFromZero) {
  // One worker, so the old code's run is the whole count: 4 errors, an operator abort, a new
  // start, and the old run plus 1 error tripped at once.
  FastAbortRun run(1, 5);
  ASSERT_TRUE(run.start()); // the first error
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(run.request(), 500);
  ASSERT_EQ(run.phase(), "Paused") << run.history(); // at the gate, 4 errors: not aborted
  ASSERT_TRUE(run.command("rollout abort r").get_bool("ok")) << run.history();
  ASSERT_EQ(run.phase(), "Degraded");

  ASSERT_TRUE(run.start()); // the new rollout's first error
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(run.request(), 500);
    EXPECT_EQ(run.phase(), "Paused") << "aborted after " << i + 2 << " errors of the new rollout\n"
                                     << run.history();
  }
  EXPECT_EQ(run.request(), 500); // the 5th error of the new rollout
  EXPECT_EQ(run.phase(), "Degraded") << run.history();
  EXPECT_TRUE(contains(run.status().get_string("message"),
                       "fast abort: 5 consecutive errors from app-v2/app"))
      << run.history();
  EXPECT_EQ(run.canary_errors_seen(), 9);
  EXPECT_EQ(run.canary_errors_in_metrics(), 9);
}

} // namespace
} // namespace weir::test
