#pragma once
// The rollout manager's test bench: a fake host (settable inputs, recorded actions, asynchronous
// calls held until the test answers them) and a fixture on a ManualClock. asio timers are armed
// but never run: the test moves the clock and calls run_due(), as the timers would.
#include "weir/base/clock.h"
#include "weir/base/json.h"
#include "weir/rollout/manager.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <gtest/gtest.h>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace weir::rollout::fake {

using namespace std::chrono_literals;

using Weights = std::vector<std::pair<std::string, uint32_t>>;

inline const std::string kStable = "app-v1/app";
inline const std::string kCanary = "app-v2/app";

// Out of line: GCC 12 at -O3 warns (wrongly) about the default expected_status list when a
// config::Service is built inline in a test body.
[[gnu::noinline]] inline config::Service service(const std::string& ns, int endpoints) {
  config::Service s;
  s.ns = ns;
  s.name = "app";
  for (int i = 0; i < endpoints; ++i)
    s.endpoints.push_back({"127.0.0.1", static_cast<uint16_t>(9000 + i)});
  return s;
}

inline config::RolloutStep set_weight(uint32_t w) {
  config::RolloutStep s;
  s.kind = config::RolloutStep::Kind::set_weight;
  s.weight = w;
  s.duration = config::Duration{};
  return s;
}
inline config::RolloutStep pause(config::Duration d) {
  config::RolloutStep s;
  s.kind = config::RolloutStep::Kind::pause;
  s.weight = 0;
  s.duration = d;
  return s;
}
inline config::RolloutStep gate() {
  return pause(0ms);
}
inline config::RolloutStep analysis(config::Duration d) {
  config::RolloutStep s;
  s.kind = config::RolloutStep::Kind::analysis;
  s.weight = 0;
  s.duration = d;
  return s;
}

inline config::RolloutStep set_mirror(double percent) {
  config::RolloutStep s;
  s.kind = config::RolloutStep::Kind::set_mirror;
  s.weight = 0;
  s.duration = config::Duration{};
  s.mirror_percent = percent;
  return s;
}

inline metrics::WindowStats window(uint64_t requests, uint64_t errors, double p99_ms = 10) {
  metrics::WindowStats w;
  w.seconds = 1;
  w.requests = requests;
  w.errors = errors;
  w.rps = static_cast<double>(requests);
  w.error_rate = requests ? static_cast<double>(errors) / static_cast<double>(requests) : 0;
  w.p50_ms = w.p90_ms = w.p99_ms = w.p999_ms = w.mean_ms = p99_ms;
  return w;
}
inline const metrics::WindowStats kHealthy = window(1000, 0);
inline const metrics::WindowStats kThreePercentErrors = window(1000, 30);
inline const metrics::WindowStats kStarved = window(10, 0);

// The control plane as the manager sees it: settable inputs, recorded actions.
class FakeHost final : public Host {
public:
  config::Config cfg;
  std::map<std::string, size_t> available;
  std::map<std::string, bool> ready_by_service; // absent: ready
  std::map<std::string, metrics::WindowStats> windows;
  std::vector<std::pair<std::string, Weights>> weight_changes;
  std::string saved;
  std::vector<std::pair<std::string, std::string>> webhooks;

  const config::Config& config() const override { return cfg; }
  std::optional<size_t> available_endpoints(const std::string& svc) const override {
    auto it = available.find(svc);
    if (it == available.end()) return std::nullopt;
    return it->second;
  }
  bool ready(const std::string& svc) const override {
    auto it = ready_by_service.find(svc);
    return it == ready_by_service.end() || it->second;
  }
  std::vector<health::ProbeStatus> probes(const std::string& svc) const override {
    if (ready(svc)) return {};
    health::ProbeStatus p;
    p.name = "body";
    p.ran = true;
    p.last_failure = "body does not contain \"nope\"";
    p.ready_after = 2;
    return {p};
  }
  std::optional<metrics::WindowStats> window(const metrics::BackendKey& key,
                                             std::chrono::seconds) const override {
    auto it = windows.find(key.service);
    if (it == windows.end()) return std::nullopt;
    return it->second;
  }
  void set_weights(const std::string& route, const Weights& weights) override {
    weight_changes.emplace_back(route, weights);
  }
  std::string saved_state() const override { return saved; }
  void save_state(std::string json) override { saved = std::move(json); }
  void post_webhook(const std::string& url, std::string body) override {
    webhooks.emplace_back(url, std::move(body));
  }

  std::map<std::string, Weights> operator_weights; // route → an operator's `set weight`
  int fast_abort_resets = 0;
  Split split(const std::string& route) const override {
    Split out;
    out.weights_from = "config";
    std::map<std::string, uint32_t> w;
    for (const auto& r : cfg.routes)
      if (r.name == route)
        for (const auto& b : r.backends)
          w[b.service] = b.weight;
    for (auto it = weight_changes.rbegin(); it != weight_changes.rend(); ++it)
      if (it->first == route) {
        for (const auto& [svc, weight] : it->second)
          w[svc] = weight;
        if (!it->second.empty()) out.weights_from = "rollout"; // empty: cleared
        break;
      }
    if (auto it = operator_weights.find(route); it != operator_weights.end()) {
      for (const auto& [svc, weight] : it->second)
        w[svc] = weight;
      out.weights_from = "operator";
    }
    uint64_t sum = 0;
    for (const auto& [svc, weight] : w)
      sum += weight;
    for (const auto& [svc, weight] : w)
      out.backends.push_back({svc, weight, sum ? static_cast<double>(weight) / sum : 0.0});
    return out;
  }
  void clear_operator_weights(const std::string& route) override { operator_weights.erase(route); }
  void after_applied(std::function<void()> done) override { done(); } // no workers here
  void reset_fast_abort(const std::string& route) override {
    ++fast_abort_resets;
    fast_abort_on.insert(route);
  }
  void stop_fast_abort(const std::string& route) override { fast_abort_on.erase(route); }
  std::set<std::string> fast_abort_on; // routes whose workers report errors
  // Recorded as an empty change: the route follows the config again.
  void clear_rollout_weights(const std::string& route) override {
    weight_changes.emplace_back(route, Weights{});
  }

  // Asynchronous calls wait here until the test answers them.
  struct HookCall {
    config::RolloutHook hook;
    std::string body;
    std::function<void(HookResult)> done;
  };
  std::vector<HookCall> hook_calls;
  struct Query {
    config::AnalysisMetric metric;
    std::string query;
    std::function<void(MetricValue)> done;
  };
  std::vector<Query> queries;
  std::map<std::string, const config::TopUp*> top_ups; // route → running top-up
  std::map<std::string, metrics::WindowStats> synthetic;

  void call_hook(const config::RolloutHook& hook, std::string body,
                 std::function<void(HookResult)> done) override {
    hook_calls.push_back({hook, std::move(body), std::move(done)});
  }
  void query_metric(const config::AnalysisMetric& metric, std::string query,
                    std::function<void(MetricValue)> done) override {
    queries.push_back({metric, std::move(query), std::move(done)});
  }
  void set_top_up(const std::string& route, const std::string&, const std::string&,
                  const config::TopUp* top_up) override {
    if (top_up)
      top_ups[route] = top_up;
    else
      top_ups.erase(route);
  }
  std::optional<metrics::WindowStats> analysis_window(const metrics::BackendKey& key,
                                                      std::chrono::seconds length) const override {
    auto user = window(key, length);
    auto it = synthetic.find(key.service);
    if (it == synthetic.end()) return user;
    metrics::WindowStats sum = user.value_or(metrics::WindowStats{});
    sum.requests += it->second.requests;
    sum.errors += it->second.errors;
    sum.error_rate = sum.requests ? static_cast<double>(sum.errors) / sum.requests : 0;
    sum.p99_ms = std::max(sum.p99_ms, it->second.p99_ms);
    return sum;
  }
  std::optional<metrics::WindowStats> synthetic_window(const metrics::BackendKey& key,
                                                       std::chrono::seconds) const override {
    auto it = synthetic.find(key.service);
    if (it == synthetic.end()) return std::nullopt;
    return it->second;
  }

  // Mirroring: the live mirror the rollout set (route → {service, percent}; absent: the
  // config's), and the comparison tally the test moves on.
  std::map<std::string, std::pair<std::string, double>> mirrors;
  std::map<std::string, mirror::DivergenceCounts> divergences;
  std::map<std::string, std::vector<mirror::Divergence>> recent;
  std::set<std::string> safe_only_mirrors; // routes whose live mirror copies GET/HEAD only
  void set_mirror(const std::string& route, const std::string& svc, double percent,
                  bool safe_methods_only) override {
    mirrors[route] = {svc, percent};
    if (safe_methods_only)
      safe_only_mirrors.insert(route);
    else
      safe_only_mirrors.erase(route);
  }
  void clear_mirror(const std::string& route) override {
    mirrors.erase(route);
    safe_only_mirrors.erase(route);
  }
  // Drill requests wait here until the test answers them.
  struct Drill {
    std::string route, target, live;
    std::function<void(std::vector<DrillAnswer>)> done;
  };
  std::vector<Drill> drills;
  void drill_requests(const std::string& route, const std::string& target, const std::string& live,
                      std::function<void(std::vector<DrillAnswer>)> done) override {
    drills.push_back({route, target, live, std::move(done)});
  }
  // Header routes the rollout set: route → {service, name → headers}; absent: none.
  using HeaderRoutes = std::vector<std::pair<std::string, std::vector<config::ValueMatch>>>;
  std::map<std::string, std::pair<std::string, HeaderRoutes>> header_routes;
  void set_header_routes(const std::string& route, const std::string& svc,
                         const HeaderRoutes& routes) override {
    if (routes.empty())
      header_routes.erase(route);
    else
      header_routes[route] = {svc, routes};
  }
  mirror::DivergenceCounts divergence(const std::string& route) const override {
    auto it = divergences.find(route);
    return it == divergences.end() ? mirror::DivergenceCounts{} : it->second;
  }
  std::vector<mirror::Divergence> recent_divergences(const std::string& route) const override {
    auto it = recent.find(route);
    return it == recent.end() ? std::vector<mirror::Divergence>{} : it->second;
  }

  // What still uses each version (the test sets them), and the tunnel drains asked for:
  // "route|service" → {delay, over}; stop_tunnel_drain removes one.
  std::map<std::string, uint64_t> tunnels;                         // "route|service"
  std::map<std::string, uint64_t> upstream_connections, in_flight; // service
  std::map<std::string, std::pair<std::chrono::milliseconds, std::chrono::milliseconds>> drains;
  uint64_t tunnels_open(const std::string& route, const std::string& svc) const override {
    auto it = tunnels.find(route + "|" + svc);
    return it == tunnels.end() ? 0 : it->second;
  }
  uint64_t upstream_connections_open(const std::string& svc) const override {
    auto it = upstream_connections.find(svc);
    return it == upstream_connections.end() ? 0 : it->second;
  }
  uint64_t requests_in_flight(const std::string& svc) const override {
    auto it = in_flight.find(svc);
    return it == in_flight.end() ? 0 : it->second;
  }
  void drain_tunnels(const std::string& route, const std::string& svc,
                     std::chrono::milliseconds delay, std::chrono::milliseconds over) override {
    drains[route + "|" + svc] = {delay, over};
  }
  void stop_tunnel_drain(const std::string& route, const std::string& svc) override {
    drains.erase(route + "|" + svc);
  }
  std::vector<std::string> idle_closed; // services whose idle connections were closed
  void close_idle_connections(const std::string& svc) override { idle_closed.push_back(svc); }

  // The canary's live weight after the last change (-1 before any).
  int canary_weight() const {
    for (auto it = weight_changes.rbegin(); it != weight_changes.rend(); ++it)
      for (const auto& [svc, w] : it->second)
        if (svc == kCanary) return static_cast<int>(w);
    return -1;
  }
};

class RolloutManagerTest : public ::testing::Test {
protected:
  RolloutManagerTest() {
    host.cfg.services = {service("app-v1", 1), service("app-v2", 1)};
    host.available = {{kStable, 1}, {kCanary, 1}};
    config::Route r;
    r.name = "r";
    r.listener = "public";
    r.backends.resize(2);
    r.backends[0].service = kStable;
    r.backends[0].weight = 100;
    r.backends[1].service = kCanary;
    r.backends[1].weight = 0;
    r.rollout.enabled = true;
    r.rollout.stable = kStable;
    r.rollout.canary = kCanary;
    r.rollout.analysis.interval = 1s;
    r.rollout.analysis.min_requests = 50;
    r.rollout.analysis.max_error_rate = 0.01;
    r.rollout.analysis.max_error_rate_increase = 0.005;
    r.rollout.analysis.max_p99_latency = 500ms;
    r.rollout.analysis.failure_limit = 2;
    r.rollout.analysis.inconclusive_limit = 3;
    host.cfg.routes = {r};
    host.windows = {{kStable, kHealthy}, {kCanary, kHealthy}};
    manager = std::make_unique<Manager>(io, host, clock);
  }

  config::Rollout& plan() { return host.cfg.routes[0].rollout; }

  // Moves the clock forward by `d`, waking the manager at every due time on the way, in order
  // (what the asio timers do in real time).
  void advance(Clock::Steady::duration d) {
    auto target = clock.now() + d;
    while (auto next = manager->next_due()) {
      if (*next > target) break;
      clock.advance_to(*next);
      manager->run_due();
    }
    clock.advance_to(target);
  }

  json::Value status() {
    auto parsed = json::parse(manager->status_json("r"));
    EXPECT_TRUE(parsed.value) << parsed.error;
    return parsed.value ? *parsed.value : json::Value();
  }
  std::string phase() { return status().get_string("phase"); }
  double step() { return status().get_number("step", -1); }
  double remaining_ms() { return status().get_number("step_remaining_ms", -1); }
  json::Value::Array history() {
    auto parsed = json::parse(manager->history_json("r"));
    return parsed.value ? parsed.value->as_array() : json::Value::Array{};
  }
  size_t count(const std::string& type) {
    size_t n = 0;
    for (const auto& e : history())
      n += e.get_string("type") == type ? 1 : 0;
    return n;
  }
  std::vector<std::string> outcomes() {
    std::vector<std::string> out;
    for (const auto& e : history())
      if (e.get_string("type") == "analysis") out.push_back(e["details"].get_string("outcome"));
    return out;
  }

  boost::asio::io_context io; // carries the wake-up timers; never run
  ManualClock clock;
  FakeHost host;
  std::unique_ptr<Manager> manager;
};

} // namespace weir::rollout::fake
