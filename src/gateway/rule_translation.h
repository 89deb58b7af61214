#pragma once

#include "weir/gateway/translate.h"

#include <string>
#include <vector>

// One HTTPRoute rule → one weir route (without its listener, name and hosts), with the backend
// references resolved (ReferenceGrant, Service and port). Internal to the gateway module.
namespace weir::gateway {

// A Kubernetes Service port a route uses. Backends and mirrors name it by `key` until the
// translation has seen every use and picks the weir service names.
struct ServiceUse {
  std::string key;
  std::string ns;
  std::string service;
  config::KubernetesRef ref;
};

struct RuleContext {
  const Objects& objects;
  const Options& options;
  const HTTPRoute& route;
  std::vector<Problem>& problems;
  std::vector<ServiceUse>& uses;
};

struct RuleOutcome {
  config::Route route; // matches without host; backends and mirror by ServiceUse::key
  // The rule needs something weir cannot do safely without (an ExtensionRef filter, say): it is
  // left out.
  bool unsupported = false;
  std::string unsupported_message;
  std::vector<Condition> unresolved; // a ResolvedRefs=False condition per backend left out
};

RuleOutcome translate_rule(RuleContext& context, size_t index);

} // namespace weir::gateway
