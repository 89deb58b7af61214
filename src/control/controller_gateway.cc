// The controller's side of the Gateway API controller: the config in force is the file's with the
// cluster's routes and services added (then what discovery found), and a change in the cluster
// is published like any other change.
#include "weir/base/log.h"
#include "weir/control/controller.h"

#include <cstdlib>
#include <set>

namespace weir::control {

void Controller::with_gateway(config::Config& config) const {
  if (!gateway_routes_ || !config.gateway.enabled) return;
  // The gateway controller leaves out names the file uses; after a reload that took such a name
  // it has not looked yet, and the file's wins meanwhile.
  std::set<std::string> services, routes;
  for (const auto& s : config.services)
    services.insert(s.id());
  for (const auto& r : config.routes)
    routes.insert(r.name);
  for (const auto& s : gateway_routes_->services)
    if (!services.count(s.id())) config.services.push_back(s);
  for (const auto& r : gateway_routes_->routes)
    if (!routes.count(r.name)) config.routes.push_back(r);
}

std::string Controller::set_gateway_routes(std::shared_ptr<const gateway::ClusterRoutes> routes) {
  auto before = std::move(gateway_routes_);
  gateway_routes_ = std::move(routes);
  if (!started_) return "";
  auto next = with_discovered(*file_config_);
  // Endpoints of a service new to the checker wait for its first check (as discovery's do).
  checker_.configure(*next);
  prober_.configure(*next);
  auto published = publish(next, prune(live_, *next), [] {});
  if (!published.ok()) {
    gateway_routes_ = std::move(before);
    checker_.configure(*config_);
    prober_.configure(*config_);
    return published.error().message;
  }
  // The services the cluster's routes send to are found through their EndpointSlices.
  config::Config base = *file_config_;
  with_gateway(base);
  discovery_.configure(base);
  forget_undiscovered();
  return "";
}

void Controller::configure_gateway() {
  const config::Config& file = *file_config_;
  if (!file.gateway.enabled) {
    if (gateway_) log::info("gateway: no longer watching the cluster's Gateway API objects");
    gateway_.reset();
    gateway_key_.clear();
    return;
  }
  auto api = discovery::api_access(
      file.kubernetes, [](const char* name) -> const char* { return std::getenv(name); });
  if (!api.ok()) {
    // The routes found so far stay in force; a reload with working settings starts over.
    log::error("gateway: " + api.error().message);
    gateway_.reset();
    gateway_key_.clear();
    return;
  }
  const std::string key =
      api->url.text() + " " + api->token_file + " " + api->ca_file + " " + file.gateway.class_name;
  if (!gateway_ || key != gateway_key_) {
    // New settings: new watches. What the old ones found stays in force until they answer.
    gateway_ = std::make_unique<gateway::GatewayController>(
        io_, std::move(*api), [this](std::shared_ptr<const gateway::ClusterRoutes> routes) {
          return set_gateway_routes(std::move(routes));
        });
    gateway_key_ = key;
  }
  gateway_->configure(file_config_);
}

} // namespace weir::control
