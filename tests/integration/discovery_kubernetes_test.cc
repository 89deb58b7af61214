// Kubernetes discovery against the fake API server (support/fake_kube_api.h): LIST + WATCH of a
// Service's EndpointSlices over HTTPS with a bearer token. "Pods" are demo upstreams on one port
// at 127.0.0.1, .2, .3 and .4, as pods of a Deployment share their container port.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/control.h"
#include "support/fake_kube_api.h"
#include "support/load.h"
#include "support/run.h"
#include "support/upgrade_chain.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <future>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weir::test {
namespace {

DemoUpstream pod(const std::string& name, const std::string& host, uint16_t port) {
  return DemoUpstream::start(name, {"--listen", host + ":" + std::to_string(port)});
}

std::string api_block(const FakeKubeApi& api) {
  return "kubernetes:\n  api_server: " + api.url() + "\n  token_file: " + api.token_file() +
         "\n  ca_file: " + api.ca_file() + "\n";
}

std::string k8s_service(const std::string& ns, bool health_checks = true) {
  return "  - namespace: " + ns + "\n    name: app\n    kubernetes: {service: app, port: http}\n" +
         (health_checks ? "    health_check: {path: /, interval: 500ms, timeout: 400ms}\n" : "") +
         "    outlier_detection: {enabled: false}\n";
}

std::string one_service_config(const FakeKubeApi& api, const std::string& socket,
                               bool health_checks = true) {
  return api_block(api) + R"(
listeners: [{name: public, address: 127.0.0.1:0}]
admin: {address: 127.0.0.1:0}
control: {socket: )" +
         socket + "}\nservices:\n" + k8s_service("app-v2", health_checks) + R"(routes:
  - {name: r, listener: public, match: {path_prefix: /}, backends: [{service: app-v2/app}]}
)";
}

FakeSlice slice(const std::string& name, uint16_t port, std::vector<FakeEndpoint> endpoints,
                const std::string& ns = "app-v2") {
  FakeSlice s;
  s.ns = ns;
  s.name = name;
  s.service = "app";
  s.ports = {{"http", port}};
  s.endpoints = std::move(endpoints);
  return s;
}

FakeEndpoint serving(const std::string& address) {
  return {address, true, true, false};
}
FakeEndpoint terminating(const std::string& address) {
  return {address, false, true, true};
}

struct Listed {
  std::vector<std::string> all;     // every endpoint of the service
  std::vector<std::string> drained; // of them, drained
};

Listed endpoints_of(const std::string& socket, const std::string& service = "app-v2/app") {
  Listed out;
  auto c = connect_control(socket);
  if (!c) return out;
  json::Value r = c->command("show services");
  for (const auto& s : r["services"].as_array()) {
    if (s.get_string("service") != service) continue;
    for (const auto& e : s["endpoints"].as_array()) {
      out.all.push_back(e.get_string("address"));
      if (e.get_bool("drained")) out.drained.push_back(e.get_string("address"));
    }
  }
  std::sort(out.all.begin(), out.all.end());
  std::sort(out.drained.begin(), out.drained.end());
  return out;
}

json::Value source_of(const std::string& socket) {
  auto c = connect_control(socket);
  if (!c) return {};
  json::Value r = c->command("show services");
  return r["services"].as_array().at(0)["discovery"].as_array().at(0);
}

// How many pods served 20 fresh requests.
size_t reached_once(uint16_t port) {
  std::set<std::string> who;
  for (int i = 0; i < 20; ++i)
    who.insert(http_request(port, "GET", "/").header("x-served-by"));
  who.erase("");
  return who.size();
}

// The fake API server with one pod, p1 (127.0.0.1), serving in slice app-a, and a weir that
// watches it. `token`: the API server takes only this one from the start ("" = the file's).
struct OnePod {
  std::unique_ptr<FakeKubeApi> api; // null if it could not start (the test stops)
  DemoUpstream p1;
  std::string socket;
  Weir weir; // destroyed first
};
OnePod one_pod(bool health_checks, const std::string& token = "") {
  OnePod s;
  s.api = FakeKubeApi::start();
  if (!s.api) return s;
  s.p1 = pod("p1", "127.0.0.1", 0);
  s.api->put_slice(slice("app-a", s.p1.port, {serving("127.0.0.1")}));
  if (!token.empty()) s.api->set_token(token);
  s.socket = temp_path("k8s", ".sock");
  s.weir = Weir::start(one_service_config(*s.api, s.socket, health_checks));
  return s;
}

// The pods that served the next `n` requests of the load.
std::set<std::string> reached(LoadGen& load, uint64_t n = 200) {
  int epoch = load.new_epoch();
  std::set<std::string> out;
  if (!load.wait_for(epoch, n, 10s)) return out;
  for (const auto& [who, count] : load.served_by(epoch))
    out.insert(who);
  return out;
}

TEST(DiscoveryKubernetes, ARollingUpdateUnderLoadFailsNoRequestAndReachesExactlyTheServingPods) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  DemoUpstream p1 = pod("p1", "127.0.0.1", 0);
  const uint16_t port = p1.port;
  DemoUpstream p2 = pod("p2", "127.0.0.2", port);
  DemoUpstream p3 = pod("p3", "127.0.0.3", port);
  DemoUpstream p4 = pod("p4", "127.0.0.4", port);
  const std::string P = ":" + std::to_string(port);
  api->put_slice(slice("app-old", port, {serving("127.0.0.1"), serving("127.0.0.2")}));
  const std::string socket = temp_path("k8s", ".sock");
  Weir weir = Weir::start(one_service_config(*api, socket));
  ASSERT_TRUE(wait_until(
      [&] { return http_request(weir.admin_port(), "GET", "/ready").status == 200; }, 5s))
      << http_request(weir.admin_port(), "GET", "/ready").body << weir.proc->output_tail(2000);
  LoadGen load(weir.port(), 4, 400);
  ASSERT_TRUE(wait_until(
      [&] {
        return reached(load) == std::set<std::string>{"p1", "p2"};
      },
      5s))
      << load.report();

  // 1. The new pods come up (in a slice of their own, as the controller often does).
  api->put_slice(slice("app-new", port, {serving("127.0.0.3"), serving("127.0.0.4")}));
  ASSERT_TRUE(wait_until(
      [&] {
        return reached(load) == std::set<std::string>{"p1", "p2", "p3", "p4"};
      },
      5s))
      << load.report() << weir.proc->output_tail(2000);

  // 2. The old ones are terminating: p2 still serving (drained: requests in flight finish, no
  // new ones), p1 no longer serving (its readiness failed on SIGTERM: out at once, not kept for
  // the slice-move grace). Only the new ones get requests.
  api->put_slice(
      slice("app-old", port, {{"127.0.0.1", false, false, true}, terminating("127.0.0.2")}));
  ASSERT_TRUE(wait_until(
      [&] {
        return reached(load) == std::set<std::string>{"p3", "p4"};
      },
      5s))
      << load.report();
  EXPECT_EQ(endpoints_of(socket).drained, (std::vector<std::string>{"127.0.0.2" + P}));
  EXPECT_EQ(endpoints_of(socket).all,
            (std::vector<std::string>{"127.0.0.2" + P, "127.0.0.3" + P, "127.0.0.4" + P}));
  EXPECT_EQ(reached(load, 400), (std::set<std::string>{"p3", "p4"}));

  // 3. They are gone from the slice, and go away.
  api->put_slice(slice("app-old", port, {}));
  ASSERT_TRUE(wait_until(
      [&] {
        return endpoints_of(socket).all ==
               std::vector<std::string>{"127.0.0.3" + P, "127.0.0.4" + P};
      },
      5s));
  ASSERT_TRUE(p1.stop());
  ASSERT_TRUE(p2.stop());
  api->delete_slice("app-v2", "app-old");
  EXPECT_EQ(reached(load, 400), (std::set<std::string>{"p3", "p4"}));
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  EXPECT_GT(load.responses(), 1000u);
  EXPECT_EQ(api->lists(), 1) << "one list, then one watch throughout";
}

TEST(DiscoveryKubernetes, AReloadThatChangesTheApiSettingsKeepsThePodsServing) {
  OnePod s = one_pod(true);
  ASSERT_TRUE(s.api);
  FakeKubeApi* api = s.api.get();
  Weir& weir = s.weir;
  const std::string& socket = s.socket;

  ASSERT_TRUE(wait_until([&] { return reached_once(weir.port()) == 1; }, 5s));
  LoadGen load(weir.port(), 4, 400);
  ASSERT_TRUE(load.wait_for(0, 100));
  // Another token file (same token): every Kubernetes source starts over with the new settings,
  // and what they found stays in force meanwhile; the API server refuses it for a while.
  const std::string token_copy = temp_path("token");
  ASSERT_TRUE(write_file(token_copy, read_file(api->token_file())));
  std::string next = read_file(weir.config_path);
  next.replace(next.find(api->token_file()), api->token_file().size(), token_copy);
  api->set_token("nobody-has-this");
  ASSERT_TRUE(write_file(weir.config_path, next));
  auto c = connect_control(socket);
  ASSERT_TRUE(c);
  json::Value reloaded = c->command("reload");
  ASSERT_TRUE(reloaded.get_bool("ok")) << c->last_line();
  int epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 400));
  EXPECT_EQ(load.served_by(epoch)["p1"], load.count(epoch));
  EXPECT_EQ(http_request(weir.admin_port(), "GET", "/ready").status, 200);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

TEST(DiscoveryKubernetes, ARequestInFlightOnAPodThatGoesAwayFinishes) {
  OnePod s = one_pod(false);
  ASSERT_TRUE(s.api);
  DemoUpstream p2 = pod("p2", "127.0.0.2", s.p1.port);
  ASSERT_TRUE(wait_until([&] { return endpoints_of(s.socket).all.size() == 1; }, 5s));
  auto slow = std::async(std::launch::async,
                         [&] { return http_request(s.weir.port(), "GET", "/?delay_ms=1500"); });
  auto active = [&] {
    auto c = connect_control(s.socket);
    json::Value r = c->command("show services");
    return r["services"].as_array().at(0)["endpoints"].as_array().at(0).get_number("active");
  };
  ASSERT_TRUE(wait_until([&] { return active() == 1; }, 5s));
  // p1 stops serving (shutting down), p2 comes: p1 leaves the endpoints at once, its request
  // goes on.
  s.api->put_slice(
      slice("app-a", s.p1.port, {{"127.0.0.1", false, false, true}, serving("127.0.0.2")}));
  ASSERT_TRUE(wait_until(
      [&] {
        return endpoints_of(s.socket).all ==
               std::vector<std::string>{"127.0.0.2:" + std::to_string(s.p1.port)};
      },
      5s));
  EXPECT_EQ(http_request(s.weir.port(), "GET", "/").header("x-served-by"), "p2");
  EXPECT_EQ(slow.wait_for(0s), std::future_status::timeout) << "it was still in flight";
  HttpResponse finished = slow.get();
  EXPECT_EQ(finished.status, 200);
  EXPECT_EQ(finished.header("x-served-by"), "p1");
}

TEST(DiscoveryKubernetes, AnAddressMovingBetweenSlicesIsNeverDropped) {
  OnePod s = one_pod(false);
  ASSERT_TRUE(s.api);
  FakeKubeApi* api = s.api.get();
  const DemoUpstream& p1 = s.p1;
  const std::string& socket = s.socket;
  Weir& weir = s.weir;

  ASSERT_TRUE(wait_until([&] { return endpoints_of(socket).all.size() == 1; }, 5s));
  LoadGen load(weir.port(), 4, 400);
  ASSERT_TRUE(load.wait_for(0, 100));
  // Gone from one slice, in another only a little later: the only pod there is stays.
  api->put_slice(slice("app-a", p1.port, {}));
  ASSERT_TRUE(load.wait_for(load.new_epoch(), 100));
  api->put_slice(slice("app-b", p1.port, {serving("127.0.0.1")}));
  ASSERT_TRUE(load.wait_for(load.new_epoch(), 200));
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
  EXPECT_EQ(endpoints_of(socket).all.size(), 1u);
}

TEST(DiscoveryKubernetes, TheWatchSurvivesDisconnectsBookmarksAndGoneVersions) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  DemoUpstream p1 = pod("p1", "127.0.0.1", 0);
  const uint16_t port = p1.port;
  DemoUpstream p2 = pod("p2", "127.0.0.2", port);
  const std::string P = ":" + std::to_string(port);
  api->put_slice(slice("app-a", port, {serving("127.0.0.1")}));
  const std::string socket = temp_path("k8s", ".sock");
  Weir weir = Weir::start(one_service_config(*api, socket, false));
  auto follows = [&](std::vector<std::string> want) {
    for (auto& w : want)
      w += P;
    // Failures in a row lengthen the pause before weir asks again (up to 10 s, ±20 %).
    return wait_until([&] { return endpoints_of(socket).all == want; }, 15s);
  };
  ASSERT_TRUE(follows({"127.0.0.1"}));
  ASSERT_TRUE(api->wait_open_watches(1, 5s));
  LoadGen load(weir.port(), 2, 200);

  // Cut mid-chunk: weir watches again from the last version it saw, without a new list.
  api->disconnect_watches(true);
  api->put_slice(slice("app-a", port, {serving("127.0.0.1"), serving("127.0.0.2")}));
  ASSERT_TRUE(follows({"127.0.0.1", "127.0.0.2"})) << weir.proc->output_tail(2000);
  EXPECT_EQ(api->lists(), 1);
  EXPECT_GE(api->watches(), 2);

  // A bookmark moves the version weir resumes from.
  ASSERT_TRUE(api->wait_open_watches(1, 5s));
  api->send_bookmark();
  const uint64_t bookmarked = api->resource_version();
  api->disconnect_watches(false);
  ASSERT_TRUE(api->wait_open_watches(1, 5s));
  bool resumed = false;
  for (const auto& r : api->requests())
    resumed =
        resumed || r.find("resourceVersion=" + std::to_string(bookmarked)) != std::string::npos;
  EXPECT_TRUE(resumed) << "no watch from the bookmark's version";

  // 410 Gone in the stream: weir lists again, and sees what changed meanwhile.
  const int lists = api->lists();
  api->expire_open_watches();
  api->put_slice(slice("app-a", port, {serving("127.0.0.2")}));
  ASSERT_TRUE(follows({"127.0.0.2"})) << weir.proc->output_tail(2000);
  ASSERT_TRUE(wait_until([&] { return api->lists() > lists; }, 5s));

  // History expired while disconnected: the re-watch gets 410, weir lists again.
  ASSERT_TRUE(api->wait_open_watches(1, 5s));
  api->disconnect_watches(false);
  api->expire_history();
  api->put_slice(slice("app-a", port, {serving("127.0.0.1"), serving("127.0.0.2")}));
  ASSERT_TRUE(follows({"127.0.0.1", "127.0.0.2"})) << weir.proc->output_tail(2000);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

// The token rotates: the API server takes only the new one before the file has it. weir is
// refused (and says so), keeps its endpoints, and recovers once the file holds the new token.
TEST(DiscoveryKubernetes, ATokenRotationTheFileThenFollowsCostsNothing) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  DemoUpstream p1 = pod("p1", "127.0.0.1", 0);
  const uint16_t port = p1.port;
  DemoUpstream p2 = pod("p2", "127.0.0.2", port);
  const std::string P = ":" + std::to_string(port);
  api->put_slice(slice("app-a", port, {serving("127.0.0.1"), serving("127.0.0.2")}));
  const std::string socket = temp_path("k8s", ".sock");
  Weir weir = Weir::start(one_service_config(*api, socket, false));
  ASSERT_TRUE(wait_until([&] { return endpoints_of(socket).all.size() == 2; }, 5s));
  LoadGen load(weir.port(), 2, 200);
  ASSERT_TRUE(api->wait_open_watches(1, 5s));
  api->set_token("rotated-token");
  api->disconnect_watches(false);
  ASSERT_TRUE(wait_until([&] { return api->unauthorized() >= 1; }, 5s));
  ASSERT_TRUE(wait_until(
      [&] {
        return source_of(socket).get_string("last_error").find("HTTP 401") != std::string::npos;
      },
      5s))
      << weir.proc->output_tail(2000);
  EXPECT_EQ(endpoints_of(socket).all.size(), 2u) << "the last good endpoints stay";
  HttpResponse metrics = http_request(weir.admin_port(), "GET", "/metrics");
  EXPECT_NE(metrics.body.find("weir_kubernetes_failures_total{service=\"app-v2/app\""),
            std::string::npos);
  api->write_token_file("rotated-token");
  api->put_slice(slice("app-a", port, {serving("127.0.0.2")}));
  ASSERT_TRUE(wait_until(
      [&] { return endpoints_of(socket).all == std::vector<std::string>{"127.0.0.2" + P}; }, 15s))
      << weir.proc->output_tail(2000);
  EXPECT_EQ(source_of(socket).find("last_error"), nullptr);
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

TEST(DiscoveryKubernetes, ReadyWaitsForTheFirstCompleteListAndSaysWhy) {
  OnePod s = one_pod(true, "not-the-one-in-the-file");
  ASSERT_TRUE(s.api);
  FakeKubeApi* api = s.api.get();
  Weir& weir = s.weir;

  HttpResponse ready;
  ASSERT_TRUE(wait_until(
      [&] {
        ready = http_request(weir.admin_port(), "GET", "/ready");
        return ready.body.find("401") != std::string::npos;
      },
      5s))
      << ready.body;
  EXPECT_EQ(ready.status, 503);
  EXPECT_NE(ready.body.find("app-v2/app: waiting for the first list of EndpointSlices "
                            "(kubernetes service app-v2/app port http): list: HTTP 401"),
            std::string::npos)
      << ready.body;
  api->write_token_file("not-the-one-in-the-file");
  ASSERT_TRUE(wait_until(
      [&] { return http_request(weir.admin_port(), "GET", "/ready").status == 200; }, 15s))
      << weir.proc->output_tail(2000);
  ASSERT_TRUE(wait_until([&] { return http_request(weir.port(), "GET", "/").status == 200; }, 5s));
}

TEST(DiscoveryKubernetes, ATokenFileThatIsAFifoOrHoldsALineBreakIsRefusedWithoutBlocking) {
  OnePod s = one_pod(false);
  ASSERT_TRUE(s.api);
  ASSERT_TRUE(wait_until([&] { return endpoints_of(s.socket).all.size() == 1; }, 5s));
  const std::string token = s.api->token_file();
  // Once the watch is cut, weir reads the file again for every attempt.
  ASSERT_TRUE(s.api->wait_open_watches(1, 5s));
  auto refused_with = [&](const std::string& why) {
    s.api->disconnect_watches(false);
    return wait_until(
        [&] { return source_of(s.socket).get_string("last_error").find(why) != std::string::npos; },
        15s);
  };
  // A FIFO would block the control thread on open or read until someone writes to it.
  ASSERT_EQ(::unlink(token.c_str()), 0);
  ASSERT_EQ(::mkfifo(token.c_str(), 0600), 0);
  EXPECT_TRUE(refused_with("is not a regular file"))
      << s.weir.proc->output_tail(2000) << json::Writer().value(source_of(s.socket)).take();
  EXPECT_EQ(http_request(s.weir.admin_port(), "GET", "/healthz").status, 200);
  // A line break would end the Authorization header and start one of the file's making.
  ASSERT_EQ(::unlink(token.c_str()), 0);
  s.api->write_token_file(s.api->token() + "\r\nX-Injected: yes");
  EXPECT_TRUE(refused_with("holds a line break")) << s.weir.proc->output_tail(2000);
  EXPECT_EQ(endpoints_of(s.socket).all.size(), 1u) << "the last good endpoints stay";
  s.api->write_token_file(s.api->token());
  EXPECT_TRUE(wait_until([&] { return source_of(s.socket).find("last_error") == nullptr; }, 15s));
}

TEST(DiscoveryKubernetes, ARolloutBetweenKubernetesBackedVersionsRunsToTheEnd) {
  using namespace rollout;
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  DemoUpstream v1 = pod("v1", "127.0.0.1", 0);
  DemoUpstream v2 = pod("v2", "127.0.0.2", v1.port);
  api->put_slice(slice("app-x", v1.port, {serving("127.0.0.1")}, "app-v1"));
  api->put_slice(slice("app-y", v1.port, {serving("127.0.0.2")}, "app-v2"));
  const std::string socket = temp_path("k8s", ".sock");
  Plan plan;
  plan.steps = {"set_weight: 20", "analysis: { duration: 2s }", "set_weight: 60",
                "pause: { duration: 500ms }", "set_weight: 100"};
  Weir weir = Weir::start(api_block(*api) + header(socket, 2) + "admin: {address: 127.0.0.1:0}\n" +
                          "services:\n" + k8s_service("app-v1") + k8s_service("app-v2") +
                          "routes:\n" + route("r", "/", plan));
  ASSERT_TRUE(wait_until(
      [&] { return http_request(weir.admin_port(), "GET", "/ready").status == 200; }, 5s));
  LoadGen load(weir.port(), 8, 600);
  ASSERT_TRUE(load.wait_for(0, 200, 10s));
  Reply started = control(socket, "rollout start r");
  ASSERT_TRUE(started.ok()) << started.raw;
  // Meanwhile the canary's Deployment scales out: the new pod takes its share of the canary.
  DemoUpstream v2b = pod("v2b", "127.0.0.3", v1.port);
  api->put_slice(slice("app-y", v1.port, {serving("127.0.0.2"), serving("127.0.0.3")}, "app-v2"));
  ASSERT_TRUE(wait_phase(socket, "Healthy", 20s)) << status_raw(socket) << history_raw(socket);
  std::set<std::string> after = reached(load, 300);
  EXPECT_EQ(after, (std::set<std::string>{"v2", "v2b"}));
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

TEST(DiscoveryKubernetes, AnUpgradeHandsOverThePodsSoTheNewWeirServesBeforeItsOwnList) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  DemoUpstream p1 = pod("p1", "127.0.0.1", 0);
  DemoUpstream p2 = pod("p2", "127.0.0.2", p1.port);
  DemoUpstream p3 = pod("p3", "127.0.0.3", p1.port);
  // p3 is terminating: drained here, and it must stay drained in the new process.
  api->put_slice(slice("app-a", p1.port,
                       {serving("127.0.0.1"), serving("127.0.0.2"), terminating("127.0.0.3")}));
  const std::string socket = temp_path("k8s", ".sock");
  Weir first = Weir::start(one_service_config(*api, socket));
  const uint16_t port = first.port();
  const uint16_t admin = first.admin_port();
  ASSERT_TRUE(wait_until([&] { return reached_once(port) == 2; }, 5s));
  UpgradeChain chain(std::move(first), socket);
  // The new process cannot list (its token is refused) until the file is fixed.
  api->set_token("rotated");
  LoadGen load(port, 4, 400);
  ASSERT_TRUE(load.wait_for(0, 100));
  auto reply = chain.upgrade();
  ASSERT_TRUE(reply.ok()) << reply.raw;
  EXPECT_EQ(http_request(admin, "GET", "/ready").status, 200)
      << "the old process had its list: so has the new one";
  int epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 400));
  EXPECT_EQ(load.served_by(epoch),
            (std::map<std::string, uint64_t>{{"p1", load.served_by(epoch)["p1"]},
                                             {"p2", load.served_by(epoch)["p2"]}}))
      << "both serving pods, as handed over, and not the terminating one";
  EXPECT_EQ(load.served_by(epoch).size(), 2u);
  EXPECT_EQ(endpoints_of(socket).all.size(), 3u);
  EXPECT_EQ(endpoints_of(socket).drained,
            (std::vector<std::string>{"127.0.0.3:" + std::to_string(p1.port)}));
  // Its own watch takes over once it may.
  api->write_token_file("rotated");
  api->put_slice(slice("app-a", p1.port, {serving("127.0.0.2")}));
  ASSERT_TRUE(wait_until([&] { return endpoints_of(socket).all.size() == 1; }, 15s));
  epoch = load.new_epoch();
  ASSERT_TRUE(load.wait_for(epoch, 200));
  EXPECT_EQ(load.served_by(epoch), (std::map<std::string, uint64_t>{{"p2", load.count(epoch)}}));
  load.stop();
  EXPECT_EQ(load.failures(), 0u) << load.report();
}

// docker/kubernetes: every manifest parses, the Role lets weir get, list and watch
// EndpointSlices, a fleet's Role its Leases and ConfigMap, the gateway controller's ClusterRole
// lets it watch the Gateway API objects and patch their status, and the config in the ConfigMap is
// one weir accepts.
TEST(DiscoveryKubernetes, TheManifestsInDockerParseAndTheirConfigIsValid) {
  const std::string dir = std::string(WEIR_SOURCE_DIR) + "/docker/kubernetes";
  const std::string config = temp_path("manifest", ".yaml");
  RunResult py = run_command(
      {"/usr/bin/python3", "-c",
       "import glob, sys, yaml\n"
       "docs = [d for f in sorted(glob.glob(sys.argv[1] + '/*.yaml'))\n"
       "        for d in yaml.safe_load_all(open(f)) if d]\n"
       "roles = [d for d in docs if d['kind'] == 'Role' and d['metadata']['name'] != "
       "'weir-fleet']\n"
       "fleet = [d for d in docs if d['kind'] == 'Role' and d['metadata']['name'] == "
       "'weir-fleet']\n"
       "assert fleet, 'no Role for a fleet'\n"
       "fv = {(g, res): set(rule['verbs']) for rule in fleet[0]['rules']\n"
       "      for g in rule['apiGroups'] for res in rule['resources']}\n"
       "assert fv[('coordination.k8s.io', 'leases')] >= {'get', 'list', 'watch', 'create', "
       "'update', 'delete'}, fv\n"
       "assert fv[('', 'configmaps')] >= {'get', 'list', 'watch', 'create', 'update'}, fv\n"
       "assert roles, 'no Role'\n"
       "for r in roles:\n"
       "    rule = r['rules'][0]\n"
       "    assert rule['apiGroups'] == ['discovery.k8s.io'] and 'endpointslices' in "
       "rule['resources'], r\n"
       "    assert set(rule['verbs']) >= {'get', 'list', 'watch'}, r\n"
       "crs = [d for d in docs if d['kind'] == 'ClusterRole']\n"
       "assert crs, 'no ClusterRole for the gateway controller'\n"
       "verbs = {(g, res): set(rule['verbs']) for rule in crs[0]['rules']\n"
       "         for g in rule['apiGroups'] for res in rule['resources']}\n"
       "gw = 'gateway.networking.k8s.io'\n"
       "for res in ['gatewayclasses', 'gateways', 'httproutes', 'referencegrants']:\n"
       "    assert verbs[(gw, res)] >= {'list', 'watch'}, res\n"
       "for res in ['httproutes/status', 'gatewayclasses/status']:\n"
       "    assert 'patch' in verbs[(gw, res)], res\n"
       "for res in ['services', 'namespaces']:\n"
       "    assert verbs[('', res)] >= {'list', 'watch'}, res\n"
       "cms = [d for d in docs if d['kind'] == 'ConfigMap' and 'weir.yaml' in d.get('data', {})]\n"
       "open(sys.argv[2], 'w').write(cms[0]['data']['weir.yaml'])\n"
       "print(len(docs), 'documents')\n",
       dir, config});
  ASSERT_EQ(py.code, 0) << py.out << py.err;
  EXPECT_NE(read_file(config).find("kubernetes: {service: app, port: http}"), std::string::npos)
      << read_file(config);
  RunResult checked = run_command({WEIR_BIN, "--check-config", config});
  EXPECT_EQ(checked.code, 0) << checked.out << checked.err;
}

} // namespace
} // namespace weir::test
