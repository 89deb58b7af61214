// Gateway API objects → weir listeners, services and routes, with the HTTPRoute status the
// controller writes. The order of the output is the Gateway API's precedence order (HTTPRoutes
// by creationTimestamp, then "namespace/name"; rules in order), which weir's route table keeps
// for ties.
#include "weir/gateway/translate.h"

#include "listener_attachment.h"
#include "rule_translation.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

namespace weir::gateway {

namespace {

// weir service names: a Kubernetes Service used on one port keeps its name; one used on several
// ports gets one weir service per port, "<name>-<port>".
void name_services(Translation& out, const std::vector<ServiceUse>& uses) {
  std::map<std::pair<std::string, std::string>, std::set<std::string>> ports;
  for (const ServiceUse& u : uses)
    ports[{u.ns, u.service}].insert(u.ref.port_text());
  std::map<std::string, std::string> id_of; // placeholder key → "ns/name"
  std::set<std::string> made;
  for (const ServiceUse& u : uses) {
    const bool several = ports[{u.ns, u.service}].size() > 1;
    config::Service s;
    s.ns = u.ns;
    s.name = several ? u.service + "-" + u.ref.port_text() : u.service;
    s.kubernetes = u.ref;
    id_of[u.key] = s.id();
    if (made.insert(s.id()).second) out.services.push_back(std::move(s));
  }
  std::sort(out.services.begin(), out.services.end(),
            [](const config::Service& a, const config::Service& b) { return a.id() < b.id(); });
  for (config::Route& r : out.routes) {
    for (config::Backend& b : r.backends)
      if (auto it = id_of.find(b.service); it != id_of.end()) b.service = it->second;
    if (auto it = id_of.find(r.filters.mirror.service); it != id_of.end())
      r.filters.mirror.service = it->second;
  }
}

// What makes two alternatives the same for routing, as weir's loader sees it: the host, the path
// (a PathPrefix without its trailing '/'), the method, and the header and query conditions in
// any order.
std::string alternative_key(const config::Match& m) {
  std::string key = m.host + '\0' + std::to_string(static_cast<int>(m.path.type)) + '\0';
  std::string_view path = m.path.value;
  if (m.path.type == config::PathMatch::Type::prefix)
    while (!path.empty() && path.back() == '/')
      path.remove_suffix(1);
  key.append(path).append(1, '\0').append(m.method).append(1, '\0');
  for (const auto* list : {&m.headers, &m.query}) {
    std::vector<std::string> conditions;
    for (const config::ValueMatch& v : *list)
      conditions.push_back(std::to_string(static_cast<int>(v.type)) +
                           std::to_string(v.name.size()) + ":" + v.name +
                           std::to_string(v.value.size()) + ":" + v.value);
    std::sort(conditions.begin(), conditions.end());
    for (const std::string& c : conditions)
      key.append(c);
    key.push_back('\0');
  }
  return key;
}

// A weir route holds at most this many alternatives (as HTTPRoute's 64 matches of a rule); a
// rule's matches crossed with its hostnames may be more, spread over consecutive routes.
constexpr size_t kMaxAlternatives = 64;

// "ns-route-0", made unique should two routes' names meet ("a-b" + "c" and "a" + "b-c").
std::string unique_name(std::set<std::string>& used, const std::string& base) {
  std::string name = base;
  for (int n = 2; !used.insert(name).second; ++n)
    name = base + "-" + std::to_string(n);
  return name;
}

} // namespace

Translation translate(const Objects& objects, const Options& options) {
  Translation out;
  ListenerMap listeners = map_listeners(objects, options, out);

  std::vector<const HTTPRoute*> routes;
  for (const HTTPRoute& r : objects.http_routes)
    routes.push_back(&r);
  std::sort(routes.begin(), routes.end(), [](const HTTPRoute* a, const HTTPRoute* b) {
    return std::tie(a->meta.creation_timestamp, a->meta.ns, a->meta.name) <
           std::tie(b->meta.creation_timestamp, b->meta.ns, b->meta.name);
  });

  std::vector<ServiceUse> uses;
  std::set<std::string> route_names;
  // (weir listener, alternative_key) → the HTTPRoute rule whose route has it.
  std::map<std::pair<std::string, std::string>, std::string> owners;
  for (const HTTPRoute* route : routes) {
    RouteStatus status{route->meta.ns, route->meta.name, route->meta.generation, {}};
    // Where the route's rules go: weir listener → the hostnames it serves there ("" any).
    std::map<std::string, std::vector<std::string>> attached;
    std::vector<std::string> attached_order;
    for (size_t p = 0; p < route->parent_refs.size(); ++p) {
      auto parent = attach(*route, p, listeners, objects, options, out.problems);
      if (!parent) continue;
      for (const auto& [weir_listener, hosts] : parent->attachments) {
        auto [it, inserted] = attached.try_emplace(weir_listener);
        if (inserted) attached_order.push_back(weir_listener);
        for (const std::string& h : hosts)
          if (std::find(it->second.begin(), it->second.end(), h) == it->second.end())
            it->second.push_back(h);
      }
      status.parents.push_back(std::move(parent->status));
    }
    for (auto& [name, hosts] : attached)
      if (std::find(hosts.begin(), hosts.end(), "") != hosts.end()) hosts = {""};

    RuleContext context{objects, options, *route, out.problems, uses};
    std::vector<RuleOutcome> rules;
    for (size_t i = 0; i < route->rules.size(); ++i)
      rules.push_back(translate_rule(context, i));

    Condition resolved{true, "ResolvedRefs", ""};
    for (const RuleOutcome& r : rules) {
      for (const Condition& c : r.unresolved) {
        if (resolved.status) resolved = {false, c.reason, ""};
        resolved.message += (resolved.message.empty() ? "" : "; ") + c.message;
      }
    }
    const bool any_rule =
        route->rules.empty() || std::any_of(rules.begin(), rules.end(),
                                            [](const RuleOutcome& r) { return !r.unsupported; });
    for (ParentStatus& ps : status.parents) {
      ps.resolved_refs = resolved;
      if (ps.accepted.status && !any_rule)
        ps.accepted = {false, "UnsupportedValue",
                       "no rule of the route can be expressed by weir: " +
                           rules.front().unsupported_message};
    }

    if (!attached.empty()) {
      for (size_t i = 0; i < rules.size(); ++i) {
        RuleOutcome& r = rules[i];
        if (r.unsupported) continue;
        if (r.route.backends.empty() && !r.route.filters.redirect.enabled &&
            !options.routes_without_backends) {
          out.problems.push_back(
              {"HTTPRoute " + route->meta.id(), "spec.rules[" + std::to_string(i) + "]",
               "no backend weir may send to (Gateway API answers these requests with 500); a "
               "weir config file cannot hold a route without backends, so the rule is left "
               "out and its requests go to the next matching route, if any",
               route->meta.source});
          continue;
        }
        const std::string object = "HTTPRoute " + route->meta.id();
        const std::string field = "spec.rules[" + std::to_string(i) + "]";
        const std::string base = options.route_name_prefix + route->meta.ns + "-" +
                                 route->meta.name + "-" + std::to_string(i);
        for (const std::string& weir_listener : attached_order) {
          config::Route made = r.route;
          made.listener = weir_listener;
          made.name = unique_name(route_names,
                                  attached_order.size() > 1 ? base + "-" + weir_listener : base);
          made.matches.clear();
          // An alternative an earlier route (an older HTTPRoute, an earlier rule) has on the
          // listener is that route's: weir's precedence keeps config order on ties, as the
          // Gateway API does, and a config file may not list it twice.
          std::set<std::string> earlier;
          for (const std::string& host : attached[weir_listener]) {
            for (const config::Match& m : r.route.matches) {
              config::Match alt = m;
              alt.host = host;
              auto [owner, added] =
                  owners.try_emplace({weir_listener, alternative_key(alt)}, object + " " + field);
              if (!added) {
                if (owner->second != object + " " + field) earlier.insert(owner->second);
                continue;
              }
              made.matches.push_back(std::move(alt));
            }
          }
          if (!earlier.empty()) {
            std::string owners_text;
            for (const std::string& o : earlier)
              owners_text += (owners_text.empty() ? "" : ", ") + o;
            out.problems.push_back(
                {object, field,
                 std::string(made.matches.empty() ? "every match" : "some matches") +
                     " (hostname, path, method, headers, query) on listener " + weir_listener +
                     " are also those of " + owners_text +
                     ", which comes first in the Gateway API's order and takes their requests",
                 route->meta.source});
          }
          for (size_t first = 0; first < made.matches.size(); first += kMaxAlternatives) {
            config::Route part = made;
            part.matches.assign(made.matches.begin() + static_cast<ptrdiff_t>(first),
                                made.matches.begin() +
                                    static_cast<ptrdiff_t>(
                                        std::min(made.matches.size(), first + kMaxAlternatives)));
            if (first > 0)
              part.name = unique_name(
                  route_names, made.name + "-" + std::to_string(first / kMaxAlternatives + 1));
            out.routes.push_back(std::move(part));
          }
        }
      }
    }
    if (!status.parents.empty()) out.route_statuses.push_back(std::move(status));
  }
  // Services used only by rules that were left out are not written.
  std::set<std::string> used;
  for (const config::Route& r : out.routes) {
    for (const config::Backend& b : r.backends)
      used.insert(b.service);
    if (r.filters.mirror.enabled) used.insert(r.filters.mirror.service);
  }
  std::erase_if(uses, [&](const ServiceUse& u) { return !used.contains(u.key); });
  name_services(out, uses);
  return out;
}

} // namespace weir::gateway
