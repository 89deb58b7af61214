// What `weir import` writes is a config the loader takes as it is, and it routes as translated.
#include "gateway_test_objects.h"
#include "weir/config/loader.h"
#include "weir/gateway/status_writer.h"

#include <fstream>
#include <gtest/gtest.h>
#include <sstream>

namespace weir::gateway {
namespace {

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The docs example: Gateway + HTTPRoute 90/10 across two namespaces + ReferenceGrant + Services.
TEST(GatewayRender, TheDocsExampleLoadsAsTranslated) {
  const std::string dir = std::string(WEIR_SOURCE_DIR) + "/docs/gateway-api/";
  std::string all;
  for (const char* f : {"gateway.yaml", "httproute.yaml", "referencegrant.yaml", "services.yaml"})
    all += read(dir + f) + "\n---\n";
  Options import;
  import.routes_without_backends = false;
  const Objects objects = test::objects_of(all);
  // Applied to a cluster as it is, its GatewayClass is weir's controller's.
  ASSERT_EQ(objects.gateway_classes.size(), 1u);
  EXPECT_EQ(objects.gateway_classes[0].controller_name, kControllerName);
  const Translation t = translate(objects, import);
  for (const Problem& p : t.problems)
    ADD_FAILURE() << p.text();
  RenderOptions render;
  render.kubernetes_api_server = "https://10.0.0.1:6443";
  const std::string yaml = render_yaml(t, render);
  auto loaded = config::load_string(yaml, "import.yaml");
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded))
    FAIL() << config::format_errors(*errors) << yaml;
  const config::Config& c = std::get<config::Config>(loaded);
  EXPECT_EQ(c.kubernetes.api_server, "https://10.0.0.1:6443");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].name, "web-http");
  EXPECT_EQ(c.listeners[0].address.text(), "0.0.0.0:80");
  ASSERT_EQ(c.services.size(), 2u);
  EXPECT_EQ(c.services[0].id(), "app-v1/app");
  EXPECT_EQ(c.services[1].id(), "app-v2/app");
  EXPECT_EQ(c.services[1].kubernetes, (config::KubernetesRef{"app", "http", 0}));
  ASSERT_EQ(c.routes.size(), 1u);
  const config::Route& r = c.routes[0];
  EXPECT_EQ(r.name, "app-v1-app-0");
  EXPECT_EQ(r.listener, "web-http");
  EXPECT_EQ(r.matches, t.routes[0].matches);
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends[0].service, "app-v1/app");
  EXPECT_EQ(r.backends[0].weight, 90u);
  EXPECT_EQ(r.backends[1].service, "app-v2/app");
  EXPECT_EQ(r.backends[1].weight, 10u);
}

// Filters and timeouts survive the trip through the file.
TEST(GatewayRender, FiltersRoundTrip) {
  const Objects objects = test::objects_of(std::string(test::kSameNamespaceGateway) + R"(
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: f, namespace: gateway-conformance-infra}
spec:
  parentRefs: [{name: same-namespace}]
  hostnames: ["*.example.com"]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-A, value: "1"}], remove: [X-C]}
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}, percent: 10}
    backendRefs:
    - {name: a, port: 80, weight: 9}
    - name: b
      port: 80
      filters: [{type: ResponseHeaderModifier, responseHeaderModifier: {add: [{name: X-V, value: b}]}}]
    timeouts: {request: 10s, backendRequest: 2s}
  - matches: [{path: {type: Exact, value: /old}}]
    filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, port: 8443, statusCode: 308}
)");
  Options import;
  import.routes_without_backends = false;
  import.services_complete = false;
  const Translation t = translate(objects, import);
  EXPECT_TRUE(t.problems.empty());
  const std::string yaml = render_yaml(t, {});
  auto loaded = config::load_string(yaml, "import.yaml");
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded))
    FAIL() << config::format_errors(*errors) << yaml;
  const config::Config& c = std::get<config::Config>(loaded);
  ASSERT_EQ(c.routes.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(c.routes[i].matches, t.routes[i].matches) << i;
    EXPECT_EQ(c.routes[i].filters, t.routes[i].filters) << i;
    EXPECT_EQ(c.routes[i].timeouts.request, t.routes[i].timeouts.request) << i;
    EXPECT_EQ(c.routes[i].timeouts.backend_request, t.routes[i].timeouts.backend_request) << i;
    ASSERT_EQ(c.routes[i].backends.size(), t.routes[i].backends.size()) << i;
    for (size_t b = 0; b < c.routes[i].backends.size(); ++b) {
      EXPECT_EQ(c.routes[i].backends[b].service, t.routes[i].backends[b].service);
      EXPECT_EQ(c.routes[i].backends[b].weight, t.routes[i].backends[b].weight);
      EXPECT_EQ(c.routes[i].backends[b].filters, t.routes[i].backends[b].filters);
    }
  }
}

} // namespace
} // namespace weir::gateway
