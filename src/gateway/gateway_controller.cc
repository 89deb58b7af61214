#include "weir/gateway/gateway_controller.h"

#include "weir/base/log.h"

#include <algorithm>
#include <map>

namespace weir::gateway {

namespace {

bool same_route(const config::Route& a, const config::Route& b) {
  if (a.name != b.name || a.listener != b.listener || a.matches != b.matches ||
      a.filters != b.filters || a.backends.size() != b.backends.size() ||
      a.timeouts.request != b.timeouts.request ||
      a.timeouts.backend_request != b.timeouts.backend_request ||
      a.timeouts.upstream_read != b.timeouts.upstream_read)
    return false;
  for (size_t i = 0; i < a.backends.size(); ++i)
    if (a.backends[i].service != b.backends[i].service ||
        a.backends[i].weight != b.backends[i].weight ||
        a.backends[i].filters != b.backends[i].filters)
      return false;
  return true;
}

bool same_routes(const ClusterRoutes& a, const ClusterRoutes& b) {
  if (a.services != b.services || a.routes.size() != b.routes.size()) return false;
  for (size_t i = 0; i < a.routes.size(); ++i)
    if (!same_route(a.routes[i], b.routes[i])) return false;
  return true;
}

// The HTTPRoute a weir route was made from: the translator names routes
// "<ns>-<route>-<rule>[-<listener>]"; the longest "<ns>-<route>-" prefix wins.
RouteStatus* origin_of(const std::string& route_name, std::vector<RouteStatus>& statuses) {
  RouteStatus* best = nullptr;
  size_t best_length = 0;
  for (RouteStatus& s : statuses) {
    const std::string prefix = s.ns + "-" + s.name + "-";
    if (route_name.starts_with(prefix) && prefix.size() > best_length) {
      best = &s;
      best_length = prefix.size();
    }
  }
  return best;
}

void refuse(RouteStatus* status, const std::string& reason, const std::string& message) {
  if (!status) return;
  for (ParentStatus& p : status->parents) {
    if (!p.accepted.status) continue;
    p.accepted = {false, reason, message};
  }
}

} // namespace

GatewayController::GatewayController(boost::asio::io_context& io, discovery::ApiAccess api,
                                     Publish publish)
    : io_(io), publish_(std::move(publish)), api_server_(api.url.text()),
      cache_(io, api, [this] { changed(); }), writer_(io, api, cache_), settle_(io),
      alive_(std::make_shared<bool>(true)) {}

GatewayController::~GatewayController() {
  *alive_ = false;
  settle_.cancel();
}

void GatewayController::configure(std::shared_ptr<const config::Config> file) {
  file_ = std::move(file);
  if (!started_) {
    started_ = true;
    log::info("gateway: watching the Gateway API objects of GatewayClass " +
              file_->gateway.class_name + " at " + api_server_);
    cache_.start();
    return; // the first lists bring the first rebuild
  }
  changed();
}

std::vector<discovery::SourceStatus> GatewayController::status() const {
  std::vector<discovery::SourceStatus> out = cache_.status();
  discovery::SourceStatus writes;
  writes.kind = "kubernetes";
  writes.what = "status writes";
  writes.answered = true;
  writes.updates = writer_.writes();
  writes.failures = writer_.failures();
  writes.last_error = writer_.last_error();
  out.push_back(std::move(writes));
  return out;
}

void GatewayController::changed() {
  // Until every kind was listed once, a rebuild would see half a cluster (routes without their
  // Gateway, backends without their ReferenceGrant) and write statuses that say so.
  if (pending_ || !cache_.listed()) return;
  pending_ = true;
  settle_.expires_after(kSettle);
  settle_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    pending_ = false;
    rebuild();
  });
}

void GatewayController::rebuild() {
  const config::Config& file = *file_;
  const std::string& class_name = file.gateway.class_name;
  std::vector<Problem> problems;
  Objects objects = cache_.objects(problems);

  // Ours only if the class names weir's controller; another controller's class is not touched.
  std::optional<Condition> class_accepted;
  bool ours = false;
  for (const GatewayClass& c : objects.gateway_classes)
    if (c.meta.name == class_name && c.controller_name == kControllerName) {
      ours = true;
      class_accepted = Condition{true, "Accepted", ""};
    }
  if (!ours) objects.gateways.clear();

  Options options;
  options.gateway_classes = {class_name};
  options.services_complete = true;
  options.check_cache = &check_cache_;
  // A Gateway port is served on the file's listener of that port; else (weir's pod listening on
  // other ports than the Gateway's, a Service in front mapping them) on the file's first listener
  // without TLS that no Gateway port has by number, for one port only, the lowest: two ports on
  // one listener would give routes meant for one (an internal port's, say) the other's requests.
  std::set<std::string> file_listeners;
  for (const config::Listener& l : file.listeners)
    file_listeners.insert(l.name);
  std::set<uint16_t> gateway_ports;
  for (const Gateway& g : objects.gateways)
    if (g.class_name == class_name)
      for (const GatewayListener& gl : g.listeners)
        if (gl.protocol == "HTTP") gateway_ports.insert(gl.port);
  std::set<std::string> claimed;
  for (uint16_t port : gateway_ports)
    for (const config::Listener& l : file.listeners)
      if (l.address.port == port && !options.existing_listeners.contains(port)) {
        options.existing_listeners.emplace(port, l.name);
        claimed.insert(l.name);
      }
  std::string fallback;
  for (const config::Listener& l : file.listeners)
    if (!l.tls && !claimed.contains(l.name) && fallback.empty()) fallback = l.name;
  uint16_t fallback_port = 0;
  for (uint16_t port : gateway_ports)
    if (!fallback.empty() && !fallback_port && !options.existing_listeners.contains(port)) {
      options.existing_listeners.emplace(port, fallback);
      fallback_port = port;
    }
  Translation t = translate(objects, options);
  std::map<std::string, uint16_t> unserved_ports; // listeners the translator made: not weir's
  for (const config::Listener& l : t.listeners)
    unserved_ports[l.name] = l.address.port;

  auto next = std::make_shared<ClusterRoutes>();
  std::map<std::string, const config::Service*> file_services;
  for (const config::Service& s : file.services)
    file_services[s.id()] = &s;
  std::set<std::string> refused_services;
  for (config::Service& s : t.services) {
    auto it = file_services.find(s.id());
    if (it == file_services.end())
      next->services.push_back(std::move(s));
    else if (it->second->kubernetes != s.kubernetes)
      refused_services.insert(s.id());
    // else: the file's service is the same Kubernetes Service and port; the routes share it.
  }
  std::set<std::string> file_routes;
  for (const config::Route& r : file.routes)
    file_routes.insert(r.name);
  for (config::Route& r : t.routes) {
    RouteStatus* origin = origin_of(r.name, t.route_statuses);
    if (file_routes.count(r.name)) {
      refuse(origin, "NameConflict",
             "weir's config file has a route named " + r.name + ", the name weir gives this one");
      continue;
    }
    if (!file_listeners.count(r.listener)) {
      const uint16_t port = unserved_ports[r.listener];
      refuse(origin, "NotAllowedByListeners",
             "weir has no listener for the Gateway's port " + std::to_string(port) +
                 " (give weir's config a listener on port " + std::to_string(port) +
                 (fallback_port ? "; the first one without TLS serves port " +
                                      std::to_string(fallback_port) + " only)"
                                : " or one without TLS)"));
      continue;
    }
    std::string clash;
    for (const config::Backend& b : r.backends)
      if (refused_services.count(b.service)) clash = b.service;
    if (r.filters.mirror.enabled && refused_services.count(r.filters.mirror.service))
      clash = r.filters.mirror.service;
    if (!clash.empty()) {
      refuse(origin, "NameConflict",
             "weir's config file has a service " + clash +
                 " that is not this Kubernetes Service and port");
      continue;
    }
    next->routes.push_back(std::move(r));
  }
  // A route refused above takes every route of its HTTPRoute with it: half an HTTPRoute's
  // rules would route differently from what it says.
  std::set<std::string> refused_origins;
  for (const RouteStatus& s : t.route_statuses)
    for (const ParentStatus& p : s.parents)
      if (!p.accepted.status && p.accepted.reason == "NameConflict")
        refused_origins.insert(s.ns + "/" + s.name);
  std::erase_if(next->routes, [&](const config::Route& r) {
    RouteStatus* origin = origin_of(r.name, t.route_statuses);
    return origin && refused_origins.count(origin->ns + "/" + origin->name);
  });

  for (const Problem& p : problems)
    if (problems_logged_.insert(p.text()).second) log::warn("gateway: " + p.text());
  for (const Problem& p : t.problems)
    if (problems_logged_.insert(p.text()).second) log::warn("gateway: " + p.text());
  if (problems_logged_.size() > 1000) problems_logged_.clear();

  if (!published_ || !same_routes(*published_, *next)) {
    std::string error = publish_(next);
    if (error.empty()) {
      published_ = next;
      log::info("gateway: " + std::to_string(next->routes.size()) + " routes and " +
                std::to_string(next->services.size()) + " services from the cluster in force");
    } else {
      log::error("gateway: the cluster's routes could not be published (the last ones stay): " +
                 error);
    }
  }
  writer_.write(t.route_statuses, class_name, class_accepted);
}

} // namespace weir::gateway
