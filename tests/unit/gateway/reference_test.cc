// The Gateway API conformance cases for weights, cross-namespace routes and ReferenceGrants
// (httproute-weight, httproute-cross-namespace, httproute-reference-grant,
// httproute-invalid-reference-grant, httproute-invalid-cross-namespace-backend-ref), restated
// against the translator: what weir's routes and the HTTPRoute's status must be.
#include "gateway_test_objects.h"
#include "weir/route/split.h"

#include <gtest/gtest.h>

namespace weir::gateway {
namespace {

using test::kSameNamespaceGateway;
using test::objects_of;
using test::parent_status;
using test::route_named;

// Services of the conformance namespaces, each with one port 8080 named "http".
std::string service(const std::string& ns, const std::string& name) {
  return "---\napiVersion: v1\nkind: Service\nmetadata: {name: " + name + ", namespace: " + ns +
         "}\nspec:\n  ports: [{name: http, port: 8080, targetPort: 3000}]\n";
}

std::string conformance_services() {
  return service("gateway-conformance-infra", "infra-backend-v1") +
         service("gateway-conformance-infra", "infra-backend-v2") +
         service("gateway-conformance-infra", "infra-backend-v3") +
         service("gateway-conformance-web-backend", "web-backend") +
         service("gateway-conformance-app-backend", "app-backend-v1") +
         service("gateway-conformance-app-backend", "app-backend-v2");
}

// Three backends weighted 70, 30 and 0: weir splits 70/30 and sends nothing to the third.
TEST(GatewayConformance, WeightsSplitAsWrittenAndZeroGetsNothing) {
  const Objects objects =
      objects_of(std::string(kSameNamespaceGateway) + conformance_services() + R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: weighted-backends, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs:
    - {name: infra-backend-v1, port: 8080, weight: 70}
    - {name: infra-backend-v2, port: 8080, weight: 30}
    - {name: infra-backend-v3, port: 8080, weight: 0}
)");
  const Translation t = translate(objects, {});
  EXPECT_TRUE(t.problems.empty());
  const config::Route* r = route_named(t, "gateway-conformance-infra-weighted-backends-0");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->backends.size(), 3u);
  EXPECT_EQ(r->backends[0].service, "gateway-conformance-infra/infra-backend-v1");
  std::vector<uint32_t> weights;
  for (const config::Backend& b : r->backends)
    weights.push_back(b.weight);
  EXPECT_EQ(weights, (std::vector<uint32_t>{70, 30, 0}));
  // What the data plane does with those weights: exactly 70/30/0 of every 100 requests.
  route::Split split(weights);
  std::vector<int> picks(3, 0);
  for (int i = 0; i < 1000; ++i)
    ++picks[static_cast<size_t>(split.pick())];
  EXPECT_EQ(picks, (std::vector<int>{700, 300, 0}));
  const ParentStatus* s = parent_status(t, "gateway-conformance-infra/weighted-backends");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->accepted.reason, "Accepted");
  EXPECT_TRUE(s->resolved_refs.status);
}

// A Gateway that takes routes from namespaces labelled for it attaches a route in such a
// namespace to its own Service there; without the label the route is not allowed.
TEST(GatewayConformance, CrossNamespaceRouteAttachesThroughTheNamespaceSelector) {
  const std::string gateway = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: backend-namespaces, namespace: gateway-conformance-infra}
spec:
  gatewayClassName: weir
  listeners:
  - name: http
    port: 80
    protocol: HTTP
    allowedRoutes:
      namespaces:
        from: Selector
        selector: {matchLabels: {gateway-conformance: backend}}
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: backend-namespaces, namespace: gateway-conformance-web-backend}
spec:
  parentRefs: [{name: backend-namespaces, namespace: gateway-conformance-infra}]
  rules:
  - backendRefs: [{name: web-backend, port: 8080}]
)" + conformance_services();
  const std::string labelled = R"(
---
apiVersion: v1
kind: Namespace
metadata: {name: gateway-conformance-web-backend, labels: {gateway-conformance: backend}}
)";
  const Translation t = translate(objects_of(gateway + labelled), {});
  EXPECT_TRUE(t.problems.empty());
  const ParentStatus* s = parent_status(t, "gateway-conformance-web-backend/backend-namespaces");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->accepted.status);
  EXPECT_EQ(s->ref.ns, "gateway-conformance-infra");
  const config::Route* r = route_named(t, "gateway-conformance-web-backend-backend-namespaces-0");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->backends.size(), 1u);
  EXPECT_EQ(r->backends[0].service, "gateway-conformance-web-backend/web-backend");

  const std::string unlabelled = R"(
---
apiVersion: v1
kind: Namespace
metadata: {name: gateway-conformance-web-backend, labels: {team: web}}
)";
  const Translation refused = translate(objects_of(gateway + unlabelled), {});
  const ParentStatus* no =
      parent_status(refused, "gateway-conformance-web-backend/backend-namespaces");
  ASSERT_NE(no, nullptr);
  EXPECT_FALSE(no->accepted.status);
  EXPECT_EQ(no->accepted.reason, "NotAllowedByListeners");
  EXPECT_TRUE(refused.routes.empty());
}

// A ReferenceGrant in the backend's namespace, from HTTPRoutes of the route's namespace to the
// Service by name: the backend is used and the references resolve.
TEST(GatewayConformance, ReferenceGrantPermitsTheNamedService) {
  const Objects objects =
      objects_of(std::string(kSameNamespaceGateway) + conformance_services() + R"(
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: ReferenceGrant
metadata: {name: reference-grant, namespace: gateway-conformance-web-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: web-backend}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: reference-grant, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]
)");
  const Translation t = translate(objects, {});
  EXPECT_TRUE(t.problems.empty());
  const config::Route* r = route_named(t, "gateway-conformance-infra-reference-grant-0");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->backends.size(), 1u);
  EXPECT_EQ(r->backends[0].service, "gateway-conformance-web-backend/web-backend");
  ASSERT_EQ(t.services.size(), 1u);
  EXPECT_EQ(t.services[0].kubernetes->service, "web-backend");
  EXPECT_EQ(t.services[0].kubernetes->port_name, "http");
  const ParentStatus* s = parent_status(t, "gateway-conformance-infra/reference-grant");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->resolved_refs, (Condition{true, "ResolvedRefs", ""}));
}

// A grant for app-backend-v1 only: the rule sending /v2 to app-backend-v2 resolves no backend
// (RefNotPermitted; Gateway API answers 500), and its requests must not fall through to the
// catch-all rule: weir keeps it as a route without backends (503). The other rule works.
TEST(GatewayConformance, GrantForAnotherServiceDoesNotPermit) {
  const Objects objects =
      objects_of(std::string(kSameNamespaceGateway) + conformance_services() + R"(
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: ReferenceGrant
metadata: {name: invalid-reference-grant, namespace: gateway-conformance-app-backend}
spec:
  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: gateway-conformance-infra}]
  to: [{group: "", kind: Service, name: app-backend-v1}]
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: invalid-reference-grant, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /v2}}]
    backendRefs: [{name: app-backend-v2, namespace: gateway-conformance-app-backend, port: 8080}]
  - backendRefs: [{name: app-backend-v1, namespace: gateway-conformance-app-backend, port: 8080}]
)");
  const Translation t = translate(objects, {});
  const config::Route* v2 = route_named(t, "gateway-conformance-infra-invalid-reference-grant-0");
  ASSERT_NE(v2, nullptr);
  EXPECT_TRUE(v2->backends.empty());
  EXPECT_EQ(v2->matches[0].path.value, "/v2");
  const config::Route* rest = route_named(t, "gateway-conformance-infra-invalid-reference-grant-1");
  ASSERT_NE(rest, nullptr);
  ASSERT_EQ(rest->backends.size(), 1u);
  EXPECT_EQ(rest->backends[0].service, "gateway-conformance-app-backend/app-backend-v1");
  const ParentStatus* s = parent_status(t, "gateway-conformance-infra/invalid-reference-grant");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->accepted.status);
  EXPECT_FALSE(s->resolved_refs.status);
  EXPECT_EQ(s->resolved_refs.reason, "RefNotPermitted");
  EXPECT_NE(s->resolved_refs.message.find("app-backend-v2"), std::string::npos);
  // The unpermitted Service is never watched.
  for (const config::Service& svc : t.services)
    EXPECT_NE(svc.name, "app-backend-v2");

  // weir import cannot write a route without backends: the rule is left out, and says so.
  Options import;
  import.routes_without_backends = false;
  const Translation file = translate(objects, import);
  EXPECT_EQ(route_named(file, "gateway-conformance-infra-invalid-reference-grant-0"), nullptr);
  EXPECT_NE(route_named(file, "gateway-conformance-infra-invalid-reference-grant-1"), nullptr);
  EXPECT_TRUE(test::has_problem(file, "spec.rules[0]: no backend weir may send to"));
}

// No ReferenceGrant at all: the route is accepted, its reference is not permitted.
TEST(GatewayConformance, CrossNamespaceBackendWithoutGrantIsRefNotPermitted) {
  const Objects objects =
      objects_of(std::string(kSameNamespaceGateway) + conformance_services() + R"(
---
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: invalid-cross-namespace-backend-ref, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  rules:
  - backendRefs: [{name: web-backend, namespace: gateway-conformance-web-backend, port: 8080}]
)");
  const Translation t = translate(objects, {});
  const ParentStatus* s =
      parent_status(t, "gateway-conformance-infra/invalid-cross-namespace-backend-ref");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->accepted.reason, "Accepted");
  EXPECT_EQ(s->resolved_refs.reason, "RefNotPermitted");
  EXPECT_FALSE(s->resolved_refs.status);
  const config::Route* r =
      route_named(t, "gateway-conformance-infra-invalid-cross-namespace-backend-ref-0");
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(r->backends.empty());
  EXPECT_TRUE(t.services.empty());
}

// What a grant must say to count: in the Service's namespace, from HTTPRoutes of the route's
// namespace, to Services (by name, or every one when the name is left out).
TEST(GatewayReferenceGrant, OnlyAMatchingGrantPermits) {
  auto grant = [](const std::string& ns, const std::string& from_kind, const std::string& from_ns,
                  const std::string& to_kind, const std::string& to_name) {
    ReferenceGrant g;
    g.meta.kind = "ReferenceGrant";
    g.meta.ns = ns;
    g.meta.name = "g";
    g.from.push_back({"gateway.networking.k8s.io", from_kind, from_ns});
    g.to.push_back({"", to_kind, to_name});
    Objects objects;
    objects.reference_grants.push_back(std::move(g));
    return objects;
  };
  EXPECT_TRUE(reference_permitted(grant("b", "HTTPRoute", "a", "Service", "s"), "a", "b", "s"));
  EXPECT_TRUE(reference_permitted(grant("b", "HTTPRoute", "a", "Service", ""), "a", "b", "s"));
  EXPECT_FALSE(reference_permitted(grant("c", "HTTPRoute", "a", "Service", "s"), "a", "b", "s"));
  EXPECT_FALSE(reference_permitted(grant("b", "GRPCRoute", "a", "Service", "s"), "a", "b", "s"));
  EXPECT_FALSE(reference_permitted(grant("b", "HTTPRoute", "x", "Service", "s"), "a", "b", "s"));
  EXPECT_FALSE(reference_permitted(grant("b", "HTTPRoute", "a", "Secret", "s"), "a", "b", "s"));
  EXPECT_FALSE(reference_permitted(grant("b", "HTTPRoute", "a", "Service", "t"), "a", "b", "s"));
}

} // namespace
} // namespace weir::gateway
