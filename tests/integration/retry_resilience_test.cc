// An endpoint that dies or freezes under load, end to end with the real weir and
// weir-demo-upstream (issue #10): SIGKILL of one of two endpoints costs no request, an attempt
// that outlives retries.per_try_timeout is abandoned and tried elsewhere when that is safe (504
// otherwise), outlier_detection.consecutive_gateway_failures ejects on gateway errors and
// timeouts but not on an application's 500s, retries.min_concurrency lets a few retries through
// whatever the budget holds, and a canary frozen with SIGSTOP costs each request that meets it
// one per-try timeout until it is ejected.
#include "support/client.h"
#include "support/control.h"
#include "support/http_server.h"
#include "support/load.h"
#include "support/process.h"
#include "support/release_only.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <mutex>
#include <netinet/in.h>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

std::string address_of(uint16_t port) {
  return "127.0.0.1:" + std::to_string(port);
}

// Established TCP connections whose local port is `port` (an upstream's accepted side). A
// connection weir closed is in CLOSE_WAIT there, even while the upstream process is stopped.
int established_to(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // header
  int count = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    size_t colon = local.find(':');
    if (colon == std::string::npos || state != "01") continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) ++count;
  }
  return count;
}

// SIGSTOP for the guard's lifetime: the process keeps its sockets, so the kernel still completes
// connections and buffers requests, but nothing is answered (a hung upstream). SIGCONT at the
// end, before the DemoUpstream (declared earlier) is stopped with SIGTERM and checked. Stopped
// for sure once constructed (Process::freeze waits for every thread of it).
class Frozen {
public:
  explicit Frozen(DemoUpstream& up) : proc_(up.proc.get()) {
    EXPECT_TRUE(proc_->freeze()) << "the upstream did not stop on SIGSTOP";
  }
  Frozen(const Frozen&) = delete;
  Frozen& operator=(const Frozen&) = delete;
  ~Frozen() { proc_->signal(SIGCONT); }

private:
  Process* proc_;
};

// --- configs ---------------------------------------------------------------------------------

std::string header(const std::string& socket, int workers, bool admin = false) {
  return "workers: " + std::to_string(workers) + "\ncontrol:\n  socket: " + socket +
         (admin ? "\nadmin: { address: 127.0.0.1:0 }" : "") +
         "\nlisteners:\n  - name: public\n    address: 127.0.0.1:0\n";
}

std::string service(const std::string& id, const std::vector<std::string>& endpoints,
                    const std::string& extra = "") {
  std::string list;
  for (const auto& e : endpoints)
    list += (list.empty() ? "" : ", ") + e;
  return "  - namespace: " + id.substr(0, id.find('/')) +
         "\n    name: " + id.substr(id.find('/') + 1) + "\n    endpoints: [" + list + "]\n" + extra;
}

std::string route(const std::string& name, const std::string& prefix, const std::string& backends,
                  const std::string& retries) {
  return "  - name: " + name + "\n    listener: public\n    match: { path_prefix: " + prefix +
         " }\n    backends: " + backends + "\n    retries: " + retries + "\n";
}

// --- control socket and metrics --------------------------------------------------------------

bool endpoint_ejected(const std::string& socket, const std::string& service,
                      const std::string& address) {
  auto c = connect_control(socket);
  if (!c) return false;
  json::Value reply = c->command("show services");
  for (const auto& s : reply["services"].as_array()) {
    if (s.get_string("service") != service) continue;
    for (const auto& e : s["endpoints"].as_array())
      if (e.get_string("address") == address) return e.get_bool("ejected");
  }
  return false;
}

// Sum of the samples of `family` whose labels contain every one of `parts`.
double metric_sum(uint16_t admin, const std::string& family, std::vector<std::string> parts = {}) {
  HttpResponse r = http_request(admin, "GET", "/metrics");
  std::istringstream in(r.body);
  double sum = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(family + "{", 0) != 0) continue;
    bool all = true;
    for (const auto& p : parts)
      all = all && line.find(p) != std::string::npos;
    if (all) sum += std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

// --- clients ---------------------------------------------------------------------------------

// Requests on one keep-alive connection (a new one after "Connection: close"), each timed.
class Getter {
public:
  explicit Getter(uint16_t port) : port_(port) {}
  HttpResponse exchange(const std::string& request, std::chrono::milliseconds timeout = 10s) {
    if (!client_) client_ = RawClient::connect(port_);
    if (!client_) return {};
    std::optional<HttpResponse> r;
    auto start = Clock::now();
    if (client_->send(request)) r = client_->read_response(timeout);
    took_ms = ms_since(start);
    if (!r || !r->complete || iequals(r->header("connection"), "close")) client_.reset();
    return r ? *r : HttpResponse{};
  }
  HttpResponse get(const std::string& path = "/") {
    return exchange(build_request("GET", path, {}, {}));
  }
  long took_ms = 0; // of the last exchange

private:
  uint16_t port_;
  std::unique_ptr<RawClient> client_;
};

// Keep-alive GETs from `threads` connections as fast as answers come, each one timed: how many
// failed, and how long the slow ones took. Thread contract: the accessors lock; any thread.
class TimedLoad {
public:
  TimedLoad(uint16_t port, int threads) {
    for (int i = 0; i < threads; ++i)
      threads_.emplace_back([this, port] { run(port); });
  }
  ~TimedLoad() { stop(); }
  void stop() {
    if (stop_.exchange(true)) return;
    for (auto& t : threads_)
      t.join();
  }
  uint64_t responses() const { return responses_.load(); }
  uint64_t served_by(const std::string& name) const {
    std::lock_guard lock(mutex_);
    auto it = served_.find(name);
    return it == served_.end() ? 0 : it->second;
  }
  uint64_t failures() const { return failures_.load(); }
  // Latencies (ms) of the requests that took at least `kSlowMs`, in completion order.
  std::vector<long> slow() const {
    std::lock_guard lock(mutex_);
    return slow_;
  }
  std::string notes() const {
    std::lock_guard lock(mutex_);
    std::string out;
    for (const auto& n : notes_)
      out += "  " + n + "\n";
    return out;
  }
  static constexpr long kSlowMs = 50;

private:
  void run(uint16_t port) {
    Getter g(port);
    while (!stop_.load()) {
      HttpResponse r = g.get();
      ++responses_;
      std::lock_guard lock(mutex_);
      if (g.took_ms >= kSlowMs) slow_.push_back(g.took_ms);
      if (r.status == 200 && r.complete) {
        ++served_[r.header("x-served-by")];
        continue;
      }
      ++failures_;
      if (notes_.size() < 8)
        notes_.push_back("status " + std::to_string(r.status) + " after " +
                         std::to_string(g.took_ms) + " ms: " + r.body.substr(0, 120));
    }
  }

  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> responses_{0};
  std::atomic<uint64_t> failures_{0};
  mutable std::mutex mutex_;
  std::map<std::string, uint64_t> served_;
  std::vector<long> slow_;
  std::vector<std::string> notes_;
};

// =============================================================================================
// SIGKILL of one of two endpoints under load: 20 runs in a row without a failed request.

TEST(RetryResilience, KilledEndpointUnderLoadFailsNoRequestTwentyRunsInARow) {
  WEIR_RELEASE_ONLY();
  // Each run: 16 keep-alive connections as fast as weir answers, the kill once both endpoints
  // served their share (pools warm, requests in flight on both), then load until a few thousand
  // more answers came: past the in-flight requests, the refused connects and the ejection.
  constexpr int kRuns = 20;
  uint64_t failures = 0, responses = 0;
  std::vector<std::string> failed_runs;
  for (int run = 0; run < kRuns; ++run) {
    DemoUpstream a = DemoUpstream::start("a");
    DemoUpstream b = DemoUpstream::start("b");
    const std::string socket = temp_path("ctl", ".sock");
    Weir weir = Weir::start(header(socket, 2) + "services:\n" +
                            service("kill/app", {a.address(), b.address()}) + "routes:\n" +
                            route("r", "/", "[{ service: kill/app }]", "{ attempts: 2 }"));
    LoadGen load(weir.port(), 16, 1e6);
    ASSERT_TRUE(wait_until(
        [&] {
          auto s = load.served_by(0);
          return s["a"] >= 300 && s["b"] >= 300;
        },
        10s))
        << load.report();
    a.proc->signal(SIGKILL);
    ASSERT_TRUE(a.proc->wait_exit(5s));
    int after = load.new_epoch();
    ASSERT_TRUE(load.wait_for(after, 3000, 20s)) << load.report();
    load.stop();
    responses += load.responses();
    failures += load.failures();
    if (load.failures() > 0)
      failed_runs.push_back("run " + std::to_string(run) + ": " + load.report());
  }
  std::string why;
  for (const auto& f : failed_runs)
    why += f;
  EXPECT_EQ(failures, 0u) << failed_runs.size() << " of " << kRuns << " runs failed requests ("
                          << failures << " of " << responses << "):\n"
                          << why;
}

// =============================================================================================
// retries.per_try_timeout

TEST(RetryResilience, PerTryTimeoutAbandonsTheAttemptAndRetriesOnAnotherEndpoint) {
  DemoUpstream live = DemoUpstream::start("live");
  DemoUpstream stuck = DemoUpstream::start("stuck");
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 1, true) + "services:\n" +
      service("try/app", {stuck.address(), live.address()},
              "    outlier_detection: { enabled: false }\n") +
      "routes:\n" +
      route("r", "/", "[{ service: try/app }]", "{ attempts: 2, per_try_timeout: 200ms }"));
  const uint16_t admin = weir.admin_port();
  ASSERT_NE(admin, 0);
  Frozen frozen(stuck);
  Getter client(weir.port());
  int slow = 0;
  for (int i = 0; i < 10; ++i) {
    HttpResponse r = client.get();
    EXPECT_EQ(r.status, 200) << i << ": " << r.body;
    EXPECT_EQ(r.header("x-served-by"), "live") << i;
    // Round robin sends every other request to the frozen endpoint first: those take one
    // per-try timeout, never timeouts.request (30 s). A retry does not move the round robin,
    // so the frozen endpoint gets its share of first attempts, not all of them.
    EXPECT_LT(client.took_ms, 200 + 250) << i;
    if (client.took_ms >= 190) ++slow;
  }
  EXPECT_GE(slow, 4);
  EXPECT_LE(slow, 6);
  // Each abandoned attempt is an upstream failure (response_timeout) of the frozen endpoint,
  // and its connection was closed, not pooled: no request waits behind it.
  // (Counted once the response is out: waited for.)
  EXPECT_TRUE(wait_until(
      [&] {
        return metric_sum(admin, "weir_upstream_failures_total",
                          {"endpoint=\"" + stuck.address() + "\"", "cause=\"response_timeout\""}) ==
                   slow &&
               metric_sum(admin, "weir_retries_total") == slow &&
               metric_sum(admin, "weir_active_requests") == 0;
      },
      2s))
      << http_request(admin, "GET", "/metrics").body;
  EXPECT_EQ(established_to(stuck.port), 0) << "an abandoned attempt's connection stayed open";
}

TEST(RetryResilience, PerTryTimeoutAnswers504WhenARetryIsNotSafeOrNoAttemptIsLeft) {
  DemoUpstream live = DemoUpstream::start("live");
  DemoUpstream stuck = DemoUpstream::start("stuck");
  const std::string socket = temp_path("ctl", ".sock");
  const std::string no_outliers = "    outlier_detection: { enabled: false }\n";
  Weir weir = Weir::start(
      header(socket, 1, true) + "services:\n" +
      service("stuck/app", {stuck.address()}, no_outliers) +
      service("mixed/app", {stuck.address(), live.address()}, no_outliers) + "routes:\n" +
      route("none", "/none", "[{ service: stuck/app }]",
            "{ attempts: 0, per_try_timeout: 200ms }") +
      route("one", "/one", "[{ service: stuck/app }]", "{ attempts: 1, per_try_timeout: 200ms }") +
      route("mixed", "/mixed", "[{ service: mixed/app }]",
            "{ attempts: 2, per_try_timeout: 200ms }"));
  const uint16_t admin = weir.admin_port();
  ASSERT_NE(admin, 0);
  Frozen frozen(stuck);
  Getter client(weir.port());
  auto timeouts_of_stuck = [&] {
    return metric_sum(admin, "weir_upstream_failures_total",
                      {"endpoint=\"" + stuck.address() + "\"", "cause=\"response_timeout\""});
  };

  // No retries: the attempt's timeout is the request's.
  HttpResponse r = client.get("/none");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("per_try_timeout"), std::string::npos) << r.body;
  EXPECT_GE(client.took_ms, 190);
  EXPECT_LT(client.took_ms, 200 + 250);
  EXPECT_TRUE(wait_until([&] { return timeouts_of_stuck() == 1; }, 2s)) << timeouts_of_stuck();

  // One retry, and no other endpoint: two attempts, then 504.
  r = client.get("/one");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_GE(client.took_ms, 2 * 190);
  EXPECT_LT(client.took_ms, 2 * 200 + 250);
  EXPECT_TRUE(wait_until([&] { return timeouts_of_stuck() == 3; }, 2s)) << timeouts_of_stuck();

  // A POST that reached the frozen endpoint may have been acted on: never replayed, 504 after
  // one per-try timeout although attempts remain and the other endpoint is live. Round robin
  // alternates, so two POSTs put one on the frozen endpoint first.
  int answered_504 = 0;
  for (int i = 0; i < 2; ++i) {
    r = client.exchange(build_request("POST", "/mixed", {}, "order=" + std::to_string(i)));
    if (r.status == 504) {
      ++answered_504;
      EXPECT_LT(client.took_ms, 200 + 250);
    } else {
      EXPECT_EQ(r.status, 200) << r.body;
      EXPECT_EQ(r.header("x-served-by"), "live");
    }
  }
  EXPECT_EQ(answered_504, 1);
  EXPECT_TRUE(wait_until([&] { return timeouts_of_stuck() == 4; }, 2s)) << timeouts_of_stuck();
  EXPECT_EQ(metric_sum(admin, "weir_retries_total", {"route=\"mixed\""}), 0);
}

// =============================================================================================
// outlier_detection.consecutive_gateway_failures

TEST(RetryResilience, GatewayFailuresEjectOn5xxAndTimeoutsButNotOnAnApplications500) {
  DemoUpstream good = DemoUpstream::start("good");
  DemoUpstream unavailable = DemoUpstream::start("unavailable", {"--status", "503"});
  DemoUpstream broken = DemoUpstream::start("broken", {"--status", "500"});
  DemoUpstream stuck = DemoUpstream::start("stuck");
  const std::string socket = temp_path("ctl", ".sock");
  // consecutive_failures is out of reach (1000) where only the gateway run may eject, and 3 on
  // the last service, which shows it still counts every 5xx.
  const std::string gateway = "    outlier_detection: { consecutive_failures: 1000, "
                              "consecutive_gateway_failures: 3, base_ejection_time: 30s }\n";
  Weir weir = Weir::start(
      header(socket, 1) + "services:\n" +
      service("gw/unavailable", {good.address(), unavailable.address()}, gateway) +
      service("gw/broken", {good.address(), broken.address()}, gateway) +
      service("gw/stuck", {good.address(), stuck.address()}, gateway) +
      service("all/broken", {good.address(), broken.address()},
              "    outlier_detection: { consecutive_failures: 3, base_ejection_time: 30s }\n") +
      "routes:\n" + route("unavailable", "/unavailable", "[{ service: gw/unavailable }]", "{}") +
      route("broken", "/broken", "[{ service: gw/broken }]", "{}") +
      route("stuck", "/stuck", "[{ service: gw/stuck }]", "{ per_try_timeout: 100ms }") +
      route("all", "/all", "[{ service: all/broken }]", "{}"));
  Getter client(weir.port());

  // 503s from one endpoint: out after three in a row (round robin: every other request).
  int failed = 0;
  bool ejected = false;
  for (int i = 0; i < 20 && !ejected; ++i) {
    if (client.get("/unavailable").status == 503) ++failed;
    ejected = endpoint_ejected(socket, "gw/unavailable", unavailable.address());
  }
  EXPECT_TRUE(ejected) << "503s did not eject";
  EXPECT_GE(failed, 3);
  EXPECT_LE(failed, 4) << "the ejection took more than consecutive_gateway_failures";

  // A per-try timeout is a gateway failure too (no retries here: each one is a 504).
  Frozen frozen(stuck);
  failed = 0;
  ejected = false;
  for (int i = 0; i < 20 && !ejected; ++i) {
    if (client.get("/stuck").status == 504) ++failed;
    ejected = endpoint_ejected(socket, "gw/stuck", stuck.address());
  }
  EXPECT_TRUE(ejected) << "timed-out attempts did not eject";
  EXPECT_GE(failed, 3);
  EXPECT_LE(failed, 4);

  // An application's 500s are not gateway failures: never ejected by that run...
  for (int i = 0; i < 20; ++i)
    client.get("/broken");
  EXPECT_FALSE(endpoint_ejected(socket, "gw/broken", broken.address()));
  // ...while consecutive_failures keeps counting every 5xx.
  failed = 0;
  ejected = false;
  for (int i = 0; i < 20 && !ejected; ++i) {
    if (client.get("/all").status == 500) ++failed;
    ejected = endpoint_ejected(socket, "all/broken", broken.address());
  }
  EXPECT_TRUE(ejected) << "500s did not eject under consecutive_failures";
  EXPECT_GE(failed, 3);
  EXPECT_LE(failed, 4);
}

// =============================================================================================
// retries.min_concurrency

TEST(RetryResilience, MinConcurrencyRetriesWhateverTheBudgetHolds) {
  const ClosedPort closed1, closed2;
  const uint16_t dead1 = closed1.port(), dead2 = closed2.port();
  const std::string socket = temp_path("ctl", ".sock");
  const std::string service_yaml =
      "[{ service: down/app }]"; // both endpoints refuse connections: every attempt fails
  Weir weir = Weir::start(header(socket, 1, true) + "services:\n" +
                          service("down/app", {address_of(dead1), address_of(dead2)},
                                  "    outlier_detection: { enabled: false }\n") +
                          "routes:\n" +
                          route("floor", "/floor", service_yaml, "{ attempts: 2, budget: 0% }") +
                          route("nofloor", "/nofloor", service_yaml,
                                "{ attempts: 2, budget: 0%, min_concurrency: 0 }"));
  const uint16_t admin = weir.admin_port();
  ASSERT_NE(admin, 0);
  constexpr int kRequests = 100;
  Getter client(weir.port());
  // One request at a time: never 3 retries in flight, so each gets both its retries although
  // the budget earns nothing.
  for (int i = 0; i < kRequests; ++i)
    ASSERT_EQ(client.get("/floor").status, 503) << i;
  EXPECT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_retries_total", {"route=\"floor\""}) == 2 * kRequests; },
      2s))
      << metric_sum(admin, "weir_retries_total", {"route=\"floor\""});
  // Without the floor only the budget's starting balance (10 retries) is spent.
  for (int i = 0; i < kRequests; ++i)
    ASSERT_EQ(client.get("/nofloor").status, 503) << i;
  EXPECT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_retries_total", {"route=\"nofloor\""}) == 10; }, 2s))
      << metric_sum(admin, "weir_retries_total", {"route=\"nofloor\""});
}

// =============================================================================================
// A canary frozen with SIGSTOP at 10 % under load.

TEST(RetryResilience, FrozenCanaryCostsOnePerTryTimeoutPerRequestUntilEjected) {
  constexpr long kPerTryMs = 200;
  DemoUpstream stable = DemoUpstream::start("stable");
  DemoUpstream canary = DemoUpstream::start("canary");
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 2) + "services:\n" + service("stable/app", {stable.address()}) +
      // One endpoint: ejecting it takes max_ejection_percent 100. consecutive_failures is out
      // of reach, so the gateway run alone ejects it.
      service("canary/app", {canary.address()},
              "    outlier_detection: { consecutive_failures: 1000, "
              "consecutive_gateway_failures: 3, max_ejection_percent: 100 }\n") +
      "routes:\n" +
      route("r", "/", "[{ service: stable/app, weight: 90 }, { service: canary/app, weight: 10 }]",
            "{ attempts: 2, per_try_timeout: " + std::to_string(kPerTryMs) +
                "ms, retry_other_backend: true }"));
  TimedLoad load(weir.port(), 16);
  ASSERT_TRUE(wait_until(
      [&] { return load.served_by("canary") >= 200 && load.served_by("stable") >= 1000; }, 10s))
      << load.notes();
  const size_t slow_before = load.slow().size();
  Frozen frozen(canary);
  auto frozen_at = Clock::now();
  ASSERT_TRUE(
      wait_until([&] { return endpoint_ejected(socket, "canary/app", canary.address()); }, 10s))
      << "the frozen canary was not ejected";
  long ejected_ms = ms_since(frozen_at);
  // Load goes on past the ejection: nothing reaches the canary, nothing is slow any more.
  const uint64_t at_ejection = load.responses();
  ASSERT_TRUE(wait_until([&] { return load.responses() >= at_ejection + 3000; }, 20s));
  load.stop();

  std::vector<long> slow = load.slow();
  slow.erase(slow.begin(), slow.begin() + static_cast<long>(slow_before));
  long worst = slow.empty() ? 0 : *std::max_element(slow.begin(), slow.end());
  std::string list;
  for (long ms : slow)
    list += std::to_string(ms) + " ";
  EXPECT_EQ(load.failures(), 0u) << load.notes();
  // Each request that met the frozen canary waited one per-try timeout, then stable answered.
  EXPECT_LE(worst, kPerTryMs + 250) << "slow requests (ms): " << list;
  // Those are the attempts before the ejection: 3 per worker, and what was in flight then.
  EXPECT_GE(slow.size(), 3u) << list;
  std::printf("frozen canary: ejected after %ld ms; %zu requests slowed, worst %ld ms: %s\n",
              ejected_ms, slow.size(), worst, list.c_str());
}

// A slow upload is the client's time: the per-try clock starts once the request's last byte is
// in hand (Envoy's rule), so neither a 504 nor a failure of the endpoint comes of it.
TEST(RetryResilience, PerTryTimeoutStartsOnceTheRequestIsComplete) {
  // Answers only after the whole request arrived (a server that reads the body first).
  TestHttpServer upstream(
      [](const TestHttpServer::Request& r) { return TestHttpServer::Reply(200, r.body); });
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 1, true) + "services:\n" +
      service("up/app", {address_of(upstream.port())},
              "    outlier_detection: { consecutive_gateway_failures: 1 }\n") +
      "routes:\n" +
      route("r", "/", "[{ service: up/app }]", "{ attempts: 2, per_try_timeout: 200ms }"));
  const uint16_t admin = weir.admin_port();
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c);
  auto started = Clock::now();
  ASSERT_TRUE(c->send("POST /upload HTTP/1.1\r\nHost: a.test\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n"));
  // The client's pace is what this test is about: six chunks 100 ms apart, three per-try
  // timeouts' worth of upload.
  std::string sent;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(c->send("5\r\nchunk\r\n"));
    sent += "chunk";
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(c->send("0\r\n\r\n"));
  auto r = c->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, sent);
  EXPECT_GE(ms_since(started), 600);
  EXPECT_EQ(metric_sum(admin, "weir_upstream_failures_total"), 0)
      << http_request(admin, "GET", "/metrics").body;
  EXPECT_FALSE(endpoint_ejected(socket, "up/app", address_of(upstream.port())));
}

// =============================================================================================
// A retry with nowhere to go, and a retry on the upstream's status.

// One connection's upstream that answers in steps the test releases: it reads a request head,
// then sends `steps[0]` once step 1 is released, `steps[1]` once step 2 is, and so on, then
// closes. Thread contract: release() and requests() from any thread.
class SteppedOrigin {
public:
  explicit SteppedOrigin(std::vector<std::string> steps) : steps_(std::move(steps)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd_, 16) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      throw std::runtime_error("stepped origin: cannot listen");
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { run(); });
  }
  SteppedOrigin(const SteppedOrigin&) = delete;
  SteppedOrigin& operator=(const SteppedOrigin&) = delete;
  ~SteppedOrigin() {
    release(steps_.size());
    ::shutdown(listen_fd_, SHUT_RDWR); // ends a pending accept
    thread_.join();
    ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }
  int requests() const { return requests_.load(); }
  // Steps up to `n` (1-based) may go out.
  void release(size_t n) {
    std::lock_guard lock(mutex_);
    released_ = std::max(released_, n);
    cv_.notify_all();
  }

private:
  void run() {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::string in;
    char buf[4096];
    while (in.find("\r\n\r\n") == std::string::npos) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
    }
    ++requests_;
    for (size_t i = 0; i < steps_.size(); ++i) {
      {
        std::unique_lock lock(mutex_);
        if (!cv_.wait_for(lock, 10s, [&] { return released_ > i; })) break;
      }
      (void)!::send(fd, steps_[i].data(), steps_[i].size(), MSG_NOSIGNAL);
    }
    ::close(fd);
  }

  std::vector<std::string> steps_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<int> requests_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  size_t released_ = 0;
  std::thread thread_;
};

// The only endpoint answers a 503 head (retried on 503) after `set health ... down` took it out,
// and its body later: the retry finds no endpoint and must leave the attempt as it was, so the
// client gets the upstream's 503 whole. It used to drop the attempt's connection first and then
// go on without one (a crash once the head was written and the body was awaited).
TEST(RetryResilience, ARetryWithNowhereToGoLeavesTheUpstreamsAnswerToTheClient) {
  const std::string body = "from the upstream\n";
  SteppedOrigin upstream({"HTTP/1.1 503 Service Unavailable\r\nContent-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n",
                          body});
  const std::string address = address_of(upstream.port());
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      header(socket, 1) + "services:\n" +
      service("only/app", {address}, "    outlier_detection: { enabled: false }\n") + "routes:\n" +
      route("only", "/", "[{ service: only/app }]", "{ attempts: 2, on: [503] }"));
  auto c = RawClient::connect(weir.port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(build_request("GET", "/held", {}, {})));
  ASSERT_TRUE(wait_until([&] { return upstream.requests() == 1; }, 5s));
  auto down = connect_control(socket);
  ASSERT_TRUE(down);
  ASSERT_TRUE(down->command("set health only/app " + address + " down").get_bool("ok"))
      << down->last_line();
  // The worker has the snapshot without the endpoint once weir answers 503 itself.
  ASSERT_TRUE(wait_until(
      [&] {
        HttpResponse r = http_request(weir.port(), "GET", "/probe");
        return r.status == 503 && r.body.find("only") != std::string::npos;
      },
      5s));
  upstream.release(1); // the head
  pollfd p{c->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 5000), 1) << "the upstream's head did not reach the client";
  upstream.release(2); // the body
  auto r = c->read_response(5s);
  ASSERT_TRUE(r) << "no answer";
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(r->complete);
  EXPECT_EQ(r->body, body);
  EXPECT_EQ(upstream.requests(), 1);
  // weir is still there.
  HttpResponse again = http_request(weir.port(), "GET", "/again");
  EXPECT_EQ(again.status, 503);
  EXPECT_NE(again.body.find("only"), std::string::npos) << again.body;
}

// A retry on the upstream's status is no failure of its connection: it counts in no
// weir_upstream_failures_total series, leaves weir_active_requests at 0 (failures[kCount] was
// the active gauge), and an application's 500 stays out of the gateway failures' run.
TEST(RetryResilience, AStatusRetryIsNoConnectionFailureAndLeavesNoRequestActive) {
  DemoUpstream broken = DemoUpstream::start("broken", {"--status", "500"});
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir =
      Weir::start(header(socket, 1, true) + "services:\n" +
                  service("app/broken", {broken.address()},
                          "    outlier_detection: { consecutive_failures: 1000, "
                          "consecutive_gateway_failures: 3, base_ejection_time: 30s }\n") +
                  "routes:\n" +
                  route("broken", "/", "[{ service: app/broken }]", "{ attempts: 1, on: [500] }"));
  const uint16_t admin = weir.admin_port();
  ASSERT_NE(admin, 0);
  constexpr int kRequests = 10;
  Getter client(weir.port());
  for (int i = 0; i < kRequests; ++i)
    ASSERT_EQ(client.get("/").status, 500) << i;
  EXPECT_TRUE(wait_until(
      [&] { return metric_sum(admin, "weir_retries_total", {"route=\"broken\""}) == kRequests; },
      2s))
      << metric_sum(admin, "weir_retries_total", {"route=\"broken\""});
  EXPECT_TRUE(wait_until([&] { return metric_sum(admin, "weir_active_requests") == 0; }, 2s))
      << "weir_active_requests " << metric_sum(admin, "weir_active_requests");
  EXPECT_EQ(metric_sum(admin, "weir_upstream_failures_total"), 0);
  EXPECT_FALSE(endpoint_ejected(socket, "app/broken", broken.address()))
      << "an application's 500s, retried, ejected as gateway failures";
}

} // namespace
} // namespace weir::test
