#pragma once

#include "weir/rollout/host.h"

#include <boost/asio/io_context.hpp>
#include <memory>

namespace weir::control {
class Controller;
}

namespace weir::rollout {

class TopUpTraffic;

// The controller as a rollout host: what weir's Manager runs on. Hook calls, metric queries and
// synthetic traffic run on the control thread's io_context. Control thread only.
class ControllerHost final : public Host {
public:
  ControllerHost(boost::asio::io_context& io, control::Controller& controller);
  ~ControllerHost() override;

  const config::Config& config() const override;
  std::optional<size_t> available_endpoints(const std::string& service) const override;
  bool ready(const std::string& service) const override;
  std::vector<health::ProbeStatus> probes(const std::string& service) const override;
  std::optional<metrics::WindowStats> window(const metrics::BackendKey& key,
                                             std::chrono::seconds length) const override;
  void set_weights(const std::string& route,
                   const std::vector<std::pair<std::string, uint32_t>>& weights) override;
  Split split(const std::string& route) const override;
  void clear_operator_weights(const std::string& route) override;
  void after_applied(std::function<void()> done) override;
  void reset_fast_abort(const std::string& route) override;
  void stop_fast_abort(const std::string& route) override;
  void clear_rollout_weights(const std::string& route) override;
  std::string saved_state() const override;
  void save_state(std::string json) override;
  void post_webhook(const std::string& url, std::string body) override;

  void call_hook(const config::RolloutHook& hook, std::string body,
                 std::function<void(HookResult)> done) override;
  void query_metric(const config::AnalysisMetric& metric, std::string query,
                    std::function<void(MetricValue)> done) override;
  void set_top_up(const std::string& route, const std::string& stable, const std::string& canary,
                  const config::TopUp* top_up) override;
  std::optional<metrics::WindowStats> analysis_window(const metrics::BackendKey& key,
                                                      std::chrono::seconds length) const override;
  std::optional<metrics::WindowStats> synthetic_window(const metrics::BackendKey& key,
                                                       std::chrono::seconds length) const override;
  void set_mirror(const std::string& route, const std::string& service, double percent,
                  bool safe_methods_only = false) override;
  void close_idle_connections(const std::string& service) override;
  // controller_host_drill.cc
  void drill_requests(const std::string& route, const std::string& target, const std::string& live,
                      std::function<void(std::vector<DrillAnswer>)> done) override;
  void clear_mirror(const std::string& route) override;
  void set_header_routes(
      const std::string& route, const std::string& service,
      const std::vector<std::pair<std::string, std::vector<config::ValueMatch>>>& routes) override;
  uint64_t tunnels_open(const std::string& route, const std::string& service) const override;
  uint64_t upstream_connections_open(const std::string& service) const override;
  uint64_t requests_in_flight(const std::string& service) const override;
  void drain_tunnels(const std::string& route, const std::string& service,
                     std::chrono::milliseconds delay, std::chrono::milliseconds over) override;
  void stop_tunnel_drain(const std::string& route, const std::string& service) override;
  mirror::DivergenceCounts divergence(const std::string& route) const override;
  std::vector<mirror::Divergence> recent_divergences(const std::string& route) const override;

private:
  boost::asio::io_context& io_;
  control::Controller& c_;
  std::unique_ptr<TopUpTraffic> top_up_; // synthetic requests, into c_.synthetic_metrics()
};

class Manager;

// weir's rollouts: the controller's hooks lead to `manager` (fast-abort trips, the weight guard
// of `set weight`, `watch`'s feed, reloads, /metrics and /stats.json). Both outlive the hooks'
// use: the manager is destroyed before the controller and stopped before it stops.
void connect(Manager& manager, control::Controller& controller);

} // namespace weir::rollout
