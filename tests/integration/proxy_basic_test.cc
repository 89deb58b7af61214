// The proxy's basic contract, end to end: real weir, real weir-demo-upstream processes, loopback
// sockets on kernel-chosen ports.
#include "support/client.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <fstream>
#include <gtest/gtest.h>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace weir::test {
namespace {

// A service block for the YAML config.
std::string service(const std::string& ns, const DemoUpstream& up) {
  return "  - namespace: " + ns + "\n    name: app\n    endpoints: [" + up.address() + "]\n";
}

// A route block; backends are {"ns", weight}.
std::string route(const std::string& name, const std::string& host, const std::string& prefix,
                  const std::vector<std::pair<std::string, int>>& backends) {
  std::string r = "  - name: " + name + "\n    listener: public\n    match:\n";
  if (!host.empty()) r += "      host: \"" + host + "\"\n";
  r += "      path_prefix: " + prefix + "\n    backends:\n";
  for (const auto& [ns, weight] : backends)
    r += "      - service: " + ns + "/app\n        weight: " + std::to_string(weight) + "\n";
  return r;
}

std::string config(const std::string& services, const std::string& routes,
                   const std::string& extra = "workers: 2\n") {
  return extra + "listeners:\n  - name: public\n    address: 127.0.0.1:0\nservices:\n" + services +
         "routes:\n" + routes;
}

// "Name: value\n" lines from /echo-headers.
std::vector<std::pair<std::string, std::string>> parse_echoed(const std::string& body) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(": ");
    if (colon == std::string::npos) continue;
    out.emplace_back(line.substr(0, colon), line.substr(colon + 2));
  }
  return out;
}

std::vector<std::string> values_of(const std::vector<std::pair<std::string, std::string>>& hs,
                                   std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [k, v] : hs)
    if (iequals(k, name)) out.push_back(v);
  return out;
}

// Sockets in /proc/net/tcp (IPv4, loopback tests only) whose local or remote port is `port`,
// by state ("01" ESTABLISHED, "06" TIME_WAIT, "0A" LISTEN, ...).
std::map<std::string, int> sockets_on_port(uint16_t port) {
  std::map<std::string, int> by_state;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // header
  char hex[8];
  std::snprintf(hex, sizeof hex, ":%04X", port);
  while (std::getline(in, line)) {
    std::istringstream f(line);
    std::string slot, local, remote, state;
    f >> slot >> local >> remote >> state;
    if (local.ends_with(hex) || remote.ends_with(hex)) ++by_state[state];
  }
  return by_state;
}

// A minimal reader for the flat JSON objects of the access log: the raw text of "key"'s value
// (strings without their quotes; null as "null"); "" if absent.
std::string json_field(const std::string& line, const std::string& key) {
  std::string needle = "\"" + key + "\":";
  size_t at = line.find(needle);
  if (at == std::string::npos) return "";
  at += needle.size();
  if (at < line.size() && line[at] == '"') {
    std::string out;
    for (size_t i = at + 1; i < line.size() && line[i] != '"'; ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      out += line[i];
    }
    return out;
  }
  size_t end = line.find_first_of(",}", at);
  return line.substr(at, end - at);
}

class ProxyBasic : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("v1");
    v2_ = DemoUpstream::start("v2");
  }
  std::string both_services() const { return service("app-v1", v1_) + service("app-v2", v2_); }

  DemoUpstream v1_;
  DemoUpstream v2_;
};

TEST_F(ProxyBasic, GetIsAnsweredByTheRoutedVersion) {
  Weir weir = Weir::start(config(both_services(), route("to-v1", "", "/one", {{"app-v1", 1}}) +
                                                      route("to-v2", "", "/two", {{"app-v2", 1}})));
  HttpResponse r1 = http_request(weir.port(), "GET", "/one");
  EXPECT_EQ(r1.status, 200);
  EXPECT_TRUE(r1.complete);
  EXPECT_EQ(r1.header("x-served-by"), "v1");
  EXPECT_EQ(r1.body, "v1\n");
  HttpResponse r2 = http_request(weir.port(), "GET", "/two/x?y=1");
  EXPECT_EQ(r2.status, 200);
  EXPECT_EQ(r2.header("x-served-by"), "v2");
  EXPECT_EQ(r2.body, "v2\n");
}

TEST_F(ProxyBasic, WeightedSplit90To10Over10000KeepAliveRequests) {
  Weir weir = Weir::start(
      config(both_services(), route("split", "", "/", {{"app-v1", 90}, {"app-v2", 10}})));
  constexpr int kClients = 4;
  constexpr int kPerClient = 2500;
  constexpr int kBatch = 50; // pipelined requests per write
  std::vector<std::map<std::string, int>> counts(kClients);
  std::vector<std::string> errors(kClients);
  std::vector<std::thread> threads;
  auto started = std::chrono::steady_clock::now();
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      auto client = RawClient::connect(weir.port());
      if (!client) {
        errors[c] = "connect failed";
        return;
      }
      std::string batch;
      for (int i = 0; i < kBatch; ++i)
        batch += "GET /split HTTP/1.1\r\nHost: localhost\r\n\r\n";
      for (int sent = 0; sent < kPerClient; sent += kBatch) {
        if (!client->send(batch)) {
          errors[c] = "send failed after " + std::to_string(sent);
          return;
        }
        for (int i = 0; i < kBatch; ++i) {
          auto r = client->read_response(10s);
          if (!r || r->status != 200 || !r->complete) {
            errors[c] = "request " + std::to_string(sent + i) + ": " +
                        (r ? std::to_string(r->status) : std::string("no response"));
            return;
          }
          ++counts[c][r->header("x-served-by")];
        }
      }
    });
  }
  for (auto& t : threads)
    t.join();
  for (int c = 0; c < kClients; ++c)
    ASSERT_EQ(errors[c], "") << "client " << c;
  std::map<std::string, int> total;
  for (auto& m : counts)
    for (auto& [k, v] : m)
      total[k] += v;
  EXPECT_EQ(total["v1"] + total["v2"], kClients * kPerClient);
  EXPECT_EQ(total.size(), 2u) << "unexpected x-served-by values";
  double share_v2 = total["v2"] / double(kClients * kPerClient);
  EXPECT_NEAR(share_v2, 0.10, 0.01) << "v1=" << total["v1"] << " v2=" << total["v2"];
  EXPECT_LT(std::chrono::steady_clock::now() - started, 20s);
}

TEST_F(ProxyBasic, ZeroWeightBackendGetsNothing) {
  Weir weir =
      Weir::start(config(both_services(), route("r", "", "/", {{"app-v1", 5}, {"app-v2", 0}})));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  std::string batch;
  for (int i = 0; i < 200; ++i)
    batch += "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
  ASSERT_TRUE(client->send(batch));
  for (int i = 0; i < 200; ++i) {
    auto r = client->read_response();
    ASSERT_TRUE(r) << "response " << i;
    ASSERT_EQ(r->status, 200);
    ASSERT_EQ(r->header("x-served-by"), "v1") << "response " << i;
  }
}

TEST_F(ProxyBasic, RouteWithAllWeightsZeroAnswers503NamingTheRoute) {
  Weir weir = Weir::start(
      config(both_services(), route("dark-launch", "", "/dark", {{"app-v1", 0}, {"app-v2", 0}}) +
                                  route("live", "", "/", {{"app-v1", 1}})));
  HttpResponse r = http_request(weir.port(), "GET", "/dark/page");
  EXPECT_EQ(r.status, 503);
  EXPECT_NE(r.body.find("dark-launch"), std::string::npos) << r.body;
  EXPECT_FALSE(r.has_header("x-served-by"));
  EXPECT_EQ(http_request(weir.port(), "GET", "/live").status, 200);

  // A local 503 to a bodyless keep-alive request leaves the connection usable.
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /dark HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  auto first = client->read_response();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 503);
  if (first->header("connection") != "close") {
    ASSERT_TRUE(client->send("GET /live HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    auto second = client->read_response();
    EXPECT_TRUE(second) << "no response to a second request after a local 503 (connection "
                        << (client->closed_by_peer(0ms) ? "closed" : "open") << ")";
    if (second) {
      EXPECT_EQ(second->status, 200);
    }
  }
  auto exited = weir.proc->wait_exit(100ms);
  EXPECT_FALSE(exited) << "weir exited with status " << *exited << ":\n" << weir.proc->output();
}

TEST_F(ProxyBasic, HostAndPathRouting) {
  DemoUpstream exact = DemoUpstream::start("exact");
  DemoUpstream wild = DemoUpstream::start("wild");
  DemoUpstream any = DemoUpstream::start("any");
  DemoUpstream stat = DemoUpstream::start("static");
  DemoUpstream img = DemoUpstream::start("img");
  std::string services = service("exact", exact) + service("wild", wild) + service("any", any) +
                         service("static", stat) + service("img", img);
  std::string routes = route("r-any", "", "/", {{"any", 1}}) +
                       route("r-static", "", "/static/", {{"static", 1}}) +
                       route("r-img", "", "/static/img", {{"img", 1}}) +
                       route("r-wild", "*.example.com", "/", {{"wild", 1}}) +
                       route("r-exact", "api.example.com", "/", {{"exact", 1}});
  Weir weir = Weir::start(config(services, routes));
  struct Case {
    std::string host, path, want;
  } cases[] = {
      {"api.example.com", "/", "exact"},
      {"API.Example.COM", "/x", "exact"},            // hosts compare case-insensitively
      {"api.example.com:8080", "/x", "exact"},       // the port is not part of the match
      {"api.example.com", "/static/a.css", "exact"}, // a host-specific route beats any-host
      {"www.example.com", "/", "wild"},
      {"a.b.example.com", "/q?x=1", "wild"},
      {"example.com", "/", "any"}, // "*.example.com" does not match the apex
      {"other.org", "/", "any"},
      {"other.org", "/static/a.css", "static"},
      {"other.org", "/static/img/logo.png", "img"}, // longest prefix wins
      {"other.org", "/static/img", "img"},
      {"other.org", "/static/imgx", "static"}, // segment boundary: "/static/img" ≠ "/static/imgx"
      {"other.org", "/staticx", "any"},
  };
  for (const auto& c : cases) {
    HttpResponse r = http_request(weir.port(), "GET", c.path, {{"Host", c.host}});
    EXPECT_EQ(r.status, 200) << c.host << c.path;
    EXPECT_EQ(r.header("x-served-by"), c.want) << "Host: " << c.host << " path " << c.path;
  }
}

TEST_F(ProxyBasic, NoMatchingRouteIs404) {
  Weir weir = Weir::start(
      config(both_services(), route("only-api", "api.example.com", "/v1", {{"app-v1", 1}})));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /v1 HTTP/1.1\r\nHost: other.org\r\n\r\n"));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_FALSE(r->has_header("x-served-by"));
  // Wrong path on the right host, on the same (still open) connection.
  ASSERT_TRUE(client->send("GET /v2 HTTP/1.1\r\nHost: api.example.com\r\n\r\n"));
  r = client->read_response();
  ASSERT_TRUE(r) << "connection closed after a 404; weir "
                 << (weir.proc->wait_exit(1s)
                         ? "exited with " + std::to_string(*weir.proc->wait_exit(0ms))
                         : std::string("still running"));
  EXPECT_EQ(r->status, 404);
  ASSERT_TRUE(client->send("GET /v1/users HTTP/1.1\r\nHost: api.example.com\r\n\r\n"));
  r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("x-served-by"), "v1");
}

TEST_F(ProxyBasic, PipelinedRequestsAfterA404AreAnswered) {
  Weir weir = Weir::start(
      config(both_services(), route("only-api", "api.example.com", "/v1", {{"app-v1", 1}})));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /nope HTTP/1.1\r\nHost: other.org\r\n\r\n"
                           "GET /v1 HTTP/1.1\r\nHost: api.example.com\r\n\r\n"));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = client->read_response();
  ASSERT_TRUE(r) << "the pipelined request after a 404 got no response";
  EXPECT_EQ(r->status, 200);
  auto exited = weir.proc->wait_exit(100ms);
  EXPECT_FALSE(exited) << "weir exited with status " << *exited << ":\n" << weir.proc->output();
}

TEST_F(ProxyBasic, UpstreamConnectionsAreReused) {
  Weir weir =
      Weir::start(config(both_services(), route("r", "", "/", {{"app-v1", 1}}), "workers: 1\n"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(client->send("GET /n HTTP/1.1\r\nHost: localhost\r\n\r\n"));
    auto r = client->read_response();
    ASSERT_TRUE(r && r->status == 200) << "request " << i;
  }
  // Every upstream connection ever opened is either still ESTABLISHED (two sockets: weir's and
  // the upstream's end) or, once closed, in TIME_WAIT on one side for a minute: a proxy that
  // opened a connection per request leaves ~200 of them.
  auto states = sockets_on_port(v1_.port);
  int non_listen = 0;
  for (const auto& [state, n] : states)
    if (state != "0A") non_listen += n;
  EXPECT_LE(non_listen, 4) << "ESTABLISHED=" << states["01"] << " TIME_WAIT=" << states["06"];
  EXPECT_GE(states["01"], 2) << "the pooled connection should be kept open";
}

TEST_F(ProxyBasic, ForwardingHeadersAndHopByHopRemoval) {
  Weir weir = Weir::start(config(both_services(), route("r", "", "/", {{"app-v1", 1}})));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /echo-headers HTTP/1.1\r\n"
                           "Host: shop.example\r\n"
                           "X-Forwarded-For: 203.0.113.7\r\n"
                           "Connection: keep-alive, X-Secret-Hop\r\n"
                           "X-Secret-Hop: do-not-forward\r\n"
                           "Keep-Alive: timeout=5\r\n"
                           "TE: trailers\r\n"
                           "Proxy-Foo: bar\r\n"
                           "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
                           "X-End-To-End: kept\r\n"
                           "X-Weir-Mirror: 1\r\n"
                           "X-Weir-Synthetic: 1\r\n"
                           "\r\n"));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto seen = parse_echoed(r->body);
  // The client is no trusted proxy (trusted_proxies is empty): its X-Forwarded-For is replaced.
  EXPECT_EQ(values_of(seen, "x-forwarded-for"), std::vector<std::string>{"127.0.0.1"}) << r->body;
  EXPECT_EQ(values_of(seen, "x-forwarded-proto"), std::vector<std::string>{"http"}) << r->body;
  EXPECT_EQ(values_of(seen, "x-forwarded-host"), std::vector<std::string>{"shop.example"})
      << r->body;
  EXPECT_EQ(values_of(seen, "host"), std::vector<std::string>{"shop.example"}) << r->body;
  ASSERT_EQ(values_of(seen, "via").size(), 1u) << r->body;
  EXPECT_NE(values_of(seen, "via")[0].find("weir"), std::string::npos);
  auto ids = values_of(seen, "x-request-id");
  ASSERT_EQ(ids.size(), 1u) << r->body;
  EXPECT_GE(ids[0].size(), 8u) << "generated x-request-id looks too short: " << ids[0];
  EXPECT_EQ(values_of(seen, "x-end-to-end"), std::vector<std::string>{"kept"});
  for (const char* hop : {"x-secret-hop", "keep-alive", "te", "proxy-foo", "proxy-authorization"})
    EXPECT_TRUE(values_of(seen, hop).empty()) << hop << " was forwarded:\n" << r->body;
  // weir's own marks are weir's to state: a client's forged ones never reach the upstream.
  for (const char* mark : {"x-weir-mirror", "x-weir-synthetic"})
    EXPECT_TRUE(values_of(seen, mark).empty()) << mark << " was forwarded:\n" << r->body;
  // Whatever Connection the upstream got is weir's own, not the client's list.
  for (const auto& c : values_of(seen, "connection"))
    EXPECT_EQ(c.find("X-Secret-Hop"), std::string::npos) << c;
  EXPECT_NE(r->header("via").find("weir"), std::string::npos)
      << "response Via: " << r->header("via");

  // A second request gets a different generated id; a client-supplied one is kept as is.
  ASSERT_TRUE(client->send("GET /echo-headers HTTP/1.1\r\nHost: shop.example\r\n\r\n"));
  auto r2 = client->read_response();
  ASSERT_TRUE(r2);
  auto ids2 = values_of(parse_echoed(r2->body), "x-request-id");
  ASSERT_EQ(ids2.size(), 1u);
  EXPECT_NE(ids2[0], ids[0]);
  ASSERT_TRUE(client->send(
      "GET /echo-headers HTTP/1.1\r\nHost: shop.example\r\nX-Request-Id: my-trace-42\r\n\r\n"));
  auto r3 = client->read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(values_of(parse_echoed(r3->body), "x-request-id"),
            std::vector<std::string>{"my-trace-42"})
      << r3->body;
}

TEST_F(ProxyBasic, Http10ClientGetsResponseThenClose) {
  Weir weir = Weir::start(config(both_services(), route("r", "", "/", {{"app-v1", 1}})));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send("GET /old HTTP/1.0\r\nHost: localhost\r\n\r\n"));
  auto r = client->read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->version, "HTTP/1.0");
  EXPECT_EQ(r->body, "v1\n");
  EXPECT_TRUE(client->closed_by_peer(5s)) << "HTTP/1.0 without keep-alive must be closed";
}

TEST_F(ProxyBasic, Http10KeepAliveKeepsTheConnection) {
  Weir weir = Weir::start(config(both_services(), route("r", "", "/", {{"app-v1", 1}})));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(
        client->send("GET /old HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n"));
    auto r = client->read_response();
    ASSERT_TRUE(r) << "request " << i << " on the kept-alive connection got no response";
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->complete);
    EXPECT_TRUE(r->has_header("content-length")) << "1.0 keep-alive needs a delimited body";
    EXPECT_TRUE(iequals(r->header("connection"), "keep-alive")) << r->header("connection");
    EXPECT_EQ(r->body, "v1\n");
  }
}

TEST_F(ProxyBasic, AccessLogWritesOneJsonLinePerRequest) {
  std::string log_path = temp_path("access", ".log");
  Weir weir = Weir::start(
      config(both_services(),
             route("r-v1", "", "/", {{"app-v1", 1}}) + route("r-v2", "", "/two", {{"app-v2", 1}}),
             "workers: 2\naccess_log:\n  path: " + log_path + "\n  format: json\n"));
  EXPECT_EQ(http_request(weir.port(), "GET", "/hello?x=1").status, 200);
  EXPECT_EQ(http_request(weir.port(), "POST", "/two/upload", {}, "0123456789").status, 200);
  EXPECT_EQ(http_request(weir.port(), "GET", "/nothing", {{"Host", "x"}}, {}).status, 200);
  std::vector<std::string> lines;
  bool got = wait_until(
      [&] {
        lines = nonempty_lines_of(read_file(log_path));
        return lines.size() >= 3;
      },
      5s);
  ASSERT_TRUE(got) << "access log after 5 s:\n" << read_file(log_path);
  ASSERT_EQ(lines.size(), 3u);
  std::map<std::string, std::string> by_path;
  for (const auto& l : lines) {
    EXPECT_EQ(l.front(), '{') << l;
    EXPECT_EQ(l.back(), '}') << l;
    by_path[json_field(l, "path")] = l;
  }
  ASSERT_TRUE(by_path.count("/hello?x=1")) << lines[0];
  ASSERT_TRUE(by_path.count("/two/upload"));
  const std::string& get = by_path["/hello?x=1"];
  EXPECT_EQ(json_field(get, "route"), "r-v1") << get;
  EXPECT_EQ(json_field(get, "backend"), "app-v1/app") << get;
  EXPECT_EQ(json_field(get, "endpoint"), v1_.address()) << get;
  EXPECT_EQ(json_field(get, "method"), "GET") << get;
  EXPECT_EQ(json_field(get, "status"), "200") << get;
  EXPECT_GT(std::stoull(json_field(get, "bytes_out")), 3u) << get;
  EXPECT_GE(std::stod(json_field(get, "duration_ms")), 0.0) << get;
  const std::string& post = by_path["/two/upload"];
  EXPECT_EQ(json_field(post, "route"), "r-v2") << post;
  EXPECT_EQ(json_field(post, "backend"), "app-v2/app") << post;
  EXPECT_EQ(json_field(post, "endpoint"), v2_.address()) << post;
  EXPECT_EQ(json_field(post, "method"), "POST") << post;
  EXPECT_EQ(json_field(post, "status"), "200") << post;
  EXPECT_GE(std::stoull(json_field(post, "bytes_in")), 10u) << post;
  EXPECT_GE(std::stoull(json_field(post, "bytes_out")), 10u) << post;
  EXPECT_FALSE(json_field(post, "duration_ms").empty()) << post;
}

TEST_F(ProxyBasic, CurlPostThroughWeir) {
  Weir weir = Weir::start(config(both_services(), route("r", "", "/", {{"app-v1", 1}})));
  std::string url = "http://127.0.0.1:" + std::to_string(weir.port()) + "/submit";
  // A small body on the command line, response headers and body to stdout.
  auto curl = Process::start({"/usr/bin/curl", "-sS", "-i", "--data-binary", "hello from curl",
                              "-H", "Content-Type: text/plain", url});
  ASSERT_TRUE(curl);
  ASSERT_EQ(curl->wait_exit(10s), 0) << curl->output();
  std::string out = curl->output();
  EXPECT_NE(out.find("HTTP/1.1 200"), std::string::npos) << out;
  EXPECT_NE(out.find("x-served-by: v1"), std::string::npos) << out;
  EXPECT_TRUE(out.ends_with("\r\n\r\nhello from curl")) << out;

  // A 3 MB binary file, uploaded with Expect: 100-continue (curl's default above 1 MiB),
  // written back to a file and compared.
  std::string in_path = temp_path("curl-in", ".bin");
  std::string out_path = temp_path("curl-out", ".bin");
  std::string data(3'000'000, '\0');
  std::mt19937 rng(7);
  for (auto& c : data)
    c = static_cast<char>(rng());
  ASSERT_TRUE(write_file(in_path, data));
  auto upload = Process::start({"/usr/bin/curl", "-sS", "--fail", "-X", "PUT", "--data-binary",
                                "@" + in_path, "-o", out_path, url});
  ASSERT_TRUE(upload);
  ASSERT_EQ(upload->wait_exit(20s), 0) << upload->output();
  std::string echoed = read_file(out_path);
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data) << "the echoed upload differs";
}

} // namespace
} // namespace weir::test
