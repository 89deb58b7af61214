#pragma once

#include "weir/base/json.h"

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

// The fake API server's objects of any resource (support/fake_kube_api.h: put_object, PATCH of
// /status): where a request path points, JSON merge patch, and an object as the API server
// stores it. Plain values and pure functions; the fake calls them under its mutex.
namespace weir::test {

// What a request path names: "/apis/G/V[/namespaces/NS]/RESOURCE[/NAME[/SUBRESOURCE]]" or the
// same under "/api/v1". `collection` is the path without namespace and name
// ("/apis/gateway.networking.k8s.io/v1/httproutes"), what put_object and watches are keyed by.
struct ResourcePath {
  std::string collection;
  std::string ns; // "" for every namespace or a cluster-scoped resource
  std::string name;
  std::string subresource; // "status"
};
std::optional<ResourcePath> parse_resource_path(std::string_view path);

// RFC 7386: members of `patch` replace those of `target`, objects merge member by member, null
// removes. A patch that is not an object replaces the target whole.
json::Value merge_patch(const json::Value& target, const json::Value& patch);

// `object` with member `key` replaced by `value` (added last when missing), or removed when
// `value` is empty.
json::Value with_member(const json::Value& object, std::string_view key,
                        std::optional<json::Value> value);

std::string to_json(const json::Value& value);

// One stored object: the JSON as served (metadata filled in by the server), and its labels.
struct GenericObject {
  json::Value object;
  std::vector<std::pair<std::string, std::string>> labels;
  uint64_t generation = 0;
};

// The labels in metadata.labels (string values only).
std::vector<std::pair<std::string, std::string>> labels_in(const json::Value& object);

// `given` as the API server stores it at `resource_version`: metadata.uid, creationTimestamp
// and generation kept from `before` (when it exists), generation one more when spec changed;
// status kept from `before` (a client's update does not write status: it has its own
// subresource); a new object keeps the status given (a test's stand-in for other controllers).
GenericObject stored_object(const json::Value& given, const GenericObject* before,
                            uint64_t resource_version, const std::string& uid,
                            const std::string& created);

// What a client's POST (create) or PUT (replace) of `body` at `path` stores, as the API server
// checks it: a JSON object whose metadata.name is the path's (PUT) or is given (POST), whose
// metadata.namespace, when given, is the path's; POST of a present object is 409 AlreadyExists,
// PUT of a missing one 404 NotFound, and PUT whose metadata.resourceVersion is set and is not
// the stored one 409 Conflict (no resourceVersion: an unconditional replace).
struct CheckedWrite {
  std::optional<json::Value> object; // with metadata.namespace set to the path's; else refused:
  int status = 0;
  std::string reason;  // "AlreadyExists", "Conflict", "NotFound", "BadRequest", "Invalid"
  std::string message; // as the API server words it
};
CheckedWrite checked_write(std::string_view method, const ResourcePath& path, std::string_view body,
                           const GenericObject* present);

} // namespace weir::test
