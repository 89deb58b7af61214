#include "listener_attachment.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace weir::gateway {

namespace {

constexpr const char* kGatewayGroup = "gateway.networking.k8s.io";

// "*.example.com" covers "a.example.com", "a.b.example.com" and "*.a.example.com", not
// "example.com" itself.
bool covers(const std::string& wildcard, const std::string& host) {
  if (!wildcard.starts_with("*.")) return false;
  const std::string_view suffix = std::string_view(wildcard).substr(1); // ".example.com"
  return host.size() > suffix.size() && host.ends_with(suffix);
}

bool covered(const Options& options, const Gateway& g) {
  return options.gateway_classes.empty() || options.gateway_classes.contains(g.class_name);
}

std::string gateway_object(const Gateway& g) {
  return "Gateway " + g.meta.id();
}

bool namespace_allowed(const GatewayListener& l, const Gateway& g, const HTTPRoute& route,
                       const Objects& objects, std::string& why) {
  switch (l.from) {
  case GatewayListener::From::all:
    return true;
  case GatewayListener::From::same:
    if (route.meta.ns == g.meta.ns) return true;
    why = "listener " + l.name + " takes routes from its own namespace " + g.meta.ns + " only";
    return false;
  case GatewayListener::From::selector:
    for (const Namespace& n : objects.namespaces)
      if (n.meta.name == route.meta.ns) {
        if (l.selector.matches(n.meta.labels)) return true;
        why = "listener " + l.name + "'s namespace selector does not select " + route.meta.ns;
        return false;
      }
    why = "listener " + l.name + " selects namespaces by label, and the Namespace " +
          route.meta.ns + " is not among the objects";
    return false;
  }
  return false;
}

bool kind_allowed(const GatewayListener& l) {
  if (l.kinds.empty()) return true; // HTTP: HTTPRoute
  return std::any_of(l.kinds.begin(), l.kinds.end(), [](const RouteGroupKind& k) {
    return k.kind == "HTTPRoute" && (k.group.empty() || k.group == kGatewayGroup);
  });
}

} // namespace

ListenerMap map_listeners(const Objects& objects, const Options& options, Translation& out) {
  std::vector<const Gateway*> gateways;
  for (const Gateway& g : objects.gateways)
    if (covered(options, g)) gateways.push_back(&g);
  std::sort(gateways.begin(), gateways.end(), [](const Gateway* a, const Gateway* b) {
    return std::tie(a->meta.creation_timestamp, a->meta.ns, a->meta.name) <
           std::tie(b->meta.creation_timestamp, b->meta.ns, b->meta.name);
  });
  ListenerMap map;
  std::map<uint16_t, std::string> by_port = options.existing_listeners;
  std::set<std::string> names;
  for (const auto& [port, name] : options.existing_listeners)
    names.insert(name);
  for (const Gateway* g : gateways) {
    auto& slots = map.by_gateway[g->meta.id()];
    for (size_t i = 0; i < g->listeners.size(); ++i) {
      const GatewayListener& l = g->listeners[i];
      ListenerSlot slot{g, i, "", ""};
      if (l.protocol != "HTTP") {
        slot.unusable = "listener " + l.name + " is " + l.protocol + "; weir serves HTTP ones";
        out.problems.push_back(
            {gateway_object(*g), "spec.listeners[" + std::to_string(i) + "].protocol",
             "weir imports HTTP listeners only (an HTTPS listener's certificates are Secrets; "
             "give weir a listener with tls: {certificates: [{cert, key}]} by hand); routes "
             "attached to it are left out",
             g->meta.source});
      } else if (auto it = by_port.find(l.port); it != by_port.end()) {
        slot.weir_listener = it->second;
      } else {
        std::string name = g->meta.name + "-" + l.name;
        if (names.contains(name)) name = g->meta.ns + "-" + name;
        for (int n = 2; names.contains(name); ++n)
          name = g->meta.ns + "-" + g->meta.name + "-" + l.name + "-" + std::to_string(n);
        names.insert(name);
        by_port[l.port] = name;
        config::Listener made;
        made.name = name;
        made.address.host = options.listen_host;
        made.address.port = l.port;
        out.listeners.push_back(std::move(made));
        slot.weir_listener = name;
      }
      slots.push_back(std::move(slot));
    }
  }
  return map;
}

std::optional<std::vector<std::string>> intersect_hostnames(const std::string& listener,
                                                            const std::vector<std::string>& route) {
  if (route.empty()) return std::vector<std::string>{listener};
  if (listener.empty()) return route;
  std::vector<std::string> out;
  auto add = [&](const std::string& h) {
    if (std::find(out.begin(), out.end(), h) == out.end()) out.push_back(h);
  };
  for (const std::string& h : route) {
    if (h == listener || covers(listener, h))
      add(h);
    else if (covers(h, listener))
      add(listener);
  }
  if (out.empty()) return std::nullopt;
  return out;
}

std::optional<ParentOutcome> attach(const HTTPRoute& route, size_t index, const ListenerMap& map,
                                    const Objects& objects, const Options&,
                                    std::vector<Problem>& problems) {
  const ParentRef& written = route.parent_refs[index];
  const std::string field = "spec.parentRefs[" + std::to_string(index) + "]";
  const std::string object = "HTTPRoute " + route.meta.id();
  if (written.group != kGatewayGroup || written.kind != "Gateway") {
    problems.push_back({object, field,
                        "weir attaches HTTPRoutes to Gateways only, not to a " + written.kind +
                            " of group \"" + written.group + "\"",
                        route.meta.source});
    return std::nullopt;
  }
  ParentRef ref = written;
  if (ref.ns.empty()) ref.ns = route.meta.ns;
  const std::string id = ref.ns + "/" + ref.name;
  auto it = map.by_gateway.find(id);
  if (it == map.by_gateway.end()) {
    const bool exists = std::any_of(objects.gateways.begin(), objects.gateways.end(),
                                    [&](const Gateway& g) { return g.meta.id() == id; });
    if (!exists)
      problems.push_back({object, field,
                          "names the Gateway " + id + ", which is not among the objects",
                          route.meta.source});
    return std::nullopt;
  }
  ParentOutcome outcome;
  outcome.status.ref = ref;
  outcome.status.resolved_refs = {true, "ResolvedRefs", ""};
  bool any_candidate = false;
  bool hostname_failed = false;
  std::string why;
  for (const ListenerSlot& slot : it->second) {
    const GatewayListener& l = slot.gateway->listeners[slot.index];
    if (!ref.section_name.empty() && ref.section_name != l.name) continue;
    if (ref.port && *ref.port != l.port) continue;
    any_candidate = true;
    std::string reason;
    if (slot.weir_listener.empty()) {
      reason = slot.unusable;
    } else if (!namespace_allowed(l, *slot.gateway, route, objects, reason)) {
    } else if (!kind_allowed(l)) {
      reason = "listener " + l.name + " does not allow HTTPRoutes (allowedRoutes.kinds)";
    } else if (auto hosts = intersect_hostnames(l.hostname, route.hostnames)) {
      auto at = std::find_if(outcome.attachments.begin(), outcome.attachments.end(),
                             [&](const auto& a) { return a.first == slot.weir_listener; });
      if (at == outcome.attachments.end())
        at = outcome.attachments.insert(at, {slot.weir_listener, {}});
      for (const std::string& h : *hosts)
        if (std::find(at->second.begin(), at->second.end(), h) == at->second.end())
          at->second.push_back(h);
      continue;
    } else {
      hostname_failed = true;
      reason = "no hostname of the route matches listener " + l.name + "'s " + l.hostname;
    }
    why += (why.empty() ? "" : "; ") + reason;
  }
  if (!any_candidate) {
    std::string which = ref.section_name.empty() ? "" : " named " + ref.section_name;
    if (ref.port) which += " on port " + std::to_string(*ref.port);
    outcome.status.accepted = {false, "NoMatchingParent",
                               "the Gateway " + id + " has no listener" + which};
  } else if (outcome.attachments.empty()) {
    outcome.status.accepted = {
        false, hostname_failed ? "NoMatchingListenerHostname" : "NotAllowedByListeners", why};
  } else {
    outcome.status.accepted = {true, "Accepted", ""};
  }
  if (!outcome.status.accepted.status)
    problems.push_back({object, field,
                        "not attached to " + id + ": " + outcome.status.accepted.message,
                        route.meta.source});
  return outcome;
}

} // namespace weir::gateway
