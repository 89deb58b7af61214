// TLS to upstreams: weir as the client of a real nginx over HTTPS, with mutual TLS, verification
// against the configured CA and name, and a certificate from another CA refused and counted.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/nginx_tls.h"
#include "support/run.h"
#include "support/tls_pki.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <regex>
#include <sstream>
#include <string>

namespace weir::test {
namespace {

using rollout::contains;

std::string config(const std::string& endpoint, const std::string& tls) {
  return "workers: 1\n"
         "listeners:\n  - { name: public, address: 127.0.0.1:0 }\n"
         "services:\n  - { namespace: a, name: app, endpoints: [" +
         endpoint + "], tls: " + tls +
         " }\n"
         "routes:\n  - { name: r, listener: public, backends: [{ service: a/app }] }\n"
         "admin: { address: 127.0.0.1:0 }\n"
         "drain_timeout: 1s\n";
}

std::string metrics(const Weir& w) {
  return http_request(w.admin_port(), "GET", "/metrics").body;
}

TEST(TlsUpstream, MutualTlsToNginxThatVerifiesClientsAndPooledConnectionsAreReused) {
  TestCa servers = TestCa::make("upstream CA");
  TestCa clients = TestCa::make("weir clients CA");
  CertKey server = servers.server("DNS:app.internal");
  CertKey weir_cert = clients.client("weir");
  ASSERT_TRUE(server.ok() && weir_cert.ok());
  NginxTlsOptions n;
  n.cert_file = server.cert_file;
  n.key_file = server.key_file;
  n.client_ca_file = clients.cert_file();
  n.body = "from nginx";
  NginxTls nginx = NginxTls::start(n);
  Weir weir =
      Weir::start(config(nginx.address(), "{ sni: app.internal, ca: " + servers.cert_file() +
                                              ", client_cert: " + weir_cert.cert_file +
                                              ", client_key: " + weir_cert.key_file + " }"));
  for (int i = 0; i < 20; ++i) {
    HttpResponse r = http_request(weir.port(), "GET", "/");
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "from nginx");
    EXPECT_EQ(r.header("x-client-dn"), "CN=weir");
    EXPECT_EQ(r.header("x-sni"), "app.internal");
  }
  // Sequential requests ride one pooled TLS connection: one established connection to nginx
  // (lines "ESTAB ... 127.0.0.1:LOCAL 127.0.0.1:NGINX").
  RunResult ss = run_command({"/usr/bin/ss", "-tan"});
  ASSERT_TRUE(ss.exited) << ss.err;
  const std::regex to_nginx("ESTAB.* 127\\.0\\.0\\.1:" + std::to_string(nginx.port) + "\\s*$");
  size_t connections = 0;
  std::istringstream lines(ss.out);
  for (std::string line; std::getline(lines, line);)
    connections += std::regex_search(line, to_nginx);
  EXPECT_EQ(connections, 1u) << ss.out;

  // Without the client certificate, nginx refuses it (400 from nginx, not weir's).
  Weir anonymous = Weir::start(
      config(nginx.address(), "{ sni: app.internal, ca: " + servers.cert_file() + " }"));
  EXPECT_EQ(http_request(anonymous.port(), "GET", "/").status, 400);
}

TEST(TlsUpstream, ACertificateFromAnotherCaIsAConnectFailureCountedAndLoggedWithItsCause) {
  TestCa trusted = TestCa::make("trusted CA");
  TestCa other = TestCa::make("unknown CA");
  CertKey server = other.server("DNS:app.internal");
  ASSERT_TRUE(trusted.ok() && server.ok());
  NginxTlsOptions n;
  n.cert_file = server.cert_file;
  n.key_file = server.key_file;
  NginxTls nginx = NginxTls::start(n);
  Weir weir = Weir::start(
      config(nginx.address(), "{ sni: app.internal, ca: " + trusted.cert_file() + " }"));
  HttpResponse r = http_request(weir.port(), "GET", "/");
  EXPECT_EQ(r.status, 502) << r.body;
  const std::string series = "weir_upstream_failures_total{route=\"r\",namespace=\"a\",service="
                             "\"app\",endpoint=\"" +
                             nginx.address() + "\",cause=\"tls\"} ";
  EXPECT_TRUE(contains(metrics(weir), series + "1")) << metrics(weir);
  EXPECT_TRUE(wait_until(
      [&] {
        return contains(weir.proc->output(), "TLS handshake failed") &&
               contains(weir.proc->output(), "unable to get local issuer certificate");
      },
      5s))
      << weir.proc->output();
  // The wrong name is refused the same way, even from the trusted CA.
  CertKey misnamed = trusted.server("DNS:other.internal");
  NginxTlsOptions m;
  m.cert_file = misnamed.cert_file;
  m.key_file = misnamed.key_file;
  NginxTls nginx2 = NginxTls::start(m);
  Weir weir2 = Weir::start(
      config(nginx2.address(), "{ sni: app.internal, ca: " + trusted.cert_file() + " }"));
  EXPECT_EQ(http_request(weir2.port(), "GET", "/").status, 502);
  // verify: false accepts it (a choice the operator wrote down).
  Weir lax = Weir::start(config(nginx2.address(), "{ sni: app.internal, verify: false }"));
  EXPECT_EQ(http_request(lax.port(), "GET", "/").status, 200);
}

TEST(TlsUpstream, WithoutSniTheEndpointAddressIsVerified) {
  TestCa ca = TestCa::make("ip CA");
  CertKey by_ip = ca.server("IP:127.0.0.1");
  ASSERT_TRUE(by_ip.ok());
  NginxTlsOptions n;
  n.cert_file = by_ip.cert_file;
  n.key_file = by_ip.key_file;
  NginxTls nginx = NginxTls::start(n);
  Weir weir = Weir::start(config(nginx.address(), "{ ca: " + ca.cert_file() + " }"));
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 200);
}

} // namespace
} // namespace weir::test
