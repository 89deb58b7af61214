// The fake Kubernetes API server (support/fake_kube_api.h) that weir's service-discovery tests
// run against, checked from outside: with curl for the wire itself (status, body, chunked watch
// stream, its ends), and with Debian's python3-kubernetes, a real client whose generated models
// must decode what the fake sends, so that the fake speaks the API server's format and not one
// of its own.
#include "support/fake_kube_api.h"
#include "support/process.h"
#include "support/run.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kCurl = "/usr/bin/curl";
constexpr const char* kPython = "/usr/bin/python3";
const std::string kSlices = "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices";
const std::string kAppSelector = "labelSelector=kubernetes.io%2Fservice-name%3Dapp";

FakeSlice app_slice() {
  FakeSlice s;
  s.ns = "shop";
  s.name = "app-abc12";
  s.service = "app";
  s.ports = {{"http", 9001}};
  s.endpoints = {{"127.0.0.2", true, true, false}, {"127.0.0.3", false, true, true}};
  return s;
}

FakeSlice other_slice(const std::string& ns, const std::string& name, const std::string& service) {
  FakeSlice s;
  s.ns = ns;
  s.name = name;
  s.service = service;
  s.ports = {{"", 7000}};
  s.endpoints = {{"127.0.0.9"}};
  return s;
}

std::vector<std::string> curl_argv(const FakeKubeApi& api, const std::string& token,
                                   const std::string& target) {
  return {kCurl,
          "-sS",
          "-N",
          "--noproxy",
          "*",
          "--cacert",
          api.ca_file(),
          "-H",
          "Authorization: Bearer " + token,
          "-w",
          "\nstatus=%{http_code}\n",
          api.url() + target};
}

RunOptions quick() {
  RunOptions options;
  options.timeout = 10s;
  return options;
}

// A request answered whole: the body, and the status on a last line of its own.
struct Answer {
  int status = 0;
  std::string body;
};

Answer fetch(const FakeKubeApi& api, const std::string& token, const std::string& target) {
  RunResult r = run_command(curl_argv(api, token, target), quick());
  EXPECT_TRUE(r.exited && r.code == 0) << target << ": " << r.code << " " << r.err;
  const size_t at = r.out.rfind("\nstatus=");
  if (at == std::string::npos) return {};
  return {std::stoi(r.out.substr(at + 8)), r.out.substr(0, at)};
}

std::string rv(uint64_t resource_version) {
  return "\"resourceVersion\":\"" + std::to_string(resource_version) + "\"";
}

// The watch stream's event lines as curl printed them (the final status line left out).
std::vector<std::string> events_of(const std::string& output) {
  std::vector<std::string> events;
  for (const auto& line : nonempty_lines_of(output))
    if (!line.starts_with("status=")) events.push_back(line);
  return events;
}

std::string requests_of(const FakeKubeApi& api) {
  std::string all;
  for (const auto& line : api.requests())
    all += line + "\n";
  return all;
}

TEST(FakeKubeApi, ListAnswersTheServicesSlicesOnlyWithTheToken) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  EXPECT_EQ(read_file(api->token_file()), api->token());
  api->put_slice(app_slice());
  api->put_slice(other_slice("shop", "other-x1", "other"));
  const uint64_t version = api->put_slice(other_slice("elsewhere", "app-far01", "app"));

  for (const std::string& selector :
       {kAppSelector, std::string("labelSelector=kubernetes.io/service-name=app")}) {
    const Answer list = fetch(*api, api->token(), kSlices + "?" + selector + "&limit=500");
    EXPECT_EQ(list.status, 200);
    EXPECT_TRUE(list.body.starts_with(
        R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{)" +
        rv(version) + R"(},"items":[{"metadata":{"name":"app-abc12","generateName":"app-",)"))
        << list.body;
    EXPECT_NE(list.body.find(R"("addressType":"IPv4","endpoints":[{"addresses":["127.0.0.2"],)"
                             R"("conditions":{"ready":true,"serving":true,"terminating":false})"),
              std::string::npos)
        << list.body;
    EXPECT_NE(list.body.find(R"("ports":[{"name":"http","protocol":"TCP","port":9001}]}]})"),
              std::string::npos)
        << list.body;
    EXPECT_EQ(list.body.find("other-x1"), std::string::npos) << list.body;
    EXPECT_EQ(list.body.find("app-far01"), std::string::npos) << list.body;
  }
  // All namespaces, and a namespace without a selector.
  const Answer everywhere =
      fetch(*api, api->token(), "/apis/discovery.k8s.io/v1/endpointslices?" + kAppSelector);
  EXPECT_NE(everywhere.body.find("app-far01"), std::string::npos) << everywhere.body;
  EXPECT_NE(everywhere.body.find("app-abc12"), std::string::npos) << everywhere.body;
  const Answer whole_namespace = fetch(*api, api->token(), kSlices);
  EXPECT_NE(whole_namespace.body.find("other-x1"), std::string::npos) << whole_namespace.body;
  EXPECT_EQ(whole_namespace.body.find("app-far01"), std::string::npos) << whole_namespace.body;

  const Answer refused = fetch(*api, "not-the-token", kSlices + "?" + kAppSelector);
  EXPECT_EQ(refused.status, 401);
  EXPECT_EQ(refused.body, R"({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",)"
                          R"("message":"Unauthorized","reason":"Unauthorized","code":401})");
  const Answer unknown = fetch(*api, api->token(), "/api/v1/namespaces/shop/pods");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find(R"("reason":"NotFound","code":404})"), std::string::npos);

  EXPECT_EQ(api->lists(), 4) << requests_of(*api);
  EXPECT_EQ(api->unauthorized(), 1);
  EXPECT_EQ(api->watches(), 0);
  EXPECT_NE(requests_of(*api).find("GET " + kSlices + "?" + kAppSelector + " status=401\n"),
            std::string::npos)
      << requests_of(*api);
}

TEST(FakeKubeApi, TokenChangesTakeEffectAtOnce) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const std::string first = api->token();
  EXPECT_EQ(fetch(*api, first, kSlices).status, 200);
  api->set_token("second-token");
  api->write_token_file("second-token");
  EXPECT_EQ(read_file(api->token_file()), "second-token");
  EXPECT_EQ(fetch(*api, first, kSlices).status, 401);
  EXPECT_EQ(fetch(*api, "second-token", kSlices).status, 200);
  EXPECT_EQ(api->unauthorized(), 1);
}

TEST(FakeKubeApi, WatchStreamsChangesOfTheServiceAsTheyHappen) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const uint64_t listed = api->put_slice(app_slice());
  auto curl = Process::start(curl_argv(*api, api->token(),
                                       kSlices + "?" + kAppSelector + "&watch=1&resourceVersion=" +
                                           std::to_string(listed) + "&timeoutSeconds=30"));
  ASSERT_TRUE(curl);
  ASSERT_TRUE(api->wait_open_watches(1, 10s)) << curl->output() << requests_of(*api);

  FakeSlice changed = app_slice();
  changed.endpoints[0].ready = false;
  const uint64_t modified = api->put_slice(changed);
  api->put_slice(other_slice("shop", "other-x1", "other")); // another service: not in this watch
  const uint64_t added = api->put_slice(other_slice("shop", "app-def34", "app"));
  const uint64_t deleted = api->delete_slice("shop", "app-abc12");
  EXPECT_EQ(api->delete_slice("shop", "app-abc12"), 0u);
  ASSERT_TRUE(curl->wait_for_line("DELETED", 10s)) << curl->output();
  api->expire_open_watches();
  ASSERT_EQ(curl->wait_exit(10s), 0) << curl->output(); // the stream ended cleanly

  const auto events = events_of(curl->output());
  ASSERT_EQ(events.size(), 4u) << curl->output();
  const std::string head = R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1",)"
                           R"("metadata":{"name":)";
  EXPECT_TRUE(events[0].starts_with(R"({"type":"MODIFIED","object":)" + head + R"("app-abc12")"))
      << events[0];
  EXPECT_NE(events[0].find(rv(modified)), std::string::npos) << events[0];
  EXPECT_NE(events[0].find(R"("conditions":{"ready":false,"serving":true,"terminating":false})"),
            std::string::npos)
      << events[0];
  EXPECT_TRUE(events[1].starts_with(R"({"type":"ADDED","object":)" + head + R"("app-def34")"))
      << events[1];
  EXPECT_NE(events[1].find(rv(added)), std::string::npos) << events[1];
  EXPECT_NE(events[1].find(R"("ports":[{"name":"","protocol":"TCP","port":7000}])"),
            std::string::npos)
      << events[1];
  EXPECT_TRUE(events[2].starts_with(R"({"type":"DELETED","object":)" + head + R"("app-abc12")"))
      << events[2];
  EXPECT_NE(events[2].find(rv(deleted)), std::string::npos) << events[2];
  EXPECT_TRUE(events[3].starts_with(R"({"type":"ERROR","object":{"kind":"Status",)")) << events[3];
  EXPECT_NE(events[3].find(R"("reason":"Expired","code":410})"), std::string::npos) << events[3];
  EXPECT_TRUE(wait_until([&] { return api->open_watches() == 0; }, 5s));
  EXPECT_EQ(api->watches(), 1);
}

TEST(FakeKubeApi, WatchReplaysTheHistorySendsBookmarksAndEndsAtItsTimeout) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const uint64_t from = api->put_slice(app_slice());
  FakeSlice changed = app_slice();
  changed.endpoints.pop_back();
  const uint64_t modified = api->put_slice(changed);
  const uint64_t deleted = api->delete_slice("shop", "app-abc12");

  auto curl = Process::start(curl_argv(*api, api->token(),
                                       kSlices + "?allowWatchBookmarks=true&" + kAppSelector +
                                           "&resourceVersion=" + std::to_string(from) +
                                           "&timeoutSeconds=2&watch=true"));
  ASSERT_TRUE(curl);
  ASSERT_TRUE(curl->wait_for_line("DELETED", 10s)) << curl->output();
  api->send_bookmark();
  ASSERT_TRUE(curl->wait_for_line("BOOKMARK", 10s)) << curl->output();
  ASSERT_EQ(curl->wait_exit(10s), 0) << curl->output(); // timeoutSeconds: a clean end

  const auto events = events_of(curl->output());
  ASSERT_EQ(events.size(), 3u) << curl->output();
  EXPECT_TRUE(events[0].starts_with(R"({"type":"MODIFIED",)")) << events[0];
  EXPECT_NE(events[0].find(rv(modified)), std::string::npos) << events[0];
  EXPECT_TRUE(events[1].starts_with(R"({"type":"DELETED",)")) << events[1];
  EXPECT_NE(events[1].find(rv(deleted)), std::string::npos) << events[1];
  EXPECT_EQ(events[2], R"({"type":"BOOKMARK","object":{"kind":"EndpointSlice",)"
                       R"("apiVersion":"discovery.k8s.io/v1","metadata":{)" +
                           rv(deleted) + "}}}");
}

TEST(FakeKubeApi, WatchWithoutVersionStartsWithTheCurrentStateAsAdded) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const uint64_t put = api->put_slice(app_slice());
  api->put_slice(other_slice("shop", "other-x1", "other"));
  auto curl = Process::start(
      curl_argv(*api, api->token(), kSlices + "?" + kAppSelector + "&watch=1&timeoutSeconds=1"));
  ASSERT_TRUE(curl);
  ASSERT_EQ(curl->wait_exit(10s), 0) << curl->output();
  const auto events = events_of(curl->output());
  ASSERT_EQ(events.size(), 1u) << curl->output();
  EXPECT_TRUE(events[0].starts_with(R"({"type":"ADDED",)")) << events[0];
  EXPECT_NE(events[0].find(rv(put)), std::string::npos) << events[0];
}

TEST(FakeKubeApi, WatchFromAnExpiredVersionGets410AndItsEnd) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const uint64_t old = api->put_slice(app_slice());
  api->put_slice(other_slice("shop", "app-def34", "app"));
  api->expire_history();
  const uint64_t now = api->resource_version();
  EXPECT_GT(now, old);

  const auto from = [&](uint64_t version) {
    return kSlices + "?" + kAppSelector + "&watch=1&resourceVersion=" + std::to_string(version);
  };
  RunResult refused = run_command(curl_argv(*api, api->token(), from(old)), quick());
  ASSERT_EQ(refused.code, 0) << refused.err;
  const std::string expired =
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},)"
      R"("status":"Failure","message":"too old resource version: )" +
      std::to_string(old) + " (" + std::to_string(now) + R"x()","reason":"Expired","code":410}})x";
  EXPECT_EQ(events_of(refused.out), std::vector<std::string>{expired});
  EXPECT_NE(refused.out.find("status=200"), std::string::npos) << refused.out;

  // What a LIST gives now can be watched from.
  auto curl = Process::start(curl_argv(*api, api->token(), from(now)));
  ASSERT_TRUE(curl);
  ASSERT_TRUE(api->wait_open_watches(1, 10s)) << curl->output() << requests_of(*api);
  EXPECT_EQ(api->watches(), 2);
}

TEST(FakeKubeApi, DisconnectedWatchesEndInErrorForTheClient) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  for (const bool mid_chunk : {false, true}) {
    SCOPED_TRACE(mid_chunk ? "mid chunk" : "reset");
    const uint64_t listed = api->put_slice(app_slice());
    auto curl = Process::start(curl_argv(
        *api, api->token(), kSlices + "?watch=1&resourceVersion=" + std::to_string(listed)));
    ASSERT_TRUE(curl);
    ASSERT_TRUE(api->wait_open_watches(1, 10s)) << curl->output();
    api->disconnect_watches(mid_chunk);
    EXPECT_EQ(api->open_watches(), 0);
    const auto code = curl->wait_exit(10s);
    ASSERT_TRUE(code);
    // 18: the body ended inside a chunk (curl read the half chunk); 56: the connection reset.
    EXPECT_EQ(*code, mid_chunk ? 18 : 56) << curl->output();
    if (mid_chunk) {
      EXPECT_NE(curl->output().find(R"({"type":"BOOKMARK","object":{"kind")"), std::string::npos)
          << curl->output();
    }
  }
}

// A write with curl: `method` (POST, PUT, DELETE) of `body` (JSON, or none) to `target`.
Answer write(const FakeKubeApi& api, const std::string& method, const std::string& target,
             const std::string& body = "") {
  std::vector<std::string> argv = curl_argv(api, api.token(), target);
  const std::string url = argv.back();
  argv.pop_back();
  argv.insert(argv.end(), {"-X", method});
  if (!body.empty())
    argv.insert(argv.end(), {"-H", "Content-Type: application/json", "--data-binary", body});
  argv.push_back(url);
  RunResult r = run_command(argv, quick());
  EXPECT_TRUE(r.exited && r.code == 0) << method << " " << target << ": " << r.code << " " << r.err;
  const size_t at = r.out.rfind("\nstatus=");
  if (at == std::string::npos) return {};
  return {std::stoi(r.out.substr(at + 8)), r.out.substr(0, at)};
}

const std::string kLeases = "/apis/coordination.k8s.io/v1/namespaces/weir/leases";

std::string lease_body(const std::string& holder, const std::string& resource_version = "") {
  return R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":"l1",)" +
         (resource_version.empty() ? "" : R"("resourceVersion":")" + resource_version + R"(",)") +
         R"("labels":{"weir.dev/cluster":"edge"}},"spec":{"holderIdentity":")" + holder +
         R"(","leaseDurationSeconds":5}})";
}

TEST(FakeKubeApi, ClientsCreateReplaceAndDeleteObjectsWithTheirPreconditions) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  // Leases and ConfigMaps are served before any exists.
  const Answer empty =
      fetch(*api, api->token(), kLeases + "?labelSelector=weir.dev%2Fcluster%3Dedge");
  EXPECT_EQ(empty.status, 200) << empty.body;
  EXPECT_NE(empty.body.find(R"("items":[])"), std::string::npos) << empty.body;
  EXPECT_EQ(fetch(*api, api->token(), "/api/v1/namespaces/weir/configmaps").status, 200);

  auto curl = Process::start(
      curl_argv(*api, api->token(),
                kLeases + "?watch=1&resourceVersion=" + std::to_string(api->resource_version()) +
                    "&timeoutSeconds=30"));
  ASSERT_TRUE(curl);
  ASSERT_TRUE(api->wait_open_watches(1, 10s)) << curl->output();

  const Answer created = write(*api, "POST", kLeases, lease_body("r1"));
  EXPECT_EQ(created.status, 201) << created.body;
  const std::string first_version = std::to_string(api->resource_version()); // what the create made
  EXPECT_NE(created.body.find(R"("namespace":"weir")"), std::string::npos) << created.body;
  EXPECT_NE(created.body.find(rv(api->resource_version())), std::string::npos) << created.body;
  EXPECT_NE(created.body.find(R"("uid":)"), std::string::npos) << created.body;
  const Answer again = write(*api, "POST", kLeases, lease_body("r2"));
  EXPECT_EQ(again.status, 409);
  EXPECT_NE(again.body.find(R"("reason":"AlreadyExists","code":409})"), std::string::npos)
      << again.body;
  EXPECT_NE(again.body.find(R"(leases.coordination.k8s.io \"l1\" already exists)"),
            std::string::npos)
      << again.body;

  // A replace from the version read wins once; the second from that version is a conflict.
  const Answer taken = write(*api, "PUT", kLeases + "/l1", lease_body("r2", first_version));
  EXPECT_EQ(taken.status, 200) << taken.body;
  const uint64_t taken_version = api->resource_version();
  EXPECT_NE(taken.body.find(rv(taken_version)), std::string::npos) << taken.body;
  const Answer late = write(*api, "PUT", kLeases + "/l1", lease_body("r3", first_version));
  EXPECT_EQ(late.status, 409);
  EXPECT_NE(late.body.find(R"("reason":"Conflict","code":409})"), std::string::npos) << late.body;
  EXPECT_NE(api->object("/apis/coordination.k8s.io/v1/leases", "weir", "l1").find(R"("r2")"),
            std::string::npos);
  // Without a resourceVersion: unconditional.
  EXPECT_EQ(write(*api, "PUT", kLeases + "/l1", lease_body("r4")).status, 200);
  EXPECT_EQ(write(*api, "PUT", kLeases + "/nope", lease_body("r4")).status, 400); // name differs
  EXPECT_EQ(write(*api, "PUT", "/apis/coordination.k8s.io/v1/namespaces/other/leases/l1",
                  lease_body("r4"))
                .status,
            404);
  const Answer got = fetch(*api, api->token(), kLeases + "/l1");
  EXPECT_EQ(got.status, 200);
  EXPECT_NE(got.body.find(R"("holderIdentity":"r4")"), std::string::npos) << got.body;

  const Answer deleted = write(*api, "DELETE", kLeases + "/l1");
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_NE(deleted.body.find(rv(api->resource_version())), std::string::npos) << deleted.body;
  EXPECT_EQ(write(*api, "DELETE", kLeases + "/l1").status, 404);
  EXPECT_EQ(fetch(*api, api->token(), kLeases + "/l1").status, 404);
  EXPECT_EQ(api->object("/apis/coordination.k8s.io/v1/leases", "weir", "l1"), "");

  ASSERT_TRUE(curl->wait_for_line("DELETED", 10s)) << curl->output();
  const auto events = events_of(curl->output());
  ASSERT_EQ(events.size(), 4u) << curl->output();
  EXPECT_TRUE(events[0].starts_with(R"({"type":"ADDED","object":{"apiVersion":)")) << events[0];
  EXPECT_TRUE(events[1].starts_with(R"({"type":"MODIFIED",)")) << events[1];
  EXPECT_NE(events[1].find(rv(taken_version)), std::string::npos) << events[1];
  EXPECT_TRUE(events[2].starts_with(R"({"type":"MODIFIED",)")) << events[2];
  EXPECT_TRUE(events[3].starts_with(R"({"type":"DELETED",)")) << events[3];
}

TEST(FakeKubeApi, DownRefusesEveryConnectionAndEndsWatchesThenServesTheSameData) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  EXPECT_EQ(write(*api, "POST", kLeases, lease_body("r1")).status, 201);
  auto watch = Process::start(curl_argv(*api, api->token(), kLeases + "?watch=1"));
  ASSERT_TRUE(watch);
  ASSERT_TRUE(api->wait_open_watches(1, 10s)) << watch->output();
  api->set_down(true);
  EXPECT_EQ(api->open_watches(), 0);
  const auto ended = watch->wait_exit(10s);
  ASSERT_TRUE(ended);
  EXPECT_NE(*ended, 0) << watch->output();
  RunResult refused = run_command(curl_argv(*api, api->token(), kLeases + "/l1"), quick());
  EXPECT_TRUE(refused.exited);
  EXPECT_NE(refused.code, 0) << refused.out; // reset in the TLS handshake
  api->set_down(false);
  const Answer back = fetch(*api, api->token(), kLeases + "/l1");
  EXPECT_EQ(back.status, 200);
  EXPECT_NE(back.body.find(R"("holderIdentity":"r1")"), std::string::npos) << back.body;
}

// --- the wire format against a real client ---

// Lists the service's slices with python3-kubernetes, then watches from the list's version (or
// from argv[6]) until a DELETED event or the watch's end, printing what the generated models hold.
constexpr const char* kPythonClient = R"(
import sys
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

url, ca, token, ns = sys.argv[1:5]
config = client.Configuration()
config.host = url
config.ssl_ca_cert = ca
config.api_key = {"authorization": "Bearer " + token}
api = client.DiscoveryV1Api(client.ApiClient(config))
selector = "kubernetes.io/service-name=app"

def show(s):
    endpoints = ["%s ready=%s serving=%s terminating=%s" % (",".join(e.addresses),
                 e.conditions.ready, e.conditions.serving, e.conditions.terminating)
                 for e in (s.endpoints or [])]
    ports = ["%s/%d" % (p.name, p.port) for p in (s.ports or [])]
    return "%s rv=%s %s endpoints=[%s] ports=[%s]" % (s.metadata.name,
        s.metadata.resource_version, s.address_type, "; ".join(endpoints), " ".join(ports))

listed = api.list_namespaced_endpoint_slice(ns, label_selector=selector)
print("LIST rv=%s" % listed.metadata.resource_version, flush=True)
for s in listed.items:
    print("ITEM " + show(s), flush=True)
start = sys.argv[5] if len(sys.argv) > 5 else listed.metadata.resource_version
w = watch.Watch()
try:
    for event in w.stream(api.list_namespaced_endpoint_slice, ns, label_selector=selector,
                          resource_version=start, timeout_seconds=20):
        print("EVENT %s %s" % (event["type"], show(event["object"])), flush=True)
        if event["type"] == "DELETED":
            w.stop()
    print("END", flush=True)
except ApiException as e:
    print("APIEXCEPTION status=%s reason=%s" % (e.status, e.reason), flush=True)
)";

std::unique_ptr<Process> start_python_client(const FakeKubeApi& api,
                                             std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {kPython,       "-c",        kPythonClient, api.url(),
                                   api.ca_file(), api.token(), "shop"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Process::start(argv);
}

// What the script printed, without anything else python may have said (warnings).
std::vector<std::string> client_lines(const std::string& output) {
  std::vector<std::string> lines;
  for (const auto& line : nonempty_lines_of(output))
    for (const char* prefix : {"LIST ", "ITEM ", "EVENT ", "END", "APIEXCEPTION "})
      if (line.starts_with(prefix)) lines.push_back(line);
  return lines;
}

TEST(FakeKubeApi, KubernetesPythonClientDecodesListAndWatch) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const uint64_t first = api->put_slice(app_slice());
  api->put_slice(other_slice("shop", "other-x1", "other"));
  const uint64_t listed = api->resource_version();

  auto python = start_python_client(*api);
  ASSERT_TRUE(python);
  ASSERT_TRUE(python->wait_for_line("LIST rv=", 20s)) << python->output();
  ASSERT_TRUE(api->wait_open_watches(1, 20s)) << python->output() << requests_of(*api);

  FakeSlice changed = app_slice();
  changed.endpoints = {{"127.0.0.2", false, false, true}};
  changed.ports = {{"", 9002}};
  const uint64_t modified = api->put_slice(changed);
  api->put_slice(other_slice("shop", "other-x1", "other"));
  FakeSlice second = other_slice("shop", "app-def34", "app");
  second.address_type = "IPv6";
  second.endpoints = {{"::1"}};
  const uint64_t added = api->put_slice(second);
  const uint64_t deleted = api->delete_slice("shop", "app-abc12");
  ASSERT_EQ(python->wait_exit(20s), 0) << python->output();

  const auto s = [](uint64_t version) { return std::to_string(version); };
  const std::string was = "endpoints=[127.0.0.2 ready=True serving=True terminating=False; "
                          "127.0.0.3 ready=False serving=True terminating=True] ports=[http/9001]";
  const std::string now = "endpoints=[127.0.0.2 ready=False serving=False terminating=True] "
                          "ports=[/9002]";
  EXPECT_EQ(client_lines(python->output()),
            (std::vector<std::string>{
                "LIST rv=" + s(listed),
                "ITEM app-abc12 rv=" + s(first) + " IPv4 " + was,
                "EVENT MODIFIED app-abc12 rv=" + s(modified) + " IPv4 " + now,
                "EVENT ADDED app-def34 rv=" + s(added) +
                    " IPv6 endpoints=[::1 ready=True serving=True terminating=False] "
                    "ports=[/7000]",
                "EVENT DELETED app-abc12 rv=" + s(deleted) + " IPv4 " + now,
                "END",
            }))
      << python->output();
  EXPECT_EQ(api->lists(), 1) << requests_of(*api);
  EXPECT_EQ(api->watches(), 1) << requests_of(*api);
  EXPECT_EQ(api->unauthorized(), 0) << requests_of(*api);
}

TEST(FakeKubeApi, KubernetesPythonClientRaises410ForAnExpiredVersion) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  const uint64_t old = api->put_slice(app_slice());
  api->delete_slice("shop", "app-abc12");
  api->expire_history();
  const uint64_t now = api->resource_version();

  auto python = start_python_client(*api, {std::to_string(old)});
  ASSERT_TRUE(python);
  ASSERT_EQ(python->wait_exit(20s), 0) << python->output();
  EXPECT_EQ(client_lines(python->output()),
            (std::vector<std::string>{
                "LIST rv=" + std::to_string(now),
                "APIEXCEPTION status=410 reason=Expired: too old resource version: " +
                    std::to_string(old) + " (" + std::to_string(now) + ")",
            }))
      << python->output();
}

// Creates, replaces (from a stale version: 409), reads and deletes a Lease with python3-kubernetes,
// whose models must decode what the fake answers.
constexpr const char* kPythonLeases = R"(
import sys, datetime
from kubernetes import client
from kubernetes.client.rest import ApiException

url, ca, token = sys.argv[1:4]
config = client.Configuration()
config.host = url
config.ssl_ca_cert = ca
config.api_key = {"authorization": "Bearer " + token}
api = client.CoordinationV1Api(client.ApiClient(config))
now = datetime.datetime.now(datetime.timezone.utc)
body = client.V1Lease(metadata=client.V1ObjectMeta(name="l1", labels={"weir.dev/cluster": "edge"}),
                      spec=client.V1LeaseSpec(holder_identity="r1", lease_duration_seconds=5,
                                              renew_time=now, acquire_time=now))
made = api.create_namespaced_lease("weir", body)
print("CREATED holder=%s rv=%s renew=%s" % (made.spec.holder_identity,
      made.metadata.resource_version, made.spec.renew_time == now), flush=True)
made.spec.holder_identity = "r2"
replaced = api.replace_namespaced_lease("l1", "weir", made)
print("REPLACED holder=%s" % replaced.spec.holder_identity, flush=True)
made.spec.holder_identity = "r3"
try:
    api.replace_namespaced_lease("l1", "weir", made)
except ApiException as e:
    print("STALE status=%s" % e.status, flush=True)
read = api.read_namespaced_lease("l1", "weir")
print("READ holder=%s" % read.spec.holder_identity, flush=True)
listed = api.list_namespaced_lease("weir", label_selector="weir.dev/cluster=edge")
print("LIST %s" % [l.metadata.name for l in listed.items], flush=True)
api.delete_namespaced_lease("l1", "weir")
try:
    api.read_namespaced_lease("l1", "weir")
except ApiException as e:
    print("GONE status=%s" % e.status, flush=True)
)";

TEST(FakeKubeApi, KubernetesPythonClientWritesLeases) {
  auto api = FakeKubeApi::start();
  ASSERT_TRUE(api);
  auto python =
      Process::start({kPython, "-c", kPythonLeases, api->url(), api->ca_file(), api->token()});
  ASSERT_TRUE(python);
  ASSERT_EQ(python->wait_exit(20s), 0) << python->output();
  std::vector<std::string> lines;
  for (const auto& line : nonempty_lines_of(python->output()))
    for (const char* prefix : {"CREATED ", "REPLACED ", "STALE ", "READ ", "LIST ", "GONE "})
      if (line.starts_with(prefix)) lines.push_back(line);
  const uint64_t created = api->resource_version() - 2; // then the replace, then the delete
  EXPECT_EQ(lines, (std::vector<std::string>{
                       "CREATED holder=r1 rv=" + std::to_string(created) + " renew=True",
                       "REPLACED holder=r2",
                       "STALE status=409",
                       "READ holder=r2",
                       "LIST ['l1']",
                       "GONE status=404",
                   }))
      << python->output();
}

} // namespace
} // namespace weir::test
