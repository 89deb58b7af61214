// Reading Gateway API objects (and the Services and Namespaces they name) from YAML or JSON
// nodes into the plain structs of gateway/translate.h. Input is whatever a user or the API server
// wrote: every field is type-checked before use and yaml-cpp's exceptions stop here.
#include "object_reader.h"
#include "weir/gateway/translate.h"

#include <algorithm>
#include <charconv>
#include <yaml-cpp/yaml.h>

namespace weir::gateway {

namespace {

constexpr std::string_view kGatewayGroup = "gateway.networking.k8s.io";

// The API versions weir reads of each kind (v1alpha2 ReferenceGrant: older clusters and the
// conformance suite still write it).
bool version_supported(std::string_view kind, std::string_view api_version) {
  if (kind == "Service" || kind == "Namespace") return api_version == "v1";
  if (!api_version.starts_with(kGatewayGroup) || api_version.size() <= kGatewayGroup.size() ||
      api_version[kGatewayGroup.size()] != '/')
    return false;
  const std::string_view version = api_version.substr(kGatewayGroup.size() + 1);
  if (kind == "ReferenceGrant")
    return version == "v1" || version == "v1beta1" || version == "v1alpha2";
  return version == "v1" || version == "v1beta1";
}

// One object being read: where problems go and how they name the object.
class ObjectReader {
public:
  ObjectReader(const ObjectMeta& meta, std::vector<Problem>& problems)
      : meta_(meta), problems_(problems) {}

  void fail(const std::string& field, const std::string& message) {
    problems_.push_back({meta_.kind + " " + meta_.id(), field, message, meta_.source});
    ok_ = false;
  }
  // Recorded as a problem without making the object unreadable.
  void unsupported(const std::string& field, const std::string& message) {
    problems_.push_back({meta_.kind + " " + meta_.id(), field, message, meta_.source});
  }
  bool ok() const { return ok_; }

  std::optional<std::string> string(const YAML::Node& node, const std::string& field) {
    if (node.IsScalar()) return node.Scalar();
    fail(field, "expected a string");
    return std::nullopt;
  }
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& field, int64_t low,
                                 int64_t high) {
    if (node.IsScalar()) {
      const std::string& s = node.Scalar();
      int64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && end == s.data() + s.size() && v >= low && v <= high) return v;
    }
    fail(field, "expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
    return std::nullopt;
  }
  // A list (absent or null: empty).
  std::vector<YAML::Node> list(const YAML::Node& node, const std::string& field) {
    std::vector<YAML::Node> out;
    if (node.IsNull()) return out;
    if (!node.IsSequence()) {
      fail(field, "expected a list");
      return out;
    }
    for (const auto& element : node)
      out.push_back(element);
    return out;
  }
  bool map(const YAML::Node& node, const std::string& field) {
    if (node.IsMap()) return true;
    fail(field, "expected a map");
    return false;
  }

private:
  const ObjectMeta& meta_;
  std::vector<Problem>& problems_;
  bool ok_ = true;
};

// node[key], or a null node when `node` is no map or has no such key (yaml-cpp throws when a
// missing key's node is looked at).
YAML::Node get(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return YAML::Node();
  const YAML::Node child = node[key];
  return child.IsDefined() ? child : YAML::Node();
}

std::string at(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return s;
}

// Gateway API durations (GEP-2257): up to four groups of 1-5 digits and h, m, s or ms.
std::optional<config::Duration> parse_gateway_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t total_ms = 0;
  int groups = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t digits = 0;
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 6) {
      n = n * 10 + (s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 5 || i >= s.size() || ++groups > 4) return std::nullopt;
    if (s.substr(i).starts_with("ms")) {
      total_ms += n;
      i += 2;
    } else if (s[i] == 'h') {
      total_ms += n * 3600000;
      ++i;
    } else if (s[i] == 'm') {
      total_ms += n * 60000;
      ++i;
    } else if (s[i] == 's') {
      total_ms += n * 1000;
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return config::Duration(total_ms);
}

ObjectMeta read_meta(const YAML::Node& object, const std::string& source) {
  ObjectMeta meta;
  meta.source = source;
  if (get(object, "apiVersion").IsScalar()) meta.api_version = get(object, "apiVersion").Scalar();
  if (get(object, "kind").IsScalar()) meta.kind = get(object, "kind").Scalar();
  const YAML::Node m = get(object, "metadata");
  if (m.IsMap()) {
    if (get(m, "name").IsScalar()) meta.name = get(m, "name").Scalar();
    if (get(m, "namespace").IsScalar()) meta.ns = get(m, "namespace").Scalar();
    if (get(m, "generation").IsScalar()) {
      const std::string& g = get(m, "generation").Scalar();
      std::from_chars(g.data(), g.data() + g.size(), meta.generation);
    }
    if (get(m, "creationTimestamp").IsScalar())
      meta.creation_timestamp = get(m, "creationTimestamp").Scalar();
    if (get(m, "resourceVersion").IsScalar())
      meta.resource_version = get(m, "resourceVersion").Scalar();
    if (get(m, "labels").IsMap())
      for (const auto& kv : get(m, "labels"))
        if (kv.first.IsScalar() && kv.second.IsScalar())
          meta.labels[kv.first.Scalar()] = kv.second.Scalar();
  }
  if (meta.ns.empty() && meta.kind != "Namespace" && meta.kind != "GatewayClass")
    meta.ns = "default";
  return meta;
}

void read_selector(ObjectReader& r, const YAML::Node& node, const std::string& field,
                   LabelSelector& selector) {
  if (node.IsNull()) return;
  if (!r.map(node, field)) return;
  if (get(node, "matchLabels").IsMap()) {
    for (const auto& kv : get(node, "matchLabels"))
      if (kv.first.IsScalar() && kv.second.IsScalar())
        selector.match_labels[kv.first.Scalar()] = kv.second.Scalar();
  }
  const std::string ef = field + ".matchExpressions";
  const auto expressions = r.list(get(node, "matchExpressions"), ef);
  for (size_t i = 0; i < expressions.size(); ++i) {
    const YAML::Node& e = expressions[i];
    if (!r.map(e, at(ef, i))) continue;
    LabelSelector::Expression x;
    if (auto k = r.string(get(e, "key"), at(ef, i) + ".key")) x.key = *k;
    if (auto o = r.string(get(e, "operator"), at(ef, i) + ".operator")) x.op = *o;
    if (x.op != "In" && x.op != "NotIn" && x.op != "Exists" && x.op != "DoesNotExist")
      r.fail(at(ef, i) + ".operator", "expected In, NotIn, Exists or DoesNotExist");
    for (const auto& v : r.list(get(e, "values"), at(ef, i) + ".values"))
      if (v.IsScalar()) x.values.push_back(v.Scalar());
    selector.match_expressions.push_back(std::move(x));
  }
}

void read_gateway_class(ObjectReader& r, const YAML::Node& spec, GatewayClass& out) {
  if (auto c = r.string(get(spec, "controllerName"), "spec.controllerName"))
    out.controller_name = *c;
}

void read_gateway(ObjectReader& r, const YAML::Node& spec, Gateway& out) {
  if (auto c = r.string(get(spec, "gatewayClassName"), "spec.gatewayClassName"))
    out.class_name = *c;
  const auto listeners = r.list(get(spec, "listeners"), "spec.listeners");
  for (size_t i = 0; i < listeners.size(); ++i) {
    const std::string f = at("spec.listeners", i);
    const YAML::Node& l = listeners[i];
    if (!r.map(l, f)) continue;
    GatewayListener listener;
    if (auto n = r.string(get(l, "name"), f + ".name")) listener.name = *n;
    if (auto p = r.integer(get(l, "port"), f + ".port", 1, 65535))
      listener.port = static_cast<uint16_t>(*p);
    if (auto p = r.string(get(l, "protocol"), f + ".protocol")) listener.protocol = *p;
    if (!get(l, "hostname").IsNull())
      if (auto h = r.string(get(l, "hostname"), f + ".hostname")) listener.hostname = lower(*h);
    const YAML::Node allowed = get(l, "allowedRoutes");
    if (allowed.IsMap()) {
      const YAML::Node ns = get(allowed, "namespaces");
      if (ns.IsMap() && !get(ns, "from").IsNull()) {
        auto from = r.string(get(ns, "from"), f + ".allowedRoutes.namespaces.from");
        if (from == "All")
          listener.from = GatewayListener::From::all;
        else if (from == "Selector")
          listener.from = GatewayListener::From::selector;
        else if (from && from != "Same")
          r.fail(f + ".allowedRoutes.namespaces.from", "expected Same, All or Selector");
        read_selector(r, get(ns, "selector"), f + ".allowedRoutes.namespaces.selector",
                      listener.selector);
      }
      const auto kinds = r.list(get(allowed, "kinds"), f + ".allowedRoutes.kinds");
      for (size_t k = 0; k < kinds.size(); ++k) {
        if (!r.map(kinds[k], at(f + ".allowedRoutes.kinds", k))) continue;
        RouteGroupKind gk;
        if (get(kinds[k], "group").IsScalar()) gk.group = get(kinds[k], "group").Scalar();
        if (auto kind =
                r.string(get(kinds[k], "kind"), at(f + ".allowedRoutes.kinds", k) + ".kind"))
          gk.kind = *kind;
        listener.kinds.push_back(std::move(gk));
      }
    }
    out.listeners.push_back(std::move(listener));
  }
}

std::optional<ParentRef> read_parent_ref(ObjectReader& r, const YAML::Node& p,
                                         const std::string& f) {
  if (!r.map(p, f)) return std::nullopt;
  ParentRef ref;
  if (get(p, "group").IsScalar()) ref.group = get(p, "group").Scalar();
  if (get(p, "kind").IsScalar()) ref.kind = get(p, "kind").Scalar();
  if (get(p, "namespace").IsScalar()) ref.ns = get(p, "namespace").Scalar();
  if (auto n = r.string(get(p, "name"), f + ".name")) ref.name = *n;
  if (get(p, "sectionName").IsScalar()) ref.section_name = get(p, "sectionName").Scalar();
  if (!get(p, "port").IsNull())
    if (auto port = r.integer(get(p, "port"), f + ".port", 1, 65535))
      ref.port = static_cast<uint16_t>(*port);
  return ref;
}

void read_backend_ref(ObjectReader& r, const YAML::Node& b, const std::string& f, BackendRef& ref,
                      bool with_weight);
void read_filter_list(ObjectReader& r, const YAML::Node& node, const std::string& f,
                      std::vector<Filter>& out, bool backend_level);

void read_value_matches(ObjectReader& r, const YAML::Node& node, const std::string& f, bool headers,
                        std::vector<config::ValueMatch>& out) {
  const auto list = r.list(node, f);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string ef = at(f, i);
    if (!r.map(list[i], ef)) continue;
    config::ValueMatch m;
    if (!get(list[i], "type").IsNull()) {
      auto t = r.string(get(list[i], "type"), ef + ".type");
      if (t == "RegularExpression")
        m.type = config::ValueMatch::Type::regex;
      else if (t && t != "Exact")
        r.fail(ef + ".type", "expected Exact or RegularExpression");
    }
    if (auto n = r.string(get(list[i], "name"), ef + ".name")) m.name = headers ? lower(*n) : *n;
    if (auto v = r.string(get(list[i], "value"), ef + ".value")) m.value = *v;
    out.push_back(std::move(m));
  }
}

void read_match(ObjectReader& r, const YAML::Node& node, const std::string& f,
                config::Match& match) {
  if (!r.map(node, f)) return;
  const YAML::Node path = get(node, "path");
  if (!path.IsNull() && r.map(path, f + ".path")) {
    if (!get(path, "type").IsNull()) {
      auto t = r.string(get(path, "type"), f + ".path.type");
      if (t == "Exact")
        match.path.type = config::PathMatch::Type::exact;
      else if (t == "RegularExpression")
        match.path.type = config::PathMatch::Type::regex;
      else if (t && t != "PathPrefix")
        r.fail(f + ".path.type", "expected Exact, PathPrefix or RegularExpression");
    }
    if (!get(path, "value").IsNull())
      if (auto v = r.string(get(path, "value"), f + ".path.value")) match.path.value = *v;
  }
  read_value_matches(r, get(node, "headers"), f + ".headers", true, match.headers);
  read_value_matches(r, get(node, "queryParams"), f + ".queryParams", false, match.query);
  if (!get(node, "method").IsNull())
    if (auto m = r.string(get(node, "method"), f + ".method")) match.method = *m;
}

void read_header_modifier(ObjectReader& r, const YAML::Node& node, const std::string& f,
                          config::HeaderModifier& out) {
  if (!r.map(node, f)) return;
  for (auto [key, into] : {std::pair{"set", &out.set}, std::pair{"add", &out.add}}) {
    const auto list = r.list(get(node, key), f + "." + key);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!r.map(list[i], at(f + "." + key, i))) continue;
      config::HeaderValue h;
      if (auto n = r.string(get(list[i], "name"), at(f + "." + key, i) + ".name")) h.name = *n;
      if (auto v = r.string(get(list[i], "value"), at(f + "." + key, i) + ".value")) h.value = *v;
      into->push_back(std::move(h));
    }
  }
  for (const auto& n : r.list(get(node, "remove"), f + ".remove"))
    if (n.IsScalar()) out.remove.push_back(lower(n.Scalar()));
}

void read_path_modifier(ObjectReader& r, const YAML::Node& node, const std::string& f,
                        config::PathModifier& out) {
  if (node.IsNull() || !r.map(node, f)) return;
  auto type = r.string(get(node, "type"), f + ".type");
  if (type == "ReplaceFullPath") {
    out.type = config::PathModifier::Type::replace_full;
    if (auto v = r.string(get(node, "replaceFullPath"), f + ".replaceFullPath")) out.value = *v;
  } else if (type == "ReplacePrefixMatch") {
    out.type = config::PathModifier::Type::replace_prefix;
    if (auto v = r.string(get(node, "replacePrefixMatch"), f + ".replacePrefixMatch"))
      out.value = *v;
  } else if (type) {
    r.fail(f + ".type", "expected ReplaceFullPath or ReplacePrefixMatch");
  }
}

void read_filter(ObjectReader& r, const YAML::Node& node, const std::string& f, Filter& out) {
  out.field = f;
  if (!r.map(node, f)) return;
  auto type = r.string(get(node, "type"), f + ".type");
  if (!type) return;
  out.type = *type;
  if (*type == "RequestHeaderModifier") {
    read_header_modifier(r, get(node, "requestHeaderModifier"), f + ".requestHeaderModifier",
                         out.headers);
  } else if (*type == "ResponseHeaderModifier") {
    read_header_modifier(r, get(node, "responseHeaderModifier"), f + ".responseHeaderModifier",
                         out.headers);
  } else if (*type == "RequestRedirect") {
    const YAML::Node rr = get(node, "requestRedirect");
    const std::string rf = f + ".requestRedirect";
    if (!r.map(rr, rf)) return;
    out.redirect.enabled = true;
    if (!get(rr, "scheme").IsNull())
      if (auto s = r.string(get(rr, "scheme"), rf + ".scheme")) out.redirect.scheme = lower(*s);
    if (!get(rr, "hostname").IsNull())
      if (auto h = r.string(get(rr, "hostname"), rf + ".hostname"))
        out.redirect.hostname = lower(*h);
    if (!get(rr, "port").IsNull())
      if (auto p = r.integer(get(rr, "port"), rf + ".port", 1, 65535))
        out.redirect.port = static_cast<uint16_t>(*p);
    if (!get(rr, "statusCode").IsNull())
      if (auto s = r.integer(get(rr, "statusCode"), rf + ".statusCode", 100, 599))
        out.redirect.status = static_cast<int>(*s);
    read_path_modifier(r, get(rr, "path"), rf + ".path", out.redirect.path);
  } else if (*type == "URLRewrite") {
    const YAML::Node u = get(node, "urlRewrite");
    const std::string uf = f + ".urlRewrite";
    if (!r.map(u, uf)) return;
    if (!get(u, "hostname").IsNull())
      if (auto h = r.string(get(u, "hostname"), uf + ".hostname")) out.rewrite.hostname = lower(*h);
    read_path_modifier(r, get(u, "path"), uf + ".path", out.rewrite.path);
  } else if (*type == "RequestMirror") {
    const YAML::Node m = get(node, "requestMirror");
    const std::string mf = f + ".requestMirror";
    if (!r.map(m, mf)) return;
    read_backend_ref(r, get(m, "backendRef"), mf + ".backendRef", out.mirror_backend, false);
    if (!get(m, "percent").IsNull()) {
      if (auto p = r.integer(get(m, "percent"), mf + ".percent", 0, 100))
        out.mirror_percent = static_cast<double>(*p);
    } else if (get(m, "fraction").IsMap()) {
      auto num =
          r.integer(get(get(m, "fraction"), "numerator"), mf + ".fraction.numerator", 0, 1000000);
      int64_t den = 100;
      if (!get(get(m, "fraction"), "denominator").IsNull())
        if (auto d = r.integer(get(get(m, "fraction"), "denominator"), mf + ".fraction.denominator",
                               1, 1000000))
          den = *d;
      if (num && *num > den)
        r.fail(mf + ".fraction", "the numerator is larger than the denominator");
      else if (num)
        out.mirror_percent = 100.0 * static_cast<double>(*num) / static_cast<double>(den);
    }
  }
  // Other types (ExtensionRef, CORS, ExternalAuth, ...) are kept by name; the translator
  // decides whether the rule can do without them.
}

void read_filter_list(ObjectReader& r, const YAML::Node& node, const std::string& f,
                      std::vector<Filter>& out, bool) {
  const auto list = r.list(node, f);
  for (size_t i = 0; i < list.size(); ++i)
    read_filter(r, list[i], at(f, i), out.emplace_back());
}

void read_backend_ref(ObjectReader& r, const YAML::Node& b, const std::string& f, BackendRef& ref,
                      bool with_weight) {
  if (!r.map(b, f)) return;
  if (get(b, "group").IsScalar()) ref.group = get(b, "group").Scalar();
  if (get(b, "kind").IsScalar()) ref.kind = get(b, "kind").Scalar();
  if (auto n = r.string(get(b, "name"), f + ".name")) ref.name = *n;
  if (get(b, "namespace").IsScalar()) ref.ns = get(b, "namespace").Scalar();
  if (!get(b, "port").IsNull())
    if (auto p = r.integer(get(b, "port"), f + ".port", 1, 65535))
      ref.port = static_cast<uint16_t>(*p);
  if (with_weight && !get(b, "weight").IsNull())
    if (auto w = r.integer(get(b, "weight"), f + ".weight", 0, 1000000))
      ref.weight = static_cast<uint32_t>(*w);
  read_filter_list(r, get(b, "filters"), f + ".filters", ref.filters, true);
}

void read_http_route(ObjectReader& r, const YAML::Node& spec, HTTPRoute& out) {
  const auto parents = r.list(get(spec, "parentRefs"), "spec.parentRefs");
  for (size_t i = 0; i < parents.size(); ++i)
    if (auto p = read_parent_ref(r, parents[i], at("spec.parentRefs", i)))
      out.parent_refs.push_back(std::move(*p));
  const auto hostnames = r.list(get(spec, "hostnames"), "spec.hostnames");
  for (size_t i = 0; i < hostnames.size(); ++i)
    if (auto h = r.string(hostnames[i], at("spec.hostnames", i)))
      out.hostnames.push_back(lower(*h));
  const auto rules = r.list(get(spec, "rules"), "spec.rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string f = at("spec.rules", i);
    const YAML::Node& node = rules[i];
    HTTPRouteRule& rule = out.rules.emplace_back();
    if (!r.map(node, f)) continue;
    if (get(node, "name").IsScalar()) rule.name = get(node, "name").Scalar();
    const auto matches = r.list(get(node, "matches"), f + ".matches");
    for (size_t m = 0; m < matches.size(); ++m)
      read_match(r, matches[m], at(f + ".matches", m), rule.matches.emplace_back());
    read_filter_list(r, get(node, "filters"), f + ".filters", rule.filters, false);
    const auto backends = r.list(get(node, "backendRefs"), f + ".backendRefs");
    for (size_t b = 0; b < backends.size(); ++b)
      read_backend_ref(r, backends[b], at(f + ".backendRefs", b), rule.backend_refs.emplace_back(),
                       true);
    const YAML::Node timeouts = get(node, "timeouts");
    if (!timeouts.IsNull() && r.map(timeouts, f + ".timeouts")) {
      for (auto [key, into] : {std::pair{"request", &rule.request_timeout},
                               std::pair{"backendRequest", &rule.backend_request_timeout}}) {
        if (get(timeouts, key).IsNull()) continue;
        auto text = r.string(get(timeouts, key), f + ".timeouts." + key);
        if (!text) continue;
        if (auto d = parse_gateway_duration(*text))
          *into = *d;
        else
          r.fail(f + ".timeouts." + key, "expected a duration such as 10s, 500ms or 1h30m, got \"" +
                                             text->substr(0, 40) + "\"");
      }
    }
    for (const char* key : {"sessionPersistence", "retry"})
      if (!get(node, key).IsNull()) rule.unsupported_fields.push_back(f + "." + key);
  }
}

void read_reference_grant(ObjectReader& r, const YAML::Node& spec, ReferenceGrant& out) {
  const auto from = r.list(get(spec, "from"), "spec.from");
  for (size_t i = 0; i < from.size(); ++i) {
    if (!r.map(from[i], at("spec.from", i))) continue;
    ReferenceGrant::From f;
    if (get(from[i], "group").IsScalar()) f.group = get(from[i], "group").Scalar();
    if (auto k = r.string(get(from[i], "kind"), at("spec.from", i) + ".kind")) f.kind = *k;
    if (auto n = r.string(get(from[i], "namespace"), at("spec.from", i) + ".namespace")) f.ns = *n;
    out.from.push_back(std::move(f));
  }
  const auto to = r.list(get(spec, "to"), "spec.to");
  for (size_t i = 0; i < to.size(); ++i) {
    if (!r.map(to[i], at("spec.to", i))) continue;
    ReferenceGrant::To t;
    if (get(to[i], "group").IsScalar()) t.group = get(to[i], "group").Scalar();
    if (auto k = r.string(get(to[i], "kind"), at("spec.to", i) + ".kind")) t.kind = *k;
    if (get(to[i], "name").IsScalar()) t.name = get(to[i], "name").Scalar();
    out.to.push_back(std::move(t));
  }
}

void read_service(ObjectReader& r, const YAML::Node& spec, Service& out) {
  const auto ports = r.list(get(spec, "ports"), "spec.ports");
  for (size_t i = 0; i < ports.size(); ++i) {
    const std::string f = at("spec.ports", i);
    if (!r.map(ports[i], f)) continue;
    ServicePort p;
    if (get(ports[i], "name").IsScalar()) p.name = get(ports[i], "name").Scalar();
    if (auto n = r.integer(get(ports[i], "port"), f + ".port", 1, 65535))
      p.port = static_cast<uint16_t>(*n);
    const YAML::Node target = get(ports[i], "targetPort");
    if (target.IsNull()) {
      p.target_port_number = p.port;
    } else if (target.IsScalar() && !target.Scalar().empty() &&
               std::all_of(target.Scalar().begin(), target.Scalar().end(),
                           [](char c) { return c >= '0' && c <= '9'; })) {
      if (auto n = r.integer(target, f + ".targetPort", 1, 65535))
        p.target_port_number = static_cast<uint16_t>(*n);
    } else if (auto name = r.string(target, f + ".targetPort")) {
      p.target_port_name = *name;
    }
    out.ports.push_back(std::move(p));
  }
}

template <class T, class Read>
bool add(ObjectReader& r, const ObjectMeta& meta, const YAML::Node& spec, std::vector<T>& into,
         Read read) {
  T object;
  object.meta = meta;
  if (!spec.IsMap()) {
    r.fail("spec", "expected a map");
    return false;
  }
  read(r, spec, object);
  if (!r.ok()) return false;
  into.push_back(std::move(object));
  return true;
}

} // namespace

std::optional<config::Duration> parse_duration_text(std::string_view text) {
  return parse_gateway_duration(text);
}

std::string Problem::text() const {
  std::string out;
  if (!source.empty()) out = source + ": ";
  out += object;
  if (!field.empty()) out += " " + field;
  out += ": " + message;
  return out;
}

bool LabelSelector::matches(const std::map<std::string, std::string>& labels) const {
  for (const auto& [k, v] : match_labels) {
    auto it = labels.find(k);
    if (it == labels.end() || it->second != v) return false;
  }
  for (const Expression& e : match_expressions) {
    auto it = labels.find(e.key);
    const bool in = it != labels.end() &&
                    std::find(e.values.begin(), e.values.end(), it->second) != e.values.end();
    if (e.op == "In" && !in) return false;
    if (e.op == "NotIn" && in) return false;
    if (e.op == "Exists" && it == labels.end()) return false;
    if (e.op == "DoesNotExist" && it != labels.end()) return false;
  }
  return true;
}

bool parse_object(const YAML::Node& object, const std::string& source, Objects& into,
                  std::vector<Problem>& problems) {
  try {
    if (!object.IsMap()) {
      problems.push_back({"document", "", "expected a Kubernetes object (a map)", source});
      return false;
    }
    const ObjectMeta meta = read_meta(object, source);
    ObjectReader r(meta, problems);
    if (meta.kind.empty() || meta.api_version.empty()) {
      r.fail("", "expected apiVersion and kind");
      return false;
    }
    const bool known = meta.kind == "GatewayClass" || meta.kind == "Gateway" ||
                       meta.kind == "HTTPRoute" || meta.kind == "ReferenceGrant" ||
                       meta.kind == "Service" || meta.kind == "Namespace";
    if (!known) {
      r.fail("", "not a kind weir reads (GatewayClass, Gateway, HTTPRoute, ReferenceGrant, "
                 "Service, Namespace); ignored");
      return false;
    }
    if (!version_supported(meta.kind, meta.api_version)) {
      r.fail("apiVersion", "weir reads " + meta.kind + " of " +
                               (meta.kind == "Service" || meta.kind == "Namespace"
                                    ? std::string("v1")
                                    : std::string(kGatewayGroup) + "/v1 or v1beta1") +
                               ", not " + meta.api_version);
      return false;
    }
    if (meta.name.empty()) {
      r.fail("metadata.name", "is required");
      return false;
    }
    const YAML::Node spec = get(object, "spec");
    if (meta.kind == "GatewayClass")
      return add(r, meta, spec, into.gateway_classes, read_gateway_class);
    if (meta.kind == "Gateway") return add(r, meta, spec, into.gateways, read_gateway);
    if (meta.kind == "HTTPRoute") return add(r, meta, spec, into.http_routes, read_http_route);
    if (meta.kind == "ReferenceGrant")
      return add(r, meta, spec, into.reference_grants, read_reference_grant);
    if (meta.kind == "Service") return add(r, meta, spec, into.services, read_service);
    into.namespaces.push_back(Namespace{meta});
    return true;
  } catch (const YAML::Exception& e) {
    problems.push_back({"document", "", "cannot read the object: " + e.msg, source});
  } catch (const std::exception& e) {
    problems.push_back(
        {"document", "", std::string("cannot read the object: ") + e.what(), source});
  }
  return false;
}

bool parse_documents(std::string_view text, const std::string& file_name, Objects& into,
                     std::vector<Problem>& problems, std::vector<Problem>& notes) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    const std::string where =
        file_name + (e.mark.is_null() ? std::string() : ":" + std::to_string(e.mark.line + 1));
    problems.push_back({"file", "", "not YAML: " + e.msg, where});
    return false;
  }
  for (const YAML::Node& document : documents) {
    if (document.IsNull()) continue;
    const std::string source =
        file_name + ":" + std::to_string(std::max(0, document.Mark().line) + 1);
    // A `kind: List` (what `kubectl get -o yaml` writes) holds its objects in items.
    if (document.IsMap() && get(document, "kind").IsScalar() &&
        get(document, "kind").Scalar() == "List" && get(document, "items").IsSequence()) {
      for (const YAML::Node& item : get(document, "items")) {
        const std::string item_source =
            file_name + ":" + std::to_string(std::max(0, item.Mark().line) + 1);
        std::vector<Problem> found;
        parse_object(item, item_source, into, found);
        split_notes(found, problems, notes);
      }
      continue;
    }
    std::vector<Problem> found;
    parse_object(document, source, into, found);
    split_notes(found, problems, notes);
  }
  return true;
}

void split_notes(std::vector<Problem>& found, std::vector<Problem>& problems,
                 std::vector<Problem>& notes) {
  for (Problem& p : found) {
    if (p.message.ends_with("; ignored"))
      notes.push_back(std::move(p));
    else
      problems.push_back(std::move(p));
  }
}

} // namespace weir::gateway
