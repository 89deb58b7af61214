// The controller's side of service discovery: the config in force is the file's with what
// discovery found added, and a change found is published like any other change.
#include "weir/base/log.h"
#include "weir/control/controller.h"

#include <algorithm>

namespace weir::control {

std::shared_ptr<const config::Config>
Controller::with_discovered(const config::Config& file) const {
  auto out = std::make_shared<config::Config>(file);
  std::set<std::string> listed;
  for (auto& svc : out->services) {
    if (!svc.discovered()) continue;
    // What was found stays in force across a reload that changes the service's sources, until
    // the new ones answer (Discovery::configure keeps it as their starting point): a reload
    // never empties a service. Entries of services no longer discovered are gone
    // (forget_undiscovered).
    auto it = discovered_.find(svc.id());
    if (it == discovered_.end()) continue;
    svc.listed_endpoints = static_cast<uint32_t>(svc.endpoints.size());
    listed.clear();
    for (const auto& a : svc.endpoints)
      listed.insert(a.text());
    for (const auto& a : it->second.endpoints)
      if (!listed.count(a.text())) svc.endpoints.push_back(a);
  }
  return out;
}

void Controller::apply_discovery(const config::Config& config,
                                 runtime::Snapshot::Overrides& o) const {
  for (const auto& svc : config.services) {
    if (!svc.discovered()) continue;
    const std::string id = svc.id();
    // A terminating pod is drained: requests in flight finish, new ones go to the others.
    if (auto it = discovered_.find(id); it != discovered_.end() && svc.kubernetes)
      for (const auto& t : it->second.terminating)
        o.drained[id].insert(t);
    // New endpoints wait for their first health check, but not when nothing else of the
    // service could take a request (old pods terminating as new ones come, a DNS answer that
    // changed every address): then they take traffic at once, as before checks existed (as
    // kube-proxy falls back to what it has), instead of a burst of 503s.
    auto down = o.down.find(id);
    if (down == o.down.end()) continue;
    auto drained = o.drained.find(id);
    std::vector<std::string> waiting;
    bool other = false;
    for (const auto& ep : svc.endpoints) {
      const std::string text = ep.text();
      if (drained != o.drained.end() && drained->second.count(text)) continue;
      if (!down->second.count(text)) {
        other = true;
        break;
      }
      const health::EndpointStatus* s = checker_.status(id, text);
      if (s && s->awaiting_first_check && s->override_state == health::Override::automatic &&
          !ejections_.ejected(id, text))
        waiting.push_back(text);
    }
    if (!other)
      for (const auto& w : waiting)
        down->second.erase(w);
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
