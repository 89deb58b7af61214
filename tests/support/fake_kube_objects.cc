#include "fake_kube_objects.h"

namespace weir::test {

namespace {

std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

} // namespace

std::optional<ResourcePath> parse_resource_path(std::string_view path) {
  std::vector<std::string_view> s = segments_of(path);
  std::string prefix;
  size_t at = 0;
  if (s.size() >= 2 && s[0] == "api" && s[1] == "v1") {
    prefix = "/api/v1";
    at = 2;
  } else if (s.size() >= 3 && s[0] == "apis") {
    prefix = "/apis/" + std::string(s[1]) + "/" + std::string(s[2]);
    at = 3;
  } else {
    return std::nullopt;
  }
  ResourcePath r;
  // "namespaces/NS/RESOURCE...", except the namespaces resource itself ("namespaces[/NAME]").
  if (s.size() >= at + 3 && s[at] == "namespaces") {
    r.ns = s[at + 1];
    at += 2;
  }
  if (s.size() <= at || s.size() > at + 3) return std::nullopt;
  r.collection = prefix + "/" + std::string(s[at]);
  if (s.size() > at + 1) r.name = s[at + 1];
  if (s.size() > at + 2) r.subresource = s[at + 2];
  return r;
}

json::Value merge_patch(const json::Value& target, const json::Value& patch) {
  if (!patch.is_object()) return patch;
  json::Value::Object out = target.is_object() ? target.as_object() : json::Value::Object{};
  for (const auto& [key, value] : patch.as_object()) {
    auto it = out.begin();
    while (it != out.end() && it->first != key)
      ++it;
    if (value.is_null()) {
      if (it != out.end()) out.erase(it);
    } else if (it != out.end()) {
      it->second = merge_patch(it->second, value);
    } else {
      out.emplace_back(key, merge_patch(json::Value(), value));
    }
  }
  return json::Value(std::move(out));
}

json::Value with_member(const json::Value& object, std::string_view key,
                        std::optional<json::Value> value) {
  json::Value::Object out = object.is_object() ? object.as_object() : json::Value::Object{};
  auto it = out.begin();
  while (it != out.end() && it->first != key)
    ++it;
  if (!value) {
    if (it != out.end()) out.erase(it);
  } else if (it != out.end()) {
    it->second = std::move(*value);
  } else {
    out.emplace_back(std::string(key), std::move(*value));
  }
  return json::Value(std::move(out));
}

std::string to_json(const json::Value& value) {
  json::Writer w;
  w.value(value);
  return w.take();
}

std::vector<std::pair<std::string, std::string>> labels_in(const json::Value& object) {
  std::vector<std::pair<std::string, std::string>> out;
  const json::Value& labels = object["metadata"]["labels"];
  if (labels.is_object())
    for (const auto& [key, value] : labels.as_object())
      if (value.is_string()) out.emplace_back(key, value.as_string());
  return out;
}

GenericObject stored_object(const json::Value& given, const GenericObject* before,
                            uint64_t resource_version, const std::string& uid,
                            const std::string& created) {
  GenericObject out;
  out.generation = 1;
  const json::Value* old_status = nullptr;
  if (before) {
    const bool spec_same = before->object["spec"] == given["spec"];
    out.generation = before->generation + (spec_same ? 0 : 1);
    old_status = before->object.find("status");
  }
  json::Value meta = given["metadata"];
  if (before) {
    meta = with_member(meta, "uid", before->object["metadata"]["uid"]);
    meta = with_member(meta, "creationTimestamp", before->object["metadata"]["creationTimestamp"]);
  } else {
    meta = with_member(meta, "uid", json::Value(uid));
    meta = with_member(meta, "creationTimestamp", json::Value(created));
  }
  meta = with_member(meta, "resourceVersion", json::Value(std::to_string(resource_version)));
  meta = with_member(meta, "generation", json::Value(static_cast<double>(out.generation)));
  out.object = with_member(given, "metadata", std::move(meta));
  // A new object keeps the status it was given: how a test shows another controller's entries.
  if (before)
    out.object = with_member(out.object, "status",
                             old_status ? std::optional<json::Value>(*old_status) : std::nullopt);
  out.labels = labels_in(out.object);
  return out;
}

CheckedWrite checked_write(std::string_view method, const ResourcePath& path, std::string_view body,
                           const GenericObject* present) {
  CheckedWrite out;
  auto refuse = [&](int status, const char* reason, std::string message) {
    out.status = status;
    out.reason = reason;
    out.message = std::move(message);
    return out;
  };
  // "leases.coordination.k8s.io": the resource and its group, as the API server names them.
  std::string resource = path.collection.substr(path.collection.rfind('/') + 1);
  if (path.collection.starts_with("/apis/")) {
    const size_t group_end = path.collection.find('/', 6);
    resource += "." + path.collection.substr(6, group_end - 6);
  }
  auto parsed = json::parse(body);
  if (!parsed.value || !parsed.value->is_object())
    return refuse(400, "BadRequest", "the body is not a JSON object: " + parsed.error);
  const json::Value& meta = (*parsed.value)["metadata"];
  const std::string name = meta.get_string("name");
  if (name.empty())
    return refuse(422, "Invalid",
                  resource + " \"\" is invalid: metadata.name: "
                             "Required value: name is required");
  if (method == "PUT" && name != path.name)
    return refuse(400, "BadRequest",
                  "the name of the object (" + name + ") does not match the name on the URL (" +
                      path.name + ")");
  const std::string ns = meta.get_string("namespace", path.ns);
  if (ns != path.ns)
    return refuse(400, "BadRequest",
                  "the namespace of the provided object does not match the "
                  "namespace sent on the request");
  if (method == "POST" && present)
    return refuse(409, "AlreadyExists", resource + " \"" + name + "\" already exists");
  if (method == "PUT" && !present)
    return refuse(404, "NotFound", resource + " \"" + name + "\" not found");
  const std::string wanted = meta.get_string("resourceVersion");
  if (method == "PUT" && !wanted.empty() &&
      wanted != present->object["metadata"].get_string("resourceVersion"))
    return refuse(409, "Conflict",
                  "Operation cannot be fulfilled on " + resource + " \"" + name +
                      "\": the object has been modified; please apply your changes to the "
                      "latest version and try again");
  out.object = with_member(
      *parsed.value, "metadata",
      with_member(meta, "namespace",
                  path.ns.empty() ? std::nullopt : std::optional(json::Value(path.ns))));
  return out;
}

} // namespace weir::test
