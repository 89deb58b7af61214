#include "weir/runtime/snapshot.h"

#include "weir/tls/ticket_keys.h"

#include <boost/asio/ip/address.hpp>
#include <ctime>
#include <unordered_map>

namespace weir::runtime {

std::shared_ptr<const Snapshot> Snapshot::build(std::shared_ptr<const config::Config> config,
                                                const Overrides& overrides, uint64_t generation,
                                                std::string* error, const tls::Contexts* tls) {
  tls::Contexts built;
  if (!tls) {
    auto contexts =
        tls::Contexts::build(*config, std::make_shared<tls::TicketKeys>(), std::time(nullptr));
    if (!contexts.ok()) {
      if (error) *error = contexts.error().message;
      return nullptr;
    }
    built = std::move(*contexts);
    tls = &built;
  }
  auto snap = std::make_shared<Snapshot>();
  snap->config = config;
  snap->generation = generation;
  std::unordered_map<std::string, uint32_t> service_index;
  for (const config::Service& s : config->services) {
    Service out;
    out.id = s.id();
    out.max_idle_connections = s.max_idle_connections;
    out.outlier = s.outlier_detection;
    if (s.tls.enabled) {
      auto t = tls->services.find(out.id);
      if (t == tls->services.end()) {
        if (error) *error = "service " + out.id + ": no TLS context built for it";
        return nullptr;
      }
      out.tls = t->second;
    }
    for (const config::Address& a : s.endpoints) {
      boost::system::error_code ec;
      auto ip = boost::asio::ip::make_address(a.host, ec);
      if (ec) {
        if (error) *error = "service " + out.id + ": bad endpoint address " + a.text();
        return nullptr;
      }
      bool drained = false;
      bool down = false;
      if (auto d = overrides.drained.find(out.id); d != overrides.drained.end())
        drained = d->second.count(a.text()) > 0;
      if (auto d = overrides.down.find(out.id); d != overrides.down.end())
        down = d->second.count(a.text()) > 0;
      if (!drained && !down) out.available.push_back(static_cast<uint32_t>(out.endpoints.size()));
      out.endpoints.push_back({a.text(), {ip, a.port}, drained, down});
    }
    service_index.emplace(out.id, static_cast<uint32_t>(snap->services.size()));
    snap->services.push_back(std::move(out));
  }
  for (const config::Route& r : config->routes) {
    Route out;
    out.name = r.name;
    out.timeouts = r.timeouts;
    out.retries = r.retries;
    if (r.rollout.enabled) {
      // The whole threshold: the control thread adds up every worker's run against it. Only
      // while the route's rollout runs: otherwise a stable version's 5xx would be posted for
      // nothing.
      if (overrides.fast_abort_routes.count(r.name))
        out.fast_abort_errors = r.rollout.fast_abort_consecutive_errors;
      if (auto e = overrides.rollout_epochs.find(r.name); e != overrides.rollout_epochs.end())
        out.rollout_epoch = e->second;
      out.override_header = r.rollout.override_header;
      out.override_secret = r.rollout.override_secret;
      if (!r.rollout.affinity_cookie.empty()) {
        out.affinity_cookie = r.rollout.affinity_cookie;
        out.affinity_max_age_s =
            std::chrono::duration_cast<std::chrono::seconds>(r.rollout.affinity_max_age).count();
        out.set_cookie_prefix = "Set-Cookie: " + r.rollout.affinity_cookie + "=";
      }
    }
    out.unavailable_body = "no upstream available for route " + r.name + "\n";
    out.redirect = r.filters.redirect;
    for (const config::Backend& b : r.backends) {
      auto it = service_index.find(b.service);
      if (it == service_index.end()) {
        if (error) *error = "route " + r.name + ": unknown service " + b.service;
        return nullptr;
      }
      Backend backend;
      backend.service = it->second;
      backend.configured_weight = backend.weight = b.weight;
      if (auto rw = overrides.weights.find(r.name); rw != overrides.weights.end()) {
        if (auto w = rw->second.find(b.service); w != rw->second.end()) {
          backend.weight = w->second;
          backend.overridden = true;
        }
      }
      backend.effective_weight = snap->services[it->second].available.empty() ? 0 : backend.weight;
      backend.request_headers =
          http::HeaderModifier::compile(r.filters.request_headers, b.filters.request_headers);
      backend.response_headers =
          http::HeaderModifier::compile(r.filters.response_headers, b.filters.response_headers);
      backend.rewrite = r.filters.rewrite;
      if (!b.filters.rewrite.hostname.empty())
        backend.rewrite.hostname = b.filters.rewrite.hostname;
      if (b.filters.rewrite.path.type != config::PathModifier::Type::none)
        backend.rewrite.path = b.filters.rewrite.path;
      if (r.rollout.enabled && b.service == r.rollout.canary)
        out.sticky_canary = static_cast<int>(out.backends.size());
      if (r.rollout.enabled && b.service == r.rollout.stable)
        out.sticky_stable = static_cast<int>(out.backends.size());
      out.backends.push_back(backend);
      out.weights.push_back(backend.effective_weight);
    }
    // The mirror: the live one (rollout set_mirror) wins over the file's; an unknown service
    // mirrors nothing.
    const config::Mirror& m = r.filters.mirror;
    std::string mirror_service = m.enabled ? m.service : std::string();
    out.mirror.percent = m.enabled ? m.percent : 0;
    if (m.enabled && m.compare.enabled) out.mirror.settings = m.compare;
    if (auto o = overrides.mirrors.find(r.name); o != overrides.mirrors.end()) {
      mirror_service = o->second.service;
      out.mirror.percent = o->second.percent;
      out.mirror.settings.enabled = true; // the route's compare, else the status class alone
      if (o->second.safe_methods_only) {
        // A rollback drill: GETs and HEADs only, judged by their status class alone.
        out.mirror.safe_methods_only = true;
        out.mirror.settings = config::Compare{};
        out.mirror.settings.enabled = true;
      }
    }
    if (auto it = service_index.find(mirror_service); it != service_index.end())
      out.mirror.service = static_cast<int>(it->second);
    out.mirror.max_body_bytes = m.max_body_bytes;
    out.mirror.max_in_flight = m.max_in_flight;
    out.mirror.compare = out.mirror.settings.enabled;
    if (auto h = overrides.header_routes.find(r.name); h != overrides.header_routes.end()) {
      for (size_t b = 0; b < r.backends.size(); ++b)
        if (r.backends[b].service == h->second.service)
          out.header_route_backend = static_cast<int>(b);
      for (const auto& [name, headers] : h->second.routes) {
        // A condition that does not compile (the loader refuses those; a hand-edited state
        // file could hold one) leaves its header route out rather than the whole snapshot.
        std::vector<route::ValueMatcher> compiled;
        for (const config::ValueMatch& v : headers)
          if (auto c = route::ValueMatcher::compile(v, nullptr)) compiled.push_back(std::move(*c));
        if (!compiled.empty() && compiled.size() == headers.size())
          out.header_routes.push_back(std::move(compiled));
      }
      if (out.header_routes.empty()) out.header_route_backend = -1;
    }
    snap->routes.push_back(std::move(out));
  }
  snap->client.idle =
      config->routes.empty() ? config::Duration(60000) : config->routes.front().timeouts.idle;
  snap->client.header = config->limits.client_header_timeout;
  snap->client.body = config->limits.client_body_timeout;
  snap->client.request = config->limits.request_timeout;
  snap->client.queue = config->limits.queue_timeout;
  snap->client.handshake = config->limits.tls_handshake_timeout;
  snap->trusted_proxies = config->trusted_proxies;
  for (const config::Listener& l : config->listeners) {
    Listener out{l.name,       l.address, route::Table::build(config->routes, l.name),
                 snap->client, nullptr,   l.redirect_to_https};
    if (l.tls) {
      auto t = tls->listeners.find(l.name);
      if (t == tls->listeners.end()) {
        if (error) *error = "listener " + l.name + ": no TLS context built for it";
        return nullptr;
      }
      out.tls = t->second;
    }
    snap->listeners.push_back(std::move(out));
  }
  return snap;
}

int Snapshot::route_index(std::string_view name) const {
  for (size_t i = 0; i < routes.size(); ++i)
    if (routes[i].name == name) return static_cast<int>(i);
  return -1;
}

int Snapshot::service_index(std::string_view id) const {
  for (size_t i = 0; i < services.size(); ++i)
    if (services[i].id == id) return static_cast<int>(i);
  return -1;
}

std::string pool_key(const Snapshot::Service& service, const Snapshot::Endpoint& endpoint) {
  return service.tls ? endpoint.key + " tls " + service.id : endpoint.key;
}

} // namespace weir::runtime
