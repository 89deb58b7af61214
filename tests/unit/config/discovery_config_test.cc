// The discovery settings: DNS names among a service's endpoints, `resolver`, `kubernetes` and a
// service's `kubernetes` reference, with the errors a user sees for each mistake.
#include "load_helpers.h"

#include <gtest/gtest.h>

namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

std::string with_service(const std::string& service_fields, const std::string& top = "") {
  return top + R"(
listeners: [{name: web, address: 127.0.0.1:8080}]
services:
  - namespace: app-v1
    name: app
)" + service_fields +
         R"(
routes:
  - {name: r, listener: web, match: {path_prefix: /}, backends: [{service: app-v1/app}]}
)";
}

TEST(DiscoveryConfig, HostNamesAmongEndpointsAreResolvedNotRefused) {
  Config c = load_ok(with_service(
      "    endpoints: [App-V1.Internal.:9001, 10.0.0.5:9001, '[fd00::1]:9002', db_1.local:80]"));
  ASSERT_EQ(c.services.size(), 1u);
  const Service& s = c.services[0];
  EXPECT_EQ(s.endpoints, (std::vector<Address>{{"10.0.0.5", 9001}, {"fd00::1", 9002}}));
  ASSERT_EQ(s.dns_names.size(), 2u);
  EXPECT_EQ(s.dns_names[0].text(), "app-v1.internal:9001") << "lower case, no trailing dot";
  EXPECT_EQ(s.dns_names[1].text(), "db_1.local:80");
  EXPECT_TRUE(s.discovered());
  EXPECT_EQ(c.resolver.min_ttl, std::chrono::seconds(1));
  EXPECT_EQ(c.resolver.max_ttl, std::chrono::minutes(5));
  EXPECT_TRUE(c.resolver.servers.empty());
}

TEST(DiscoveryConfig, BadNamesAreReportedWhereTheyAre) {
  std::string e = errors_of(with_service(
      "    endpoints: [app.internal, -bad.test:80, a..b:80, app.internal:0, 10.0.0:80, "
      "'x y.test:80', app.internal:80, APP.internal:80]"));
  EXPECT_NE(e.find("t.yaml:5:17: services[0].endpoints[0]: endpoint \"app.internal\" has no port"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("starts or ends with \"-\""), std::string::npos) << e;
  EXPECT_NE(e.find("empty label"), std::string::npos) << e;
  EXPECT_NE(e.find("\"x y.test:80\""), std::string::npos) << e;
  EXPECT_NE(e.find("app.internal:80 is listed twice"), std::string::npos) << e;
  EXPECT_NE(e.find("port"), std::string::npos) << e;
  std::string long_label(64, 'a');
  EXPECT_NE(
      errors_of(with_service("    endpoints: [" + long_label + ".test:80]")).find("longer than 63"),
      std::string::npos);
}

TEST(DiscoveryConfig, ResolverBlock) {
  Config c = load_ok(with_service("    endpoints: [app.internal:9001]",
                                  "resolver: {servers: [127.0.0.1:5353, 10.0.0.2], min_ttl: 2s, "
                                  "max_ttl: 1m}\n"));
  EXPECT_EQ(c.resolver.servers, (std::vector<Address>{{"127.0.0.1", 5353}, {"10.0.0.2", 53}}));
  EXPECT_EQ(c.resolver.min_ttl, std::chrono::seconds(2));
  EXPECT_EQ(c.resolver.max_ttl, std::chrono::minutes(1));
  std::string e = errors_of(with_service("    endpoints: [app.internal:9001]",
                                         "resolver: {servers: [dns.google], min_ttl: 10s, "
                                         "max_ttl: 1s, retries: 3}\n"));
  EXPECT_NE(e.find("max_ttl (1s) is below min_ttl (10s)"), std::string::npos) << e;
  EXPECT_NE(e.find("resolver.retries"), std::string::npos) << e;
  EXPECT_NE(e.find("resolver.servers[0]"), std::string::npos) << e;
}

TEST(DiscoveryConfig, KubernetesReferenceReplacesEndpoints) {
  Config c =
      load_ok(with_service("    kubernetes: {service: app, port: http}", "kubernetes: {}\n"));
  ASSERT_TRUE(c.services[0].kubernetes);
  EXPECT_EQ(c.services[0].kubernetes->service, "app");
  EXPECT_EQ(c.services[0].kubernetes->port_name, "http");
  EXPECT_TRUE(c.services[0].endpoints.empty());
  EXPECT_TRUE(c.kubernetes.api_server.empty()) << "the in-cluster default is taken at run time";

  c = load_ok(with_service("    kubernetes: {service: app, port: 8080}",
                           "kubernetes: {api_server: 'https://10.96.0.1:443', token_file: t, "
                           "ca_file: /ca.crt}\n"));
  EXPECT_EQ(c.services[0].kubernetes->port_number, 8080);
  EXPECT_EQ(c.kubernetes.api_server, "https://10.96.0.1:443");
  EXPECT_EQ(c.kubernetes.ca_file, "/ca.crt");

  std::string e = errors_of(
      with_service("    endpoints: [10.0.0.1:80]\n    kubernetes: {service: app, port: http}"));
  EXPECT_NE(e.find("either endpoints or kubernetes, not both"), std::string::npos) << e;
  e = errors_of(with_service("    kubernetes: {service: App.x, port: 'a b'}"));
  EXPECT_NE(e.find("expected a Kubernetes Service name"), std::string::npos) << e;
  EXPECT_NE(e.find("expected a port number or the name"), std::string::npos) << e;
  e = errors_of(R"(
listeners: [{name: web, address: 127.0.0.1:8080}]
services:
  - {namespace: App_V1, name: app, kubernetes: {service: app, port: http}}
routes:
  - {name: r, listener: web, match: {path_prefix: /}, backends: [{service: App_V1/app}]}
)");
  EXPECT_NE(e.find("namespace \"App_V1\" is not a Kubernetes namespace name"), std::string::npos)
      << e;
  e = errors_of(with_service("    kubernetes: {service: app}"));
  EXPECT_NE(e.find("port"), std::string::npos) << e;
  e = errors_of(with_service("    kubernetes: {service: app, port: 70000}"));
  EXPECT_NE(e.find("between 1 and 65535"), std::string::npos) << e;
  e = errors_of(with_service("    kubernetes: {service: app, port: http}",
                             "kubernetes: {api_server: 'ftp://x'}\n"));
  EXPECT_NE(e.find("expected an https:// URL"), std::string::npos) << e;
  e = errors_of(with_service("    kubernetes: {service: app, port: http}",
                             "kubernetes: {api_server: 'http://10.96.0.1:80'}\n"));
  EXPECT_NE(e.find("http:// only to a loopback address"), std::string::npos) << e;
  EXPECT_EQ(errors_of(with_service("    kubernetes: {service: app, port: http}",
                                   "kubernetes: {api_server: 'http://127.0.0.1:8001'}\n")),
            "")
      << "kubectl proxy";
  for (const char* bad : {"https://", "https://127.0.0.1:99999", "https://[::1", "https://a b",
                          "http://localhost:80@evil", "http://127.evil.example:80",
                          "http://127.0.0.1.nip.io:80", "https://k8s/?x=1"}) {
    e = errors_of(with_service("    kubernetes: {service: app, port: http}",
                               std::string("kubernetes: {api_server: '") + bad + "'}\n"));
    EXPECT_NE(e.find("kubernetes.api_server"), std::string::npos) << bad << ": " << e;
  }
  EXPECT_EQ(errors_of(with_service("    kubernetes: {service: app, port: http}",
                                   "kubernetes: {api_server: 'https://rancher.example/k8s/c1'}\n")),
            "")
      << "a path prefix";
}

} // namespace
} // namespace weir::config
