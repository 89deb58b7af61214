// The controller's side of service discovery: the config in force is the file's with what
// discovery found added, and a change found is published like any other change.
#include "weir/base/log.h"
#include "weir/control/controller.h"

#include <iterator>
#include <set>

namespace weir::control {

std::shared_ptr<const config::Config>
Controller::with_discovered(const config::Config& file) const {
  auto out = std::make_shared<config::Config>(file);
  with_gateway(*out); // the cluster's routes and services, whose endpoints discovery finds too
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
    // (Only Kubernetes says "terminating"; what it said is kept while a reload's new sources
    // have not answered.)
    if (auto it = discovered_.find(id); it != discovered_.end())
      for (const auto& t : it->second.terminating)
        o.drained[id].insert(t);
  }
  // New endpoints wait for their first health check, but not when their service could take
  // no request otherwise and no other backend of a route it serves takes the route's traffic
  // (old pods leaving as new ones come, a DNS answer that changed every address): then they
  // take requests at once, as before checks existed (as kube-proxy falls back to what it has),
  // instead of a burst of 503s. A canary whose pods are all new still waits: the route's
  // other versions serve meanwhile.
  std::map<std::string, std::vector<std::string>> waiting; // service → endpoints
  std::set<std::string> serving;                           // services with an available one
  for (const auto& svc : config.services) {
    const std::string id = svc.id();
    auto down = o.down.find(id);
    auto drained = o.drained.find(id);
    for (const auto& ep : svc.endpoints) {
      const std::string text = ep.text();
      if (drained != o.drained.end() && drained->second.count(text)) continue;
      if (down == o.down.end() || !down->second.count(text)) {
        serving.insert(id);
        continue;
      }
      const health::EndpointStatus* s = checker_.status(id, text);
      if (svc.discovered() && s && s->awaiting_first_check &&
          s->override_state == health::Override::automatic && !ejections_.ejected(id, text))
        waiting[id].push_back(text);
    }
  }
  for (auto& [id, endpoints] : waiting) {
    if (serving.count(id)) continue;
    bool needed = false; // some route of the service has no other backend to send to
    for (const auto& route : config.routes) {
      bool member = false, other = false;
      for (const auto& b : route.backends) {
        if (b.service == id) {
          member = true;
          continue;
        }
        uint32_t weight = b.weight;
        if (auto r = o.weights.find(route.name); r != o.weights.end())
          if (auto w = r->second.find(b.service); w != r->second.end()) weight = w->second;
        other = other || (weight > 0 && serving.count(b.service));
      }
      needed = needed || (member && !other);
    }
    if (!needed) continue;
    for (const auto& e : endpoints)
      o.down[id].erase(e);
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
