#pragma once

#include "weir/gateway/translate.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>
#include <vector>

// Test helpers: objects from YAML text, and lookups in a Translation.
namespace weir::gateway::test {

// The Gateway of the conformance suite's "same-namespace" setup: one HTTP listener on port 80
// in gateway-conformance-infra that takes routes from its own namespace.
inline constexpr std::string_view kSameNamespaceGateway = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: same-namespace, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: weir
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: Same}}}
)";

inline Objects objects_of(std::string_view yaml) {
  Objects objects;
  std::vector<Problem> problems;
  std::vector<Problem> notes;
  EXPECT_TRUE(parse_documents(yaml, "test.yaml", objects, problems, notes));
  for (const Problem& p : problems)
    ADD_FAILURE() << p.text();
  return objects;
}

inline const config::Route* route_named(const Translation& t, const std::string& name) {
  for (const config::Route& r : t.routes)
    if (r.name == name) return &r;
  return nullptr;
}

inline const ParentStatus* parent_status(const Translation& t, const std::string& route_id) {
  for (const RouteStatus& s : t.route_statuses)
    if (s.ns + "/" + s.name == route_id && !s.parents.empty()) return &s.parents[0];
  return nullptr;
}

inline bool has_problem(const Translation& t, std::string_view text) {
  for (const Problem& p : t.problems)
    if (p.text().find(text) != std::string::npos) return true;
  return false;
}

} // namespace weir::gateway::test
