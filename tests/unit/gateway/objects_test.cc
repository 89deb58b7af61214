// Reading Gateway API objects from YAML and JSON: versions, defaults, kinds weir ignores, and
// malformed input reported with its object and field, never thrown.
#include "gateway_test_objects.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

namespace weir::gateway {
namespace {

TEST(GatewayObjects, ReadsV1AndV1beta1WithDefaults) {
  Objects o = test::objects_of(R"(
apiVersion: gateway.networking.k8s.io/v1beta1
kind: HTTPRoute
metadata: {name: r, generation: 7, creationTimestamp: "2024-01-01T00:00:00Z"}
spec:
  parentRefs: [{name: g, sectionName: http, port: 80}]
  hostnames: [App.Example.COM]
  rules:
  - backendRefs: [{name: s, port: 8080}]
    timeouts: {request: 1h30m}
)");
  ASSERT_EQ(o.http_routes.size(), 1u);
  const HTTPRoute& r = o.http_routes[0];
  EXPECT_EQ(r.meta.ns, "default");
  EXPECT_EQ(r.meta.generation, 7);
  EXPECT_EQ(r.hostnames, std::vector<std::string>{"app.example.com"});
  ASSERT_EQ(r.parent_refs.size(), 1u);
  EXPECT_EQ(r.parent_refs[0].kind, "Gateway");
  EXPECT_EQ(r.parent_refs[0].port, uint16_t{80});
  ASSERT_EQ(r.rules.size(), 1u);
  EXPECT_EQ(r.rules[0].backend_refs[0].weight, 1u);
  EXPECT_EQ(r.rules[0].backend_refs[0].kind, "Service");
  EXPECT_EQ(r.rules[0].request_timeout, config::Duration(5400000));
}

TEST(GatewayObjects, ReadsTheApiServersJson) {
  Objects o;
  std::vector<Problem> problems;
  const YAML::Node event = YAML::Load(
      R"({"type":"ADDED","object":{"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway",)"
      R"("metadata":{"name":"g","namespace":"n","generation":2},"spec":{"gatewayClassName":"weir",)"
      R"("listeners":[{"name":"http","port":80,"protocol":"HTTP"}]}}})");
  EXPECT_TRUE(parse_object(event["object"], "", o, problems));
  EXPECT_TRUE(problems.empty());
  ASSERT_EQ(o.gateways.size(), 1u);
  EXPECT_EQ(o.gateways[0].listeners[0].port, 80);
  EXPECT_EQ(o.gateways[0].listeners[0].from, GatewayListener::From::same);
}

TEST(GatewayObjects, OtherKindsAreNotesAndBadObjectsAreProblems) {
  Objects o;
  std::vector<Problem> problems;
  std::vector<Problem> notes;
  EXPECT_TRUE(parse_documents(R"(
apiVersion: v1
kind: ConfigMap
metadata: {name: c, namespace: n}
---
apiVersion: gateway.networking.k8s.io/v1alpha1
kind: HTTPRoute
metadata: {name: old}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad, namespace: n}
spec:
  rules:
  - backendRefs: [{name: s, port: 99999}]
    timeouts: {request: 10 seconds}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: s, namespace: n}
  spec: {ports: [{name: http, port: 80, targetPort: http-port}]}
)",
                              "in.yaml", o, problems, notes));
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0].text(), "in.yaml:2: ConfigMap n/c: not a kind weir reads (GatewayClass, "
                             "Gateway, HTTPRoute, ReferenceGrant, Service, Namespace); ignored");
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_EQ(problems[0].text(),
            "in.yaml:6: HTTPRoute default/old apiVersion: weir reads HTTPRoute of "
            "gateway.networking.k8s.io/v1 or v1beta1, not gateway.networking.k8s.io/v1alpha1");
  EXPECT_EQ(problems[1].text(), "in.yaml:10: HTTPRoute n/bad spec.rules[0].backendRefs[0].port: "
                                "expected an integer from 1 to 65535");
  EXPECT_NE(problems[2].text().find("spec.rules[0].timeouts.request: expected a duration"),
            std::string::npos);
  EXPECT_TRUE(o.http_routes.empty());
  ASSERT_EQ(o.services.size(), 1u);
  EXPECT_EQ(o.services[0].ports[0].target_port_name, "http-port");
}

TEST(GatewayObjects, NotYamlIsRefused) {
  Objects o;
  std::vector<Problem> problems;
  std::vector<Problem> notes;
  EXPECT_FALSE(parse_documents("kind: [unclosed", "x.yaml", o, problems, notes));
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].text().find("x.yaml:"), std::string::npos);
}

TEST(GatewayObjects, WrongShapesNeverThrow) {
  for (const char* text : {"[1, 2]", "apiVersion: v1", "kind: HTTPRoute",
                           "{apiVersion: gateway.networking.k8s.io/v1, kind: HTTPRoute, "
                           "metadata: {name: r}, spec: {rules: 5, parentRefs: [[1]]}}",
                           "{apiVersion: gateway.networking.k8s.io/v1, kind: Gateway, "
                           "metadata: [x], spec: {listeners: [{port: {a: 1}}]}}"}) {
    Objects o;
    std::vector<Problem> problems;
    std::vector<Problem> notes;
    EXPECT_NO_THROW(parse_documents(text, "w.yaml", o, problems, notes)) << text;
    EXPECT_FALSE(problems.empty()) << text;
  }
}

} // namespace
} // namespace weir::gateway
