#pragma once

#include "weir/base/json.h"
#include "weir/config/config.h"
#include "weir/discovery/watch_stream.h"

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

// Kubernetes EndpointSlices (discovery.k8s.io/v1) as weir reads them: parsing the API's JSON
// and merging a Service's slices into endpoints. Pure functions; any thread.
namespace weir::discovery {

struct SliceEndpoint {
  std::vector<std::string> addresses;
  // A nil condition counts as true for ready and serving, false for terminating (the API's
  // documented meaning).
  bool ready = true;
  bool serving = true;
  bool terminating = false;
};

struct SlicePort {
  std::string name; // "" for a Service's only, unnamed port
  uint16_t port = 0;
};

struct Slice {
  std::string name;
  std::string resource_version;
  std::string address_type; // IPv4, IPv6 or FQDN (FQDN slices are not used)
  std::vector<SlicePort> ports;
  std::vector<SliceEndpoint> endpoints;
};

// A slice from its JSON object; an error says what is missing or malformed.
struct ParsedSlice {
  std::optional<Slice> slice;
  std::string error;
};
ParsedSlice parse_slice(const json::Value& object);

// A LIST answer (EndpointSliceList): its slices and its resourceVersion.
struct SliceList {
  std::vector<Slice> slices;
  std::string resource_version;
  std::string error; // "" when it is one
};
SliceList parse_slice_list(std::string_view body);

// One line of a WATCH stream.
struct WatchEvent {
  using Type = WatchType;
  Type type = Type::error;
  std::optional<Slice> slice;   // added, modified, deleted
  std::string resource_version; // of the object (bookmark: the only thing it holds)
  int code = 0;                 // error: the Status's code (410 = the resourceVersion is too old)
  std::string message;          // error: the Status's message, or why the line is not an event
};
WatchEvent parse_watch_event(std::string_view line);

// What a Service's slices say for weir: the endpoints that serve (address:port of the wanted
// port) and, among them or apart, those terminating (drained: in-flight requests finish, new
// ones go elsewhere). An address in several slices counts once; serving wins over not.
struct Merged {
  std::vector<config::Address> endpoints; // sorted; includes the terminating ones
  std::set<std::string> terminating;      // Address::text() of endpoints being drained
  // Every address in some slice with the wanted port, serving or not: one that is there but
  // not serving is out at once, only one absent from every slice may be moving between them.
  std::set<std::string> present;
  // Slices that have endpoints but not the wanted port, e.g. "port \"http\" not in slice x".
  std::string problem;
};
Merged merge_slices(const std::map<std::string, Slice>& slices, const config::KubernetesRef& ref);

// The path and query of a LIST (watch false) or WATCH of the Service's slices.
std::string slices_target(const std::string& ns, const std::string& service, bool watch,
                          const std::string& resource_version, int timeout_seconds);

} // namespace weir::discovery
