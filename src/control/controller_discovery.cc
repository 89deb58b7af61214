// The controller's side of service discovery: the config in force is the file's with what
// discovery found added, and a change found is published like any other change.
#include "weir/base/log.h"
#include "weir/control/controller.h"

#include <algorithm>

namespace weir::control {

std::shared_ptr<const config::Config>
Controller::with_discovered(const config::Config& file) const {
  auto out = std::make_shared<config::Config>(file);
  for (auto& svc : out->services) {
    if (!svc.discovered()) continue;
    auto it = discovered_.find(svc.id());
    // Found for other settings of the service (a reload changed them): stale.
    if (it == discovered_.end() || it->second.source != discovery::source_key(svc, file)) continue;
    for (const auto& a : it->second.endpoints)
      if (std::find(svc.endpoints.begin(), svc.endpoints.end(), a) == svc.endpoints.end())
        svc.endpoints.push_back(a);
  }
  return out;
}

void Controller::add_discovered_drains(const config::Config& config,
                                       runtime::Snapshot::Overrides& o) const {
  // A terminating pod is drained: requests in flight finish, new ones go to the others.
  for (const auto& svc : config.services) {
    if (!svc.kubernetes) continue;
    auto it = discovered_.find(svc.id());
    if (it == discovered_.end()) continue;
    for (const auto& t : it->second.terminating)
      o.drained[svc.id()].insert(t);
  }
}

void Controller::set_discovered(const std::string& service, const discovery::Found& found) {
  discovered_[service] = found;
  if (!started_) return; // start() builds from discovered_
  auto next = with_discovered(*file_config_);
  // An endpoint that went away stops taking requests with this snapshot; the requests that
  // hold the previous one finish on it. One that came waits for its first health check
  // (health::EndpointStatus::awaiting_first_check), so the checker learns of it before the
  // workers do.
  checker_.configure(*next);
  prober_.configure(*next);
  auto published = publish(next, live_, [] {});
  if (!published.ok())
    log::error("discovery: " + service + ": could not publish: " + published.error().message);
}

} // namespace weir::control
