#pragma once

#include "weir/base/json.h"

#include <string>
#include <string_view>

// The Kubernetes API's LIST answers and WATCH streams for any kind of object, the objects left as
// JSON for their reader (EndpointSlices: endpoint_slices.h; Gateway API objects: gateway/).
// Pure functions; any thread.
namespace weir::discovery {

enum class WatchType { added, modified, deleted, bookmark, error };

// One line of a WATCH stream.
struct RawWatchEvent {
  WatchType type = WatchType::error;
  json::Value object;           // added, modified, deleted: the object as sent
  std::string resource_version; // of the object (bookmark: the only thing it holds)
  int code = 0;                 // error: the Status's code (410 = the resourceVersion is too old)
  std::string message;          // error: the Status's message, or why the line is not an event
};
RawWatchEvent parse_raw_watch_event(std::string_view line);

// A LIST answer (a *List kind): its items and its resourceVersion.
struct RawList {
  json::Value::Array items;
  std::string resource_version;
  std::string error; // "" when it is one
};
RawList parse_raw_list(std::string_view body);

// metadata.resourceVersion of an object: a string, a number taken too; "" when it has none.
std::string resource_version_of(const json::Value& object);

// The path and query of a LIST (watch false) or WATCH of `collection` (an API path such as
// "/apis/gateway.networking.k8s.io/v1/httproutes"), with `label_selector` when not "".
std::string collection_target(const std::string& collection, const std::string& label_selector,
                              bool watch, const std::string& resource_version, int timeout_seconds);

} // namespace weir::discovery
