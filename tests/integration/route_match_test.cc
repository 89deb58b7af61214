// HTTPRoute's matches through a real weir and real weir-demo-upstream processes: each kind of
// condition (Exact, PathPrefix and RegularExpression paths, headers and query parameters exact and
// regex, methods), alternatives (OR), precedence across routes; and a rollout's set_header_route
// sending testers to a canary at weight 0 until the rollout is aborted.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

namespace weir::test {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

// Who answered (the demo upstream's x-served-by), or the status when it is not 200.
std::string served_by(uint16_t port, std::string_view method, std::string_view target,
                      Headers headers = {}) {
  HttpResponse r = http_request(port, method, target, std::move(headers));
  if (r.status != 200) return std::to_string(r.status);
  return r.header("x-served-by");
}

TEST(RouteMatch, EveryKindOfMatchAndPrecedenceAcrossRoutes) {
  std::map<std::string, DemoUpstream> up;
  for (const char* name : {"exact", "prefix", "regex", "header", "query", "method", "wild"})
    up.emplace(name, DemoUpstream::start(name));
  std::string yaml = "workers: 1\nlisteners:\n  - name: public\n    address: 127.0.0.1:0\n"
                     "services:\n";
  for (const auto& [name, u] : up)
    yaml += "  - { namespace: " + name + ", name: app, endpoints: [" + u.address() + "] }\n";
  auto route = [](const std::string& name, const std::string& match) {
    return "  - name: " + name + "\n    listener: public\n    backends: [{ service: " + name +
           "/app }]\n    match: " + match + "\n";
  };
  yaml += "routes:\n";
  yaml += route("exact", "{ path: { type: Exact, value: /exact } }");
  yaml += route("prefix", "{ path_prefix: /api/ }");
  yaml += route("regex", R"({ path: { type: RegularExpression, value: "/img/[0-9]+\\.png" } })");
  yaml += route("header", R"(
      - { path_prefix: /api, headers: [{ name: X-Version, value: two }] }
      - { path_prefix: /api, headers: [{ name: User-Agent, value: ".*Mobile.*", type: RegularExpression }] })");
  yaml += route("query", R"(
      - { path_prefix: /api, query: [{ name: v, value: "3" }] }
      - { path_prefix: /api, query: [{ name: page, value: "[0-9]+", type: RegularExpression }] })");
  yaml += route("method", "{ path_prefix: /api, method: DELETE }");
  yaml += route("wild", R"({ host: "*.example.com", path: { type: Exact, value: /api } })");
  Weir weir = Weir::start(yaml);
  const uint16_t port = weir.port();

  struct Case {
    std::string method;
    std::string target;
    Headers headers;
    std::string want;
  };
  const std::vector<Case> cases = {
      // paths: Exact is the whole path; a PathPrefix whole segments ("/api/" is "/api"); a
      // RegularExpression the whole path
      {"GET", "/exact", {}, "exact"},
      {"GET", "/exact?q=1", {}, "exact"},
      {"GET", "/exact/more", {}, "404"},
      {"GET", "/api", {}, "prefix"},
      {"GET", "/api/users", {}, "prefix"},
      {"GET", "/apix", {}, "404"},
      {"GET", "/img/42.png", {}, "regex"},
      {"GET", "/img/42.png.gz", {}, "404"},
      // headers: exact (name without case) or regex; either alternative of the route
      {"GET", "/api/x", {{"x-version", "two"}}, "header"},
      {"GET", "/api/x", {{"X-Version", "Two"}}, "prefix"},
      {"GET", "/api/x", {{"User-Agent", "Foo Mobile/1"}}, "header"},
      // query: exact or regex, names with case, the first of a name
      {"GET", "/api/x?v=3", {}, "query"},
      {"GET", "/api/x?V=3", {}, "prefix"},
      {"GET", "/api/x?page=12&v=1", {}, "query"},
      {"GET", "/api/x?page=1x", {}, "prefix"},
      {"GET", "/api/x?v=1&v=3", {}, "prefix"},
      // method
      {"DELETE", "/api/x", {}, "method"},
      // precedence across routes (equal paths): method > headers > query
      {"DELETE", "/api/x?v=3", {{"X-Version", "two"}}, "method"},
      {"GET", "/api/x?v=3", {{"X-Version", "two"}}, "header"},
      // an exact host before any host; falls through when nothing of it matches
      {"GET", "/api", {{"Host", "a.example.com"}}, "wild"},
      {"GET", "/api/y", {{"Host", "a.example.com"}}, "prefix"},
  };
  for (const Case& c : cases) {
    std::string headers;
    for (const auto& [n, v] : c.headers)
      headers += " " + n + ": " + v;
    EXPECT_EQ(served_by(port, c.method, c.target, c.headers), c.want)
        << c.method << " " << c.target << headers;
  }
}

TEST(RouteMatch, SetHeaderRouteSendsTestersToTheCanaryAtWeightZeroUntilAbort) {
  using namespace rollout;
  DemoUpstream v1 = DemoUpstream::start("v1");
  DemoUpstream v2 = DemoUpstream::start("v2");
  const std::string socket = temp_path("control", ".sock");
  Plan plan;
  plan.steps = {"set_header_route: { name: testers, match: { headers: [{ name: X-Tester, value: "
                "\"yes\" }, { name: X-Team, value: \"qa|dev\", type: RegularExpression }] } }",
                "pause: {}", "set_weight: 100"};
  Weir weir = Weir::start(two_versions(socket, 2, v1, v2, plan));
  const uint16_t port = weir.port();
  const Headers tester = {{"X-Tester", "yes"}, {"X-Team", "qa"}};

  EXPECT_EQ(served_by(port, "GET", "/", tester), "v1") << "no rollout runs yet";
  ASSERT_TRUE(control(socket, "rollout start r").ok());
  ASSERT_TRUE(wait_gate(socket, 1, 5s));
  ASSERT_TRUE(workers_caught_up(socket, "app-v1/app", v1.address()));
  json::Value s = status(socket);
  EXPECT_EQ(s.get_number("canary_weight"), 0);
  ASSERT_EQ(s["header_routes"].as_array().size(), 1u);
  EXPECT_EQ(s["header_routes"].as_array()[0].get_string("name"), "testers");
  // Every request of the testers (on both workers), none of the others.
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(served_by(port, "GET", "/", tester), "v2");
    EXPECT_EQ(served_by(port, "GET", "/", {{"X-Tester", "yes"}}), "v1") << "both headers needed";
    EXPECT_EQ(served_by(port, "GET", "/", {{"X-Tester", "yes"}, {"X-Team", "ops"}}), "v1");
    EXPECT_EQ(served_by(port, "GET", "/"), "v1");
  }
  ASSERT_TRUE(control(socket, "rollout abort r").ok());
  ASSERT_TRUE(wait_phase(socket, "Degraded", 5s));
  ASSERT_TRUE(workers_caught_up(socket, "app-v1/app", v1.address()));
  EXPECT_TRUE(status(socket)["header_routes"].as_array().empty());
  for (int i = 0; i < 10; ++i)
    EXPECT_EQ(served_by(port, "GET", "/", tester), "v1") << "the abort removed the header route";
}

} // namespace
} // namespace weir::test
