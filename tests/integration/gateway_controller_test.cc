// The Gateway API controller against the fake API server (support/fake_kube_api.h): weir with
// `gateway:` watches GatewayClass, Gateway, HTTPRoute, ReferenceGrant, Service and Namespace
// objects, routes as the HTTPRoutes say (their Services' pods found through EndpointSlices), and
// writes each HTTPRoute's status. Two demo upstreams are the pods of app-v1/app and app-v2/app.
#include "support/client.h"
#include "support/fake_kube_api.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"

#include <algorithm>
#include <chrono>
#include <gtest/gtest.h>
#include <map>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kClasses = "/apis/gateway.networking.k8s.io/v1/gatewayclasses";
constexpr const char* kGateways = "/apis/gateway.networking.k8s.io/v1/gateways";
constexpr const char* kRoutes = "/apis/gateway.networking.k8s.io/v1/httproutes";
constexpr const char* kGrants = "/apis/gateway.networking.k8s.io/v1beta1/referencegrants";
constexpr const char* kServices = "/api/v1/services";
constexpr const char* kController = "weir.dev/gateway-controller";

std::string gateway_config(const FakeKubeApi& api) {
  return "kubernetes:\n  api_server: " + api.url() + "\n  token_file: " + api.token_file() +
         "\n  ca_file: " + api.ca_file() + R"(
gateway: {class_name: weir}
listeners: [{name: public, address: 127.0.0.1:0}]
)";
}

std::string service_json(const std::string& ns) {
  return R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"app","namespace":")" + ns +
         R"("},"spec":{"ports":[{"name":"http","port":80,"targetPort":"http"}]}})";
}

// An HTTPRoute in app-v1 attached to Gateway infra/gw: `backends` as {namespace, weight}.
std::string route_json(const std::string& name,
                       const std::vector<std::pair<std::string, int>>& backends,
                       const std::string& status = "") {
  std::string refs;
  for (const auto& [ns, weight] : backends)
    refs += std::string(refs.empty() ? "" : ",") + R"({"name":"app","namespace":")" + ns +
            R"(","port":80,"weight":)" + std::to_string(weight) + "}";
  return R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":")" +
         name +
         R"(","namespace":"app-v1"},"spec":{"parentRefs":[{"name":"gw","namespace":"infra"}],)"
         R"("rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/"}}],"backendRefs":[)" +
         refs + "]}]}" + (status.empty() ? "" : R"(,"status":)" + status) + "}";
}

std::string grant_json() {
  return R"({"apiVersion":"gateway.networking.k8s.io/v1beta1","kind":"ReferenceGrant",)"
         R"("metadata":{"name":"from-app-v1","namespace":"app-v2"},"spec":{"from":[{"group":)"
         R"("gateway.networking.k8s.io","kind":"HTTPRoute","namespace":"app-v1"}],"to":[{)"
         R"("group":"","kind":"Service"}]}})";
}

FakeSlice slice(const std::string& ns, uint16_t port) {
  FakeSlice s;
  s.ns = ns;
  s.name = "app-" + ns;
  s.service = "app";
  s.ports = {{"http", port}};
  s.endpoints = {{"127.0.0.1", true, true, false}};
  return s;
}

// The cluster of every test: the GatewayClass weir, Gateway infra/gw (HTTP on 80, routes from
// every namespace), Services app-v1/app and app-v2/app, each with one pod (a demo upstream).
struct Cluster {
  std::unique_ptr<FakeKubeApi> api;
  DemoUpstream v1, v2;
  Weir weir; // destroyed first
};
Cluster cluster() {
  Cluster c;
  c.api = FakeKubeApi::start();
  if (!c.api) return c;
  c.v1 = DemoUpstream::start("v1");
  c.v2 = DemoUpstream::start("v2");
  c.api->put_object(kClasses, std::string(R"({"apiVersion":"gateway.networking.k8s.io/v1",)") +
                                  R"("kind":"GatewayClass","metadata":{"name":"weir"},"spec":)" +
                                  R"({"controllerName":")" + kController + R"("}})");
  c.api->put_object(
      kGateways,
      R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"gw",)"
      R"("namespace":"infra"},"spec":{"gatewayClassName":"weir","listeners":[{"name":"http",)"
      R"("port":80,"protocol":"HTTP","allowedRoutes":{"namespaces":{"from":"All"}}}]}})");
  c.api->put_object(kServices, service_json("app-v1"));
  c.api->put_object(kServices, service_json("app-v2"));
  c.api->put_slice(slice("app-v1", c.v1.port));
  c.api->put_slice(slice("app-v2", c.v2.port));
  return c;
}

// Who served each of `n` requests ("" for a failed one).
std::map<std::string, int> served(uint16_t port, int n) {
  std::map<std::string, int> out;
  for (int i = 0; i < n; ++i) {
    HttpResponse r = http_request(port, "GET", "/");
    ++out[r.status == 200 ? r.header("x-served-by") : "status " + std::to_string(r.status)];
  }
  return out;
}

// weir's entry in the route's status.parents (null when there is none yet).
json::Value weir_parent(const FakeKubeApi& api, const std::string& route) {
  auto parsed = json::parse(api.object(kRoutes, "app-v1", route));
  if (!parsed.value) return {};
  for (const auto& p : (*parsed.value)["status"]["parents"].as_array())
    if (p.get_string("controllerName") == kController) return p;
  return {};
}

json::Value condition(const json::Value& parent, const std::string& type) {
  for (const auto& c : parent["conditions"].as_array())
    if (c.get_string("type") == type) return c;
  return {};
}

TEST(GatewayController, HTTPRouteWeightsMoveTrafficWithinASecondAndItsStatusIsWritten) {
  Cluster c = cluster();
  ASSERT_TRUE(c.api);
  // Another controller's entry, which weir must give back unchanged when it writes its own.
  const std::string other =
      R"({"parents":[{"parentRef":{"name":"other-gw","namespace":"infra"},)"
      R"("controllerName":"example.com/other","conditions":[{"type":"Accepted","status":"True",)"
      R"("reason":"Accepted","message":"","observedGeneration":1,)"
      R"("lastTransitionTime":"2024-01-01T00:00:00Z"}]}]})";
  c.api->put_object(kRoutes, route_json("shop", {{"app-v1", 90}, {"app-v2", 10}}, other));
  c.api->put_object(kGrants, grant_json());
  c.weir = Weir::start(gateway_config(*c.api));
  const uint16_t port = c.weir.port();

  ASSERT_TRUE(wait_until([&] { return served(port, 1).count("v1") > 0; }, 5s))
      << "the HTTPRoute's routes never took traffic";
  auto split = served(port, 400);
  EXPECT_EQ(split["v1"] + split["v2"], 400) << "every request served";
  EXPECT_GE(split["v2"], 20) << "about 10 % to v2";
  EXPECT_LE(split["v2"], 70) << "about 10 % to v2";

  // The status: weir's entry with Accepted and ResolvedRefs, the other controller's kept.
  ASSERT_TRUE(wait_until([&] { return !weir_parent(*c.api, "shop").is_null(); }, 3s));
  json::Value ours = weir_parent(*c.api, "shop");
  EXPECT_EQ(ours["parentRef"].get_string("name"), "gw");
  EXPECT_EQ(ours["parentRef"].get_string("namespace"), "infra");
  for (const char* type : {"Accepted", "ResolvedRefs"}) {
    json::Value cond = condition(ours, type);
    EXPECT_EQ(cond.get_string("status"), "True") << type;
    EXPECT_EQ(cond.get_string("reason"), type) << type;
    EXPECT_EQ(cond.get_number("observedGeneration"), 1) << type;
    EXPECT_FALSE(cond.get_string("lastTransitionTime").empty()) << type;
  }
  auto route = json::parse(c.api->object(kRoutes, "app-v1", "shop"));
  ASSERT_TRUE(route.value);
  ASSERT_EQ((*route.value)["status"]["parents"].as_array().size(), 2u);
  EXPECT_EQ((*route.value)["status"]["parents"].as_array()[0].get_string("controllerName"),
            "example.com/other");
  const auto patches = c.api->patches();
  // The route's status write among them (the GatewayClass's may come first).
  const std::string route_status =
      "/apis/gateway.networking.k8s.io/v1/namespaces/app-v1/httproutes/shop/status";
  auto route_patch = std::find_if(patches.begin(), patches.end(),
                                  [&](const auto& p) { return p.path == route_status; });
  ASSERT_NE(route_patch, patches.end()) << "no status write for the HTTPRoute";
  EXPECT_EQ(route_patch->content_type, "application/merge-patch+json");

  // A client (Argo Rollouts, Flagger) moves every request to v2: within a second.
  const auto changed_at = std::chrono::steady_clock::now();
  c.api->put_object(kRoutes, route_json("shop", {{"app-v1", 0}, {"app-v2", 100}}));
  EXPECT_TRUE(wait_until([&] { return served(port, 20)["v2"] == 20; }, 1s, 10ms))
      << "traffic did not follow the weights within 1 s";
  const auto took = std::chrono::steady_clock::now() - changed_at;
  EXPECT_LT(took, 1s);
  RecordProperty(
      "weights_to_traffic_ms",
      std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(took).count()));
  EXPECT_EQ(served(port, 100)["v2"], 100);
  // The new generation is observed in the status, and only one more write was needed.
  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "shop"), "Accepted")
                   .get_number("observedGeneration") == 2;
      },
      3s));
  // Statuses that say what they said already are not written again.
  const size_t writes = c.api->patches().size();
  c.api->send_bookmark();
  EXPECT_FALSE(wait_until([&] { return c.api->patches().size() > writes; }, 300ms));
}

TEST(GatewayController, ACrossNamespaceBackendNeedsAReferenceGrant) {
  Cluster c = cluster();
  ASSERT_TRUE(c.api);
  c.api->put_object(kRoutes, route_json("cross", {{"app-v2", 1}}));
  c.weir = Weir::start(gateway_config(*c.api));
  const uint16_t port = c.weir.port();

  ASSERT_TRUE(wait_until([&] { return !weir_parent(*c.api, "cross").is_null(); }, 3s));
  json::Value resolved = condition(weir_parent(*c.api, "cross"), "ResolvedRefs");
  EXPECT_EQ(resolved.get_string("status"), "False");
  EXPECT_EQ(resolved.get_string("reason"), "RefNotPermitted");
  EXPECT_EQ(served(port, 5)["v2"], 0) << "no request reaches a Service it may not refer to";

  c.api->put_object(kGrants, grant_json());
  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "cross"), "ResolvedRefs").get_string("status") ==
               "True";
      },
      3s));
  EXPECT_TRUE(wait_until([&] { return served(port, 5)["v2"] == 5; }, 2s));
}

} // namespace
} // namespace weir::test

namespace weir::test {
namespace {

// An HTTPRoute's filters reach the data plane without a config file: what the file's checks
// refuse (here a header value that would end its line and start another header) leaves the rule
// out, says so in the status, and the other routes keep working.
TEST(GatewayController, ARuleWeirsChecksRefuseIsNotServedAndItsStatusSaysWhy) {
  Cluster c = cluster();
  ASSERT_TRUE(c.api);
  c.api->put_object(kRoutes, route_json("shop", {{"app-v1", 1}}));
  c.api->put_object(
      kRoutes,
      R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":{"name":)"
      R"("inject","namespace":"app-v1"},"spec":{"parentRefs":[{"name":"gw","namespace":"infra"}],)"
      R"("rules":[{"matches":[{"path":{"type":"PathPrefix","value":"/echo-headers"}}],)"
      R"("filters":[{"type":"RequestHeaderModifier","requestHeaderModifier":{"set":[{"name":)"
      R"("x-a","value":"v\r\nx-injected: 1"}]}}],)"
      R"("backendRefs":[{"name":"app","port":80}]}]}})");
  c.weir = Weir::start(gateway_config(*c.api));
  const uint16_t port = c.weir.port();

  ASSERT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "inject"), "Accepted").get_string("reason") ==
               "UnsupportedValue";
      },
      3s))
      << c.api->object(kRoutes, "app-v1", "inject");
  EXPECT_NE(condition(weir_parent(*c.api, "inject"), "Accepted")
                .get_string("message")
                .find("control characters"),
            std::string::npos);
  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "shop"), "Accepted").get_string("status") == "True";
      },
      3s));
  HttpResponse r;
  EXPECT_TRUE(wait_until(
      [&] {
        r = http_request(port, "GET", "/echo-headers");
        return r.status == 200;
      },
      3s))
      << "served by the other HTTPRoute: " << r.status;
  EXPECT_EQ(r.body.find("x-injected"), std::string::npos) << r.body;
  EXPECT_EQ(r.body.find("x-a:"), std::string::npos) << r.body;
}

// A write refused with 409 Conflict (another controller wrote the object meanwhile) is made
// again from the object as it is now, not dropped: a status-only change brings no rebuild that
// would write it later.
TEST(GatewayController, AStatusWriteRefusedWithAConflictIsMadeAgain) {
  Cluster c = cluster();
  ASSERT_TRUE(c.api);
  c.api->put_object(kRoutes, route_json("shop", {{"app-v1", 1}}));
  c.api->fail_patches(409, 2); // the route's write and the GatewayClass's
  c.weir = Weir::start(gateway_config(*c.api));
  EXPECT_TRUE(wait_until([&] { return !weir_parent(*c.api, "shop").is_null(); }, 3s))
      << "the HTTPRoute's status was never written";
  EXPECT_TRUE(wait_until(
      [&] {
        auto gc = json::parse(c.api->object(kClasses, "", "weir"));
        return gc.value && !(*gc.value)["status"]["conditions"].is_null();
      },
      3s))
      << "the GatewayClass's status was never written";

  // Idle, and after every watch had to list again (410 Gone): no write, weir's own included.
  ASSERT_TRUE(c.api->wait_open_watches(7, 3s));
  const int lists = c.api->lists();
  const size_t writes = c.api->patches().size();
  c.api->expire_history();
  c.api->expire_open_watches();
  EXPECT_TRUE(wait_until([&] { return c.api->lists() >= lists + 7; }, 3s));
  EXPECT_FALSE(wait_until([&] { return c.api->patches().size() > writes; }, 1500ms))
      << c.api->patches().back().body;
}

// weir listens where its file says. A Gateway listener's port without a file listener of its
// own is served on the file's first listener without TLS that no Gateway port has by number; only
// one port may be: two ports served on one listener would give routes meant for one (an internal
// port's, say) the other's requests. The lowest port gets it; routes only on the others are not
// accepted.
TEST(GatewayController, OneGatewayPortAtMostIsServedOnTheFallbackListener) {
  Cluster c = cluster();
  ASSERT_TRUE(c.api);
  c.api->put_object(
      kGateways,
      R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"Gateway","metadata":{"name":"gw",)"
      R"("namespace":"infra"},"spec":{"gatewayClassName":"weir","listeners":[{"name":"http",)"
      R"("port":80,"protocol":"HTTP","allowedRoutes":{"namespaces":{"from":"All"}}},)"
      R"({"name":"internal","port":81,"protocol":"HTTP","allowedRoutes":{"namespaces":)"
      R"({"from":"All"}}}]}})");
  auto section_route = [](const std::string& name, const std::string& section,
                          const std::string& path) {
    return R"({"apiVersion":"gateway.networking.k8s.io/v1","kind":"HTTPRoute","metadata":)"
           R"({"name":")" +
           name +
           R"(","namespace":"app-v1"},"spec":{"parentRefs":[{"name":"gw","namespace":"infra",)"
           R"("sectionName":")" +
           section + R"("}],"rules":[{"matches":[{"path":{"type":"PathPrefix","value":")" + path +
           R"("}}],"backendRefs":[{"name":"app","port":80}]}]}})";
  };
  c.api->put_object(kRoutes, section_route("public", "http", "/public"));
  c.api->put_object(kRoutes, section_route("internal", "internal", "/internal"));
  c.weir = Weir::start(gateway_config(*c.api));
  const uint16_t port = c.weir.port();

  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "public"), "Accepted").get_string("status") == "True";
      },
      3s));
  ASSERT_TRUE(wait_until([&] { return !weir_parent(*c.api, "internal").is_null(); }, 3s));
  const json::Value internal = condition(weir_parent(*c.api, "internal"), "Accepted");
  EXPECT_EQ(internal.get_string("status"), "False");
  EXPECT_NE(internal.get_string("message").find("81"), std::string::npos)
      << internal.get_string("message");
  EXPECT_TRUE(wait_until([&] { return http_request(port, "GET", "/public").status == 200; }, 3s));
  EXPECT_EQ(http_request(port, "GET", "/internal").status, 404);
}

// References follow the cluster both ways: a ReferenceGrant deleted stops the traffic it let
// through, and a Service that appears after its route is found.
TEST(GatewayController, AGrantRemovedStopsTrafficAndAServiceThatAppearsIsFound) {
  Cluster c = cluster();
  ASSERT_TRUE(c.api);
  c.api->put_object(kGrants, grant_json());
  c.api->put_object(kRoutes, route_json("cross", {{"app-v2", 1}}));
  c.weir = Weir::start(gateway_config(*c.api));
  const uint16_t port = c.weir.port();
  ASSERT_TRUE(wait_until([&] { return served(port, 5)["v2"] == 5; }, 3s));

  c.api->delete_object(kGrants, "app-v2", "from-app-v1");
  EXPECT_TRUE(wait_until([&] { return served(port, 5)["v2"] == 0; }, 1s))
      << "a request still reached a Service the route may no longer refer to";
  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "cross"), "ResolvedRefs").get_string("reason") ==
               "RefNotPermitted";
      },
      2s));

  c.api->delete_object(kServices, "app-v1", "app");
  c.api->put_object(kRoutes, route_json("cross", {{"app-v1", 1}}));
  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "cross"), "ResolvedRefs").get_string("reason") ==
               "BackendNotFound";
      },
      2s))
      << c.api->object(kRoutes, "app-v1", "cross");
  c.api->put_object(kServices, service_json("app-v1"));
  EXPECT_TRUE(wait_until([&] { return served(port, 5)["v1"] == 5; }, 2s));
  EXPECT_TRUE(wait_until(
      [&] {
        return condition(weir_parent(*c.api, "cross"), "ResolvedRefs").get_string("status") ==
               "True";
      },
      2s));
}

} // namespace
} // namespace weir::test
