// EndpointSlices as weir reads them: the API's JSON (LIST answers, WATCH lines, a 410 Status),
// and a Service's slices merged into endpoints, serving and terminating.
#include "weir/discovery/endpoint_slices.h"
#include "weir/discovery/kubernetes_watch.h"

#include <gtest/gtest.h>

namespace weir::discovery {
namespace {

std::string slice_json(const std::string& name, const std::string& rv, const std::string& endpoints,
                       const std::string& ports) {
  return R"({"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":")" +
         name + R"(","namespace":"app-v2","resourceVersion":")" + rv +
         R"(","labels":{"kubernetes.io/service-name":"app"}},"addressType":"IPv4","endpoints":)" +
         endpoints + R"(,"ports":)" + ports + "}";
}

const std::string kHttp = R"([{"name":"http","protocol":"TCP","port":8080}])";

std::string ep(const std::string& address, const std::string& conditions) {
  return R"({"addresses":[")" + address + R"("],"conditions":)" + conditions +
         R"(,"targetRef":{"kind":"Pod","name":"p"}})";
}

std::map<std::string, Slice> slices_of(std::initializer_list<std::string> json_slices) {
  std::map<std::string, Slice> out;
  for (const auto& j : json_slices) {
    auto parsed = json::parse(j);
    EXPECT_TRUE(parsed.value) << parsed.error;
    auto s = parse_slice(*parsed.value);
    EXPECT_TRUE(s.slice) << s.error;
    out[s.slice->name] = *s.slice;
  }
  return out;
}

std::vector<std::string> texts(const std::vector<config::Address>& a) {
  std::vector<std::string> out;
  for (const auto& x : a)
    out.push_back(x.text());
  return out;
}

config::KubernetesRef http_port() {
  config::KubernetesRef r;
  r.service = "app";
  r.port_name = "http";
  return r;
}

TEST(EndpointSlices, ListAnswerGivesSlicesAndItsResourceVersion) {
  std::string body =
      R"({"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"4711"},"items":[)" +
      slice_json("app-abc", "4700", "[" + ep("10.0.0.1", R"({"ready":true})") + "]", kHttp) + "]}";
  SliceList list = parse_slice_list(body);
  ASSERT_EQ(list.error, "");
  EXPECT_EQ(list.resource_version, "4711");
  ASSERT_EQ(list.slices.size(), 1u);
  EXPECT_EQ(list.slices[0].name, "app-abc");
  EXPECT_EQ(list.slices[0].resource_version, "4700");
  ASSERT_EQ(list.slices[0].ports.size(), 1u);
  EXPECT_EQ(list.slices[0].ports[0].port, 8080);
  EXPECT_TRUE(list.slices[0].endpoints[0].serving) << "nil serving follows ready";
  EXPECT_FALSE(list.slices[0].endpoints[0].terminating);

  EXPECT_EQ(parse_slice_list(R"({"items":null,"metadata":{"resourceVersion":"1"}})").error, "")
      << "a Service without slices";
  EXPECT_NE(parse_slice_list("not json").error, "");
  EXPECT_NE(parse_slice_list(R"({"kind":"Status","message":"forbidden"})").error.find("forbidden"),
            std::string::npos);
}

TEST(EndpointSlices, WatchLinesAreEventsBookmarksAndErrors) {
  WatchEvent added =
      parse_watch_event(R"({"type":"ADDED","object":)" +
                        slice_json("app-abc", "12", "[" + ep("10.0.0.1", "{}") + "]", kHttp) + "}");
  EXPECT_EQ(added.type, WatchEvent::Type::added);
  EXPECT_EQ(added.resource_version, "12");
  ASSERT_TRUE(added.slice);
  EXPECT_EQ(added.slice->endpoints[0].addresses[0], "10.0.0.1");

  WatchEvent deleted = parse_watch_event(R"({"type":"DELETED","object":)" +
                                         slice_json("x", "13", "[]", kHttp) + "}");
  EXPECT_EQ(deleted.type, WatchEvent::Type::deleted);

  WatchEvent bookmark = parse_watch_event(
      R"({"type":"BOOKMARK","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"99"}}})");
  EXPECT_EQ(bookmark.type, WatchEvent::Type::bookmark);
  EXPECT_EQ(bookmark.resource_version, "99");

  WatchEvent gone = parse_watch_event(
      R"j({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (5)","reason":"Expired","code":410}})j");
  EXPECT_EQ(gone.type, WatchEvent::Type::error);
  EXPECT_EQ(gone.code, 410);
  EXPECT_EQ(gone.message, "too old resource version: 1 (5)");

  EXPECT_EQ(parse_watch_event("{").type, WatchEvent::Type::error);
  EXPECT_EQ(parse_watch_event(R"({"type":"SURPRISE","object":{}})").type, WatchEvent::Type::error);
  EXPECT_EQ(parse_watch_event(R"({"type":"ADDED","object":{"metadata":{}}})").type,
            WatchEvent::Type::error)
      << "a slice without a name";
}

TEST(EndpointSlices, MergeKeepsServingDrainsTerminatingAndCountsAnAddressOnce) {
  auto slices = slices_of({
      slice_json("a", "1",
                 "[" + ep("10.0.0.1", R"({"ready":true,"serving":true,"terminating":false})") +
                     "," + ep("10.0.0.2", R"({"ready":false,"serving":true,"terminating":true})") +
                     "," + ep("10.0.0.3", R"({"ready":false,"serving":false,"terminating":true})") +
                     "," + ep("10.0.0.4", R"({"ready":false,"serving":false})") + "]",
                 kHttp),
      // The same address in another slice (moving between them) counts once; serving wins.
      slice_json("b", "2",
                 "[" + ep("10.0.0.2", R"({"ready":true,"serving":true,"terminating":false})") +
                     "," + ep("10.0.0.5", "{}") + "]",
                 kHttp),
      // A slice of the Service without the port weir wants.
      slice_json("c", "3", "[" + ep("10.0.0.6", "{}") + "]", R"([{"name":"metrics","port":9090}])"),
  });
  Merged m = merge_slices(slices, http_port());
  EXPECT_EQ(texts(m.endpoints),
            (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.5:8080"}));
  EXPECT_TRUE(m.terminating.empty()) << "10.0.0.2 serves in slice b";
  EXPECT_EQ(m.present, (std::set<std::string>{"10.0.0.1:8080", "10.0.0.2:8080", "10.0.0.3:8080",
                                              "10.0.0.4:8080", "10.0.0.5:8080"}))
      << "not serving is still there (out at once, not moving between slices)";
  EXPECT_NE(m.problem.find("not in EndpointSlice c"), std::string::npos) << m.problem;

  slices.erase("b");
  m = merge_slices(slices, http_port());
  EXPECT_EQ(texts(m.endpoints), (std::vector<std::string>{"10.0.0.1:8080", "10.0.0.2:8080"}));
  EXPECT_EQ(m.terminating, (std::set<std::string>{"10.0.0.2:8080"}));

  config::KubernetesRef by_number = http_port();
  by_number.port_name.clear();
  by_number.port_number = 9090;
  EXPECT_EQ(texts(merge_slices(slices, by_number).endpoints),
            (std::vector<std::string>{"10.0.0.6:9090"}));
}

TEST(EndpointSlices, IPv6SlicesAndFqdnSlices) {
  auto six = slices_of(
      {R"({"metadata":{"name":"v6"},"addressType":"IPv6","endpoints":[{"addresses":["fd00::1"]}],"ports":[{"name":"http","port":80}]})",
       R"({"metadata":{"name":"f"},"addressType":"FQDN","endpoints":[{"addresses":["a.example"]}],"ports":[{"name":"http","port":80}]})"});
  EXPECT_EQ(texts(merge_slices(six, http_port()).endpoints),
            (std::vector<std::string>{"[fd00::1]:80"}));
}

TEST(EndpointSlices, RequestTargets) {
  EXPECT_EQ(slices_target("app-v2", "app", false, "", 0),
            "/apis/discovery.k8s.io/v1/namespaces/app-v2/endpointslices?labelSelector="
            "kubernetes.io%2Fservice-name%3Dapp");
  EXPECT_EQ(slices_target("app-v2", "app", true, "4711", 300),
            "/apis/discovery.k8s.io/v1/namespaces/app-v2/endpointslices?labelSelector="
            "kubernetes.io%2Fservice-name%3Dapp&watch=1&allowWatchBookmarks=true&resourceVersion="
            "4711&timeoutSeconds=300");
}

TEST(KubernetesApiAccess, InClusterDefaultsAndTheirAbsence) {
  std::map<std::string, std::string> env{{"KUBERNETES_SERVICE_HOST", "10.96.0.1"},
                                         {"KUBERNETES_SERVICE_PORT", "443"}};
  auto lookup = [&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  auto a = api_access({}, lookup);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->url.text(), "https://10.96.0.1/");
  EXPECT_EQ(a->token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  EXPECT_EQ(a->ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
  env["KUBERNETES_SERVICE_HOST"] = "fd00::1";
  env["KUBERNETES_SERVICE_PORT"] = "6443";
  a = api_access({}, lookup);
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->url.host, "fd00::1");
  EXPECT_EQ(a->url.port, 6443);
  env.clear();
  a = api_access({}, lookup);
  ASSERT_FALSE(a.ok());
  EXPECT_NE(a.error().message.find("KUBERNETES_SERVICE_HOST"), std::string::npos);
  config::Kubernetes given;
  given.api_server = "https://127.0.0.1:6443";
  given.token_file = "/t";
  a = api_access(given, lookup);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->url.port, 6443);
  EXPECT_EQ(a->token_file, "/t");
}

} // namespace
} // namespace weir::discovery
