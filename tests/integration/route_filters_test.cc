// HTTPRoute's filters and timeouts through a real weir: header modifiers (route and backend),
// URL rewrite, redirects weir answers itself, timeouts.request and timeouts.backend_request. The
// upstream is an in-process server that records every request head it gets. One weir serves
// every test of the suite (a route per case), so the suite takes about as long as its timeouts.
#include "support/client.h"
#include "support/http_server.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <atomic>
#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <optional>
#include <poll.h>
#include <set>
#include <string>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using Clock = std::chrono::steady_clock;
using Headers = std::vector<std::pair<std::string, std::string>>;

long ms_since(Clock::time_point start) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count());
}

std::vector<std::string> values(const Headers& headers, std::string_view name) {
  std::vector<std::string> out;
  for (const auto& [n, v] : headers)
    if (iequals(n, name)) out.push_back(v);
  return out;
}
using Values = std::vector<std::string>;

// An upstream that answers the head of a 100-byte response with 5 bytes of it, then stalls
// until the test ends: a response cut half-way. Accepts any number of connections.
class StallingOrigin {
public:
  StallingOrigin() {
    fd_ = listen_loopback(port_);
    if (fd_ < 0) throw std::runtime_error("stalling origin: cannot listen");
    thread_ = std::thread([this] { run(); });
  }
  StallingOrigin(const StallingOrigin&) = delete;
  StallingOrigin& operator=(const StallingOrigin&) = delete;
  ~StallingOrigin() {
    stop_ = true;
    ::shutdown(fd_, SHUT_RDWR);
    thread_.join();
    ::close(fd_);
    for (int c : connections_)
      ::close(c);
  }
  uint16_t port() const { return port_; }

private:
  void run() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      connections_.push_back(c);
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::read(c, buf, sizeof buf);
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      constexpr std::string_view kPart = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello";
      if (::write(c, kPart.data(), kPart.size()) < 0) continue;
    }
  }

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<int> connections_; // the origin thread's until it is joined
};

std::string service_line(const std::string& ns, const std::string& name,
                         const std::string& address) {
  return "  - { namespace: " + ns + ", name: " + name + ", endpoints: [" + address + "] }\n";
}

class RouteFilters : public testing::Test {
protected:
  static void SetUpTestSuite() {
    upstream_ = new TestHttpServer([](const TestHttpServer::Request& r) {
      TestHttpServer::Reply reply(200, "ok " + r.target);
      if (r.target.starts_with("/headers"))
        reply.headers = {{"X-Resp-Set", "from-backend"},
                         {"X-Resp-Add", "from-backend"},
                         {"X-Resp-Remove", "secret"},
                         {"Content-Type", "text/plain"}};
      // Slow: /slow, a request that asks for it, and the first /backend-slow attempt after the
      // test arms slow_next_ (its retry is not).
      if (r.target.starts_with("/slow") || r.header("x-attempt-slow") == "yes" ||
          (r.target.starts_with("/backend-slow") && slow_next_.exchange(false)))
        reply.delay = std::chrono::milliseconds(3000);
      return reply;
    });
    stalling_ = new StallingOrigin();
    const std::string up = "127.0.0.1:" + std::to_string(upstream_->port());
    const std::string stall = "127.0.0.1:" + std::to_string(stalling_->port());
    const std::string dead = "127.0.0.1:" + std::to_string(unused_port());
    const std::string services = "services:\n" + service_line("up", "a", up) +
                                 service_line("up", "b", up) + service_line("stall", "app", stall) +
                                 service_line("dead", "app", dead);
    weir_ = new Weir(Weir::start("workers: 1\n"
                                 "listeners: [{ name: public, address: 127.0.0.1:0 }]\n" +
                                 services + R"(
routes:
  - name: headers
    listener: public
    match: { path_prefix: /headers }
    request_headers:
      set: [{ name: X-Header-Set, value: set-overwrites-values }]
      add: [{ name: X-Header-Add, value: add-appends-values }]
      remove: [X-Header-Remove]
    response_headers:
      set: [{ name: X-Resp-Set, value: from-route }]
      add: [{ name: X-Resp-Add, value: from-route }]
      remove: [X-Resp-Remove]
    backends:
      - service: up/a
        request_headers: { set: [{ name: X-Backend, value: a }] }
  - name: backend-filters
    listener: public
    match: { path_prefix: /per-backend }
    request_headers: { set: [{ name: X-Route, value: route }] }
    backends:
      - service: up/a
        weight: 1
        request_headers: { set: [{ name: X-Route, value: backend-a }] }
        response_headers: { add: [{ name: X-Served-By, value: a }] }
      - service: up/b
        weight: 1
  - name: rewrite-prefix
    listener: public
    match: { path_prefix: /prefix/one }
    rewrite: { hostname: one.example.org, path: { replace_prefix: /one } }
    backends: [{ service: up/a }]
  - name: rewrite-strip
    listener: public
    match: { path_prefix: /strip-prefix }
    rewrite: { path: { replace_prefix: / } }
    backends: [{ service: up/a }]
  - name: rewrite-full
    listener: public
    match: { path_prefix: /full/one }
    rewrite: { path: { replace_full: /one } }
    backends: [{ service: up/a }]
  - name: redirect-path
    listener: public
    match: { path_prefix: /original-prefix }
    redirect: { path: { replace_prefix: /replacement-prefix } }
  - name: redirect-scheme
    listener: public
    match: { path_prefix: /scheme-and-host }
    redirect: { scheme: https, hostname: example.org, status: 301 }
  - name: redirect-port
    listener: public
    match: { path_prefix: /port }
    redirect: { port: 8083, status: 308 }
  - name: request-timeout
    listener: public
    match: { path_prefix: /slow }
    timeouts: { request: 300ms }
    backends: [{ service: up/a }]
  - name: backend-timeout-retried
    listener: public
    match: { path_prefix: /backend-slow }
    timeouts: { backend_request: 300ms }
    retries: { attempts: 1 }
    backends: [{ service: up/a }]
  - name: backend-timeout
    listener: public
    match: { path_prefix: /attempt-slow }
    timeouts: { backend_request: 300ms }
    backends: [{ service: up/a }]
  - name: retry-other
    listener: public
    match: { path_prefix: /retry-other }
    retries: { attempts: 1, retry_other_backend: true }
    backends:
      - service: dead/app
        weight: 100
        request_headers: { set: [{ name: X-Backend, value: dead }] }
      - service: up/b
        weight: 1
        request_headers: { set: [{ name: X-Backend, value: b }] }
  - name: request-timeout-cut
    listener: public
    match: { path_prefix: /cut }
    timeouts: { request: 400ms }
    backends: [{ service: stall/app }]
)"));
  }

  static void TearDownTestSuite() {
    delete weir_;
    delete stalling_;
    delete upstream_;
    weir_ = nullptr;
    stalling_ = nullptr;
    upstream_ = nullptr;
  }

  // The request the upstream got last whose target starts with `prefix`.
  static std::optional<TestHttpServer::Request> received(std::string_view prefix) {
    std::optional<TestHttpServer::Request> last;
    for (const TestHttpServer::Request& r : upstream_->requests())
      if (r.target.starts_with(prefix)) last = r;
    return last;
  }

  static HttpResponse get(std::string_view path, Headers headers = {}) {
    return http_request(weir_->port(), "GET", path, std::move(headers));
  }

  static TestHttpServer* upstream_;
  static StallingOrigin* stalling_;
  static Weir* weir_;
  static std::atomic<bool> slow_next_;
};

TestHttpServer* RouteFilters::upstream_ = nullptr;
StallingOrigin* RouteFilters::stalling_ = nullptr;
Weir* RouteFilters::weir_ = nullptr;
std::atomic<bool> RouteFilters::slow_next_{false};

// httproute-request-header-modifier and -response-header-modifier, through weir.
TEST_F(RouteFilters, HeaderModifiersOnTheWayInAndOut) {
  HttpResponse r = get("/headers/x", {{"X-Header-Set", "client-value"},
                                      {"x-header-set", "second"},
                                      {"X-Header-Add", "client-add"},
                                      {"X-Header-Remove", "drop-me"},
                                      {"X-Other", "kept"}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto req = received("/headers/x");
  ASSERT_TRUE(req);
  EXPECT_EQ(values(req->headers, "x-header-set"), Values{"set-overwrites-values"});
  EXPECT_EQ(values(req->headers, "x-header-add"), (Values{"client-add", "add-appends-values"}));
  EXPECT_TRUE(values(req->headers, "x-header-remove").empty());
  EXPECT_EQ(values(req->headers, "x-other"), Values{"kept"});
  EXPECT_EQ(values(req->headers, "x-backend"), Values{"a"}); // the backend's own filter
  EXPECT_EQ(values(req->headers, "host"), Values{"localhost"});
  // The answer: the route's response filter over the backend's headers.
  EXPECT_EQ(values(r.headers, "x-resp-set"), Values{"from-route"});
  EXPECT_EQ(values(r.headers, "x-resp-add"), (Values{"from-backend", "from-route"}));
  EXPECT_TRUE(values(r.headers, "x-resp-remove").empty());
  EXPECT_EQ(values(r.headers, "content-type"), Values{"text/plain"});
  // weir's own answers are not the backend's: no response filter on a 404.
  HttpResponse missing = get("/nothing-here");
  EXPECT_EQ(missing.status, 404);
  EXPECT_TRUE(values(missing.headers, "x-resp-set").empty());
}

// httproute-request-header-modifier-backend: each backend's filter for its own requests only.
TEST_F(RouteFilters, BackendFiltersApplyToTheirBackendOnly) {
  std::set<std::string> seen;
  for (int i = 0; i < 4; ++i) {
    const std::string path = "/per-backend/" + std::to_string(i);
    HttpResponse r = get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    auto req = received(path);
    ASSERT_TRUE(req);
    const Values route = values(req->headers, "x-route");
    ASSERT_EQ(route.size(), 1u);
    seen.insert(route[0]);
    // Backend a's response filter marks a's answers, and only those.
    EXPECT_EQ(values(r.headers, "x-served-by").size(), route[0] == "backend-a" ? 1u : 0u);
  }
  // Weights 1:1 in a smooth round robin: both backends had their turn.
  EXPECT_EQ(seen, (std::set<std::string>{"backend-a", "route"}));
}

// A retry that goes to another backend carries that backend's filters, not the first one's.
TEST_F(RouteFilters, ARetryToAnotherBackendCarriesItsFilters) {
  HttpResponse r = get("/retry-other/1");
  ASSERT_EQ(r.status, 200) << r.body;
  auto req = received("/retry-other/1");
  ASSERT_TRUE(req);
  EXPECT_EQ(values(req->headers, "x-backend"), Values{"b"});
  EXPECT_EQ(values(req->headers, "x-request-id").size(), 1u);
}

// httproute-rewrite-host and httproute-rewrite-path.
TEST_F(RouteFilters, RewriteHostAndPath) {
  HttpResponse r = get("/prefix/one/two?q=1", {{"Host", "rewrite.example"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "ok /one/two?q=1");
  auto req = received("/one/two");
  ASSERT_TRUE(req);
  EXPECT_EQ(values(req->headers, "host"), Values{"one.example.org"});
  EXPECT_EQ(values(req->headers, "x-forwarded-host"), Values{"rewrite.example"});

  EXPECT_EQ(get("/strip-prefix/three").body, "ok /three");
  EXPECT_EQ(get("/strip-prefix").body, "ok /");
  EXPECT_EQ(get("/full/one/two?x=y").body, "ok /one?x=y");
  // The segment rule of PathPrefix: /prefix/onex is not under /prefix/one.
  EXPECT_EQ(get("/prefix/onex").status, 404);
}

// httproute-redirect-path, -scheme, -host-and-status and -port: weir answers, no backend asked.
TEST_F(RouteFilters, RedirectsAnsweredByWeir) {
  const size_t before = upstream_->request_count();
  HttpResponse path = get("/original-prefix/lemon?x=1", {{"Host", "gw.example:8080"}});
  EXPECT_EQ(path.status, 302);
  EXPECT_EQ(path.header("location"), "http://gw.example:8080/replacement-prefix/lemon?x=1");
  EXPECT_EQ(path.header("content-length"), "0");

  HttpResponse scheme = get("/scheme-and-host", {{"Host", "gw.example:8080"}});
  EXPECT_EQ(scheme.status, 301);
  EXPECT_EQ(scheme.header("location"), "https://example.org/scheme-and-host");

  HttpResponse port = get("/port", {{"Host", "gw.example"}});
  EXPECT_EQ(port.status, 308);
  EXPECT_EQ(port.header("location"), "http://gw.example:8083/port");
  EXPECT_EQ(upstream_->request_count(), before);

  // A body on the way: the answer says so and the connection ends after it.
  auto c = RawClient::connect(weir_->port());
  ASSERT_TRUE(c);
  ASSERT_TRUE(c->send(build_request("POST", "/port", {{"Host", "gw"}}, "payload")));
  auto posted = c->read_response(5s);
  ASSERT_TRUE(posted);
  EXPECT_EQ(posted->status, 308);
  EXPECT_EQ(posted->header("location"), "http://gw:8083/port");
  EXPECT_TRUE(c->closed_by_peer(5s));
}

// httproute-timeout-request: no response head within timeouts.request → 504, in about that time.
TEST_F(RouteFilters, RequestTimeoutAnswers504) {
  const auto start = Clock::now();
  HttpResponse r = get("/slow/request");
  EXPECT_EQ(r.status, 504) << r.body;
  EXPECT_NE(r.body.find("timeouts.request"), std::string::npos) << r.body;
  const long took = ms_since(start);
  EXPECT_GE(took, 300);
  EXPECT_LT(took, 1500); // the upstream would have taken 3 s
}

// timeouts.request after the response began: the response is cut and the connection closed,
// never taken for complete.
TEST_F(RouteFilters, RequestTimeoutCutsAResponseUnderWay) {
  auto c = RawClient::connect(weir_->port());
  ASSERT_TRUE(c);
  const auto start = Clock::now();
  ASSERT_TRUE(c->send(build_request("GET", "/cut", {}, "")));
  auto r = c->read_response(5s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_FALSE(r->complete);
  EXPECT_EQ(r->body, "hello");
  EXPECT_TRUE(c->closed_by_peer(5s));
  const long took = ms_since(start);
  EXPECT_GE(took, 400);
  EXPECT_LT(took, 2000);
}

// httproute-timeout-backend-request: an attempt slower than timeouts.backend_request is
// abandoned and, the request being safe to send again, retried.
TEST_F(RouteFilters, BackendRequestTimeoutRetriesWhenSafe) {
  slow_next_ = true;
  const auto start = Clock::now();
  HttpResponse r = get("/backend-slow/1");
  EXPECT_EQ(r.status, 200) << r.body;
  const long took = ms_since(start);
  EXPECT_GE(took, 300);
  EXPECT_LT(took, 2000);
  size_t attempts = 0;
  for (const auto& req : upstream_->requests())
    attempts += req.target == "/backend-slow/1";
  EXPECT_EQ(attempts, 2u);

  // Without retries the client gets 504 after the one attempt's time.
  const auto again = Clock::now();
  HttpResponse alone = get("/attempt-slow", {{"X-Attempt-Slow", "yes"}});
  EXPECT_EQ(alone.status, 504) << alone.body;
  EXPECT_NE(alone.body.find("timeouts.backend_request"), std::string::npos) << alone.body;
  EXPECT_LT(ms_since(again), 2000);
}

} // namespace
} // namespace weir::test
