// A Translation written as a weir config file: the keys of README "Configuration", in the
// shapes the loader reads (yaml-cpp's emitter does the quoting).
#include "weir/config/duration.h"
#include "weir/gateway/translate.h"

#include <cmath>
#include <cstdio>
#include <yaml-cpp/yaml.h>

namespace weir::gateway {

namespace {

const char* path_type(config::PathMatch::Type t) {
  switch (t) {
  case config::PathMatch::Type::exact:
    return "Exact";
  case config::PathMatch::Type::prefix:
    return "PathPrefix";
  case config::PathMatch::Type::regex:
    return "RegularExpression";
  }
  return "PathPrefix";
}

void value_matches(YAML::Emitter& e, const char* key, const std::vector<config::ValueMatch>& list) {
  if (list.empty()) return;
  e << YAML::Key << key << YAML::Value << YAML::BeginSeq;
  for (const config::ValueMatch& m : list) {
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << m.name << YAML::Key
      << "value" << YAML::Value << m.value;
    if (m.type == config::ValueMatch::Type::regex)
      e << YAML::Key << "type" << YAML::Value << "RegularExpression";
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
}

// One alternative of just a host and a path prefix is written in the old keys, which every weir
// reads; anything else as the list of alternatives.
void matches(YAML::Emitter& e, const std::vector<config::Match>& list) {
  const config::Match none;
  if (list.size() == 1 && list[0].path.type == config::PathMatch::Type::prefix &&
      list[0].method.empty() && list[0].headers.empty() && list[0].query.empty()) {
    if (list[0] == none) return;
    e << YAML::Key << "match" << YAML::Value << YAML::Flow << YAML::BeginMap;
    if (!list[0].host.empty()) e << YAML::Key << "host" << YAML::Value << list[0].host;
    e << YAML::Key << "path_prefix" << YAML::Value << list[0].path.value << YAML::EndMap;
    return;
  }
  e << YAML::Key << "match" << YAML::Value << YAML::BeginSeq;
  for (const config::Match& m : list) {
    e << YAML::BeginMap;
    if (!m.host.empty()) e << YAML::Key << "host" << YAML::Value << m.host;
    e << YAML::Key << "path" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "type"
      << YAML::Value << path_type(m.path.type) << YAML::Key << "value" << YAML::Value
      << m.path.value << YAML::EndMap;
    if (!m.method.empty()) e << YAML::Key << "method" << YAML::Value << m.method;
    value_matches(e, "headers", m.headers);
    value_matches(e, "query", m.query);
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
}

void header_modifier(YAML::Emitter& e, const char* key, const config::HeaderModifier& m) {
  if (m.empty()) return;
  e << YAML::Key << key << YAML::Value << YAML::BeginMap;
  for (auto [name, list] : {std::pair{"set", &m.set}, std::pair{"add", &m.add}}) {
    if (list->empty()) continue;
    e << YAML::Key << name << YAML::Value << YAML::BeginSeq;
    for (const config::HeaderValue& h : *list)
      e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << h.name << YAML::Key
        << "value" << YAML::Value << h.value << YAML::EndMap;
    e << YAML::EndSeq;
  }
  if (!m.remove.empty()) e << YAML::Key << "remove" << YAML::Value << YAML::Flow << m.remove;
  e << YAML::EndMap;
}

void path_modifier(YAML::Emitter& e, const config::PathModifier& p) {
  if (p.type == config::PathModifier::Type::none) return;
  e << YAML::Key << "path" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
    << (p.type == config::PathModifier::Type::replace_full ? "replace_full" : "replace_prefix")
    << YAML::Value << p.value << YAML::EndMap;
}

void rewrite(YAML::Emitter& e, const config::Rewrite& r) {
  if (r.empty()) return;
  e << YAML::Key << "rewrite" << YAML::Value << YAML::BeginMap;
  if (!r.hostname.empty()) e << YAML::Key << "hostname" << YAML::Value << r.hostname;
  path_modifier(e, r.path);
  e << YAML::EndMap;
}

std::string percent_text(double p) {
  char buf[32];
  if (p == std::floor(p))
    std::snprintf(buf, sizeof buf, "%.0f%%", p);
  else
    std::snprintf(buf, sizeof buf, "%.4g%%", p);
  return buf;
}

void route_filters(YAML::Emitter& e, const config::Filters& f) {
  header_modifier(e, "request_headers", f.request_headers);
  header_modifier(e, "response_headers", f.response_headers);
  if (f.redirect.enabled) {
    const config::Redirect& r = f.redirect;
    e << YAML::Key << "redirect" << YAML::Value << YAML::BeginMap;
    if (!r.scheme.empty()) e << YAML::Key << "scheme" << YAML::Value << r.scheme;
    if (!r.hostname.empty()) e << YAML::Key << "hostname" << YAML::Value << r.hostname;
    if (r.port != 0) e << YAML::Key << "port" << YAML::Value << r.port;
    path_modifier(e, r.path);
    e << YAML::Key << "status" << YAML::Value << r.status << YAML::EndMap;
  }
  rewrite(e, f.rewrite);
  if (f.mirror.enabled)
    e << YAML::Key << "mirror" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
      << "service" << YAML::Value << f.mirror.service << YAML::Key << "percent" << YAML::Value
      << percent_text(f.mirror.percent) << YAML::EndMap;
}

void timeouts(YAML::Emitter& e, const config::Timeouts& t) {
  if (t.request.count() == 0 && t.backend_request.count() == 0) return;
  e << YAML::Key << "timeouts" << YAML::Value << YAML::Flow << YAML::BeginMap;
  if (t.request.count() > 0)
    e << YAML::Key << "request" << YAML::Value << config::format_duration(t.request);
  if (t.backend_request.count() > 0)
    e << YAML::Key << "backend_request" << YAML::Value
      << config::format_duration(t.backend_request);
  e << YAML::EndMap;
}

void route(YAML::Emitter& e, const config::Route& r) {
  e << YAML::BeginMap << YAML::Key << "name" << YAML::Value << r.name << YAML::Key << "listener"
    << YAML::Value << r.listener;
  matches(e, r.matches);
  if (!r.backends.empty() || !r.filters.redirect.enabled) {
    e << YAML::Key << "backends" << YAML::Value << YAML::BeginSeq;
    for (const config::Backend& b : r.backends) {
      const bool plain = b.filters == config::Filters{};
      if (plain) e << YAML::Flow;
      e << YAML::BeginMap << YAML::Key << "service" << YAML::Value << b.service << YAML::Key
        << "weight" << YAML::Value << b.weight;
      header_modifier(e, "request_headers", b.filters.request_headers);
      header_modifier(e, "response_headers", b.filters.response_headers);
      rewrite(e, b.filters.rewrite);
      e << YAML::EndMap;
    }
    e << YAML::EndSeq;
  }
  route_filters(e, r.filters);
  timeouts(e, r.timeouts);
  e << YAML::EndMap;
}

} // namespace

std::string render_yaml(const Translation& t, const RenderOptions& options) {
  YAML::Emitter e;
  e.SetIndent(2);
  e << YAML::BeginMap;
  e << YAML::Key << "kubernetes" << YAML::Value;
  if (options.kubernetes_api_server.empty() && options.kubernetes_token_file.empty() &&
      options.kubernetes_ca_file.empty()) {
    e << YAML::Flow << YAML::BeginMap << YAML::EndMap;
  } else {
    e << YAML::BeginMap;
    if (!options.kubernetes_api_server.empty())
      e << YAML::Key << "api_server" << YAML::Value << options.kubernetes_api_server;
    if (!options.kubernetes_token_file.empty())
      e << YAML::Key << "token_file" << YAML::Value << options.kubernetes_token_file;
    if (!options.kubernetes_ca_file.empty())
      e << YAML::Key << "ca_file" << YAML::Value << options.kubernetes_ca_file;
    e << YAML::EndMap;
  }
  e << YAML::Key << "listeners" << YAML::Value << YAML::BeginSeq;
  for (const config::Listener& l : t.listeners)
    e << YAML::Flow << YAML::BeginMap << YAML::Key << "name" << YAML::Value << l.name << YAML::Key
      << "address" << YAML::Value << l.address.text() << YAML::EndMap;
  e << YAML::EndSeq;
  e << YAML::Key << "services" << YAML::Value << YAML::BeginSeq;
  for (const config::Service& s : t.services) {
    e << YAML::BeginMap << YAML::Key << "namespace" << YAML::Value << s.ns << YAML::Key << "name"
      << YAML::Value << s.name;
    if (s.kubernetes)
      e << YAML::Key << "kubernetes" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key
        << "service" << YAML::Value << s.kubernetes->service << YAML::Key << "port" << YAML::Value
        << s.kubernetes->port_text() << YAML::EndMap;
    e << YAML::EndMap;
  }
  e << YAML::EndSeq;
  e << YAML::Key << "routes" << YAML::Value << YAML::BeginSeq;
  for (const config::Route& r : t.routes)
    route(e, r);
  e << YAML::EndSeq << YAML::EndMap;
  return std::string(e.c_str()) + "\n";
}

} // namespace weir::gateway
