// Request mirroring against mirrors that misbehave and endpoints that come and go: what an
// attacker or an unlucky deploy does to the mirror thread must cost it bounded time and memory,
// and a canary that cannot answer must fail its shadow comparison, with the reason named.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/http_server.h"
#include "support/load.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>

namespace weir::test {
namespace {

using namespace rollout;

// The value of the series `series` (name and labels exactly as written) in /metrics; -1 absent.
double metric(uint16_t admin, const std::string& series) {
  HttpResponse r = http_request(admin, "GET", "/metrics");
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// TCP connections of this network namespace to 127.0.0.1:`port` that are open on the client's
// side (ESTABLISHED or CLOSE_WAIT), from /proc/net/tcp: the kept connections a client holds.
int open_connections_to(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // the column names
  int n = 0;
  char wanted[8];
  std::snprintf(wanted, sizeof wanted, "%04X", port);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    const bool to_port = remote.size() > 5 && remote.substr(remote.size() - 4) == wanted;
    if (to_port && (state == "01" || state == "08")) ++n;
  }
  return n;
}

// An answer longer than anything compared (here 10 GB, streamed) ends the mirror's exchange
// once kMaxComparedBody of its body is read, with its status, rather than holding a place of
// max_in_flight and the mirror thread's CPU until the route's timeout.
TEST(MirrorAttack, AnEndlessMirrorAnswerEndsAtTheCompareLimitNotTheTimeout) {
  TestHttpServer backend(
      [](const TestHttpServer::Request&) { return TestHttpServer::Reply(200, "ok\n"); });
  DemoUpstream mirror = DemoUpstream::start("m");
  Weir weir =
      Weir::start("workers: 1\nadmin:\n  address: 127.0.0.1:0\nlisteners:\n  - name: public\n"
                  "    address: 127.0.0.1:0\nservices:\n"
                  "  - namespace: app\n    name: app\n    endpoints: [127.0.0.1:" +
                  std::to_string(backend.port()) +
                  "]\n  - namespace: m\n    name: app\n    endpoints: [" + mirror.address() +
                  "]\nroutes:\n"
                  "  - name: compared\n    listener: public\n    match: {path_prefix: /c}\n"
                  "    backends: [{service: app/app}]\n    timeouts: {request: 30s}\n"
                  "    mirror: {service: m/app, compare: {body: hash}}\n"
                  "  - name: plain\n    listener: public\n    match: {path_prefix: /p}\n"
                  "    backends: [{service: app/app}]\n    timeouts: {request: 30s}\n"
                  "    mirror: {service: m/app}\n");
  ASSERT_EQ(http_request(weir.port(), "GET", "/c?bytes=10000000000").status, 200);
  ASSERT_EQ(http_request(weir.port(), "GET", "/p?bytes=10000000000").status, 200);
  const uint16_t admin = weir.admin_port();
  auto ok = [&](const std::string& route) {
    return metric(admin, "weir_mirror_requests_total{route=\"" + route +
                             "\",service=\"m/app\",role=\"mirror\",result=\"2xx\"}");
  };
  EXPECT_TRUE(wait_until([&] { return ok("compared") == 1 && ok("plain") == 1; }, 3s))
      << http_request(admin, "GET", "/metrics").body;
  EXPECT_EQ(
      metric(admin, "weir_mirror_uncompared_total{route=\"compared\",reason=\"answer_too_large\"}"),
      1);
}

// Kept connections to an endpoint that left its service (a reload, a pod that went away) are
// closed: nothing would take them again, and each deploy would leave a few more open.
TEST(MirrorAttack, IdleMirrorConnectionsToAnEndpointThatLeftAreClosed) {
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream gone = DemoUpstream::start("gone");
  DemoUpstream next = DemoUpstream::start("next");
  const std::string socket = temp_path("ctl", ".sock");
  auto config = [&](const std::string& mirror_endpoint) {
    return header(socket, 1) + "services:\n" + service("app-v1/app", v1.address()) +
           service("m/app", mirror_endpoint) +
           "routes:\n  - name: r\n    listener: public\n    match: {path_prefix: /}\n"
           "    backends: [{service: app-v1/app}]\n    mirror: {service: m/app}\n";
  };
  Weir weir = Weir::start(config(gone.address()));
  const uint16_t gone_port = port_at_end(gone.address());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(http_request(weir.port(), "GET", "/").status, 200);
  ASSERT_TRUE(wait_until([&] { return open_connections_to(gone_port) >= 1; }, 3s))
      << "the mirror keeps its connection to the endpoint";
  ASSERT_TRUE(write_file(weir.config_path, config(next.address())));
  Reply reloaded = control(socket, "reload");
  ASSERT_TRUE(reloaded.ok()) << reloaded.raw;
  EXPECT_TRUE(wait_until([&] { return open_connections_to(gone_port) == 0; }, 3s))
      << open_connections_to(gone_port) << " connection(s) still open to the endpoint that left";
}

// A reload that changes the compared headers while a sampled request is still arriving: the
// client's answer and the mirror's are reduced with the same list (the one the request was
// sampled with), so identical answers do not diverge for a mismatch of lists.
TEST(MirrorAttack, AReloadOfTheComparedHeadersMidRequestComparesBothAnswersAlike) {
  auto same = [](const TestHttpServer::Request&) {
    return TestHttpServer::Reply(200, "same\n", {{"x-a", "1"}, {"content-type", "text/plain"}});
  };
  TestHttpServer backend(same);
  TestHttpServer mirror(same);
  const std::string socket = temp_path("ctl", ".sock");
  auto config = [&](const std::string& headers) {
    return header(socket, 1) + "admin:\n  address: 127.0.0.1:0\nservices:\n" +
           service("app-v1/app", "127.0.0.1:" + std::to_string(backend.port())) +
           service("m/app", "127.0.0.1:" + std::to_string(mirror.port())) +
           "routes:\n  - name: r\n    listener: public\n    match: {path_prefix: /}\n"
           "    backends: [{service: app-v1/app}]\n"
           "    mirror: {service: m/app, compare: {headers: [" +
           headers + "]}}\n";
  };
  Weir weir = Weir::start(config("x-a"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab"));
  ASSERT_TRUE(write_file(weir.config_path, config("content-type, x-a")));
  Reply reloaded = control(socket, "reload");
  ASSERT_TRUE(reloaded.ok()) << reloaded.raw;
  ASSERT_TRUE(client->send("cd"));
  auto answer = client->read_response(5s);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  const uint16_t admin = weir.admin_port();
  auto compared = [&](const std::string& result) {
    return metric(admin, "weir_mirror_comparisons_total{route=\"r\",role=\"mirror\",result=\"" +
                             result + "\"}");
  };
  ASSERT_TRUE(wait_until([&] { return compared("same") + compared("diverged") == 1; }, 3s))
      << http_request(admin, "GET", "/metrics").body;
  EXPECT_EQ(compared("diverged"), 0);
}

// A canary whose endpoints all fail their health checks gives no answer to any copy: with
// set_mirror and max_divergence at canary weight 0, that diverges (it does not leave the
// analysis inconclusive for want of comparisons), and the abort says why.
TEST(MirrorAttack, ARolloutMirroringToACanaryWithNoEndpointUpAbortsNamingWhy) {
  DemoUpstream s1 = DemoUpstream::start("s1");
  ClosedPort dead;
  const std::string socket = temp_path("ctl", ".sock");
  Plan plan;
  plan.steps = {"set_mirror: { percent: 100 }", "analysis: { duration: 5s }", "set_weight: 100"};
  plan.analysis = "{ interval: 500ms, min_requests: 20, max_divergence: 1%, failure_limit: 1, "
                  "inconclusive_limit: 5 }";
  Weir weir = Weir::start(
      header(socket, 1) + "admin:\n  address: 127.0.0.1:0\nservices:\n" +
      service("app-v1/app", s1.address(), kNoOutliers) +
      service(
          "app-v2/app", dead.address(),
          std::string(kNoOutliers) +
              "    health_check: { interval: 100ms, timeout: 100ms, unhealthy_threshold: 1 }\n") +
      "routes:\n" + route("r", "/", plan));
  ASSERT_TRUE(wait_until(
      [&] {
        return metric(weir.admin_port(), "weir_endpoint_up{namespace=\"app-v2\",service=\"app\","
                                         "endpoint=\"" +
                                             dead.address() + "\"}") == 0;
      },
      5s));
  LoadGen load(weir.port(), 2, 200);
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_phase(socket, "Degraded", 5s)) << status_raw(socket) << history_raw(socket);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  std::string aborted;
  for (const auto& e : history(socket))
    if (e.get_string("type") == "aborted") aborted = e.get_string("message");
  EXPECT_TRUE(contains(aborted, "divergence 100.00%")) << aborted;
  EXPECT_TRUE(contains(aborted, ": no answer (no endpoint available)")) << aborted;
}

} // namespace
} // namespace weir::test
