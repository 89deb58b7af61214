// The translator: listeners, attachment (sectionName, port, hostnames), precedence order,
// matches × hostnames, filters, timeouts, Service ports, and what it cannot express.
#include "gateway_test_objects.h"

#include <gtest/gtest.h>

namespace weir::gateway {
namespace {

using test::has_problem;
using test::objects_of;
using test::parent_status;
using test::route_named;

constexpr std::string_view kGateway = R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: infra}
spec:
  gatewayClassName: weir
  listeners:
  - {name: http, port: 80, protocol: HTTP, allowedRoutes: {namespaces: {from: All}}}
  - {name: shop, port: 80, protocol: HTTP, hostname: "*.shop.example",
     allowedRoutes: {namespaces: {from: All}}}
  - {name: admin, port: 8080, protocol: HTTP, hostname: admin.example}
  - {name: https, port: 443, protocol: HTTPS}
)";

std::string route(const std::string& name, const std::string& spec,
                  const std::string& extra_meta = "") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " +
         name + ", namespace: app" + extra_meta + "}\nspec:\n" + spec;
}

TEST(GatewayTranslate, OneWeirListenerPerPortNamedAfterTheFirstGatewayListener) {
  const Translation t = translate(objects_of(kGateway), {});
  ASSERT_EQ(t.listeners.size(), 2u);
  EXPECT_EQ(t.listeners[0].name, "web-http");
  EXPECT_EQ(t.listeners[0].address.text(), "0.0.0.0:80");
  EXPECT_EQ(t.listeners[1].name, "web-admin");
  EXPECT_EQ(t.listeners[1].address.text(), "0.0.0.0:8080");
  EXPECT_TRUE(has_problem(t, "Gateway infra/web spec.listeners[3].protocol: weir imports HTTP"));

  Options existing;
  existing.existing_listeners[80] = "public";
  existing.listen_host = "127.0.0.1";
  const Translation e = translate(objects_of(kGateway), existing);
  ASSERT_EQ(e.listeners.size(), 1u);
  EXPECT_EQ(e.listeners[0].address.text(), "127.0.0.1:8080");
}

TEST(GatewayTranslate, GatewayClassesFilterTheGateways) {
  Options other;
  other.gateway_classes = {"not-weir"};
  const std::string objects =
      std::string(kGateway) + route("a", "  parentRefs: [{name: web, namespace: infra}]\n"
                                         "  rules: [{backendRefs: [{name: a, port: 80}]}]\n");
  const Translation t = translate(objects_of(objects), other);
  EXPECT_TRUE(t.listeners.empty());
  EXPECT_TRUE(t.routes.empty());
  EXPECT_TRUE(t.route_statuses.empty()); // another controller's to answer
}

TEST(GatewayTranslate, HostnamesIntersectWithTheListener) {
  EXPECT_EQ(intersect_hostnames("", {}), std::vector<std::string>{""});
  EXPECT_EQ(intersect_hostnames("a.example", {}), std::vector<std::string>{"a.example"});
  EXPECT_EQ(intersect_hostnames("", {"a.example"}), std::vector<std::string>{"a.example"});
  EXPECT_EQ(intersect_hostnames("*.example", {"a.example", "b.other", "x.y.example"}),
            (std::vector<std::string>{"a.example", "x.y.example"}));
  EXPECT_EQ(intersect_hostnames("a.example", {"*.example"}), std::vector<std::string>{"a.example"});
  EXPECT_EQ(intersect_hostnames("*.example", {"*.a.example"}),
            std::vector<std::string>{"*.a.example"});
  EXPECT_EQ(intersect_hostnames("*.a.example", {"*.example"}),
            std::vector<std::string>{"*.a.example"});
  EXPECT_FALSE(intersect_hostnames("*.example", {"example"}));
  EXPECT_FALSE(intersect_hostnames("a.example", {"b.example"}));
}

TEST(GatewayTranslate, AttachmentBySectionNamePortAndHostname) {
  const std::string objects =
      std::string(kGateway) +
      route("by-section", "  parentRefs: [{name: web, namespace: infra, sectionName: shop}]\n"
                          "  hostnames: [cart.shop.example, other.example]\n"
                          "  rules: [{backendRefs: [{name: a, port: 80}]}]\n") +
      route("no-section", "  parentRefs: [{name: web, namespace: infra, sectionName: nope}]\n"
                          "  rules: [{backendRefs: [{name: a, port: 80}]}]\n") +
      route("no-host", "  parentRefs: [{name: web, namespace: infra, sectionName: shop}]\n"
                       "  hostnames: [other.example]\n"
                       "  rules: [{backendRefs: [{name: a, port: 80}]}]\n") +
      route("other-ns", "  parentRefs: [{name: web, namespace: infra, port: 8080}]\n"
                        "  rules: [{backendRefs: [{name: a, port: 80}]}]\n");
  Options o;
  o.services_complete = false;
  const Translation t = translate(objects_of(objects), o);
  const config::Route* r = route_named(t, "app-by-section-0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->listener, "web-http");
  ASSERT_EQ(r->matches.size(), 1u);
  EXPECT_EQ(r->matches[0].host, "cart.shop.example");
  EXPECT_EQ(parent_status(t, "app/no-section")->accepted.reason, "NoMatchingParent");
  EXPECT_EQ(parent_status(t, "app/no-host")->accepted.reason, "NoMatchingListenerHostname");
  // The admin listener takes routes of its own namespace (infra) only.
  EXPECT_EQ(parent_status(t, "app/other-ns")->accepted.reason, "NotAllowedByListeners");
  EXPECT_EQ(route_named(t, "app-no-host-0"), nullptr);
}

TEST(GatewayTranslate, RoutesInPrecedenceOrderAndMatchesTimesHostnames) {
  // Each route its own hostnames: an alternative an older route has is the older route's
  // (checks_test.cc).
  auto rules = [](const std::string& tag) {
    return "  parentRefs: [{name: web, namespace: infra, sectionName: http}]\n"
           "  hostnames: [a" +
           tag + ".example, b" + tag +
           ".example]\n"
           "  rules:\n"
           "  - matches:\n"
           "    - path: {type: Exact, value: /x}\n"
           "    - headers: [{name: X-Canary, value: \"yes\"}]\n"
           "      queryParams: [{type: RegularExpression, name: v, value: \"2.*\"}]\n"
           "      method: POST\n"
           "    backendRefs: [{name: a, port: 80}]\n"
           "  - backendRefs: [{name: a, port: 80}]\n";
  };
  // Older first, whatever the order of the input; the same time is ordered by namespace/name.
  const std::string objects =
      std::string(kGateway) +
      route("young", rules("y"), ", creationTimestamp: \"2024-05-02T00:00:00Z\"") +
      route("old-b", rules("b"), ", creationTimestamp: \"2024-05-01T00:00:00Z\"") +
      route("old-a", rules(""), ", creationTimestamp: \"2024-05-01T00:00:00Z\"");
  Options o;
  o.services_complete = false;
  const Translation t = translate(objects_of(objects), o);
  std::vector<std::string> names;
  for (const config::Route& r : t.routes)
    names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"app-old-a-0", "app-old-a-1", "app-old-b-0",
                                             "app-old-b-1", "app-young-0", "app-young-1"}));
  const config::Route& first = t.routes[0];
  ASSERT_EQ(first.matches.size(), 4u); // 2 hostnames × 2 matches
  EXPECT_EQ(first.matches[0].host, "a.example");
  EXPECT_EQ(first.matches[0].path.type, config::PathMatch::Type::exact);
  EXPECT_EQ(first.matches[1].host, "a.example");
  EXPECT_EQ(first.matches[1].method, "POST");
  ASSERT_EQ(first.matches[1].headers.size(), 1u);
  EXPECT_EQ(first.matches[1].headers[0].name, "x-canary");
  ASSERT_EQ(first.matches[1].query.size(), 1u);
  EXPECT_EQ(first.matches[1].query[0].type, config::ValueMatch::Type::regex);
  EXPECT_EQ(first.matches[2].host, "b.example");
  // A rule without matches matches every path.
  ASSERT_EQ(t.routes[1].matches.size(), 2u);
  EXPECT_EQ(t.routes[1].matches[0].path, config::PathMatch{});
}

TEST(GatewayTranslate, FiltersAndTimeouts) {
  const std::string objects =
      std::string(kGateway) +
      route("f", R"(  parentRefs: [{name: web, namespace: infra, sectionName: http}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: X-A, value: "1"}], add: [{name: X-B, value: "2"}], remove: [X-C]}
    - type: ResponseHeaderModifier
      responseHeaderModifier: {remove: [Server]}
    - type: URLRewrite
      urlRewrite: {hostname: internal.example, path: {type: ReplacePrefixMatch, replacePrefixMatch: /v2}}
    - type: RequestMirror
      requestMirror: {backendRef: {name: shadow, port: 80}, fraction: {numerator: 1, denominator: 20}}
    - type: CORS
    backendRefs:
    - name: a
      port: 80
      filters:
      - type: RequestHeaderModifier
        requestHeaderModifier: {set: [{name: X-Backend, value: a}]}
    timeouts: {request: 10s, backendRequest: 1500ms}
  - filters:
    - type: RequestRedirect
      requestRedirect: {scheme: https, statusCode: 301, path: {type: ReplaceFullPath, replaceFullPath: /moved}}
)");
  Options o;
  o.services_complete = false;
  const Translation t = translate(objects_of(objects), o);
  const config::Route* r = route_named(t, "app-f-0");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->filters.request_headers.set, (std::vector<config::HeaderValue>{{"X-A", "1"}}));
  EXPECT_EQ(r->filters.request_headers.add, (std::vector<config::HeaderValue>{{"X-B", "2"}}));
  EXPECT_EQ(r->filters.request_headers.remove, std::vector<std::string>{"x-c"});
  EXPECT_EQ(r->filters.response_headers.remove, std::vector<std::string>{"server"});
  EXPECT_EQ(r->filters.rewrite.hostname, "internal.example");
  EXPECT_EQ(r->filters.rewrite.path.type, config::PathModifier::Type::replace_prefix);
  EXPECT_TRUE(r->filters.mirror.enabled);
  EXPECT_EQ(r->filters.mirror.service, "app/shadow");
  EXPECT_DOUBLE_EQ(r->filters.mirror.percent, 5);
  ASSERT_EQ(r->backends.size(), 1u);
  EXPECT_EQ(r->backends[0].filters.request_headers.set,
            (std::vector<config::HeaderValue>{{"X-Backend", "a"}}));
  EXPECT_EQ(r->timeouts.request, config::Duration(10000));
  EXPECT_EQ(r->timeouts.backend_request, config::Duration(1500));
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/f spec.rules[0].filters[4]: weir has no CORS filter"));

  const config::Route* redirect = route_named(t, "app-f-1");
  ASSERT_NE(redirect, nullptr);
  EXPECT_TRUE(redirect->filters.redirect.enabled);
  EXPECT_EQ(redirect->filters.redirect.scheme, "https");
  EXPECT_EQ(redirect->filters.redirect.status, 301);
  EXPECT_EQ(redirect->filters.redirect.path.value, "/moved");
  EXPECT_TRUE(redirect->backends.empty());
}

// A filter weir does not have may be what guards the backend: the rule is not served without it.
TEST(GatewayTranslate, ExtensionRefLeavesTheRuleOut) {
  const std::string objects =
      std::string(kGateway) +
      route("ext", R"(  parentRefs: [{name: web, namespace: infra, sectionName: http}]
  rules:
  - filters: [{type: ExtensionRef, extensionRef: {group: auth.example, kind: Policy, name: p}}]
    backendRefs: [{name: a, port: 80}]
    sessionPersistence: {sessionName: s}
)");
  Options o;
  o.services_complete = false;
  const Translation t = translate(objects_of(objects), o);
  EXPECT_TRUE(t.routes.empty());
  EXPECT_TRUE(t.services.empty());
  EXPECT_TRUE(has_problem(t, "spec.rules[0].filters[0].type: weir has no ExtensionRef filter"));
  EXPECT_TRUE(has_problem(t, "spec.rules[0].sessionPersistence: weir has no equivalent"));
  const ParentStatus* s = parent_status(t, "app/ext");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->accepted.reason, "UnsupportedValue");
}

TEST(GatewayTranslate, ServicePortsAndMissingBackends) {
  const std::string objects = std::string(kGateway) + R"(
---
apiVersion: v1
kind: Service
metadata: {name: named, namespace: app}
spec: {ports: [{name: web, port: 80, targetPort: 8080}, {name: metrics, port: 9090}]}
---
apiVersion: v1
kind: Service
metadata: {name: plain, namespace: app}
spec: {ports: [{port: 80, targetPort: 8081}]}
)" + route("p", R"(  parentRefs: [{name: web, namespace: infra, sectionName: http}]
  rules:
  - backendRefs:
    - {name: named, port: 80, weight: 3}
    - {name: plain, port: 80}
    - {name: gone, port: 80}
    - {name: named, port: 81}
    - {kind: ConfigMap, name: cm}
  - matches: [{path: {value: /metrics}}]
    backendRefs: [{name: named, port: 9090}]
)");
  const Translation t = translate(objects_of(objects), {});
  const config::Route* r = route_named(t, "app-p-0");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->backends.size(), 2u);
  // One Kubernetes Service on two ports: a weir service per port.
  EXPECT_EQ(r->backends[0].service, "app/named-web");
  EXPECT_EQ(r->backends[0].weight, 3u);
  EXPECT_EQ(r->backends[1].service, "app/plain");
  EXPECT_EQ(route_named(t, "app-p-1")->backends[0].service, "app/named-metrics");
  ASSERT_EQ(t.services.size(), 3u);
  EXPECT_EQ(t.services[0].id(), "app/named-metrics");
  EXPECT_EQ(t.services[0].kubernetes->port_name, "metrics");
  EXPECT_EQ(t.services[2].id(), "app/plain");
  EXPECT_EQ(t.services[2].kubernetes->port_number, 8081); // the unnamed port's target
  const ParentStatus* s = parent_status(t, "app/p");
  ASSERT_NE(s, nullptr);
  EXPECT_FALSE(s->resolved_refs.status);
  EXPECT_EQ(s->resolved_refs.reason, "BackendNotFound"); // the first one left out
  EXPECT_NE(s->resolved_refs.message.find("app/gone does not exist"), std::string::npos);
  EXPECT_NE(s->resolved_refs.message.find("has no port 81"), std::string::npos);
  EXPECT_NE(s->resolved_refs.message.find("ConfigMap"), std::string::npos);
  EXPECT_TRUE(has_problem(t, "weir sends that share to the others"));
}

TEST(GatewayTranslate, ParentRefToAMissingGatewayIsAProblemWithoutStatus) {
  const std::string objects =
      std::string(kGateway) + route("lost", "  parentRefs: [{name: nowhere}]\n"
                                            "  rules: [{backendRefs: [{name: a, port: 80}]}]\n");
  const Translation t = translate(objects_of(objects), {});
  EXPECT_TRUE(t.route_statuses.empty());
  EXPECT_TRUE(has_problem(t, "names the Gateway app/nowhere, which is not among the objects"));
}

} // namespace
} // namespace weir::gateway
