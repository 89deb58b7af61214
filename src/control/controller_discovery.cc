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
    // What was found stays in force across a reload that changes the service's sources, until
    // the new ones answer (Discovery::configure keeps it as their starting point): a reload
    // never empties a service. Entries of services no longer discovered are gone
    // (forget_undiscovered).
    auto it = discovered_.find(svc.id());
    if (it == discovered_.end()) continue;
    svc.listed_endpoints = static_cast<uint32_t>(svc.endpoints.size());
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
  // An operator's drain of an endpoint that is gone goes with it: a new pod may get its address.
  auto published = publish(next, prune(live_, *next), [] {});
  if (!published.ok())
    log::error("discovery: " + service + ": could not publish: " + published.error().message);
}

void Controller::forget_undiscovered() {
  for (auto it = discovered_.begin(); it != discovered_.end();)
    it = discovery_.discovers(it->first) ? std::next(it) : discovered_.erase(it);
}

} // namespace weir::control
