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
