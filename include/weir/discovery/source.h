#pragma once

#include "weir/config/config.h"

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace weir::discovery {

// What discovery found for one service, as the controller merges it into the config in force.
struct Found {
  // Which of the service's settings it was found for (source_key()): a reload that changes
  // them makes what was found for the old ones stale.
  std::string source;
  std::vector<config::Address> endpoints;
  std::set<std::string> terminating; // Address::text(): drained, still listed
};

// The service's discovery settings as one string ("" for a service with listed endpoints only).
std::string source_key(const config::Service& service, const config::Config& config);

// How one source of a service is doing, for `show services`, /ready and the log.
struct SourceStatus {
  std::string kind;       // "dns" or "kubernetes"
  std::string what;       // "app.internal:9001", "kubernetes service app port http"
  bool answered = false;  // had a good answer once (a first complete list for Kubernetes)
  std::string last_error; // "" while the last attempt went well
  uint64_t failures = 0;  // failed attempts in all
  uint64_t updates = 0;   // answers that changed the endpoints
  size_t endpoints = 0;   // in the last good answer
};

} // namespace weir::discovery
