#pragma once

#include "weir/gateway/translate.h"

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

// Which weir listener serves each Gateway listener, and where an HTTPRoute's parentRef attaches
// (allowedRoutes, sectionName, port, hostname intersection). Internal to the gateway module;
// pure functions.
namespace weir::gateway {

struct ListenerSlot {
  const Gateway* gateway = nullptr;
  size_t index = 0;          // in gateway->listeners
  std::string weir_listener; // "" when weir cannot serve it (unusable says why)
  std::string unusable;
};

struct ListenerMap {
  std::map<std::string, std::vector<ListenerSlot>> by_gateway; // "ns/name" of covered Gateways
};

// One weir listener per port (0.0.0.0:PORT unless Options::existing_listeners names one), named
// "<gateway>-<listener>" after the first Gateway listener on the port; Gateways in order of
// creationTimestamp, then "ns/name". Listeners weir cannot serve are problems in `out`.
ListenerMap map_listeners(const Objects& objects, const Options& options, Translation& out);

struct ParentOutcome {
  ParentStatus status;
  // weir listener → hostnames there ("" any); empty unless Accepted.
  std::vector<std::pair<std::string, std::vector<std::string>>> attachments;
};

// The outcome of the route's parentRef `index`; nullopt when it names no Gateway this
// translation covers (another class's, or absent: then a problem says so).
std::optional<ParentOutcome> attach(const HTTPRoute& route, size_t index, const ListenerMap& map,
                                    const Objects& objects, const Options& options,
                                    std::vector<Problem>& problems);

} // namespace weir::gateway
