// What the translator makes must pass the checks weir's own config file passes: a rule they
// refuse (a header value that would end the header line, a framing header set by a filter, a
// regular expression that does not compile) is left out and named, since the controller's
// routes reach the data plane without a file; an alternative an older HTTPRoute already has on
// the listener is left to the older one; and a rule of more alternatives than a weir route
// holds is spread over several routes.
#include "gateway_test_objects.h"
#include "weir/config/loader.h"

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
)";

std::string route(const std::string& name, const std::string& spec,
                  const std::string& created = "2024-01-01T00:00:00Z") {
  return "---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: " +
         name + ", namespace: app, creationTimestamp: \"" + created +
         "\"}\nspec:\n  parentRefs: [{name: web, namespace: infra}]\n" + spec;
}

// The errors weir's loader finds in the translation written as a config file ("" none).
std::string check_errors(const Translation& t) {
  auto loaded = config::load_string(render_yaml(t, {}), "rendered");
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded))
    return config::format_errors(*errors);
  return "";
}

TEST(GatewayChecks, ARuleWeirsChecksRefuseIsLeftOutAndNamed) {
  const std::string objects = std::string(kGateway) + route("c", R"(
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: x-a, value: "v\r\nx-injected: 1"}]}
    backendRefs: [{name: c, port: 80}]
  - matches: [{path: {value: /te}}]
    filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: Transfer-Encoding, value: chunked}]}
    backendRefs: [{name: c, port: 80}]
  - matches: [{path: {type: RegularExpression, value: "/(["}}]
    backendRefs: [{name: c, port: 80}]
  - matches: [{path: {value: /good}}]
    backendRefs: [{name: c, port: 80}]
)");
  Options options;
  options.services_complete = false;
  const Translation t = translate(objects_of(objects), options);
  ASSERT_EQ(t.routes.size(), 1u);
  EXPECT_EQ(t.routes[0].name, "app-c-3");
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/c spec.rules[0]:")) << check_errors(t);
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/c spec.rules[1]:"));
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/c spec.rules[2]:"));
  EXPECT_TRUE(has_problem(t, "control characters"));
  EXPECT_TRUE(has_problem(t, "Transfer-Encoding"));
  EXPECT_TRUE(has_problem(t, "the rule is left out"));
  EXPECT_EQ(check_errors(t), "");
  const ParentStatus* s = parent_status(t, "app/c");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->accepted.status) << "one rule is served";

  // Every rule refused: the route is not accepted, and the status says why.
  const std::string bad = std::string(kGateway) + route("d", R"(
  rules:
  - filters:
    - type: RequestHeaderModifier
      requestHeaderModifier: {set: [{name: Host, value: evil.example}]}
    backendRefs: [{name: d, port: 80}]
)");
  const Translation b = translate(objects_of(bad), options);
  EXPECT_TRUE(b.routes.empty());
  const ParentStatus* bs = parent_status(b, "app/d");
  ASSERT_NE(bs, nullptr);
  EXPECT_FALSE(bs->accepted.status);
  EXPECT_EQ(bs->accepted.reason, "UnsupportedValue");
  EXPECT_NE(bs->accepted.message.find("Host"), std::string::npos) << bs->accepted.message;
}

TEST(GatewayChecks, ARuleWithoutBackendsOrARedirectIsCheckedToo) {
  const std::string objects = std::string(kGateway) + route("e", R"(
  rules:
  - filters:
    - type: RequestRedirect
      requestRedirect: {path: {type: ReplaceFullPath, replaceFullPath: "/x\r\ny"}}
  - matches: [{path: {value: /none}}]
    filters:
    - type: ResponseHeaderModifier
      responseHeaderModifier: {add: [{name: x-b, value: "a\nb"}]}
    backendRefs: [{name: missing, port: 80}]
  - matches: [{path: {value: /ok}}]
    backendRefs: [{name: missing, port: 80}]
)");
  const Translation t = translate(objects_of(objects), {}); // services_complete: none exist
  ASSERT_EQ(t.routes.size(), 1u) << "the rule with no backend weir may send to is kept";
  EXPECT_EQ(t.routes[0].name, "app-e-2");
  EXPECT_TRUE(t.routes[0].backends.empty());
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/e spec.rules[0]:"));
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/e spec.rules[1]:"));
}

TEST(GatewayChecks, TheOlderRouteKeepsAnIdenticalMatch) {
  const std::string objects = std::string(kGateway) +
                              route("newer",
                                    "  hostnames: [app.example.com]\n  rules:\n"
                                    "  - backendRefs: [{name: b, port: 80}]\n"
                                    "  - matches: [{path: {value: /only-newer}}]\n"
                                    "    backendRefs: [{name: b, port: 80}]\n",
                                    "2024-02-01T00:00:00Z") +
                              route("older",
                                    "  hostnames: [app.example.com]\n  rules:\n"
                                    "  - matches: [{path: {value: /}}, {path: {value: /old}}]\n"
                                    "    backendRefs: [{name: a, port: 80}]\n",
                                    "2024-01-01T00:00:00Z");
  Options options;
  options.services_complete = false;
  const Translation t = translate(objects_of(objects), options);
  EXPECT_EQ(check_errors(t), "");
  ASSERT_NE(route_named(t, "app-older-0"), nullptr);
  EXPECT_EQ(route_named(t, "app-older-0")->matches.size(), 2u);
  EXPECT_EQ(route_named(t, "app-newer-0"), nullptr) << "its only alternative is the older one's";
  ASSERT_NE(route_named(t, "app-newer-1"), nullptr);
  EXPECT_TRUE(has_problem(t, "HTTPRoute app/newer spec.rules[0]"));
  EXPECT_TRUE(has_problem(t, "app/older"));
}

TEST(GatewayChecks, MoreAlternativesThanARouteHoldsAreSpreadOverRoutesInOrder) {
  std::string hostnames, matches;
  for (int h = 0; h < 16; ++h)
    hostnames += std::string(h ? ", " : "") + "h" + std::to_string(h) + ".example";
  for (int m = 0; m < 5; ++m)
    matches += std::string(m ? ", " : "") + "{path: {value: /p" + std::to_string(m) + "}}";
  const std::string objects =
      std::string(kGateway) +
      route("many", "  hostnames: [" + hostnames + "]\n  rules:\n" + "  - matches: [" + matches +
                        "]\n" + "    backendRefs: [{name: a, port: 80}]\n");
  Options options;
  options.services_complete = false;
  const Translation t = translate(objects_of(objects), options);
  EXPECT_EQ(check_errors(t), "");
  size_t alternatives = 0;
  for (const config::Route& r : t.routes) {
    EXPECT_LE(r.matches.size(), 64u) << r.name;
    alternatives += r.matches.size();
  }
  EXPECT_EQ(alternatives, 80u);
  ASSERT_GE(t.routes.size(), 2u);
  EXPECT_EQ(t.routes[0].name, "app-many-0");
  EXPECT_EQ(t.routes[0].matches[0].host, "h0.example");
  EXPECT_TRUE(t.problems.empty()) << t.problems[0].text();
}

} // namespace
} // namespace weir::gateway
