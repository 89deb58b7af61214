// `weir import` of the docs example (docs/gateway-api: a Gateway, an HTTPRoute sending 90/10 to
// one Service in each of two namespaces, the ReferenceGrant that allows it, the Services):
// the config it writes passes --check-config as it is, and a weir running it against the fake
// Kubernetes API server splits traffic between the two Services' pods as the HTTPRoute says.
#include "support/client.h"
#include "support/fake_kube_api.h"
#include "support/run.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>

namespace weir::test {
namespace {

std::vector<std::string> example_files() {
  const std::string dir = WEIR_SOURCE_DIR "/docs/gateway-api/";
  return {dir + "gateway.yaml", dir + "httproute.yaml", dir + "referencegrant.yaml",
          dir + "services.yaml"};
}

FakeSlice pods_of(const std::string& ns, uint16_t port) {
  FakeSlice s;
  s.ns = ns;
  s.name = "app-" + ns;
  s.service = "app";
  s.ports = {{"http", port}}; // the Service port's name, as EndpointSlices carry it
  s.endpoints = {{"127.0.0.1", true, true, false}};
  return s;
}

TEST(GatewayImport, TheDocsExampleRoundTripsToAConfigThatSplitsNinetyTen) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  std::vector<std::string> import = {WEIR_BIN,
                                     "import",
                                     "--kubernetes-api",
                                     api->url(),
                                     "--kubernetes-token-file",
                                     api->token_file(),
                                     "--kubernetes-ca-file",
                                     api->ca_file()};
  for (const std::string& f : example_files())
    import.push_back(f);
  const RunResult imported = run_command(import);
  ASSERT_EQ(imported.code, 0) << imported.err << imported.out;
  EXPECT_EQ(imported.err, "");
  const std::string config = temp_path("import", ".yaml");
  ASSERT_TRUE(write_file(config, imported.out));
  const RunResult checked = run_command({WEIR_BIN, "--check-config", config});
  EXPECT_EQ(checked.code, 0) << checked.err << imported.out;

  // The Gateway listens on port 80; the test's weir on a free loopback port, with one worker
  // (smooth weighted round robin is exact per worker) and an admin listener for /ready.
  std::string yaml = imported.out;
  const std::string gateway_address = "address: 0.0.0.0:80";
  const size_t at = yaml.find(gateway_address);
  ASSERT_NE(at, std::string::npos) << yaml;
  yaml.replace(at, gateway_address.size(), "address: 127.0.0.1:0");
  yaml += "workers: 1\nadmin: {address: 127.0.0.1:0}\n";

  DemoUpstream stable = DemoUpstream::start("stable");
  DemoUpstream canary = DemoUpstream::start("canary");
  api->put_slice(pods_of("app-v1", stable.port));
  api->put_slice(pods_of("app-v2", canary.port));
  Weir weir = Weir::start(yaml);
  ASSERT_TRUE(wait_until(
      [&] { return http_request(weir.admin_port(), "GET", "/ready").status == 200; }, 5s))
      << http_request(weir.admin_port(), "GET", "/ready").body << weir.proc->output_tail(2000);

  std::map<std::string, int> served;
  for (int i = 0; i < 300; ++i) {
    HttpResponse r = http_request(weir.port("web-http"), "GET", "/", {{"Host", "app.example.com"}});
    ASSERT_EQ(r.status, 200) << r.body;
    ++served[r.header("x-served-by")];
  }
  EXPECT_NEAR(served["stable"], 270, 1);
  EXPECT_NEAR(served["canary"], 30, 1);
  // Only the HTTPRoute's hostname is routed.
  EXPECT_EQ(http_request(weir.port("web-http"), "GET", "/", {{"Host", "other.example.com"}}).status,
            404);
}

TEST(GatewayImport, WhatCannotBeExpressedIsNamedAndTheExitIsOne) {
  const std::string in = temp_path("gateway", ".yaml");
  ASSERT_TRUE(write_file(in, R"(
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: infra}
spec:
  gatewayClassName: weir
  listeners: [{name: http, port: 80, protocol: HTTP}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: app, namespace: infra}
spec:
  parentRefs: [{name: web}]
  rules:
  - filters: [{type: ExtensionRef, extensionRef: {group: x, kind: Auth, name: a}}]
    backendRefs: [{name: secret, port: 80}]
  - backendRefs: [{name: app, port: 80}, {name: other, namespace: elsewhere, port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
)"));
  const RunResult r = run_command({WEIR_BIN, "import", in});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("HTTPRoute infra/app spec.rules[0].filters[0].type: weir has no "
                       "ExtensionRef filter; the rule is left out"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("HTTPRoute infra/app spec.rules[1].backendRefs[1]: backendRef to Service "
                       "elsewhere/other in another namespace"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("note: " + in + ":19: ConfigMap default/c: not a kind weir reads"),
            std::string::npos)
      << r.err;
  // What could be expressed is written, and weir takes it.
  const std::string config = temp_path("import", ".yaml");
  ASSERT_TRUE(write_file(config, r.out));
  const RunResult checked = run_command({WEIR_BIN, "--check-config", config});
  EXPECT_EQ(checked.code, 0) << checked.err << r.out;
  EXPECT_NE(r.out.find("name: infra-app-1"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("infra-app-0"), std::string::npos) << r.out;

  EXPECT_EQ(run_command({WEIR_BIN, "import", temp_path("missing", ".yaml")}).code, 2);
  ASSERT_TRUE(write_file(in, "kind: [unclosed"));
  EXPECT_EQ(run_command({WEIR_BIN, "import", in}).code, 2);
  EXPECT_EQ(run_command({WEIR_BIN, "import"}).code, 2);
}

} // namespace
} // namespace weir::test
