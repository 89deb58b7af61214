#include "weir/gateway/object_cache.h"

#include "weir/base/log.h"

#include <yaml-cpp/yaml.h>

namespace weir::gateway {

namespace {

constexpr const char* kGatewayApi = "/apis/gateway.networking.k8s.io/v1/";

// `object` with `key` set to `value` when it lacks it (a LIST's items carry no kind and
// apiVersion), or without `key` when `value` is null.
json::Value with_member(const json::Value& object, std::string_view key, const json::Value& value,
                        bool only_if_missing) {
  json::Value::Object out = object.is_object() ? object.as_object() : json::Value::Object{};
  for (auto it = out.begin(); it != out.end(); ++it) {
    if (it->first != key) continue;
    if (only_if_missing) return object;
    if (value.is_null())
      out.erase(it);
    else
      it->second = value;
    return json::Value(std::move(out));
  }
  if (!value.is_null()) out.emplace_back(std::string(key), value);
  return json::Value(std::move(out));
}

// What a change must touch to matter to the routes: everything but status, resourceVersion
// and managedFields (which every write of anyone's moves on), and kind and apiVersion (the
// collection's; a LIST's items lack them and get them added at the end, a watch event's object
// has them first).
std::string shape_of(const json::Value& object) {
  json::Value meta = object["metadata"];
  meta = with_member(meta, "resourceVersion", json::Value(), false);
  meta = with_member(meta, "managedFields", json::Value(), false);
  json::Value shape = with_member(object, "status", json::Value(), false);
  shape = with_member(shape, "kind", json::Value(), false);
  shape = with_member(shape, "apiVersion", json::Value(), false);
  shape = with_member(shape, "metadata", meta, false);
  json::Writer w;
  w.value(shape);
  return w.take();
}

} // namespace

std::string collection_of(Kind kind) {
  switch (kind) {
  case Kind::gateway_class:
    return std::string(kGatewayApi) + "gatewayclasses";
  case Kind::gateway:
    return std::string(kGatewayApi) + "gateways";
  case Kind::http_route:
    return std::string(kGatewayApi) + "httproutes";
  case Kind::reference_grant:
    // v1beta1: every release of the Gateway API's standard channel serves it.
    return "/apis/gateway.networking.k8s.io/v1beta1/referencegrants";
  case Kind::service:
    return "/api/v1/services";
  case Kind::namespace_:
    return "/api/v1/namespaces";
  }
  return "";
}

std::string status_path_of(Kind kind, const std::string& ns, const std::string& name) {
  std::string c = collection_of(kind);
  if (kind == Kind::gateway_class || kind == Kind::namespace_)
    return c + "/" + net::percent_encode(name) + "/status";
  const size_t last = c.rfind('/');
  return c.substr(0, last) + "/namespaces/" + net::percent_encode(ns) + c.substr(last) + "/" +
         net::percent_encode(name) + "/status";
}

const char* kind_name(Kind kind) {
  switch (kind) {
  case Kind::gateway_class:
    return "GatewayClass";
  case Kind::gateway:
    return "Gateway";
  case Kind::http_route:
    return "HTTPRoute";
  case Kind::reference_grant:
    return "ReferenceGrant";
  case Kind::service:
    return "Service";
  case Kind::namespace_:
    return "Namespace";
  }
  return "";
}

const char* api_version_of(Kind kind) {
  switch (kind) {
  case Kind::service:
  case Kind::namespace_:
    return "v1";
  case Kind::reference_grant:
    return "gateway.networking.k8s.io/v1beta1";
  default:
    return "gateway.networking.k8s.io/v1";
  }
}

struct ObjectCache::Watched {
  Kind kind;
  discovery::SourceStatus status;
  std::unique_ptr<discovery::ResourceWatch> watch;
};

ObjectCache::ObjectCache(boost::asio::io_context& io, discovery::ApiAccess api, Changed changed)
    : changed_(std::move(changed)) {
  for (Kind kind : kWatchedKinds) {
    auto w = std::make_unique<Watched>();
    w->kind = kind;
    w->status.kind = "kubernetes";
    w->status.what = collection_of(kind);
    Watched* self = w.get();
    discovery::ResourceWatch::Handlers handlers{
        [this, self](const json::Value::Array& items) {
          // A new list replaces what was known of the kind: what is not in it is gone.
          std::erase_if(objects_,
                        [&](const auto& e) { return std::get<0>(e.first) == self->kind; });
          for (const auto& item : items)
            put(self->kind, item);
          self->status.endpoints = items.size();
          return std::string();
        },
        [this, self](discovery::WatchType type, const json::Value& object, std::string& error) {
          if (object["metadata"].get_string("name").empty()) {
            error = std::string(kind_name(self->kind)) + " without metadata.name";
            return false;
          }
          return type == discovery::WatchType::deleted ? erase(self->kind, object)
                                                       : put(self->kind, object);
        },
        [this, self](bool) {
          ++self->status.updates;
          changed_();
        }};
    std::string kind_plural = collection_of(kind).substr(collection_of(kind).rfind('/') + 1);
    w->watch = std::make_unique<discovery::ResourceWatch>(
        io, api,
        discovery::ResourceWatch::What{collection_of(kind), "", kind_plural + " (cluster-wide)",
                                       std::string("gateway: ") + kind_name(kind) + " watch"},
        w->status, std::move(handlers));
    watches_.push_back(std::move(w));
  }
}

ObjectCache::~ObjectCache() = default;

void ObjectCache::start() {
  for (auto& w : watches_)
    w->watch->start();
}

bool ObjectCache::listed() const {
  for (const auto& w : watches_)
    if (!w->status.answered) return false;
  return true;
}

bool ObjectCache::put(Kind kind, const json::Value& given) {
  json::Value object = with_member(given, "kind", json::Value(kind_name(kind)), true);
  object = with_member(object, "apiVersion", json::Value(api_version_of(kind)), true);
  const json::Value& meta = object["metadata"];
  auto key = std::make_tuple(kind, meta.get_string("namespace"), meta.get_string("name"));
  std::string shape = shape_of(object);
  auto it = objects_.find(key);
  const bool same = it != objects_.end() && it->second.shape == shape;
  Entry entry{std::move(object), std::move(shape), {}, {}};
  if (same) {
    entry.parsed = std::move(it->second.parsed);
    entry.problems = std::move(it->second.problems);
  } else {
    // Read once here, not at every rebuild: Services cluster-wide may be many.
    json::Writer w;
    w.value(entry.object);
    try {
      // yaml-cpp reads JSON (a flow-style document), which is what the translator's reader takes.
      parse_object(YAML::Load(w.str()), "", entry.parsed, entry.problems);
    } catch (const std::exception& e) {
      entry.problems.push_back(
          {std::string(kind_name(kind)) + " " + std::get<1>(key) + "/" + std::get<2>(key), "",
           std::string("cannot be read: ") + e.what(), ""});
    }
  }
  objects_[key] = std::move(entry);
  return !same;
}

bool ObjectCache::erase(Kind kind, const json::Value& object) {
  const json::Value& meta = object["metadata"];
  return objects_.erase({kind, meta.get_string("namespace"), meta.get_string("name")}) > 0;
}

void ObjectCache::update(Kind kind, const json::Value& object, const std::string& based_on) {
  const json::Value& meta = object["metadata"];
  auto it = objects_.find({kind, meta.get_string("namespace"), meta.get_string("name")});
  if (it == objects_.end() ||
      it->second.object["metadata"].get_string("resourceVersion") != based_on)
    return;
  if (put(kind, object)) changed_();
}

const json::Value* ObjectCache::find(Kind kind, const std::string& ns,
                                     const std::string& name) const {
  auto it = objects_.find({kind, ns, name});
  return it == objects_.end() ? nullptr : &it->second.object;
}

std::vector<std::pair<std::string, std::string>> ObjectCache::names(Kind kind) const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, entry] : objects_)
    if (std::get<0>(key) == kind) out.emplace_back(std::get<1>(key), std::get<2>(key));
  return out;
}

Objects ObjectCache::objects(std::vector<Problem>& problems) const {
  Objects out;
  auto append = [](auto& into, const auto& from) {
    into.insert(into.end(), from.begin(), from.end());
  };
  for (const auto& [key, entry] : objects_) {
    append(out.gateway_classes, entry.parsed.gateway_classes);
    append(out.gateways, entry.parsed.gateways);
    append(out.http_routes, entry.parsed.http_routes);
    append(out.reference_grants, entry.parsed.reference_grants);
    append(out.services, entry.parsed.services);
    append(out.namespaces, entry.parsed.namespaces);
    append(problems, entry.problems);
  }
  return out;
}

std::vector<discovery::SourceStatus> ObjectCache::status() const {
  std::vector<discovery::SourceStatus> out;
  for (const auto& w : watches_)
    out.push_back(w->status);
  return out;
}

} // namespace weir::gateway
