// weir's outgoing HTTP client (net::HttpClient) and what rollouts build on it — hook calls with
// retries (rollout::call_hook) and Prometheus queries (rollout::query_prometheus) — against real
// sockets on loopback: scripted test servers, HTTPS with a CA made at test time, and Debian's
// real Prometheus scraping a real weir.
#include "support/http_server.h"
#include "support/prometheus.h"
#include "support/tls_certs.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"
#include "weir/net/http_client.h"
#include "weir/rollout/hook_call.h"
#include "weir/rollout/metric_query.h"

#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <optional>
#include <string>
#include <unistd.h>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Reply = TestHttpServer::Reply;
using Request = TestHttpServer::Request;

// Runs the io_context until `result` is set (the callback ran) or 20 s pass.
template <typename T>
std::optional<T> run_until_done(boost::asio::io_context& io, std::optional<T>& result) {
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!result && std::chrono::steady_clock::now() < deadline) {
    io.restart();
    io.run_for(50ms);
  }
  return result;
}

net::HttpResponse fetch(net::HttpRequest request) {
  boost::asio::io_context io;
  std::optional<net::HttpResponse> result;
  net::HttpClient::fetch(io, std::move(request), [&](net::HttpResponse r) { result = r; });
  EXPECT_FALSE(result) << "done ran inside fetch()";
  run_until_done(io, result);
  EXPECT_TRUE(result) << "no answer within 20 s";
  return result ? *result : net::HttpResponse{};
}

net::HttpRequest get(const std::string& url) {
  net::HttpRequest r;
  auto parsed = net::parse_url(url);
  EXPECT_TRUE(parsed.ok()) << url;
  if (parsed) r.url = *parsed;
  r.timeout = 5s;
  return r;
}

std::string header_of(const net::HttpResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers)
    if (n == name) return v;
  return "";
}

// --- the client ---

TEST(HttpClient, GetWithContentLength) {
  TestHttpServer server([](const Request&) { return Reply{200, "hello", {{"X-Test", "1"}}}; });
  net::HttpResponse r = fetch(get(server.url("/a/b?c=d")));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(header_of(r, "X-Test"), "1");
  ASSERT_EQ(server.request_count(), 1u);
  const Request seen = server.requests()[0];
  EXPECT_EQ(seen.method, "GET");
  EXPECT_EQ(seen.target, "/a/b?c=d");
  EXPECT_EQ(seen.header("host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen.header("connection"), "close");
  EXPECT_EQ(seen.header("user-agent"), "weir/" WEIR_VERSION);
}

TEST(HttpClient, PostsBodyAndHeaders) {
  TestHttpServer server([](const Request& q) { return Reply{201, "got " + q.body}; });
  net::HttpRequest req = get(server.url("/hook"));
  req.method = "POST";
  req.body = R"({"a":1})";
  req.headers = {{"Content-Type", "application/json"}};
  net::HttpResponse r = fetch(req);
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(r.body, R"(got {"a":1})");
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].header("content-type"), "application/json");
  EXPECT_EQ(server.requests()[0].header("content-length"), "7");
}

TEST(HttpClient, ChunkedAndCloseDelimitedBodies) {
  std::string big;
  for (int i = 0; i < 5000; ++i)
    big += std::to_string(i) + ",";
  TestHttpServer server([&](const Request& q) {
    Reply r{200, big};
    r.framing = q.target == "/chunked" ? Reply::Framing::chunked : Reply::Framing::close;
    return r;
  });
  net::HttpResponse chunked = fetch(get(server.url("/chunked")));
  EXPECT_EQ(chunked.error, "");
  EXPECT_EQ(header_of(chunked, "Transfer-Encoding"), "chunked");
  EXPECT_EQ(chunked.body, big);
  net::HttpResponse closed = fetch(get(server.url("/close")));
  EXPECT_EQ(closed.error, "");
  EXPECT_EQ(closed.status, 200);
  EXPECT_EQ(closed.body, big);
}

TEST(HttpClient, ErrorStatusIsAnAnswerNotAnError) {
  TestHttpServer server([](const Request&) { return Reply{500, "boom"}; });
  net::HttpResponse r = fetch(get(server.url()));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body, "boom");
}

TEST(HttpClient, OneDeadlinePerExchange) {
  TestHttpServer server([](const Request&) {
    Reply r{200, "late"};
    r.delay = 3s;
    return r;
  });
  net::HttpRequest req = get(server.url());
  req.timeout = 200ms;
  const auto start = std::chrono::steady_clock::now();
  net::HttpResponse r = fetch(req);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "timed out after 200ms");
  EXPECT_GE(took, 190ms);
  EXPECT_LT(took, 1500ms);
}

TEST(HttpClient, ConnectionRefusedAndBadAnswers) {
  uint16_t port = 0;
  const int fd = listen_loopback(port);
  ASSERT_GE(fd, 0);
  ::close(fd); // nothing listens there now
  net::HttpResponse r = fetch(get("http://127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "connect: Connection refused");

  TestHttpServer server([](const Request&) { return Reply{200, std::string(100, 'x')}; });
  net::HttpRequest req = get(server.url());
  req.max_body_bytes = 10;
  r = fetch(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error, "response body larger than 10 bytes");
}

TEST(HttpClient, ResolvesHostNames) {
  TestHttpServer server([](const Request& q) { return Reply{200, q.header("host")}; });
  net::HttpResponse r = fetch(get(server.url("/", "localhost")));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body, "localhost:" + std::to_string(server.port()));
  r = fetch(get("http://no-such-host.invalid:1/"));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.error.rfind("resolve no-such-host.invalid: ", 0), 0u) << r.error;
}

// --- TLS ---

class HttpClientTls : public ::testing::Test {
protected:
  void SetUp() override {
    certs_ = make_test_certs("DNS:localhost");
    other_ = make_test_certs("DNS:localhost");
    ASSERT_FALSE(certs_.ca_file.empty());
    ASSERT_FALSE(other_.ca_file.empty());
    server_ = std::make_unique<TestHttpServer>(
        [](const Request& q) {
          return Reply{200, "secret " + q.target};
        },
        TestHttpServer::Tls{certs_.cert_file, certs_.key_file});
  }
  TestCerts certs_, other_;
  std::unique_ptr<TestHttpServer> server_;
};

TEST_F(HttpClientTls, VerifiesChainAndName) {
  net::HttpRequest req = get(server_->url("/x", "localhost"));
  req.ca_file = certs_.ca_file;
  net::HttpResponse r = fetch(req);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "secret /x");
}

TEST_F(HttpClientTls, CloseDelimitedOverTls) {
  std::string big(100000, 'z');
  server_->set_handler([&](const Request&) {
    Reply r{200, big};
    r.framing = Reply::Framing::close;
    return r;
  });
  net::HttpRequest req = get(server_->url("/", "localhost"));
  req.ca_file = certs_.ca_file;
  net::HttpResponse r = fetch(req);
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.body.size(), big.size());
}

TEST_F(HttpClientTls, RefusesAnotherCa) {
  net::HttpRequest req = get(server_->url("/", "localhost"));
  req.ca_file = other_.ca_file;
  net::HttpResponse r = fetch(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("tls: certificate verify failed"), std::string::npos) << r.error;
  EXPECT_EQ(server_->request_count(), 0u); // the request never left the client
}

TEST_F(HttpClientTls, RefusesTheSystemStoreForAPrivateCa) {
  net::HttpResponse r = fetch(get(server_->url("/", "localhost")));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("certificate verify failed"), std::string::npos) << r.error;
}

TEST_F(HttpClientTls, RefusesAWrongName) {
  // The certificate names localhost only; the address is not in it.
  net::HttpRequest req = get(server_->url("/", "127.0.0.1"));
  req.ca_file = certs_.ca_file;
  net::HttpResponse r = fetch(req);
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.error.find("IP address mismatch"), std::string::npos) << r.error;
  EXPECT_EQ(server_->request_count(), 0u);
}

TEST_F(HttpClientTls, MissingCaFile) {
  net::HttpRequest req = get(server_->url("/", "localhost"));
  req.ca_file = "/nonexistent/ca.pem";
  net::HttpResponse r = fetch(req);
  EXPECT_EQ(r.error.rfind("tls: cannot load CA file /nonexistent/ca.pem: ", 0), 0u) << r.error;
}

// --- hooks ---

rollout::HookResult call(const config::RolloutHook& hook, std::string body = R"({"x":1})") {
  boost::asio::io_context io;
  std::optional<rollout::HookResult> result;
  rollout::call_hook(
      io, hook, std::move(body), [&](rollout::HookResult r) { result = r; }, 10ms);
  EXPECT_FALSE(result);
  run_until_done(io, result);
  EXPECT_TRUE(result);
  return result ? *result : rollout::HookResult{};
}

config::RolloutHook hook_to(const std::string& url, uint32_t retries = 0) {
  config::RolloutHook h;
  h.name = "gate";
  h.url = url;
  h.retries = retries;
  h.timeout = 2s;
  return h;
}

TEST(HookCall, PostsJsonAndPassesOn2xx) {
  TestHttpServer server([](const Request&) { return Reply{204, ""}; });
  rollout::HookResult r = call(hook_to(server.url("/gate")), R"({"route":"web"})");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.status, 204);
  EXPECT_EQ(r.attempts, 1u);
  ASSERT_EQ(server.request_count(), 1u);
  const Request q = server.requests()[0];
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.target, "/gate");
  EXPECT_EQ(q.header("content-type"), "application/json");
  EXPECT_EQ(q.body, R"({"route":"web"})");
}

TEST(HookCall, RetriesFailuresAndReportsTheLast) {
  TestHttpServer server([](const Request&) { return Reply{500, "  not yet: 2 checks pending\n"}; });
  rollout::HookResult r = call(hook_to(server.url(), 2));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.attempts, 3u);
  EXPECT_EQ(r.message, "not yet: 2 checks pending");
  EXPECT_EQ(server.request_count(), 3u);
}

TEST(HookCall, StopsRetryingOnceItPasses) {
  TestHttpServer server([](const Request&) { return Reply{503, ""}; });
  server.set_handler([&server](const Request&) {
    return server.request_count() >= 2 ? Reply{200, "ok"} : Reply{503, ""};
  });
  rollout::HookResult r = call(hook_to(server.url(), 5));
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.message, "ok");
  EXPECT_EQ(server.request_count(), 2u);
}

TEST(HookCall, TimeoutsCountAsFailedAttempts) {
  TestHttpServer server([](const Request&) {
    Reply r;
    r.no_answer = true;
    return r;
  });
  config::RolloutHook hook = hook_to(server.url(), 1);
  hook.timeout = 150ms;
  const auto start = std::chrono::steady_clock::now();
  rollout::HookResult r = call(hook);
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.attempts, 2u);
  EXPECT_EQ(r.message, "timed out after 150ms");
  EXPECT_GE(took, 300ms);
  EXPECT_LT(took, 2s);
  EXPECT_TRUE(wait_until([&] { return server.request_count() == 2; }, 2s));
}

TEST(HookCall, AnErrorAnswerWithoutBodySaysTheStatus) {
  TestHttpServer server([](const Request&) { return Reply{403, ""}; });
  rollout::HookResult r = call(hook_to(server.url()));
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message, "answered 403");
}

// --- Prometheus queries ---

rollout::MetricValue query(const std::string& address, const std::string& promql) {
  boost::asio::io_context io;
  std::optional<rollout::MetricValue> result;
  config::AnalysisMetric m;
  m.name = "m";
  m.prometheus_address = address;
  m.timeout = 3s;
  rollout::query_prometheus(io, m, promql, [&](rollout::MetricValue v) { result = v; });
  run_until_done(io, result);
  EXPECT_TRUE(result);
  return result ? *result : rollout::MetricValue{};
}

TEST(PrometheusQuery, SendsTheEncodedQueryAndReadsTheAnswer) {
  TestHttpServer server([](const Request&) {
    return Reply{200, R"({"status":"success","data":{"resultType":"vector","result":[)"
                      R"({"metric":{},"value":[1700000000,"0.0125"]}]}})"};
  });
  rollout::MetricValue v =
      query(server.url("/prom/"), "sum(rate(x{service=\"app-v2/app\"}[1m])) > 0");
  EXPECT_TRUE(v.ok) << v.error;
  EXPECT_DOUBLE_EQ(v.value, 0.0125);
  ASSERT_EQ(server.request_count(), 1u);
  EXPECT_EQ(server.requests()[0].target,
            "/prom/api/v1/query?query=sum%28rate%28x%7Bservice%3D%22app-v2%2Fapp%22%7D%5B1m%5D%29"
            "%29%20%3E%200");
}

TEST(PrometheusQuery, ErrorAnswersAndUnreachableServers) {
  TestHttpServer server([](const Request&) {
    return Reply{400, R"({"status":"error","errorType":"bad_data","error":"parse error"})"};
  });
  rollout::MetricValue v = query(server.url(), "sum(");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error, "Prometheus answered bad_data: parse error");
  server.set_handler([](const Request&) { return Reply{502, "bad gateway"}; });
  v = query(server.url(), "up");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error.rfind("Prometheus answered 502: the answer is not JSON", 0), 0u) << v.error;

  uint16_t port = 0;
  const int fd = listen_loopback(port);
  ASSERT_GE(fd, 0);
  ::close(fd);
  v = query("http://127.0.0.1:" + std::to_string(port), "up");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error, "Prometheus: connect: Connection refused");
}

// The whole path against the real thing: Prometheus scrapes weir's /metrics, and weir's query
// reads the scraped series back.
TEST(PrometheusQuery, RealPrometheusScrapingWeir) {
  if (!Prometheus::available())
    GTEST_SKIP() << Prometheus::kBinary << " is missing: ./dev deps installs it";
  DemoUpstream up = DemoUpstream::start("v1");
  Weir weir = Weir::start(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
admin: { address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [)" +
                          up.address() + R"(] }
routes:
  - { name: app, listener: public, backends: [{ service: app-v1/app }] }
)");
  auto admin = weir.proc->wait_for_line("weir: admin ", 1s);
  ASSERT_TRUE(admin) << weir.proc->output();
  const std::string admin_address = "127.0.0.1:" + std::to_string(port_at_end(*admin));

  const auto start = std::chrono::steady_clock::now();
  Prometheus prom = Prometheus::start({{"weir", {admin_address}}}, 500ms);
  const auto ready = std::chrono::steady_clock::now() - start;
  rollout::MetricValue v;
  ASSERT_TRUE(wait_until(
      [&] {
        v = query(prom.address(), "up{job=\"weir\"}");
        return v.ok;
      },
      15s, 100ms))
      << v.error;
  EXPECT_DOUBLE_EQ(v.value, 1);
  std::printf(
      "prometheus ready in %lld ms, first scrape seen after %lld ms\n",
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(ready).count()),
      static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::steady_clock::now() - start)
                                 .count()));
  v = query(prom.address(), "up{job=\"nosuch\"}");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error, "the query returned an empty vector (no series matched, or no data yet)");
  v = query(prom.address(), "up{job=\"weir\"} / 0 * 0");
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.error, "the query returned NaN (e.g. a ratio of two zero rates)");
  EXPECT_TRUE(prom.stop());
}

} // namespace
} // namespace weir::test
