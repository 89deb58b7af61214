// DNS discovery against a real DNS server: Debian's dnsmasq on a loopback port, answering from a
// hosts file the test rewrites (TTL 1 s). The demo upstreams listen on one port at 127.0.0.1,
// .2 and .3, so one name with several A records is several endpoints.
#include "support/client.h"
#include "support/control.h"
#include "support/dnsmasq.h"
#include "support/load.h"
#include "support/run.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>

namespace weir::test {
namespace {

// A demo upstream at HOST:PORT (port 0: the kernel's choice).
DemoUpstream upstream_at(const std::string& name, const std::string& host, uint16_t port) {
  return DemoUpstream::start(name, {"--listen", host + ":" + std::to_string(port)});
}

std::string config(const Dnsmasq& dns, const std::string& endpoint, const std::string& socket,
                   bool health_checks = true) {
  return R"(
listeners: [{name: public, address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
control: {socket: )" +
         socket + R"(}
resolver: {servers: [)" +
         dns.address() + R"(], min_ttl: 1s, max_ttl: 2s}
services:
  - namespace: app-v1
    name: app
    endpoints: [)" +
         endpoint + "]\n" +
         (health_checks ? "    health_check: {path: /, interval: 500ms, timeout: 400ms}\n" : "") +
         R"(routes:
  - {name: r, listener: public, match: {path_prefix: /}, backends: [{service: app-v1/app}]}
)";
}

// The endpoints `show services` lists for the service.
std::vector<std::string> endpoints_of(ControlClient& c) {
  std::vector<std::string> out;
  json::Value r = c.command("show services");
  for (const auto& s : r["services"].as_array())
    for (const auto& e : s["endpoints"].as_array())
      out.push_back(e.get_string("address"));
  std::sort(out.begin(), out.end());
  return out;
}

const json::Value& dns_source(const json::Value& reply) {
  return reply["services"].as_array().at(0)["discovery"].as_array().at(0);
}

TEST(DiscoveryDns, EndpointsFollowTheAddressesOfANameUnderLoadWithoutAFailedRequest) {
  DemoUpstream a = upstream_at("a", "127.0.0.1", 0);
  const uint16_t a_port = a.port;
  DemoUpstream b = upstream_at("b", "127.0.0.2", a.port);
  DemoUpstream c = upstream_at("c", "127.0.0.3", a.port);
  auto dns = Dnsmasq::start("127.0.0.1 app.test\n");
  ASSERT_TRUE(dns);
  const std::string socket = temp_path("dns", ".sock");
  const std::string port = std::to_string(a.port);
  Weir weir = Weir::start(config(*dns, "app.test:" + port, socket));
  auto control = connect_control(socket);
  ASSERT_TRUE(control);
  ASSERT_TRUE(wait_until([&] { return endpoints_of(*control).size() == 1; }, 5s));
  LoadGen load(weir.port(), 4, 300);
  int epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 50));
  // Only "a" (the load goes on: the two counts are read at different instants).
  const auto first = load.served_by(epoch);
  EXPECT_EQ(first.size(), 1u);
  EXPECT_TRUE(first.contains("a"));

  // Two more records: within the TTL (1 s, re-asked at most every 2 s) and a health check, both
  // take traffic.
  auto asked = std::chrono::steady_clock::now();
  ASSERT_TRUE(dns->set_hosts("127.0.0.1 app.test\n127.0.0.2 app.test\n127.0.0.3 app.test\n"));
  ASSERT_TRUE(wait_until(
      [&] {
        epoch = load.new_epoch(); // what the next 60 requests reached
        if (!load.wait_for(epoch, 60, 2s)) return false;
        auto by = load.served_by(epoch);
        return by.count("b") && by.count("c");
      },
      6s))
      << load.report() << weir.proc->output_tail(2000);
  EXPECT_LT(std::chrono::steady_clock::now() - asked, 4s);
  EXPECT_EQ(
      endpoints_of(*control),
      (std::vector<std::string>{"127.0.0.1:" + port, "127.0.0.2:" + port, "127.0.0.3:" + port}));

  // A record gone: its endpoint takes no new request; then its upstream may go away.
  ASSERT_TRUE(dns->set_hosts("127.0.0.2 app.test\n127.0.0.3 app.test\n"));
  ASSERT_TRUE(wait_until([&] { return endpoints_of(*control).size() == 2; }, 5s))
      << weir.proc->output_tail(2000);
  epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 100));
  EXPECT_EQ(load.served_by(epoch).count("a"), 0u) << "the removed address still served";
  ASSERT_TRUE(a.stop());
  epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 100));

  // Every address changes at once: the new one has not had its first health check when the
  // old ones leave, and takes the requests rather than letting them fail.
  DemoUpstream d = upstream_at("d", "127.0.0.4", a_port);
  ASSERT_TRUE(dns->set_hosts("127.0.0.4 app.test\n"));
  ASSERT_TRUE(wait_until(
      [&] { return endpoints_of(*control) == std::vector<std::string>{"127.0.0.4:" + port}; }, 5s));
  epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 100));
  EXPECT_EQ(load.served_by(epoch)["d"], load.count(epoch));
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  json::Value services = control->command("show services");
  EXPECT_EQ(dns_source(services).get_string("source"), "app.test:" + port);
  EXPECT_GE(dns_source(services).get_number("updates"), 3);
}

TEST(DiscoveryDns, ADeadDnsServerKeepsTheLastGoodAddressesAndSaysSoThenRecovers) {
  DemoUpstream a = upstream_at("a", "127.0.0.1", 0);
  DemoUpstream b = upstream_at("b", "127.0.0.2", a.port);
  auto dns = Dnsmasq::start("127.0.0.1 app.test\n");
  ASSERT_TRUE(dns);
  const std::string socket = temp_path("dns", ".sock");
  const std::string port = std::to_string(a.port);
  Weir weir = Weir::start(config(*dns, "app.test:" + port, socket, false));
  auto control = connect_control(socket);
  ASSERT_TRUE(control);
  ASSERT_TRUE(wait_until([&] { return endpoints_of(*control).size() == 1; }, 5s));
  LoadGen load(weir.port(), 2, 200);

  dns->kill();
  ASSERT_TRUE(wait_until(
      [&] { return dns_source(control->command("show services")).get_number("failures") >= 1; },
      10s))
      << weir.proc->output_tail(2000);
  json::Value services = control->command("show services");
  EXPECT_NE(dns_source(services).get_string("last_error"), "") << control->last_line();
  EXPECT_EQ(endpoints_of(*control), (std::vector<std::string>{"127.0.0.1:" + port}))
      << "the last good answer stays";
  EXPECT_TRUE(weir.proc->wait_for_line("discovery: app.test:" + port, 1s))
      << weir.proc->output_tail(2000);
  HttpResponse metrics = http_request(weir.admin_port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find(
                "weir_dns_failures_total{service=\"app-v1/app\",name=\"app.test:" + port + "\"} "),
            std::string::npos)
      << metrics.body;
  EXPECT_EQ(metrics.body.find("weir_dns_failures_total{service=\"app-v1/app\",name=\"app.test:" +
                              port + "\"} 0\n"),
            std::string::npos);
  RunOptions lint_input;
  lint_input.input = metrics.body;
  RunResult lint = run_command({"/usr/bin/promtool", "check", "metrics"}, lint_input);
  EXPECT_EQ(lint.code, 0) << lint.out << lint.err;
  EXPECT_EQ(http_request(weir.admin_port(), "GET", "/ready").status, 200)
      << "it had its answer: a DNS outage does not take weir out of its load balancer";
  int epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 50));
  EXPECT_EQ(load.served_by(epoch)["a"], load.count(epoch));

  // Back, with an answer that changed meanwhile: weir follows it again and the error clears.
  ASSERT_TRUE(dns->set_hosts("127.0.0.2 app.test\n"));
  ASSERT_TRUE(dns->restart());
  ASSERT_TRUE(wait_until(
      [&] { return endpoints_of(*control) == std::vector<std::string>{"127.0.0.2:" + port}; }, 15s))
      << weir.proc->output_tail(2000);
  EXPECT_EQ(dns_source(control->command("show services")).find("last_error"), nullptr);
  epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 50));
  EXPECT_EQ(load.served_by(epoch)["b"], load.count(epoch));
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

TEST(DiscoveryDns, ANameThatDoesNotResolveAtStartIsRetriedAndReadySaysWhy) {
  DemoUpstream a = upstream_at("a", "127.0.0.1", 0);
  auto dns = Dnsmasq::start("127.0.0.9 other.test\n");
  ASSERT_TRUE(dns);
  const std::string socket = temp_path("dns", ".sock");
  const std::string name = "app.test:" + std::to_string(a.port);
  Weir weir = Weir::start(config(*dns, name, socket));
  HttpResponse ready = http_request(weir.admin_port(), "GET", "/ready");
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("app-v1/app: waiting for DNS name " + name), std::string::npos)
      << ready.body;
  EXPECT_EQ(http_request(weir.port(), "GET", "/").status, 503) << "no endpoint yet";

  ASSERT_TRUE(dns->set_hosts("127.0.0.1 app.test\n"));
  ASSERT_TRUE(wait_until(
      [&] { return http_request(weir.admin_port(), "GET", "/ready").status == 200; }, 15s))
      << weir.proc->output_tail(2000);
  ASSERT_TRUE(wait_until([&] { return http_request(weir.port(), "GET", "/").status == 200; }, 5s))
      << "the endpoint takes traffic once its first health check passed";
}

TEST(DiscoveryDns, CheckConfigValidatesNamesWithoutResolvingThem) {
  const std::string good = temp_path("dns", ".yaml");
  ASSERT_TRUE(write_file(good, R"(
listeners: [{name: public, address: 127.0.0.1:0}]
services:
  - {namespace: app-v1, name: app, endpoints: [nowhere.invalid:80]}
routes:
  - {name: r, listener: public, match: {path_prefix: /}, backends: [{service: app-v1/app}]}
)"));
  RunResult ok = run_command({WEIR_BIN, "--check-config", good});
  EXPECT_EQ(ok.code, 0) << ok.out << ok.err;
  const std::string bad = temp_path("dns", ".yaml");
  ASSERT_TRUE(write_file(bad, R"(
listeners: [{name: public, address: 127.0.0.1:0}]
services:
  - {namespace: app-v1, name: app, endpoints: [bad_name!.test:80]}
routes:
  - {name: r, listener: public, match: {path_prefix: /}, backends: [{service: app-v1/app}]}
)"));
  RunResult refused = run_command({WEIR_BIN, "--check-config", bad});
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find(":4:48: services[0].endpoints[0]: endpoint \"bad_name!.test:80\""),
            std::string::npos)
      << refused.out << refused.err;
}

} // namespace
} // namespace weir::test
