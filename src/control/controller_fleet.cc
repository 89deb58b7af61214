// The controller in a fleet (cluster/fleet.h): the shared live state adopted, readiness, and
// the other replicas' traffic in the rollouts' windows.
#include "weir/base/log.h"
#include "weir/control/controller.h"

namespace weir::control {

std::string Controller::not_ready() const {
  std::string why = discovery_.not_ready();
  if (fleet_readiness_) {
    std::string fleet = fleet_readiness_();
    if (!fleet.empty()) why += (why.empty() ? "" : "\n") + fleet;
  }
  return why;
}

void Controller::adopt_live(const LiveState& shared) {
  LiveState next = live_;
  next.weight_overrides = shared.weight_overrides;
  next.rollout_weights = shared.rollout_weights;
  next.drained = shared.drained;
  for (const auto& [key, value] : shared.extra)
    next.extra[key] = value;
  next = prune(next, *config_);
  if (next == live_) return;
  auto published = publish(config_, std::move(next), [] {});
  if (!published.ok()) log::error("fleet state not applied: " + published.error().message);
}

std::optional<metrics::WindowTotals> Controller::fleet_window(const metrics::BackendKey& key,
                                                              std::chrono::seconds length,
                                                              bool synthetic) const {
  std::optional<metrics::WindowTotals> total = aggregator_.window_totals(key, length);
  if (synthetic) {
    if (auto s = synthetic_aggregator_.window_totals(key, length)) {
      if (total)
        total->add(*s);
      else
        total = s;
    }
  }
  if (remote_windows_) {
    metrics::WindowTotals remote;
    if (remote_windows_(key, length, remote)) {
      if (total)
        total->add(remote);
      else
        total = remote;
    }
  }
  return total;
}

} // namespace weir::control
