#include "rule_translation.h"

#include "weir/config/loader.h"

#include <algorithm>
#include <map>

namespace weir::gateway {

namespace {

constexpr const char* kGatewayGroup = "gateway.networking.k8s.io";

struct Resolution {
  bool ok = false;
  Condition failure;
  std::string key; // ServiceUse::key
};

// Finds the EndpointSlice port of a Service port: its name when it has one (EndpointSlices carry
// the Service port's name), else the target port's number.
std::string slice_port(const Service& service, uint16_t port, config::KubernetesRef& ref) {
  for (const ServicePort& p : service.ports) {
    if (p.port != port) continue;
    if (!p.name.empty()) {
      ref.port_name = p.name;
      return "";
    }
    if (p.target_port_number != 0) {
      ref.port_number = p.target_port_number;
      return "";
    }
    return "port " + std::to_string(port) + " of Service " + service.meta.id() +
           " has no name and a named targetPort (" + p.target_port_name +
           "): weir picks the EndpointSlice port by name or number; name the Service port";
  }
  return "the Service " + service.meta.id() + " has no port " + std::to_string(port);
}

Resolution resolve(RuleContext& c, const BackendRef& b) {
  Resolution r;
  const std::string ns = b.ns.empty() ? c.route.meta.ns : b.ns;
  const std::string id = ns + "/" + b.name;
  if (!(b.group.empty() || b.group == "core") || b.kind != "Service") {
    r.failure = {false, "InvalidKind",
                 "backendRef " + b.kind + " " + id + ": weir sends to Services only"};
    return r;
  }
  if (ns != c.route.meta.ns && !reference_permitted(c.objects, c.route.meta.ns, ns, b.name)) {
    r.failure = {false, "RefNotPermitted",
                 "backendRef to Service " + id +
                     " in another namespace, and no ReferenceGrant in " + ns +
                     " lets HTTPRoutes of " + c.route.meta.ns + " refer to it"};
    return r;
  }
  if (!b.port) {
    r.failure = {false, "BackendNotFound", "backendRef to Service " + id + " has no port"};
    return r;
  }
  config::KubernetesRef ref;
  ref.service = b.name;
  auto service = std::find_if(c.objects.services.begin(), c.objects.services.end(),
                              [&](const Service& s) { return s.meta.id() == id; });
  if (service != c.objects.services.end()) {
    if (std::string why = slice_port(*service, *b.port, ref); !why.empty()) {
      r.failure = {false, "BackendNotFound", why};
      return r;
    }
  } else if (c.options.services_complete) {
    r.failure = {false, "BackendNotFound", "the Service " + id + " does not exist"};
    return r;
  } else {
    ref.port_number = *b.port; // assumed: targetPort = port
  }
  r.ok = true;
  r.key = std::string("\x01") + id + ":" + ref.port_text();
  if (std::none_of(c.uses.begin(), c.uses.end(),
                   [&](const ServiceUse& u) { return u.key == r.key; }))
    c.uses.push_back({r.key, ns, b.name, ref});
  return r;
}

bool redirect_status_ok(int s) {
  return s == 301 || s == 302 || s == 303 || s == 307 || s == 308;
}

} // namespace

bool reference_permitted(const Objects& objects, const std::string& from_ns,
                         const std::string& to_ns, const std::string& name) {
  for (const ReferenceGrant& g : objects.reference_grants) {
    if (g.meta.ns != to_ns) continue;
    const bool from = std::any_of(g.from.begin(), g.from.end(), [&](const ReferenceGrant::From& f) {
      return f.group == kGatewayGroup && f.kind == "HTTPRoute" && f.ns == from_ns;
    });
    const bool to = std::any_of(g.to.begin(), g.to.end(), [&](const ReferenceGrant::To& t) {
      return (t.group.empty() || t.group == "core") && t.kind == "Service" &&
             (t.name.empty() || t.name == name);
    });
    if (from && to) return true;
  }
  return false;
}

namespace {

// The rule as the HTTPRoute writes it, before weir's own checks.
RuleOutcome translate_as_written(RuleContext& c, size_t index) {
  const HTTPRouteRule& rule = c.route.rules[index];
  const std::string object = "HTTPRoute " + c.route.meta.id();
  const std::string field = "spec.rules[" + std::to_string(index) + "]";
  auto problem = [&](const std::string& where, const std::string& message) {
    c.problems.push_back({object, where, message, c.route.meta.source});
  };
  RuleOutcome out;
  auto give_up = [&](const std::string& where, const std::string& message) {
    problem(where, message + "; the rule is left out");
    out.unsupported = true;
    out.unsupported_message = where + ": " + message;
    return out;
  };
  config::Route& route = out.route;
  route.matches = rule.matches;
  if (route.matches.empty()) route.matches.emplace_back();

  for (const std::string& f : rule.unsupported_fields)
    problem(f, "weir has no equivalent; the rule is translated without it");

  config::Filters& filters = route.filters;
  for (const Filter& f : rule.filters) {
    if (f.type == "RequestHeaderModifier" || f.type == "ResponseHeaderModifier") {
      config::HeaderModifier& into =
          f.type == "RequestHeaderModifier" ? filters.request_headers : filters.response_headers;
      if (!into.empty()) return give_up(f.field, f.type + " is given twice");
      into = f.headers;
    } else if (f.type == "RequestRedirect") {
      if (!redirect_status_ok(f.redirect.status))
        return give_up(f.field + ".requestRedirect.statusCode",
                       "weir redirects with 301, 302, 303, 307 or 308, not " +
                           std::to_string(f.redirect.status));
      filters.redirect = f.redirect;
    } else if (f.type == "URLRewrite") {
      filters.rewrite = f.rewrite;
    } else if (f.type == "RequestMirror") {
      Resolution r = resolve(c, f.mirror_backend);
      if (!r.ok) {
        problem(f.field, r.failure.message + "; the rule is translated without the mirror");
        out.unresolved.push_back(r.failure);
      } else if (filters.mirror.enabled) {
        problem(f.field, "weir mirrors a route to one service; this second mirror is left out");
      } else {
        filters.mirror.enabled = true;
        filters.mirror.service = r.key;
        filters.mirror.percent = f.mirror_percent;
      }
    } else if (f.type == "CORS") {
      problem(f.field, "weir has no CORS filter; the rule is translated without it (no CORS "
                       "headers are added, so browsers refuse cross-origin answers)");
    } else {
      // ExtensionRef, ExternalAuth or a filter weir does not know: it may be what guards the
      // backend, so the rule is not served without it.
      return give_up(f.field + ".type", "weir has no " + f.type + " filter");
    }
  }
  if (filters.redirect.enabled && !filters.rewrite.empty())
    return give_up(field + ".filters", "RequestRedirect and URLRewrite together");
  const bool prefix_modifier =
      filters.redirect.path.type == config::PathModifier::Type::replace_prefix ||
      filters.rewrite.path.type == config::PathModifier::Type::replace_prefix;
  if (prefix_modifier && std::any_of(route.matches.begin(), route.matches.end(), [](const auto& m) {
        return m.path.type != config::PathMatch::Type::prefix;
      }))
    return give_up(field + ".filters",
                   "ReplacePrefixMatch needs every match of the rule to be a PathPrefix");

  if (rule.request_timeout)
    route.timeouts.request = route.timeouts.upstream_read = *rule.request_timeout;
  if (rule.backend_request_timeout) {
    if (route.timeouts.request.count() > 0 &&
        *rule.backend_request_timeout > route.timeouts.request)
      problem(field + ".timeouts.backendRequest",
              "is longer than timeouts.request; left out (the request's timeout bounds it)");
    else
      route.timeouts.backend_request = *rule.backend_request_timeout;
  }

  if (filters.redirect.enabled) return out; // weir answers itself; backendRefs are not used
  uint64_t left_out_weight = 0;
  for (size_t j = 0; j < rule.backend_refs.size(); ++j) {
    const BackendRef& b = rule.backend_refs[j];
    const std::string bf = field + ".backendRefs[" + std::to_string(j) + "]";
    Resolution r = resolve(c, b);
    if (!r.ok) {
      problem(bf, r.failure.message + "; the backend is left out");
      out.unresolved.push_back(r.failure);
      left_out_weight += b.weight;
      continue;
    }
    config::Backend backend;
    backend.service = r.key;
    backend.weight = b.weight;
    bool usable = true;
    for (const Filter& f : b.filters) {
      if (f.type == "RequestHeaderModifier" && backend.filters.request_headers.empty()) {
        backend.filters.request_headers = f.headers;
      } else if (f.type == "ResponseHeaderModifier" && backend.filters.response_headers.empty()) {
        backend.filters.response_headers = f.headers;
      } else if (f.type == "URLRewrite" && backend.filters.rewrite.empty()) {
        backend.filters.rewrite = f.rewrite;
      } else if (f.type == "CORS" || f.type == "RequestMirror") {
        problem(f.field, "weir has no " + f.type + " filter on a single backend; left out");
      } else {
        problem(f.field,
                "weir cannot apply " + f.type +
                    " to a single backend (or it is given twice); the backend is left out");
        usable = false;
      }
    }
    if (!usable) {
      left_out_weight += b.weight;
      continue;
    }
    auto same =
        std::find_if(route.backends.begin(), route.backends.end(),
                     [&](const config::Backend& x) { return x.service == backend.service; });
    if (same != route.backends.end()) {
      // weir lists a service once per route: the weights add up.
      if (!(same->filters == backend.filters))
        problem(bf, "names the same Service port as an earlier backendRef with other filters; "
                    "weir keeps the earlier one's filters and adds this one's weight to it");
      same->weight = std::min<uint64_t>(uint64_t{same->weight} + backend.weight, 1000000);
      continue;
    }
    route.backends.push_back(std::move(backend));
  }
  const bool any_weight = std::any_of(route.backends.begin(), route.backends.end(),
                                      [](const config::Backend& b) { return b.weight > 0; });
  if (left_out_weight > 0 && any_weight)
    problem(field + ".backendRefs",
            "Gateway API answers 500 to the share of requests of the backends left out (weight " +
                std::to_string(left_out_weight) + "); weir sends that share to the others");
  if (filters.mirror.enabled && route.backends.size() == 1 &&
      route.backends[0].service == filters.mirror.service) {
    problem(field + ".filters", "the RequestMirror goes to the rule's only backend, which would "
                                "get every request twice; the mirror is left out");
    filters.mirror = {};
  }
  return out;
}

// Why weir's config checks refuse the route a rule became ("" when they take it). The rule is
// written alone as a config file (its services as Kubernetes ones, one placeholder backend when it
// has none) and loaded: the controller's routes reach the data plane without a file, and must not
// carry what a file may not (a header value with a line break, a framing header set by a filter,
// a regular expression that does not compile), nor may `weir import` write it.
std::string refusal_of(const RuleContext& c, const config::Route& made) {
  Translation probe;
  config::Listener listener;
  listener.name = "probe";
  listener.address.host = "127.0.0.1";
  listener.address.port = 1;
  probe.listeners.push_back(std::move(listener));
  config::Route route = made;
  route.name = "probe";
  route.listener = "probe";
  std::map<std::string, std::string> ids;
  auto service_for = [&](const std::string& key) {
    auto [it, added] = ids.try_emplace(key);
    if (!added) return it->second;
    config::Service s;
    s.ns = "probe";
    s.name = "s" + std::to_string(ids.size());
    s.kubernetes = config::KubernetesRef{"probe", "", 80};
    for (const ServiceUse& u : c.uses)
      if (u.key == key) s.kubernetes = u.ref;
    it->second = s.id();
    probe.services.push_back(std::move(s));
    return it->second;
  };
  for (config::Backend& b : route.backends)
    b.service = service_for(b.service);
  if (route.filters.mirror.enabled)
    route.filters.mirror.service = service_for(route.filters.mirror.service);
  if (route.backends.empty() && !route.filters.redirect.enabled)
    route.backends.push_back({service_for(""), 1, {}});
  if (probe.services.empty()) service_for(""); // a config file lists at least one
  probe.routes.push_back(std::move(route));
  std::string text = render_yaml(probe, {});
  std::map<std::string, std::string>* cache = c.options.check_cache;
  if (cache)
    if (auto it = cache->find(text); it != cache->end()) return it->second;
  auto loaded = config::load_string(text, "");
  std::string why;
  if (const auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
    for (const config::ConfigError& e : *errors) {
      std::string where = e.key_path;
      if (where.starts_with("routes[0].")) where.erase(0, 10);
      why += (why.empty() ? "" : "; ") + (where.empty() ? "" : where + ": ") + e.message;
    }
  }
  if (cache) {
    if (cache->size() >= 20000) cache->clear(); // rules long gone are not kept for ever
    cache->emplace(std::move(text), why);
  }
  return why;
}

} // namespace

RuleOutcome translate_rule(RuleContext& c, size_t index) {
  RuleOutcome out = translate_as_written(c, index);
  if (out.unsupported) return out;
  if (std::string why = refusal_of(c, out.route); !why.empty()) {
    const std::string field = "spec.rules[" + std::to_string(index) + "]";
    const std::string message = "weir's config checks refuse what it becomes (" + why + ")";
    c.problems.push_back({"HTTPRoute " + c.route.meta.id(), field,
                          message + "; the rule is left out", c.route.meta.source});
    out.unsupported = true;
    out.unsupported_message = field + ": " + message;
  }
  return out;
}

} // namespace weir::gateway
