#include "weir/rollout/controller_host.h"

#include "weir/base/log.h"
#include "weir/control/controller.h"
#include "weir/health/http_check.h"
#include "weir/rollout/hook_call.h"
#include "weir/rollout/manager.h"
#include "weir/rollout/metric_query.h"
#include "weir/rollout/top_up_traffic.h"
#include "weir/runtime/worker.h"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/post.hpp>

namespace weir::rollout {

namespace asio = boost::asio;

ControllerHost::ControllerHost(asio::io_context& io, control::Controller& c)
    : io_(io), c_(c),
      top_up_(
          std::make_unique<TopUpTraffic>(io, c.synthetic_metrics(), [&c](const std::string& id) {
            // The endpoints that take user traffic now: top-up goes where real
            // requests would.
            std::vector<TopUpTraffic::Target> out;
            const auto& snap = c.snapshot();
            if (!snap) return out;
            int i = snap->service_index(id);
            if (i < 0) return out;
            const auto& svc = snap->services[static_cast<size_t>(i)];
            for (uint32_t e : svc.available)
              out.push_back({svc.endpoints[e].key, svc.endpoints[e].address, svc.tls});
            return out;
          })) {}
ControllerHost::~ControllerHost() = default;

const config::Config& ControllerHost::config() const {
  return c_.config();
}

std::optional<size_t> ControllerHost::available_endpoints(const std::string& service) const {
  const auto& snap = *c_.snapshot();
  int i = snap.service_index(service);
  if (i < 0) return std::nullopt;
  return snap.services[static_cast<size_t>(i)].available.size();
}

bool ControllerHost::ready(const std::string& service) const {
  return c_.prober().ready(service);
}

std::vector<health::ProbeStatus> ControllerHost::probes(const std::string& service) const {
  return c_.prober().status(service);
}

std::optional<metrics::WindowStats> ControllerHost::window(const metrics::BackendKey& key,
                                                           std::chrono::seconds length) const {
  // With a fleet, the other replicas' traffic of the route too (control/controller.h).
  auto totals = c_.fleet_window(key, length, false);
  if (!totals) return std::nullopt;
  return totals->stats();
}

void ControllerHost::set_weights(const std::string& route,
                                 const std::vector<std::pair<std::string, uint32_t>>& weights) {
  c_.set_rollout_weights(route, weights, [route](Result<std::string> r) {
    if (!r.ok()) log::error("rollout " + route + ": weight change failed: " + r.error().message);
  });
}

Split ControllerHost::split(const std::string& route) const {
  Split out;
  out.weights_from = c_.weights_owner(route);
  const auto& snap = *c_.snapshot();
  int i = snap.route_index(route);
  if (i < 0) return out;
  const auto& r = snap.routes[static_cast<size_t>(i)];
  uint64_t sum = 0;
  for (const auto& b : r.backends)
    sum += b.effective_weight;
  for (const auto& b : r.backends)
    out.backends.push_back(
        {snap.services[b.service].id, b.weight,
         sum ? static_cast<double>(b.effective_weight) / static_cast<double>(sum) : 0.0});
  return out;
}

void ControllerHost::clear_operator_weights(const std::string& route) {
  c_.clear_weights(route, [route](Result<std::string> r) {
    if (!r.ok()) log::error("rollout " + route + ": clearing weights failed: " + r.error().message);
  });
}

void ControllerHost::after_applied(std::function<void()> done) {
  // Workers take posts in order: once each has run this one, each has installed every
  // snapshot published before it.
  c_.workers().for_each_worker([](runtime::Worker&) {},
                               [io = &io_, done = std::move(done)] { asio::post(*io, done); });
}

void ControllerHost::reset_fast_abort(const std::string& route) {
  c_.reset_fast_abort(route);
}

void ControllerHost::stop_fast_abort(const std::string& route) {
  c_.stop_fast_abort(route);
}

void ControllerHost::clear_rollout_weights(const std::string& route) {
  c_.clear_rollout_weights(route, [route](Result<std::string> r) {
    if (!r.ok()) log::error("rollout " + route + ": clearing weights failed: " + r.error().message);
  });
}

std::string ControllerHost::saved_state() const {
  auto it = c_.live().extra.find("rollouts");
  return it == c_.live().extra.end() ? std::string() : it->second;
}

void ControllerHost::save_state(std::string json) {
  c_.set_extra("rollouts", std::move(json));
}

void ControllerHost::post_webhook(const std::string& url, std::string body) {
  // http://HOST:PORT/PATH with a numeric host (validated by the loader). Fire and forget: an
  // unreachable webhook never blocks or slows a rollout.
  std::string rest = url.substr(url.find("://") + 3);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "/" : rest.substr(slash);
  size_t colon = authority.rfind(':');
  std::string host = authority.substr(0, colon);
  if (!host.empty() && host.front() == '[') host = host.substr(1, host.size() - 2);
  boost::system::error_code ec;
  auto address = asio::ip::make_address(host, ec);
  if (ec || colon == std::string::npos) return;
  uint16_t port = static_cast<uint16_t>(std::stoi(authority.substr(colon + 1)));
  std::string request =
      "POST " + path + " HTTP/1.1\r\nHost: " + authority +
      "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\nConnection: close\r\n\r\n" + body;
  health::HttpCheck::run(io_, {address, port}, std::move(request), std::chrono::seconds(2),
                         [url](health::CheckResult r) {
                           if (!r.error.empty())
                             log::warn("rollout webhook " + url + ": " + r.error);
                         });
}

void ControllerHost::call_hook(const config::RolloutHook& hook, std::string body,
                               std::function<void(HookResult)> done) {
  rollout::call_hook(io_, hook, std::move(body), std::move(done));
}

void ControllerHost::query_metric(const config::AnalysisMetric& metric, std::string query,
                                  std::function<void(MetricValue)> done) {
  query_prometheus(io_, metric, query, std::move(done));
}

void ControllerHost::set_top_up(const std::string& route, const std::string& stable,
                                const std::string& canary, const config::TopUp* top_up) {
  if (!top_up || !top_up->enabled) return top_up_->stop(route);
  // Without a configured Host, the route's own host when it matches exactly one.
  std::string host;
  for (const auto& r : c_.config().routes)
    if (r.name == route && r.matches[0].host.find('*') == std::string::npos)
      host = r.matches[0].host;
  top_up_->start(route, stable, canary, *top_up, host);
}

std::optional<metrics::WindowStats>
ControllerHost::analysis_window(const metrics::BackendKey& key, std::chrono::seconds length) const {
  auto totals = c_.fleet_window(key, length, true);
  if (!totals) return std::nullopt;
  return totals->stats();
}

std::optional<metrics::WindowStats>
ControllerHost::synthetic_window(const metrics::BackendKey& key,
                                 std::chrono::seconds length) const {
  return c_.synthetic_aggregator().window(key, length);
}

void ControllerHost::set_mirror(const std::string& route, const std::string& service,
                                double percent, bool safe_methods_only) {
  c_.set_rollout_mirror(route, service, percent, safe_methods_only);
}

void ControllerHost::clear_mirror(const std::string& route) {
  c_.clear_rollout_mirror(route);
}

void ControllerHost::set_header_routes(
    const std::string& route, const std::string& service,
    const std::vector<std::pair<std::string, std::vector<config::ValueMatch>>>& routes) {
  c_.set_rollout_header_routes(route, {service, routes});
}

// Read from the workers' cells now; the drains run on every worker (Controller, in
// control/controller_tunnels.cc).
uint64_t ControllerHost::tunnels_open(const std::string& route, const std::string& service) const {
  return c_.tunnels_open(route, service);
}

uint64_t ControllerHost::upstream_connections_open(const std::string& service) const {
  return c_.upstream_connections_open(service);
}

uint64_t ControllerHost::requests_in_flight(const std::string& service) const {
  return c_.requests_in_flight(service);
}

void ControllerHost::drain_tunnels(const std::string& route, const std::string& service,
                                   std::chrono::milliseconds delay,
                                   std::chrono::milliseconds over) {
  c_.drain_tunnels(route, service, delay, over);
}

void ControllerHost::stop_tunnel_drain(const std::string& route, const std::string& service) {
  c_.stop_tunnel_drain(route, service);
}

void ControllerHost::close_idle_connections(const std::string& service) {
  c_.close_idle_connections(service);
}

// The mirror thread's tally (WorkerGroup::mirror()); none before the workers run.
mirror::DivergenceCounts ControllerHost::divergence(const std::string& route) const {
  if (!c_.workers().mirroring()) return {};
  return c_.workers().mirror().divergences().counts(route);
}

std::vector<mirror::Divergence> ControllerHost::recent_divergences(const std::string& route) const {
  if (!c_.workers().mirroring()) return {};
  return c_.workers().mirror().divergences().recent(route);
}

void connect(Manager& manager, control::Controller& controller) {
  Manager* m = &manager;
  controller.set_rollout_feed(
      [m](const std::string& route, uint64_t& cursor) { return m->feed(route, cursor); });
  controller.set_fast_abort_handler([m](const FastAbort::Trip& trip) { m->on_fast_abort(trip); });
  controller.set_weight_guard(
      [m](const std::string& route, bool force, const std::string& command) {
        return m->guard_weights(route, force, command);
      });
  controller.set_reload_listener([m] { m->on_reload(); });
  controller.set_rollout_reporters([m](std::string& out) { m->write_metrics(out); },
                                   [m](const std::string& route) { return m->status_json(route); });
  controller.set_cleanup_reporter(
      [m](const std::string& service) { return m->cleanup_json(service); });
}

} // namespace weir::rollout
