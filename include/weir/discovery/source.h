#pragma once

#include "weir/config/config.h"

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace weir::discovery {

// Text from a DNS or API server as weir shows and logs it: control characters (a forged log
// line, a terminal escape) become '?', and at most 200 bytes are kept.
inline std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 200))
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  if (text.size() > 200) out += "...";
  return out;
}

// The order of the endpoints discovery publishes: by host, then port.
inline bool address_less(const config::Address& a, const config::Address& b) {
  return a.host != b.host ? a.host < b.host : a.port < b.port;
}

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
  std::string problem;    // what an answer held that weir could not use ("" when none)
  uint64_t failures = 0;  // failed attempts in all
  uint64_t updates = 0;   // answers that changed the endpoints
  size_t endpoints = 0;   // in the last good answer
};

} // namespace weir::discovery
