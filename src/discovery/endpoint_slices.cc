#include "weir/discovery/endpoint_slices.h"

#include "weir/base/json.h"
#include "weir/config/address.h"
#include "weir/discovery/source.h"
#include "weir/net/url.h"

#include <algorithm>

namespace weir::discovery {

namespace {

bool condition(const json::Value& conditions, std::string_view key, bool absent) {
  const json::Value* v = conditions.find(key);
  if (!v || !v->is_bool()) return absent; // nil: see SliceEndpoint
  return v->as_bool();
}

} // namespace

ParsedSlice parse_slice(const json::Value& object) {
  ParsedSlice out;
  if (!object.is_object()) return {std::nullopt, "the slice is not a JSON object"};
  Slice s;
  const json::Value& meta = object["metadata"];
  s.name = meta.get_string("name");
  if (s.name.empty()) return {std::nullopt, "the slice has no metadata.name"};
  s.resource_version = resource_version_of(object);
  s.address_type = object.get_string("addressType", "IPv4");
  if (const json::Value* ports = object.find("ports"); ports && ports->is_array())
    for (const auto& p : ports->as_array()) {
      const double n = p.get_number("port", -1);
      if (n < 1 || n > 65535) continue; // no port: the slice is of a Service without ports
      s.ports.push_back({p.get_string("name"), static_cast<uint16_t>(n)});
    }
  if (const json::Value* eps = object.find("endpoints"); eps && eps->is_array())
    for (const auto& e : eps->as_array()) {
      SliceEndpoint ep;
      if (const json::Value* a = e.find("addresses"); a && a->is_array())
        for (const auto& x : a->as_array())
          if (x.is_string()) ep.addresses.push_back(x.as_string());
      const json::Value& c = e["conditions"];
      ep.ready = condition(c, "ready", true);
      // serving is new (1.20+): a server without it says only ready.
      ep.serving = condition(c, "serving", ep.ready);
      ep.terminating = condition(c, "terminating", false);
      s.endpoints.push_back(std::move(ep));
    }
  out.slice = std::move(s);
  return out;
}

SliceList parse_slice_list(std::string_view body) {
  RawList raw = parse_raw_list(body);
  if (!raw.error.empty()) return {{}, "", std::move(raw.error)};
  SliceList out;
  out.resource_version = std::move(raw.resource_version);
  for (const auto& item : raw.items) {
    auto s = parse_slice(item);
    if (!s.slice) return {{}, "", s.error};
    out.slices.push_back(std::move(*s.slice));
  }
  return out;
}

WatchEvent parse_watch_event(std::string_view line) {
  RawWatchEvent raw = parse_raw_watch_event(line);
  WatchEvent e;
  e.type = raw.type;
  e.resource_version = std::move(raw.resource_version);
  e.code = raw.code;
  e.message = std::move(raw.message);
  if (e.type != WatchType::added && e.type != WatchType::modified && e.type != WatchType::deleted)
    return e;
  auto s = parse_slice(raw.object);
  if (!s.slice) {
    e.type = WatchType::error;
    e.message = s.error;
    return e;
  }
  e.resource_version = s.slice->resource_version;
  e.slice = std::move(s.slice);
  return e;
}

Merged merge_slices(const std::map<std::string, Slice>& slices, const config::KubernetesRef& ref) {
  Merged out;
  std::map<std::string, bool> serving; // address text → terminating (false wins)
  for (const auto& [name, s] : slices) {
    if (s.address_type != "IPv4" && s.address_type != "IPv6") continue;
    uint16_t port = 0;
    for (const auto& p : s.ports)
      if (ref.port_number ? p.port == ref.port_number : p.name == ref.port_name) port = p.port;
    if (port == 0) {
      if (!s.endpoints.empty() && out.problem.empty())
        out.problem = "port \"" + ref.port_text() + "\" is not in EndpointSlice " + printable(name);
      continue;
    }
    for (const auto& e : s.endpoints) {
      // Ready and not terminating serves; terminating but still serving is drained (requests in
      // flight finish); not serving at all is left out.
      for (const auto& a : e.addresses) {
        auto parsed = config::parse_address((a.find(':') != std::string::npos ? "[" + a + "]" : a) +
                                                ":" + std::to_string(port),
                                            false);
        if (!parsed) {
          if (out.problem.empty())
            out.problem = "EndpointSlice " + printable(name) + ": address \"" + printable(a) +
                          "\" is not an IP address";
          continue;
        }
        const std::string key = parsed->text();
        out.present.insert(key);
        if (!e.serving) continue;
        auto [it, added] = serving.emplace(key, e.terminating);
        if (!added) it->second = it->second && e.terminating;
        if (added) out.endpoints.push_back(*parsed);
      }
    }
  }
  std::sort(out.endpoints.begin(), out.endpoints.end(), address_less);
  for (const auto& [key, terminating] : serving)
    if (terminating) out.terminating.insert(key);
  return out;
}

std::string slices_target(const std::string& ns, const std::string& service, bool watch,
                          const std::string& resource_version, int timeout_seconds) {
  return collection_target(
      "/apis/discovery.k8s.io/v1/namespaces/" + net::percent_encode(ns) + "/endpointslices",
      "kubernetes.io/service-name=" + service, watch, resource_version, timeout_seconds);
}

} // namespace weir::discovery
