// Metrics end to end: the real weir with its admin listener and two demo upstreams as two
// versions of a route. Known traffic must show up as exact counters in /metrics and
// /stats.json, latencies within the histogram's bucket error, upstream 5xx as the version's
// errors and 4xx as the client's; counters survive reloads; the admin listener refuses bad
// requests like the proxy does; promtool accepts the output and a real Prometheus scrapes it.
#include "support/client.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/base/json.h"
#include "weir/config/loader.h"
#include "weir/control/admin_server.h"
#include "weir/control/controller.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <future>
#include <gtest/gtest.h>
#include <map>
#include <poll.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPromtool = "/usr/bin/promtool";
constexpr const char* kPrometheus = "/usr/bin/prometheus";

// ---------------------------------------------------------------------------------------------
// Helpers

// Every sample of a text exposition, keyed by the series as written: name{labels}.
std::map<std::string, double> parse_samples(const std::string& text) {
  std::map<std::string, double> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    size_t space = line.rfind(' ');
    out[line.substr(0, space)] = std::strtod(line.c_str() + space + 1, nullptr);
  }
  return out;
}

struct Scrape {
  std::map<std::string, double> samples;
  std::string text;

  // The value of a series, or NaN (with a failure) if it is not there.
  double operator()(const std::string& series) const {
    auto it = samples.find(series);
    if (it == samples.end()) {
      ADD_FAILURE() << "no series " << series;
      return NAN;
    }
    return it->second;
  }
  bool has(const std::string& series) const { return samples.count(series) > 0; }
};

Scrape scrape(uint16_t port) {
  HttpResponse r = http_request(port, "GET", "/metrics");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return {parse_samples(r.body), r.body};
}

json::Value stats(uint16_t port) {
  HttpResponse r = http_request(port, "GET", "/stats.json");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.header("content-type"), "application/json");
  auto parsed = json::parse(r.body);
  EXPECT_TRUE(parsed.value.has_value()) << parsed.error << "\n" << r.body;
  return parsed.value ? *parsed.value : json::Value();
}

std::string backend_labels(const std::string& ns) {
  return "route=\"app\",namespace=\"" + ns + "\",service=\"app\"";
}
std::string backend_series(const std::string& name, const std::string& ns,
                           const std::string& extra = "") {
  return name + "{" + backend_labels(ns) + extra + "}";
}
std::string endpoint_series(const std::string& name, const std::string& ns,
                            const std::string& endpoint, const std::string& extra = "") {
  return name + "{" + backend_labels(ns) + ",endpoint=\"" + endpoint + "\"" + extra + "}";
}

// One command on the control socket; its one-line reply ("" on error or after 10 s).
std::string control(const std::string& path, const std::string& command) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  std::string reply;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::string line = command + "\n";
    if (::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size())) {
      auto deadline = std::chrono::steady_clock::now() + 10s;
      while (reply.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[4096];
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        reply.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  return reply;
}

// Runs a shell command line; its exit status and what it printed.
std::pair<int, std::string> run_shell(const std::string& command) {
  std::string out_path = temp_path("shell", ".out");
  int rc = std::system((command + " > " + out_path + " 2>&1").c_str());
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, read_file(out_path)};
}

bool executable(const char* path) {
  return ::access(path, X_OK) == 0;
}

// ---------------------------------------------------------------------------------------------
// The fixture: route "app" with two versions, mt-v1 (weight 2) and mt-v2 (weight 1). One
// worker, so the smooth weighted round robin sends every three consecutive requests two to v1
// and one to v2: traffic sent in triples of the same kind gives exact per-version counts. v2
// answers 503 to requests that do not ask for a status (--status 503).

class MetricsTest : public ::testing::Test {
protected:
  void SetUp() override {
    v1_ = DemoUpstream::start("v1");
    v2_ = DemoUpstream::start("v2", {"--status", "503"});
    socket_ = temp_path("control", ".sock");
    weir_ = Weir::start(config(true));
    admin_ = weir_.admin_port();
    ASSERT_NE(admin_, 0);
  }

  std::string config(bool with_v2, const std::string& extra = "") const {
    std::ostringstream y;
    y << "workers: 1\n"
      << "listeners: [{ name: public, address: 127.0.0.1:0 }]\n"
      << "services:\n"
      << "  - { namespace: mt-v1, name: app, endpoints: [" << v1_.address() << "] }\n"
      << "  - { namespace: mt-v2, name: app, endpoints: [" << v2_.address() << "] }\n"
      << "routes:\n"
      << "  - name: app\n"
      << "    listener: public\n"
      << "    backends: [{ service: mt-v1/app, weight: 2 }"
      << (with_v2 ? ", { service: mt-v2/app, weight: 1 }" : "") << "]\n"
      << "admin: { address: 127.0.0.1:0 }\n"
      << "control: { socket: " << socket_ << " }\n"
      << extra;
    return y.str();
  }

  // `triples` × 3 requests for `target` on one keep-alive connection; every answer must have
  // the expected status for its version (v1, v2, v1 in turn).
  void send_triples(RawClient& c, int triples, const std::string& target, int v1_status,
                    int v2_status) {
    for (int i = 0; i < triples * 3; ++i) {
      ASSERT_TRUE(c.send("GET " + target + " HTTP/1.1\r\nHost: metrics.test\r\n\r\n"));
      auto r = c.read_response(10s);
      ASSERT_TRUE(r.has_value()) << target;
      std::string served_by = r->header("x-served-by");
      int expected = served_by == "v2" ? v2_status : v1_status;
      ASSERT_EQ(r->status, expected) << target << " served by " << served_by;
      // The rotation: positions 0 and 2 of each triple go to v1, 1 to v2.
      ASSERT_EQ(served_by, i % 3 == 1 ? "v2" : "v1") << "request " << i << " of " << target;
    }
  }

  // Waits until the once-a-second merge has sampled both versions, so every window starts from
  // zero before the test sends traffic.
  void wait_for_first_sample(const std::vector<std::string>& services) {
    ASSERT_TRUE(wait_until(
        [&] {
          json::Value s = stats(admin_);
          for (const auto& id : services) {
            const json::Value& windows = s["routes"]["app"]["backends"][id]["windows"];
            if (!windows.is_object() || windows.as_object().empty()) return false;
          }
          return true;
        },
        10s, 100ms));
  }

  DemoUpstream v1_, v2_;
  std::string socket_;
  Weir weir_;
  uint16_t admin_ = 0;
};

// ---------------------------------------------------------------------------------------------

TEST_F(MetricsTest, AdminAddressIsPrintedBeforeReadyAndServesBasicEndpoints) {
  std::string out = weir_.proc->output();
  size_t admin_line = out.find("weir: admin 127.0.0.1:");
  ASSERT_NE(admin_line, std::string::npos) << out;
  EXPECT_LT(admin_line, out.find("ready")) << out;
  EXPECT_NE(admin_, 0);

  HttpResponse h = http_request(admin_, "GET", "/healthz");
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.body, "ok\n");
  HttpResponse r = http_request(admin_, "GET", "/ready");
  EXPECT_EQ(r.status, 200);
  HttpResponse q = http_request(admin_, "GET", "/healthz?verbose=1");
  EXPECT_EQ(q.status, 200) << "the query is not part of the path";
  HttpResponse head = http_request(admin_, "HEAD", "/metrics");
  EXPECT_EQ(head.status, 200);
  EXPECT_TRUE(head.body.empty());
  EXPECT_GT(std::stoul(head.header("content-length")), 100u);
}

TEST_F(MetricsTest, KnownTrafficGivesExactCountersAndPercentilesWithinBucketError) {
  wait_for_first_sample({"mt-v1/app", "mt-v2/app"});
  auto client = RawClient::connect(weir_.port());
  ASSERT_TRUE(client);
  // 300 requests: v1 gets 140 × 200 (20 ms), 30 × 503, 30 × 404; v2 gets 60 × 200 (20 ms),
  // 15 × 503, 15 × 404 and 10 × its own 503 (20 ms).
  send_triples(*client, 60, "/ok?status=200&delay_ms=20", 200, 200);
  send_triples(*client, 15, "/fail?status=503", 503, 503);
  send_triples(*client, 15, "/missing?status=404", 404, 404);
  send_triples(*client, 10, "/plain?delay_ms=20", 200, 503);

  const std::string ep1 = v1_.address(), ep2 = v2_.address();
  Scrape m = scrape(admin_);
  auto code = [](const char* c) { return std::string(",code=\"") + c + "\""; };
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v1", ep1, code("2xx"))), 140);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v1", ep1, code("4xx"))), 30);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v1", ep1, code("5xx"))), 30);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v1", ep1, code("1xx"))), 0);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v1", ep1, code("3xx"))), 0);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v2", ep2, code("2xx"))), 60);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v2", ep2, code("4xx"))), 15);
  EXPECT_EQ(m(endpoint_series("weir_requests_total", "mt-v2", ep2, code("5xx"))), 25);
  // Upstream 5xx are the version's errors, 4xx the client's.
  EXPECT_EQ(m(backend_series("weir_upstream_errors_total", "mt-v1")), 30);
  EXPECT_EQ(m(backend_series("weir_upstream_errors_total", "mt-v2")), 25);
  EXPECT_EQ(m(backend_series("weir_client_errors_total", "mt-v1")), 30);
  EXPECT_EQ(m(backend_series("weir_client_errors_total", "mt-v2")), 15);
  EXPECT_EQ(m(backend_series("weir_backend_requests_total", "mt-v1")), 200);
  EXPECT_EQ(m(backend_series("weir_backend_requests_total", "mt-v2")), 100);
  for (const char* cause :
       {"connect_refused", "connect_timeout", "reset", "response_timeout", "bad_response"})
    EXPECT_EQ(m(endpoint_series("weir_upstream_failures_total", "mt-v1", ep1,
                                std::string(",cause=\"") + cause + "\"")),
              0)
        << cause;
  EXPECT_EQ(m(endpoint_series("weir_active_requests", "mt-v1", ep1)), 0);
  EXPECT_GT(m(backend_series("weir_bytes_received_total", "mt-v1")), 200 * 40);
  EXPECT_GT(m(backend_series("weir_bytes_sent_total", "mt-v1")), 200 * 40);
  // Histograms: every request counted once; 140 of v1's took at least 20 ms, so at most the
  // other 60 lie under 10 ms, and the sum is at least 140 × 20 ms.
  for (const char* h : {"weir_request_duration_seconds", "weir_upstream_response_time_seconds"}) {
    std::string name = h;
    EXPECT_EQ(m(backend_series(name + "_count", "mt-v1")), 200) << h;
    EXPECT_EQ(m(backend_series(name + "_bucket", "mt-v1", ",le=\"+Inf\"")), 200) << h;
    EXPECT_EQ(m(backend_series(name + "_count", "mt-v2")), 100) << h;
    EXPECT_LE(m(backend_series(name + "_bucket", "mt-v1", ",le=\"0.01\"")), 60) << h;
    EXPECT_GE(m(backend_series(name + "_sum", "mt-v1")), 140 * 0.020) << h;
  }
  EXPECT_EQ(m(backend_series("weir_backend_weight", "mt-v1")), 2);
  EXPECT_EQ(m(backend_series("weir_backend_weight", "mt-v2")), 1);
  EXPECT_EQ(m(backend_series("weir_backend_configured_weight", "mt-v2")), 1);
  EXPECT_EQ(m("weir_endpoint_up{namespace=\"mt-v1\",service=\"app\",endpoint=\"" + ep1 + "\"}"), 1);
  EXPECT_EQ(m("weir_config_reloads_total{result=\"ok\"}"), 0);
  EXPECT_EQ(m("weir_build_info{version=\"" WEIR_VERSION "\"}"), 1);
  // The test's one proxy connection is open; admin connections are not proxy clients.
  EXPECT_EQ(m("weir_client_connections"), 1);
  client.reset();
  EXPECT_TRUE(wait_until([&] { return scrape(admin_)("weir_client_connections") == 0; }, 10s))
      << "closing the connection brings the gauge back to 0";

  // /stats.json: once the merge has seen all of it, the 5 min window holds exactly the traffic.
  json::Value s;
  ASSERT_TRUE(wait_until(
      [&] {
        s = stats(admin_);
        const json::Value& b = s["routes"]["app"]["backends"];
        return b["mt-v1/app"]["windows"]["5m"]["requests"].as_number() == 200 &&
               b["mt-v2/app"]["windows"]["5m"]["requests"].as_number() == 100;
      },
      10s, 100ms));
  const json::Value& route = s["routes"]["app"];
  const json::Value& w1 = route["backends"]["mt-v1/app"]["windows"]["5m"];
  const json::Value& w2 = route["backends"]["mt-v2/app"]["windows"]["5m"];
  EXPECT_EQ(w1["errors"].as_number(), 30);
  EXPECT_EQ(w1["client_errors"].as_number(), 30);
  EXPECT_DOUBLE_EQ(w1["error_rate"].as_number(), 0.15);
  EXPECT_EQ(w2["errors"].as_number(), 25);
  EXPECT_EQ(w2["client_errors"].as_number(), 15);
  EXPECT_DOUBLE_EQ(w2["error_rate"].as_number(), 0.25);
  EXPECT_GT(w1["rps"].as_number(), 0);
  EXPECT_EQ(route["backends"]["mt-v1/app"]["total"]["requests"].as_number(), 200);
  for (const json::Value* w : {&w1, &w2}) {
    // Most requests took 20 ms: p50 and p90 are 20 ms within the bucket error (1/128), plus
    // what loopback and scheduling add, never less.
    for (const char* p : {"p50_ms", "p90_ms"}) {
      double v = (*w)[p].as_number();
      EXPECT_GE(v, 20.0 * (1 - 1.0 / 128)) << p;
      EXPECT_LE(v, 20.0 * 1.02 + 10.0) << p;
    }
    EXPECT_GE((*w)["p99_ms"].as_number(), (*w)["p90_ms"].as_number());
    EXPECT_GE((*w)["p999_ms"].as_number(), (*w)["p99_ms"].as_number());
  }
  for (const char* window : {"1s", "10s", "1m", "5m"})
    EXPECT_TRUE(route["backends"]["mt-v1/app"]["windows"][window].is_object()) << window;
  // The comparison: v2 against the heavier v1.
  EXPECT_EQ(route["baseline"].as_string(), "mt-v1/app");
  const json::Value& c = route["comparison"]["mt-v2/app"]["5m"];
  EXPECT_TRUE(c["comparable"].as_bool());
  EXPECT_NEAR(c["error_rate_diff"].as_number(), 0.10, 1e-12);
  EXPECT_NEAR(c["error_rate_ratio"].as_number(), 0.25 / 0.15, 1e-12);
  EXPECT_TRUE(c["p99_diff_ms"].is_number());
  EXPECT_FALSE(route["comparison"]["mt-v1/app"].is_object()) << "the baseline is not compared";
}

TEST_F(MetricsTest, CountersNeverGoBackwardsAcrossReloads) {
  const std::string ep1 = v1_.address(), ep2 = v2_.address();
  const std::string v1_ok = endpoint_series("weir_requests_total", "mt-v1", ep1, ",code=\"2xx\"");
  const std::string v2_ok = endpoint_series("weir_requests_total", "mt-v2", ep2, ",code=\"2xx\"");
  {
    auto c = RawClient::connect(weir_.port());
    ASSERT_TRUE(c);
    send_triples(*c, 10, "/?status=200", 200, 200);
  }
  Scrape before = scrape(admin_);
  EXPECT_EQ(before(v1_ok), 20);
  EXPECT_EQ(before(v2_ok), 10);

  // A reload that takes v2 out of the route: v2's counters stay, unchanged.
  ASSERT_TRUE(write_file(weir_.config_path, config(false)));
  std::string reply = control(socket_, "reload");
  ASSERT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
  Scrape after = scrape(admin_);
  EXPECT_EQ(after("weir_config_reloads_total{result=\"ok\"}"), 1);
  EXPECT_EQ(after(v1_ok), 20);
  EXPECT_EQ(after(v2_ok), 10);
  EXPECT_EQ(after(backend_series("weir_backend_requests_total", "mt-v2")), 10);
  EXPECT_FALSE(after.has(backend_series("weir_backend_weight", "mt-v2")))
      << "weights describe the config in force";
  {
    auto c = RawClient::connect(weir_.port());
    ASSERT_TRUE(c);
    for (int i = 0; i < 6; ++i)
      EXPECT_EQ(http_request(weir_.port(), "GET", "/?status=200").header("x-served-by"), "v1");
  }
  EXPECT_EQ(scrape(admin_)(v1_ok), 26);

  // Back again: v2's counters continue from where they were.
  ASSERT_TRUE(write_file(weir_.config_path, config(true)));
  reply = control(socket_, "reload");
  ASSERT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
  {
    auto c = RawClient::connect(weir_.port());
    ASSERT_TRUE(c);
    send_triples(*c, 2, "/?status=200", 200, 200);
  }
  Scrape again = scrape(admin_);
  EXPECT_EQ(again(v1_ok), 30);
  EXPECT_EQ(again(v2_ok), 12);
  EXPECT_EQ(again("weir_config_reloads_total{result=\"ok\"}"), 2);

  // A refused reload changes nothing but its own counter.
  ASSERT_TRUE(write_file(weir_.config_path, "routes: [ this is not valid\n"));
  reply = control(socket_, "reload");
  EXPECT_NE(reply.find("\"ok\":false"), std::string::npos) << reply;
  Scrape refused = scrape(admin_);
  EXPECT_EQ(refused("weir_config_reloads_total{result=\"failed\"}"), 1);
  EXPECT_EQ(refused(v1_ok), 30);
  EXPECT_EQ(refused(v2_ok), 12);

  // Live weights show as the live gauge; the configured one stays.
  reply = control(socket_, "set weight app mt-v2/app=5");
  ASSERT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
  Scrape weights = scrape(admin_);
  EXPECT_EQ(weights(backend_series("weir_backend_weight", "mt-v2")), 5);
  EXPECT_EQ(weights(backend_series("weir_backend_configured_weight", "mt-v2")), 1);
  // And a drained endpoint is down.
  reply = control(socket_, "drain mt-v2/app " + ep2);
  ASSERT_NE(reply.find("\"ok\":true"), std::string::npos) << reply;
  EXPECT_EQ(scrape(admin_)("weir_endpoint_up{namespace=\"mt-v2\",service=\"app\",endpoint=\"" +
                           ep2 + "\"}"),
            0);
}

// A client that read its whole response and then scrapes finds that request counted: weir counts
// an exchange when its last bytes are handed to the socket, not when the write's completion is
// reported (a posted handler that may run after the client read them). One keep-alive connection,
// a scrape after every response, no waiting.
TEST_F(MetricsTest, EachRequestIsCountedByTheTimeItsResponseArrived) {
  const std::string v1_ok =
      endpoint_series("weir_requests_total", "mt-v1", v1_.address(), ",code=\"2xx\"");
  const std::string v2_ok =
      endpoint_series("weir_requests_total", "mt-v2", v2_.address(), ",code=\"2xx\"");
  auto c = RawClient::connect(weir_.port());
  ASSERT_TRUE(c);
  for (int i = 1; i <= 60; ++i) {
    ASSERT_TRUE(c->send("GET /?status=200 HTTP/1.1\r\nHost: metrics.test\r\n\r\n"));
    auto r = c->read_response(10s);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
    Scrape s = scrape(admin_);
    ASSERT_EQ(s(v1_ok) + s(v2_ok), i) << "request " << i << " not counted once it was answered";
  }
}

// The admin listener parses with weir's own strict parser and limits.
TEST_F(MetricsTest, AdminRefusesBadRequestsWithTheProxysStatuses) {
  struct Case {
    std::string name;
    std::string bytes;
    int status;
    bool closes;
  };
  const std::string big_header = "X-Big: " + std::string(20000, 'a') + "\r\n";
  const std::vector<Case> cases = {
      {"unknown path", "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n", 404, false},
      {"POST", "POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc", 405, false},
      {"DELETE", "DELETE /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 405, false},
      {"garbage", "HELLO\r\n\r\n", 400, true},
      {"bare LF", "GET /healthz HTTP/1.1\nHost: a\n\n", 400, true},
      {"CL and TE",
       "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: "
       "chunked\r\n\r\n0\r\n\r\n",
       400, true},
      {"two Hosts", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, true},
      {"head too large", "GET /healthz HTTP/1.1\r\nHost: a\r\n" + big_header + "\r\n", 431, true},
      {"line too long", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414,
       true},
      {"HTTP/2.0", "GET /healthz HTTP/2.0\r\nHost: a\r\n\r\n", 505, true},
      {"body too large", "GET /healthz HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n", 413,
       true},
  };
  for (const auto& c : cases) {
    auto client = RawClient::connect(admin_);
    ASSERT_TRUE(client) << c.name;
    ASSERT_TRUE(client->send(c.bytes)) << c.name;
    auto r = client->read_response(10s);
    ASSERT_TRUE(r.has_value()) << c.name;
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    if (c.status == 405) {
      EXPECT_EQ(r->header("allow"), "GET, HEAD");
    }
    if (c.closes) {
      EXPECT_TRUE(client->closed_by_peer(5s)) << c.name;
    } else {
      // Keep-alive: the same connection answers the next request.
      ASSERT_TRUE(client->send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n")) << c.name;
      auto next = client->read_response(10s);
      ASSERT_TRUE(next.has_value()) << c.name;
      EXPECT_EQ(next->status, 200) << c.name;
    }
  }
}

TEST_F(MetricsTest, AdminHandlesPipeliningByteByByteAndHttp10) {
  // Three pipelined requests in one write, answered in order.
  auto c = RawClient::connect(admin_);
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /ready HTTP/1.1\r\nHost: a\r\n\r\n"
                      "GET /nope HTTP/1.1\r\nHost: a\r\n\r\n"));
  for (int expected : {200, 200, 404}) {
    auto r = c->read_response(10s);
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, expected);
  }
  // A request arriving one byte at a time.
  const std::string req = "GET /stats.json HTTP/1.1\r\nHost: a\r\n\r\n";
  for (char ch : req)
    ASSERT_TRUE(c->send(std::string_view(&ch, 1)));
  auto r = c->read_response(10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(json::parse(r->body).value.has_value());
  // Chunked body on a GET: read and dropped, the connection goes on.
  ASSERT_TRUE(c->send("GET /healthz HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "3\r\nabc\r\n0\r\n\r\n"));
  r = c->read_response(10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  // HTTP/1.0 gets its answer, then the close.
  auto old = RawClient::connect(admin_);
  ASSERT_TRUE(old);
  ASSERT_TRUE(old->send("GET /healthz HTTP/1.0\r\n\r\n"));
  r = old->read_response(10s);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(old->closed_by_peer(5s));
}

TEST_F(MetricsTest, PromtoolAcceptsTheExposition) {
  if (!executable(kPromtool))
    GTEST_SKIP() << kPromtool << " is missing: install the Debian package 'prometheus'";
  // Every family populated: traffic to both versions, failures included.
  {
    auto c = RawClient::connect(weir_.port());
    ASSERT_TRUE(c);
    send_triples(*c, 2, "/?status=200", 200, 200);
    send_triples(*c, 1, "/", 200, 503);
  }
  Scrape m = scrape(admin_);
  std::string file = temp_path("metrics", ".txt");
  ASSERT_TRUE(write_file(file, m.text));
  auto [rc, out] = run_shell(std::string(kPromtool) + " check metrics < " + file);
  EXPECT_EQ(rc, 0) << out << "\n" << m.text;
  // The check is real: promtool refuses a counter without _total.
  std::string bad = temp_path("bad", ".txt");
  ASSERT_TRUE(write_file(bad, "# HELP weir_x x\n# TYPE weir_x counter\nweir_x 1\n"));
  EXPECT_NE(run_shell(std::string(kPromtool) + " check metrics < " + bad).first, 0);
}

TEST_F(MetricsTest, RealPrometheusScrapesBothVersions) {
  if (!executable(kPrometheus))
    GTEST_SKIP() << kPrometheus << " is missing: install the Debian package 'prometheus'";
  {
    auto c = RawClient::connect(weir_.port());
    ASSERT_TRUE(c);
    send_triples(*c, 3, "/?status=200", 200, 200);
  }
  // Everything Prometheus writes stays in this directory (removed with the test's temp dir).
  std::string dir = temp_path("prometheus");
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  std::string config = dir + "/prometheus.yml";
  ASSERT_TRUE(write_file(config, "global: { scrape_interval: 1s, evaluation_interval: 1s }\n"
                                 "scrape_configs:\n"
                                 "  - job_name: weir\n"
                                 "    scrape_interval: 1s\n"
                                 "    scrape_timeout: 1s\n"
                                 "    static_configs: [{ targets: ['127.0.0.1:" +
                                     std::to_string(admin_) + "'] }]\n"));
  auto prom = Process::start({kPrometheus, "--config.file=" + config,
                              "--storage.tsdb.path=" + dir + "/data",
                              "--web.listen-address=127.0.0.1:0", "--web.console.templates=" + dir,
                              "--web.console.libraries=" + dir, "--log.level=warn"});
  ASSERT_TRUE(prom);
  uint16_t port = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        auto ports = listening_ports(prom->pid());
        if (!ports.empty()) port = ports.front();
        return port != 0 || !prom->running();
      },
      30s, 50ms));
  ASSERT_NE(port, 0) << prom->output();
  std::string last;
  bool both = wait_until(
      [&] {
        HttpResponse r = http_request(port, "GET", "/api/v1/query?query=weir_requests_total");
        last = r.body;
        auto v = json::parse(r.body);
        if (r.status != 200 || !v.value) return false;
        bool v1 = false, v2 = false;
        for (const auto& series : (*v.value)["data"]["result"].as_array()) {
          const json::Value& labels = series["metric"];
          if (labels.get_string("code") != "2xx" || labels.get_string("route") != "app") continue;
          double value = std::strtod(series["value"].as_array().at(1).as_string().c_str(), nullptr);
          v1 = v1 || (labels.get_string("namespace") == "mt-v1" && value == 6);
          v2 = v2 || (labels.get_string("namespace") == "mt-v2" && value == 3);
        }
        return v1 && v2;
      },
      30s, 250ms);
  EXPECT_TRUE(both) << "last answer: " << last << "\nprometheus output:\n" << prom->output();
  prom->signal(SIGTERM);
  EXPECT_TRUE(prom->wait_exit(20s).has_value());
}

// ---------------------------------------------------------------------------------------------
// The admin server in-process, for what the binary cannot show: 503 from /ready before the
// workers run, and limits.admin_idle_timeout (10 s by default; short here).

TEST(AdminServerInProcess, ReadyIs503UntilWorkersRunAndIdleClientsAreClosed) {
  auto loaded = config::load_string("listeners: [{ name: public, address: 127.0.0.1:0 }]\n"
                                    "services: [{ namespace: a, name: b, endpoints: "
                                    "[127.0.0.1:9] }]\n"
                                    "routes: [{ name: r, listener: public, backends: "
                                    "[{ service: a/b }] }]\n"
                                    "admin: { address: 127.0.0.1:0 }\n"
                                    "limits: { admin_idle_timeout: 300ms }\n",
                                    "admin-test.yaml");
  auto* cfg = std::get_if<config::Config>(&loaded);
  ASSERT_NE(cfg, nullptr);
  auto config = std::make_shared<const config::Config>(*cfg);
  boost::asio::io_context io;
  control::Controller controller(io, "", config); // not started: no workers
  control::AdminServer admin(io, controller);
  ASSERT_TRUE(admin.open(config->admin, config->limits).ok());
  uint16_t port = port_at_end(admin.address());
  ASSERT_NE(port, 0);
  auto work =
      std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
          io.get_executor());
  std::thread thread([&] { io.run(); });

  EXPECT_EQ(http_request(port, "GET", "/ready").status, 503);
  EXPECT_EQ(http_request(port, "GET", "/healthz").status, 200);

  auto idle = RawClient::connect(port);
  ASSERT_TRUE(idle);
  auto started = std::chrono::steady_clock::now();
  EXPECT_TRUE(idle->closed_by_peer(5s));
  EXPECT_GE(std::chrono::steady_clock::now() - started, 250ms);

  // A request trickling in slower than the timeout is cut off too.
  auto slow = RawClient::connect(port);
  ASSERT_TRUE(slow);
  ASSERT_TRUE(slow->send("GET /healthz HTTP/1.1\r\n"));
  EXPECT_TRUE(slow->closed_by_peer(5s));

  std::promise<void> closed;
  boost::asio::post(io, [&] {
    admin.close();
    closed.set_value();
  });
  closed.get_future().wait();
  work.reset();
  io.stop();
  thread.join();
}

} // namespace
} // namespace weir::test
