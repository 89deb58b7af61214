#include "weir/discovery/discovery.h"

#include "weir/base/log.h"
#include "weir/metrics/prometheus.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace weir::discovery {

std::string source_key(const config::Service& s, const config::Config& c) {
  std::string key;
  for (const auto& n : s.dns_names)
    key += "dns:" + n.text() + " ";
  if (s.kubernetes)
    key += "kubernetes:" + s.kubernetes->service + ":" + s.kubernetes->port_text() +
           " api:" + c.kubernetes.api_server + " " + c.kubernetes.token_file + " " +
           c.kubernetes.ca_file;
  return key;
}

struct Discovery::Entry {
  std::string key;
  std::vector<std::unique_ptr<DnsWatch>> dns;
  std::unique_ptr<KubernetesWatch> kubernetes;
  SourceStatus setup; // a Kubernetes source that could not start: why
  Found inherited;    // used until every source answered
  bool has_inherited = false;

  bool all_answered() const {
    for (const auto& d : dns)
      if (!d->status().answered) return false;
    if (!setup.last_error.empty()) return false;
    return !kubernetes || kubernetes->status().answered;
  }
};

Discovery::Discovery(boost::asio::io_context& io, Publish publish, Env env)
    : io_(io), publish_(std::move(publish)), env_(std::move(env)) {}

Discovery::~Discovery() {
  stop();
}

void Discovery::stop() {
  entries_.clear();
  resolver_.reset();
}

void Discovery::configure(const config::Config& config,
                          const std::map<std::string, Found>& inherited) {
  std::map<std::string, Found> before = found();
  bool wanted = false; // any DNS name at all
  for (const auto& s : config.services)
    wanted = wanted || !s.dns_names.empty();
  const bool new_resolver =
      (wanted && !resolver_) || (resolver_ && !(config.resolver == resolver_settings_));
  if (new_resolver) {
    // The DNS watches use the resolver: they start over with the new one (what they found
    // stays in use until they answer again).
    for (auto& [id, e] : entries_)
      if (!e->dns.empty()) e->key.clear();
    resolver_settings_ = config.resolver;
  }
  std::map<std::string, std::unique_ptr<Entry>> next;
  std::vector<Entry*> to_start;
  for (const auto& s : config.services) {
    if (!s.discovered()) continue;
    const std::string id = s.id();
    const std::string key = source_key(s, config);
    if (auto it = entries_.find(id); it != entries_.end() && it->second->key == key) {
      next[id] = std::move(it->second);
      continue;
    }
    auto e = std::make_unique<Entry>();
    e->key = key;
    if (auto in = inherited.find(id); in != inherited.end() && in->second.source == key) {
      e->inherited = in->second;
      e->has_inherited = true;
    } else if (auto b = before.find(id); b != before.end() && !b->second.endpoints.empty()) {
      // The same service with other sources (or a new resolver): what it had stays until the
      // new sources answer, so a reload never empties a service.
      e->inherited = b->second;
      e->inherited.source = key;
      e->has_inherited = true;
    }
    to_start.push_back(e.get());
    next[id] = std::move(e);
  }
  if (new_resolver) {
    // The old watches go first: they hold a reference to the old resolver.
    for (auto& [id, e] : entries_)
      if (e) e->dns.clear();
    resolver_ = wanted ? std::make_unique<DnsResolver>(io_, config.resolver) : nullptr;
    if (resolver_ && !resolver_->setup_error().empty())
      log::error("discovery: " + resolver_->setup_error());
  }
  entries_ = std::move(next);
  for (const auto& s : config.services) {
    auto it = entries_.find(s.id());
    if (it == entries_.end()) continue;
    Entry& e = *it->second;
    if (std::find(to_start.begin(), to_start.end(), &e) == to_start.end()) continue;
    const std::string id = s.id();
    for (const auto& n : s.dns_names)
      e.dns.push_back(std::make_unique<DnsWatch>(io_, *resolver_, n, config.resolver,
                                                 [this, id] { changed(id); }));
    if (s.kubernetes) {
      auto access = api_access(config.kubernetes, env_);
      if (!access.ok()) {
        e.setup.kind = "kubernetes";
        e.setup.what = "kubernetes service " + s.ns + "/" + s.kubernetes->service;
        e.setup.last_error = access.error().message;
        e.setup.failures = 1;
        log::error("discovery: " + id + ": " + e.setup.last_error);
      } else {
        e.kubernetes = std::make_unique<KubernetesWatch>(
            io_, std::move(*access), s.ns, *s.kubernetes, [this, id] { changed(id); });
      }
    }
    for (auto& d : e.dns)
      d->start();
    if (e.kubernetes) e.kubernetes->start();
    // Services with inherited endpoints publish them at once (posted: never inside configure).
    if (e.has_inherited) boost::asio::post(io_, [this, id] { changed(id); });
  }
  update_ready(); // nothing discovered, or all of it handed over: ready at once
}

void Discovery::refresh_inherited(const std::map<std::string, Found>& latest) {
  for (auto& [id, e] : entries_) {
    if (!e->has_inherited) continue;
    auto it = latest.find(id);
    if (it == latest.end() || it->second.source != e->key) continue;
    e->inherited = it->second;
    changed(id);
  }
}

Found Discovery::found_of(const std::string&, const Entry& e) const {
  Found f;
  f.source = e.key;
  std::set<std::string> seen;
  auto add = [&](const config::Address& a) {
    if (seen.insert(a.text()).second) f.endpoints.push_back(a);
  };
  for (const auto& d : e.dns)
    for (const auto& a : d->addresses())
      add(a);
  if (e.kubernetes) {
    for (const auto& a : e.kubernetes->endpoints().endpoints)
      add(a);
    f.terminating = e.kubernetes->endpoints().terminating;
  }
  if (e.has_inherited && !e.all_answered()) {
    const std::set<std::string> own = seen; // what this process's sources found
    for (const auto& a : e.inherited.endpoints)
      add(a);
    // A pod the old process drained stays drained, unless a source here says it serves.
    for (const auto& t : e.inherited.terminating)
      if (!own.count(t)) f.terminating.insert(t);
  }
  std::sort(f.endpoints.begin(), f.endpoints.end(), address_less);
  return f;
}

void Discovery::changed(const std::string& service) {
  auto it = entries_.find(service);
  if (it == entries_.end()) return;
  Entry& e = *it->second;
  if (e.has_inherited && e.all_answered()) {
    e.has_inherited = false; // its own answers from now on
    e.inherited = {};
  }
  update_ready();
  publish_(service, found_of(service, e));
}

std::map<std::string, Found> Discovery::found() const {
  std::map<std::string, Found> out;
  for (const auto& [id, e] : entries_)
    out[id] = found_of(id, *e);
  return out;
}

std::string Discovery::not_ready() const {
  return ready_ ? std::string() : waiting_for();
}

void Discovery::update_ready() {
  if (!ready_ && waiting_for().empty()) ready_ = true;
}

std::string Discovery::waiting_for() const {
  std::string out;
  for (const auto& [id, e] : entries_) {
    if (e->has_inherited) continue; // the old process had answers: so does this one
    std::vector<SourceStatus> st = status(id);
    for (const auto& s : st) {
      if (s.answered) continue;
      out += id + ": waiting for " +
             (s.kind == "dns" ? "DNS name " + s.what
                              : "the first list of EndpointSlices (" + s.what + ")");
      if (!s.last_error.empty()) out += ": " + s.last_error;
      out += "\n";
    }
  }
  return out;
}

std::vector<SourceStatus> Discovery::status(const std::string& service) const {
  std::vector<SourceStatus> out;
  auto it = entries_.find(service);
  if (it == entries_.end()) return out;
  for (const auto& d : it->second->dns)
    out.push_back(d->status());
  if (it->second->kubernetes) out.push_back(it->second->kubernetes->status());
  if (!it->second->setup.last_error.empty()) out.push_back(it->second->setup);
  return out;
}

void Discovery::write_metrics(std::string& out) const {
  if (entries_.empty()) return;
  auto sample = [&](const char* name, const std::string& service, const char* label,
                    const std::string& what, uint64_t value) {
    out += name;
    out += "{service=\"";
    metrics::append_label_value(out, service);
    out += "\",";
    out += label;
    out += "=\"";
    metrics::append_label_value(out, what);
    out += "\"} " + std::to_string(value) + "\n";
  };
  bool dns = false, kubernetes = false;
  for (const auto& [id, e] : entries_) {
    dns = dns || !e->dns.empty();
    kubernetes = kubernetes || e->kubernetes || !e->setup.last_error.empty();
  }
  if (dns) {
    out += "# HELP weir_dns_failures_total Failed or empty DNS answers for a service's endpoint "
           "name (the last good addresses stay in use).\n# TYPE weir_dns_failures_total counter\n";
    for (const auto& [id, e] : entries_)
      for (const auto& d : e->dns)
        sample("weir_dns_failures_total", id, "name", d->name().text(), d->status().failures);
  }
  if (kubernetes) {
    out += "# HELP weir_kubernetes_failures_total Failed LIST or WATCH requests of a service's "
           "EndpointSlices (the last good endpoints stay in use).\n"
           "# TYPE weir_kubernetes_failures_total counter\n";
    for (const auto& [id, e] : entries_) {
      if (!e->kubernetes && e->setup.last_error.empty()) continue;
      // One Kubernetes Service per weir service: the service label says which.
      out += "weir_kubernetes_failures_total{service=\"";
      metrics::append_label_value(out, id);
      out += "\"} " +
             std::to_string(e->kubernetes ? e->kubernetes->status().failures : e->setup.failures) +
             "\n";
    }
  }
  out += "# HELP weir_discovered_endpoints Endpoints discovery found for a service now.\n"
         "# TYPE weir_discovered_endpoints gauge\n";
  for (const auto& [id, e] : entries_) {
    out += "weir_discovered_endpoints{service=\"";
    metrics::append_label_value(out, id);
    out += "\"} " + std::to_string(found_of(id, *e).endpoints.size()) + "\n";
  }
}

} // namespace weir::discovery
