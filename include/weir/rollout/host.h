#pragma once

#include "weir/config/config.h"
#include "weir/health/prober.h"
#include "weir/metrics/aggregator.h"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weir::rollout {

// What a rollout Manager needs from the control plane it runs in: the plans, the state of the
// versions it judges, and the few ways it acts (live weights, the state file, the webhook). A
// seam so the manager's step plans and verdicts are unit tests over a fake (house rule 5); in
// weir it is control::Controller (rollout/manager.cc adapts it). Control thread only.
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

  // Live weights of a route, applied on every worker (errors are logged by the host).
  virtual void set_weights(const std::string& route,
                           const std::vector<std::pair<std::string, uint32_t>>& weights) = 0;
  // The "rollouts" section of the state file: what was saved ("" when nothing), and saving it.
  virtual std::string saved_state() const = 0;
  virtual void save_state(std::string json) = 0;
  // Fire and forget: posts `body` (JSON) to the webhook `url`; never blocks.
  virtual void post_webhook(const std::string& url, std::string body) = 0;
};

} // namespace weir::rollout
