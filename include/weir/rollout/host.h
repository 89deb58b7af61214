#pragma once

#include "weir/config/config.h"
#include "weir/health/prober.h"
#include "weir/metrics/aggregator.h"
#include "weir/mirror/divergence.h"

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weir::rollout {

// What a rollout Manager needs from the control plane it runs in: the plans, the state of the
// versions it judges, and the few ways it acts (live weights, the state file, the webhook). A
// seam so the manager's step plans and verdicts are unit tests over a fake (house rule 5); in
// weir it is control::Controller (rollout/manager.cc adapts it). Control thread only.
// What a hook call came to.
struct HookResult {
  bool ok = false; // a 2xx answer
  int status = 0;  // of the last attempt; 0 when no answer arrived
  uint32_t attempts = 0;
  std::string message; // the answer's body (trimmed, at most 256 bytes) or why there was none
};

// One external metric measurement.
struct MetricValue {
  bool ok = false;  // the query ran and returned one number
  double value = 0; // the result (a scalar, or the single sample of an instant vector)
  std::string error;
};

// The weights a route's traffic gets now.
struct Split {
  std::string weights_from; // "operator" (set weight), "rollout" or "config"
  struct Backend {
    std::string service;
    uint32_t weight = 0; // live weight, after overrides
    double share = 0;    // of the route's requests, 0..1 (0 for a version with nothing available)
  };
  std::vector<Backend> backends;
};

class Host {
public:
  virtual ~Host() = default;

  virtual const config::Config& config() const = 0;
  // Endpoints of `service` that take traffic now (not down, drained or ejected); nullopt for a
  // service the running config does not have.
  virtual std::optional<size_t> available_endpoints(const std::string& service) const = 0;
  virtual bool ready(const std::string& service) const = 0;
  virtual std::vector<health::ProbeStatus> probes(const std::string& service) const = 0;
  // The merged metrics of a route × version over the last `length`.
  virtual std::optional<metrics::WindowStats> window(const metrics::BackendKey& key,
                                                     std::chrono::seconds length) const = 0;

  // The rollout's weights of a route, applied on every worker (errors are logged by the host).
  // An operator's override (`set weight`) stays on top of them until cleared.
  virtual void set_weights(const std::string& route,
                           const std::vector<std::pair<std::string, uint32_t>>& weights) = 0;
  // What traffic gets now: who set the weights and each backend's live weight and share.
  virtual Split split(const std::string& route) const = 0;
  // Runs `done` (on the control thread) once every worker uses what was published so far: a
  // rollout command replies only then, as `set weight` does.
  virtual void after_applied(std::function<void()> done) = 0;
  // Drops the operator's override of the route's weights (the rollout's own apply again).
  virtual void clear_operator_weights(const std::string& route) = 0;
  // A rollout of `route` starts: the workers' fast-abort runs of the route start from zero (and
  // they report errors for it until stop_fast_abort).
  virtual void reset_fast_abort(const std::string& route) = 0;
  virtual void stop_fast_abort(const std::string& route) = 0;
  // Drops the weights the route's rollout set: the route follows the config file again (when
  // its plan is gone).
  virtual void clear_rollout_weights(const std::string& route) = 0;
  // The "rollouts" section of the state file: what was saved ("" when nothing), and saving it.
  virtual std::string saved_state() const = 0;
  virtual void save_state(std::string json) = 0;
  // Fire and forget: posts `body` (JSON) to the webhook `url`; never blocks.
  virtual void post_webhook(const std::string& url, std::string body) = 0;

  // --- gates, external metrics and synthetic traffic (asynchronous; `done` runs later on the
  // control thread, never inside the call) ---

  // Calls a rollout hook: POSTs `body` (JSON) to hook.url with hook.timeout per attempt and up to
  // hook.retries further attempts after a failed one.
  virtual void call_hook(const config::RolloutHook& hook, std::string body,
                         std::function<void(HookResult)> done) = 0;
  // Runs one external metric's query (already templated) and returns its scalar value.
  virtual void query_metric(const config::AnalysisMetric& metric, std::string query,
                            std::function<void(MetricValue)> done) = 0;
  // Starts (`top_up` non-null) or stops synthetic requests for a route's two versions.
  virtual void set_top_up(const std::string& route, const std::string& stable,
                          const std::string& canary, const config::TopUp* top_up) = 0;
  // The route × version's metrics over the last `length` counting user and synthetic requests
  // together (exactly: histograms merged), and the synthetic share alone.
  virtual std::optional<metrics::WindowStats>
  analysis_window(const metrics::BackendKey& key, std::chrono::seconds length) const = 0;
  virtual std::optional<metrics::WindowStats>
  synthetic_window(const metrics::BackendKey& key, std::chrono::seconds length) const = 0;

  // --- mirroring (set_mirror, max_divergence) ---

  // The rollout's live mirror of a route: `percent` of its requests are copied to `service`
  // (the canary), winning over the route's own `mirror` until cleared (applied on every worker,
  // like weights).
  // `safe_methods_only`: GET and HEAD only (a rollback drill's mirror to an old version must not
  // repeat a write).
  virtual void set_mirror(const std::string& route, const std::string& service, double percent,
                          bool safe_methods_only = false) = 0;
  // The route mirrors as its config says again.
  virtual void clear_mirror(const std::string& route) = 0;

  // --- header routes (set_header_route) ---

  // The rollout's header routes of a route: a request with every header of one of `routes`
  // (name → conditions) goes to `service` (the canary) whatever its weight, while the canary
  // has an endpoint available (applied on every worker, like weights). Empty `routes`: none.
  virtual void set_header_routes(
      const std::string& route, const std::string& service,
      const std::vector<std::pair<std::string, std::vector<config::ValueMatch>>>& routes) = 0;
  // --- what still uses a version, and long-lived connections at cutover ---
  // Tunnels (WebSocket and other Upgrades) of `route` to `service` open now, on every worker.
  virtual uint64_t tunnels_open(const std::string& route, const std::string& service) const = 0;
  // Upstream connections to the endpoints of `service` open now (in use or idle in a pool), and
  // requests to it in flight now, on every worker.
  virtual uint64_t upstream_connections_open(const std::string& service) const = 0;
  virtual uint64_t requests_in_flight(const std::string& service) const = 0;
  // Closes the tunnels of `route` to `service` open now: none before `delay`, then one by one
  // spread evenly over `over` (all at once when 0); a WebSocket gets a closing handshake at a
  // message boundary (clients reconnect and land where the weights say). Replaces an earlier
  // drain of the same route x service; stop_tunnel_drain ends one (an undo: that version serves
  // again).
  virtual void drain_tunnels(const std::string& route, const std::string& service,
                             std::chrono::milliseconds delay, std::chrono::milliseconds over) = 0;
  virtual void stop_tunnel_drain(const std::string& route, const std::string& service) = 0;
  // Closes the idle keep-alive connections to `service`'s endpoints on every worker: once the
  // replaced version need not be kept warm, nothing else would close them.
  virtual void close_idle_connections(const std::string& service) = 0;
  // --- rollback drills ---
  // One synthetic request of a drill: sent to an endpoint of the version a rollback would return
  // to and to the live version, with each answer's status (0: none, `*_error` says why).
  struct DrillAnswer {
    std::string request;  // "probe home: GET /" or "GET /"
    std::string endpoint; // the rollback target's "host:port"
    int target_status = 0;
    std::string target_error;
    int live_status = 0;
    std::string live_error;
  };
  // Sends each probe request of `target` (GET / when it has none; the route's exact host as
  // Host) to every endpoint of `target` that takes traffic and to one of `live`'s, over fresh
  // connections; `done` gets every pair (none when `target` has no endpoint taking traffic).
  virtual void drill_requests(const std::string& route, const std::string& target,
                              const std::string& live,
                              std::function<void(std::vector<DrillAnswer>)> done) = 0;
  // The route's shadow comparisons so far (cumulative since weir started) and the last
  // diverging requests, newest last.
  virtual mirror::DivergenceCounts divergence(const std::string& route) const = 0;
  virtual std::vector<mirror::Divergence> recent_divergences(const std::string& route) const = 0;
};

} // namespace weir::rollout
