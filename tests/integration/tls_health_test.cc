// Health checks and synthetic probes of TLS services (issue #12: "health checks and probes use the
// same TLS settings"), against a real nginx over HTTPS with certificates made by a test CA:
// first HttpCheck itself with a service's ClientContext (what the checker, the prober and rollout
// top-up traffic all send through), then the real weir, reading `show services` and `show probes`
// on its control socket. Thresholds and timing are unit tests (tests/unit/health/checker_test.cc);
// here each TLS outcome runs once in real time, waited on with deadlines.
#include "support/client.h"
#include "support/control.h"
#include "support/nginx_tls.h"
#include "support/tls_pki.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"
#include "weir/config/config.h"
#include "weir/health/http_check.h"
#include "weir/tls/client_context.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <strings.h>

namespace weir::test {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// HttpCheck over TLS, on the test's own io_context

std::shared_ptr<const tls::ClientContext> client_context(const config::UpstreamTls& settings) {
  std::string error;
  auto ctx = tls::ClientContext::build(settings, &error);
  EXPECT_TRUE(ctx) << error;
  return ctx;
}

config::UpstreamTls upstream_tls(const std::string& sni, const std::string& ca) {
  config::UpstreamTls t;
  t.enabled = true;
  t.sni = sni;
  t.ca = ca;
  return t;
}

// One check of nginx at `port`: `request` empty = connect (and handshake) only.
health::CheckResult check(uint16_t port, const tls::ClientContext* tls, bool http = true) {
  asio::io_context io;
  std::optional<health::CheckResult> result;
  const std::string request = http ? "GET /healthz HTTP/1.1\r\nHost: app.internal\r\n"
                                     "Connection: close\r\n\r\n"
                                   : "";
  health::HttpCheck::run(io, {asio::ip::make_address("127.0.0.1"), port}, request, 5s, tls,
                         [&](health::CheckResult r) { result = std::move(r); });
  io.run(); // until the check finished: its deadline is 5 s
  EXPECT_TRUE(result);
  return result.value_or(health::CheckResult{});
}

std::string header(const health::CheckResult& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n.size() == name.size() && strncasecmp(n.c_str(), name.c_str(), n.size()) == 0) return v;
  return "";
}

NginxTls start_nginx(const CertKey& server, const std::string& client_ca = "") {
  NginxTlsOptions n;
  n.cert_file = server.cert_file;
  n.key_file = server.key_file;
  n.client_ca_file = client_ca;
  return NginxTls::start(n);
}

TEST(TlsHttpCheck, SpeaksTlsWithTheServiceSettingsAndSaysWhyAHandshakeFailed) {
  TestCa ca = TestCa::make("upstream CA");
  TestCa other = TestCa::make("unknown CA");
  CertKey good = ca.server("DNS:app.internal");
  CertKey stranger = other.server("DNS:app.internal");
  ASSERT_TRUE(good.ok() && stranger.ok());
  NginxTls trusted = start_nginx(good);
  NginxTls untrusted = start_nginx(stranger);
  auto ctx = client_context(upstream_tls("app.internal", ca.cert_file()));
  ASSERT_TRUE(ctx);

  health::CheckResult ok = check(trusted.port, ctx.get());
  EXPECT_EQ(ok.error, "");
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "nginx");
  EXPECT_EQ(header(ok, "x-sni"), "app.internal") << "the configured SNI was sent";
  // A connect-only (tcp) check completes the handshake too.
  EXPECT_EQ(check(trusted.port, ctx.get(), false).error, "");

  // Another CA's certificate fails the check with OpenSSL's reason, connect-only or not.
  health::CheckResult refused = check(untrusted.port, ctx.get());
  EXPECT_TRUE(refused.connected);
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(refused.error,
            "tls handshake: certificate verify failed: unable to get local issuer certificate");
  EXPECT_EQ(check(untrusted.port, ctx.get(), false).error, refused.error);
  // The right CA but another name: the name is verified too.
  auto wrong_name = client_context(upstream_tls("other.internal", ca.cert_file()));
  ASSERT_TRUE(wrong_name);
  EXPECT_EQ(check(trusted.port, wrong_name.get()).error,
            "tls handshake: certificate verify failed: hostname mismatch");
  // Plaintext to a TLS port is what a check without the settings would do: nginx answers 400.
  EXPECT_EQ(check(trusted.port, nullptr).status, 400);
}

TEST(TlsHttpCheck, PresentsTheClientCertificateToAnUpstreamThatRequiresOne) {
  TestCa ca = TestCa::make("upstream CA");
  TestCa clients = TestCa::make("clients CA");
  CertKey server = ca.server("DNS:app.internal");
  CertKey weir_cert = clients.client("weir");
  ASSERT_TRUE(server.ok() && weir_cert.ok());
  NginxTls nginx = start_nginx(server, clients.cert_file());
  config::UpstreamTls settings = upstream_tls("app.internal", ca.cert_file());
  auto anonymous = client_context(settings);
  settings.client_cert = weir_cert.cert_file;
  settings.client_key = weir_cert.key_file;
  auto mutual = client_context(settings);
  ASSERT_TRUE(anonymous && mutual);

  health::CheckResult with = check(nginx.port, mutual.get());
  EXPECT_EQ(with.status, 200) << with.error;
  EXPECT_EQ(header(with, "x-client-verify"), "SUCCESS");
  EXPECT_EQ(header(with, "x-client-dn"), "CN=weir");
  EXPECT_EQ(check(nginx.port, anonymous.get()).status, 400) << "nginx: no certificate was sent";
}

// ---------------------------------------------------------------------------------------------
// weir's checker and prober, through the control socket

json::Value control(const std::string& socket, const std::string& command) {
  auto c = connect_control(socket);
  return c ? c->command(command) : json::Value();
}

const json::Value& service_in(const json::Value& reply, const std::string& id) {
  static const json::Value null;
  for (const auto& s : reply["services"].as_array())
    if (s.get_string("service") == id) return s;
  return null;
}

// The `show services` object of the one endpoint of `service`.
json::Value endpoint_of(const std::string& socket, const std::string& service) {
  const json::Value reply = control(socket, "show services");
  const json::Value& s = service_in(reply, service);
  if (!s.is_object() || s["endpoints"].as_array().empty()) return json::Value();
  return s["endpoints"].as_array().front();
}

// The first probe of `service` in `show probes`.
json::Value probe_of(const std::string& socket, const std::string& service) {
  const json::Value reply = control(socket, "show probes");
  const json::Value& s = service_in(reply, service);
  if (!s.is_object() || s["probes"].as_array().empty()) return json::Value();
  return s["probes"].as_array().front();
}

// A service checked every 200 ms (http or tcp) and probed every 200 ms, whose probe expects what
// nginx answers over TLS with the configured SNI (and `probe_header`, if any).
std::string service(const std::string& id, const std::string& endpoint, const std::string& tls,
                    const std::string& check_type, const std::string& probe_header = "") {
  return "  - namespace: " + id.substr(0, id.find('/')) +
         "\n    name: " + id.substr(id.find('/') + 1) + "\n    endpoints: [" + endpoint +
         "]\n    tls: " + tls + "\n    health_check: { type: " + check_type +
         (check_type == "http" ? ", path: /healthz" : "") +
         ", interval: 200ms, timeout: 200ms, healthy_threshold: 2, "
         "unhealthy_threshold: 2 }\n"
         "    probes:\n      - name: https\n        request: { path: /probe }\n"
         "        expect: { status: [200], body_contains: nginx, header: { x-sni: app.internal" +
         (probe_header.empty() ? "" : ", " + probe_header) +
         " } }\n"
         "        interval: 200ms\n        timeout: 1s\n        ready_after: 2\n";
}

std::string config(const std::string& socket, const std::string& services,
                   const std::string& backend) {
  return "workers: 1\ncontrol:\n  socket: " + socket +
         "\nlisteners:\n  - { name: public, address: 127.0.0.1:0 }\n"
         "services:\n" +
         services + "routes:\n  - { name: r, listener: public, backends: [{ service: " + backend +
         " }] }\n"
         "drain_timeout: 1s\n";
}

TEST(TlsHealthChecks, AnEndpointWithACertificateFromTheCaIsUpAndItsProbePasses) {
  TestCa ca = TestCa::make("upstream CA");
  CertKey server = ca.server("DNS:app.internal");
  ASSERT_TRUE(server.ok());
  NginxTls nginx = start_nginx(server);
  const std::string tls = "{ sni: app.internal, ca: " + ca.cert_file() + " }";
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(config(socket,
                                 service("app-v1/app", nginx.address(), tls, "http") +
                                     service("app-v2/app", nginx.address(), tls, "tcp"),
                                 "app-v1/app"));
  for (const std::string id : {"app-v1/app", "app-v2/app"}) {
    EXPECT_TRUE(
        wait_until([&] { return endpoint_of(socket, id).get_string("health") == "up"; }, 5s))
        << id << ": " << endpoint_of(socket, id).get_string("last_error");
    EXPECT_TRUE(wait_until([&] { return probe_of(socket, id).get_bool("ready"); }, 5s))
        << id << ": " << probe_of(socket, id).get_string("last_failure");
    EXPECT_EQ(probe_of(socket, id).get_number("failures"), 0) << id;
  }
}

TEST(TlsHealthChecks, AnEndpointWithACertificateFromAnotherCaIsDownWithTheReason) {
  TestCa trusted = TestCa::make("trusted CA");
  TestCa other = TestCa::make("unknown CA");
  CertKey server = other.server("DNS:app.internal");
  ASSERT_TRUE(trusted.ok() && server.ok());
  NginxTls nginx = start_nginx(server);
  const std::string tls = "{ sni: app.internal, ca: " + trusted.cert_file() + " }";
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(config(socket,
                                 service("app-v1/app", nginx.address(), tls, "http") +
                                     service("app-v2/app", nginx.address(), tls, "tcp"),
                                 "app-v1/app"));
  const std::string why =
      "tls handshake: certificate verify failed: unable to get local issuer certificate";
  // A TCP check completes the handshake (as HAProxy's check-ssl does), so it is down as well.
  for (const std::string id : {"app-v1/app", "app-v2/app"}) {
    EXPECT_TRUE(
        wait_until([&] { return endpoint_of(socket, id).get_string("health") == "down"; }, 5s))
        << id << ": " << endpoint_of(socket, id).get_string("health");
    json::Value e = endpoint_of(socket, id);
    EXPECT_EQ(e.get_string("last_error"), why) << id;
    EXPECT_FALSE(e.get_bool("available", true)) << id;
    EXPECT_TRUE(wait_until([&] { return probe_of(socket, id).get_number("failures") >= 1; }, 5s))
        << id;
    EXPECT_EQ(probe_of(socket, id).get_string("last_failure"), why) << id;
    EXPECT_FALSE(probe_of(socket, id).get_bool("ready", true)) << id;
  }
  EXPECT_TRUE(wait_until([&] { return weir.proc->output().find(why) != std::string::npos; }, 5s))
      << "the checker logs why the endpoint went down";
}

TEST(TlsHealthChecks, MutualTlsIsUpWithTheClientCertificateAndDownWithout) {
  TestCa ca = TestCa::make("upstream CA");
  TestCa clients = TestCa::make("clients CA");
  CertKey server = ca.server("DNS:app.internal");
  CertKey weir_cert = clients.client("weir");
  ASSERT_TRUE(server.ok() && weir_cert.ok());
  NginxTls nginx = start_nginx(server, clients.cert_file());
  const std::string anonymous = "{ sni: app.internal, ca: " + ca.cert_file() + " }";
  const std::string mutual = "{ sni: app.internal, ca: " + ca.cert_file() +
                             ", client_cert: " + weir_cert.cert_file +
                             ", client_key: " + weir_cert.key_file + " }";
  const std::string socket = temp_path("ctl", ".sock");
  Weir weir = Weir::start(
      config(socket,
             service("app-v1/app", nginx.address(), mutual, "http", "x-client-verify: SUCCESS") +
                 service("app-v2/app", nginx.address(), anonymous, "http"),
             "app-v1/app"));
  EXPECT_TRUE(wait_until(
      [&] { return endpoint_of(socket, "app-v1/app").get_string("health") == "up"; }, 5s))
      << endpoint_of(socket, "app-v1/app").get_string("last_error");
  EXPECT_TRUE(wait_until([&] { return probe_of(socket, "app-v1/app").get_bool("ready"); }, 5s))
      << probe_of(socket, "app-v1/app").get_string("last_failure");
  // Without the certificate nginx answers 400 ("No required SSL certificate was sent").
  EXPECT_TRUE(wait_until(
      [&] { return endpoint_of(socket, "app-v2/app").get_string("health") == "down"; }, 5s));
  EXPECT_EQ(endpoint_of(socket, "app-v2/app").get_string("last_error"), "unexpected status 400");
  EXPECT_TRUE(wait_until(
      [&] { return probe_of(socket, "app-v2/app").get_string("last_failure") == "status 400"; },
      5s))
      << probe_of(socket, "app-v2/app").get_string("last_failure");
}

// ---------------------------------------------------------------------------------------------
// Rollout top-up traffic: over TLS with each version's settings (the snapshot's, as the workers')

TEST(TlsTopUp, TopUpRequestsSpeakTlsAndAnUntrustedCanaryCountsAsErrors) {
  TestCa ca = TestCa::make("upstream CA");
  TestCa other = TestCa::make("unknown CA");
  CertKey good = ca.server("DNS:app.internal");
  CertKey stranger = other.server("DNS:app.internal");
  ASSERT_TRUE(good.ok() && stranger.ok());
  NginxTls stable = start_nginx(good);
  NginxTls canary = start_nginx(stranger);
  const std::string tls = "{ sni: app.internal, ca: " + ca.cert_file() + " }";
  const std::string socket = temp_path("ctl", ".sock");
  auto svc = [&](const std::string& ns, const NginxTls& n) {
    return "  - namespace: " + ns + "\n    name: app\n    endpoints: [" + n.address() +
           "]\n    tls: " + tls + "\n    outlier_detection: { enabled: false }\n";
  };
  // No real traffic: the canary never reaches min_requests, so top-up runs all along.
  Weir weir = Weir::start(
      "workers: 1\ncontrol:\n  socket: " + socket +
      "\nadmin: { address: 127.0.0.1:0 }\nlisteners:\n  - { name: public, address: "
      "127.0.0.1:0 }\nservices:\n" +
      svc("app-v1", stable) + svc("app-v2", canary) +
      "routes:\n  - name: r\n    listener: public\n    backends:\n"
      "      - { service: app-v1/app, weight: 100 }\n"
      "      - { service: app-v2/app, weight: 0 }\n"
      "    rollout:\n      stable: app-v1/app\n      canary: app-v2/app\n"
      "      steps: [{ set_weight: 10 }, { analysis: { duration: 5m } }]\n"
      "      analysis: { interval: 1s, min_requests: 1000, inconclusive_limit: 1000, top_up: "
      "{ rate: 20/s, timeout: 1s, request: { path: /top-up } } }\n"
      "drain_timeout: 1s\n");
  const json::Value started = control(socket, "rollout start r");
  ASSERT_TRUE(started.get_bool("ok")) << started.get_string("error");
  // /stats.json: the synthetic totals of both versions, from one merge (so they agree).
  json::Value stats;
  auto totals = [&](const std::string& id) -> const json::Value& {
    return stats["routes"]["r"]["backends"][id]["synthetic"]["total"];
  };
  EXPECT_TRUE(wait_until(
      [&] {
        auto parsed = json::parse(http_request(weir.admin_port(), "GET", "/stats.json").body);
        if (!parsed.value) return false;
        stats = std::move(*parsed.value);
        return totals("app-v1/app").get_number("requests") >= 5 &&
               totals("app-v2/app").get_number("requests") >= 5;
      },
      10s));
  // Every stable request was answered over TLS: plaintext would have got nginx's 400, a client
  // error. Every canary request failed its certificate verification: an upstream error.
  EXPECT_EQ(totals("app-v1/app").get_number("errors", -1), 0);
  EXPECT_EQ(totals("app-v1/app").get_number("client_errors", -1), 0);
  EXPECT_EQ(totals("app-v2/app").get_number("errors", -1),
            totals("app-v2/app").get_number("requests"));
  EXPECT_EQ(totals("app-v2/app").get_number("client_errors", -1), 0);
}

} // namespace
} // namespace weir::test
