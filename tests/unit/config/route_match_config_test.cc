#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>

// A route's `match` as HTTPRoute's match list: what is read (one map, the old keys, a list of
// alternatives, each kind of condition) and what is refused, with its place.
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// Lines appended start at line 9, indented as keys of the route.
constexpr std::string_view kHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
)";

std::string route_with(std::string_view lines) {
  return std::string(kHead) + std::string(lines);
}

std::vector<Match> matches_of(std::string_view lines) {
  Config c = load_ok(route_with(lines));
  return c.routes.empty() ? std::vector<Match>{} : c.routes[0].matches;
}

TEST(ConfigRouteMatch, NoMatchIsOneAlternativeWithoutConditions) {
  const auto m = matches_of("");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0], Match{});
  EXPECT_EQ(m[0].path.type, PathMatch::Type::prefix);
  EXPECT_EQ(m[0].path.value, "/");
}

TEST(ConfigRouteMatch, OldKeysArePathPrefix) {
  const auto m = matches_of("    match: { host: API.Example.com, path_prefix: /api }\n");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].host, "api.example.com");
  EXPECT_EQ(m[0].path, (PathMatch{PathMatch::Type::prefix, "/api"}));
}

TEST(ConfigRouteMatch, EveryKindOfCondition) {
  const auto m = matches_of(R"(    match:
      - host: "*.example.com"
        path: { type: Exact, value: /login }
        method: POST
        headers:
          - { name: X-Version, value: two }
          - { name: user-agent, value: ".*Mobile.*", type: RegularExpression }
        query:
          - { name: Debug, value: "1" }
          - { name: page, value: "[0-9]+", type: RegularExpression }
      - path: { type: RegularExpression, value: "/img/.*\\.png" }
      - path: { value: /static }
      - path: {}
)");
  ASSERT_EQ(m.size(), 4u);
  EXPECT_EQ(m[0].host, "*.example.com");
  EXPECT_EQ(m[0].path, (PathMatch{PathMatch::Type::exact, "/login"}));
  EXPECT_EQ(m[0].method, "POST");
  ASSERT_EQ(m[0].headers.size(), 2u);
  // Header names are stored lower case; query parameter names as written.
  EXPECT_EQ(m[0].headers[0], (ValueMatch{ValueMatch::Type::exact, "x-version", "two"}));
  EXPECT_EQ(m[0].headers[1], (ValueMatch{ValueMatch::Type::regex, "user-agent", ".*Mobile.*"}));
  ASSERT_EQ(m[0].query.size(), 2u);
  EXPECT_EQ(m[0].query[0], (ValueMatch{ValueMatch::Type::exact, "Debug", "1"}));
  EXPECT_EQ(m[0].query[1], (ValueMatch{ValueMatch::Type::regex, "page", "[0-9]+"}));
  EXPECT_EQ(m[1].path, (PathMatch{PathMatch::Type::regex, "/img/.*\\.png"}));
  EXPECT_EQ(m[1].host, "");
  EXPECT_EQ(m[2].path, (PathMatch{PathMatch::Type::prefix, "/static"}));
  EXPECT_EQ(m[3].path, (PathMatch{PathMatch::Type::prefix, "/"}));
}

TEST(ConfigRouteMatch, ShapesRefused) {
  EXPECT_EQ(errors_of(route_with("    match: []\n")),
            "t.yaml:9:12: routes[0].match: must list at least one alternative (or leave `match` "
            "out to match everything)\n");
  EXPECT_EQ(errors_of(route_with("    match: [/api]\n")),
            "t.yaml:9:13: routes[0].match[0]: expected a map, got \"/api\"\n");
  std::string many = "    match:\n";
  for (int i = 0; i < 65; ++i)
    many += "      - { path_prefix: /p" + std::to_string(i) + " }\n";
  EXPECT_EQ(errors_of(route_with(many)),
            "t.yaml:10:7: routes[0].match: must list at most 64 alternatives, got 65\n");
  EXPECT_EQ(errors_of(route_with("    match: { path_prefix: /a, path: { value: /a } }\n")),
            "t.yaml:9:37: routes[0].match.path: give either path_prefix or path, not both "
            "(path_prefix: X is path: {type: PathPrefix, value: X})\n");
  EXPECT_EQ(errors_of(route_with("    match: { pth: { value: /a } }\n")),
            "t.yaml:9:14: routes[0].match.pth: unknown key \"pth\" (did you mean \"path\"?)\n");
}

TEST(ConfigRouteMatch, PathRefused) {
  EXPECT_EQ(errors_of(route_with("    match: { path: { type: Prefix, value: /a } }\n")),
            "t.yaml:9:28: routes[0].match.path.type: unknown path match type \"Prefix\" (expected "
            "Exact, PathPrefix or RegularExpression)\n");
  EXPECT_EQ(errors_of(route_with("    match: { path: { type: exact, value: /a } }\n")),
            "t.yaml:9:28: routes[0].match.path.type: unknown path match type \"exact\" (did you "
            "mean \"Exact\"?)\n");
  EXPECT_EQ(errors_of(route_with("    match: { path: { type: Exact, value: a } }\n")),
            "t.yaml:9:42: routes[0].match.path.value: must start with \"/\", got \"a\"\n");
  EXPECT_EQ(errors_of(route_with("    match: { path: { value: \"/a?b\" } }\n")),
            "t.yaml:9:29: routes[0].match.path.value: must not contain spaces, control "
            "characters, \"?\" or \"#\", got \"/a?b\"\n");
  EXPECT_EQ(errors_of(route_with("    match: { path: { type: RegularExpression } }\n")),
            "t.yaml:9:20: routes[0].match.path: missing required key \"value\" (a "
            "RegularExpression has no default)\n");
  const std::string bad =
      errors_of(route_with("    match: { path: { type: RegularExpression, value: \"/a(b\" } }\n"));
  EXPECT_EQ(bad.rfind("t.yaml:9:54: routes[0].match.path.value: regular expression \"/a(b\" "
                      "does not compile (ECMAScript, matching the whole value): ",
                      0),
            0u)
      << bad;
}

// What cannot be matched in linear time (route/regex.h) is refused at load, not found out by a
// request that stalls a worker.
TEST(ConfigRouteMatch, RegexThatCannotBeMatchedInLinearTimeRefused) {
  EXPECT_EQ(errors_of(route_with(
                "    match: { path: { type: RegularExpression, value: \"/((?!x).)*\" } }\n")),
            "t.yaml:9:54: routes[0].match.path.value: regular expression \"/((?!x).)*\" uses "
            "lookahead (\"(?!\"), which weir does not support: it matches in time linear in the "
            "value, as RE2 (Envoy's engine) does\n");
  EXPECT_EQ(errors_of(route_with("    match: { headers: [{ name: a, value: \"(a)\\\\1\", type: "
                                 "RegularExpression }] }\n")),
            "t.yaml:9:42: routes[0].match.headers[0].value: regular expression \"(a)\\\\1\" uses a "
            "back-reference (\\1), which weir does not support: it matches in time linear in the "
            "value, as RE2 (Envoy's engine) does\n");
  const std::string big = errors_of(route_with(
      "    match: { query: [{ name: a, value: \"(a?){300}\", type: RegularExpression }] }\n"));
  EXPECT_EQ(big.rfind("t.yaml:9:40: routes[0].match.query[0].value: regular expression "
                      "\"(a?){300}\" is too large: its repetitions expand to 1201 units, at most "
                      "256",
                      0),
            0u)
      << big;
}

TEST(ConfigRouteMatch, MethodRefused) {
  EXPECT_EQ(errors_of(route_with("    match: { method: get }\n")),
            "t.yaml:9:22: routes[0].match.method: unknown method \"get\" (methods are upper "
            "case: \"GET\"); expected GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE or "
            "PATCH\n");
  EXPECT_EQ(errors_of(route_with("    match: { method: POTS }\n")),
            "t.yaml:9:22: routes[0].match.method: unknown method \"POTS\" (did you mean "
            "\"POST\"?); expected GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE or "
            "PATCH\n");
}

TEST(ConfigRouteMatch, HeadersAndQueryRefused) {
  EXPECT_EQ(errors_of(route_with("    match: { headers: [{ name: \"x y\", value: a }] }\n")),
            "t.yaml:9:32: routes[0].match.headers[0].name: a header name must be a token "
            "(letters, digits and !#$%&'*+-.^_`|~), got \"x y\"\n");
  EXPECT_EQ(errors_of(route_with("    match: { headers: [{ name: x }] }\n")),
            "t.yaml:9:24: routes[0].match.headers[0]: missing required key \"value\"\n");
  EXPECT_EQ(errors_of(route_with("    match: { query: [{ value: a }] }\n")),
            "t.yaml:9:22: routes[0].match.query[0]: missing required key \"name\"\n");
  EXPECT_EQ(
      errors_of(route_with("    match: { headers: [{ name: x, value: a, type: Prefix }] }\n")),
      "t.yaml:9:51: routes[0].match.headers[0].type: unknown match type \"Prefix\" (expected "
      "Exact or RegularExpression)\n");
  // The same name twice in one alternative (headers without case, query with it).
  EXPECT_EQ(errors_of(route_with(R"(    match:
      headers:
        - { name: X-A, value: "1" }
        - { name: x-a, value: "2" }
      query:
        - { name: q, value: "1" }
        - { name: Q, value: "2" }
        - { name: q, value: "3" }
)")),
            "t.yaml:12:11: routes[0].match.headers[1]: header \"x-a\" is already matched by "
            "routes[0].match.headers[0] (each name once per alternative)\n"
            "t.yaml:16:11: routes[0].match.query[2]: query parameter \"q\" is already matched "
            "by routes[0].match.query[0] (each name once per alternative)\n");
  const std::string bad = errors_of(route_with(
      "    match: { query: [{ name: a, value: \"[z-a]\", type: RegularExpression }] }\n"));
  EXPECT_EQ(bad.rfind("t.yaml:9:40: routes[0].match.query[0].value: regular expression "
                      "\"[z-a]\" does not compile",
                      0),
            0u)
      << bad;
  std::string seventeen = "    match:\n      headers:\n";
  for (int i = 0; i < 17; ++i)
    seventeen += "        - { name: h" + std::to_string(i) + ", value: v }\n";
  EXPECT_EQ(errors_of(route_with(seventeen)),
            "t.yaml:11:9: routes[0].match.headers: must list at most 16 headers, got 17\n");
  EXPECT_EQ(errors_of(route_with("    match: { headers: [{ name: x, value: \"a\\nb\" }] }\n")),
            "t.yaml:9:42: routes[0].match.headers[0].value: must not contain control "
            "characters, got \"a\\nb\"\n");
}

// Two routes with an equal alternative on one listener: the later could never be chosen. An
// alternative that differs in any condition is a different one.
TEST(ConfigRouteMatch, SameAlternativeInTwoRoutes) {
  EXPECT_EQ(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: a
    listener: public
    backends: [{ service: app-v1/app }]
    match:
      - { path: { type: Exact, value: /x }, headers: [{ name: A, value: "1" }, { name: b, value: "2" }] }
      - { path_prefix: /api/ }
  - name: b
    listener: public
    backends: [{ service: app-v1/app }]
    match:
      - { path: { type: Exact, value: /x }, headers: [{ name: b, value: "2" }, { name: a, value: "1" }] }
      - { path: { type: Exact, value: /x }, method: GET }
      - { path_prefix: /api }
  - name: c
    listener: public
    backends: [{ service: app-v1/app }]
    match: { path_prefix: /api }
)"),
            "t.yaml:16:9: routes[1].match[0]: this alternative of route \"b\" has the same match "
            "(host, path, method, headers, query) as route \"a\" (its match[0]) on listener "
            "\"public\": it would never be chosen\n"
            "t.yaml:18:9: routes[1].match[2]: this alternative of route \"b\" has the same match "
            "(host, path, method, headers, query) as route \"a\" (its match[1]) on listener "
            "\"public\": it would never be chosen\n"
            "t.yaml:22:12: routes[2].match: route \"c\" has the same match (host, path, method, "
            "headers, query) as route \"a\" (its match[1]) on listener \"public\": it would never "
            "be chosen\n");
}

// The rollout step set_header_route {name, match: {headers}}: the headers are read as a match's
// headers are; no headers (or no match) is the step that removes the named route.
TEST(ConfigRouteMatch, SetHeaderRouteStep) {
  const std::string head = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, weight: 100 }, { service: app-v2/app, weight: 0 }]
    rollout:
      stable: app-v1/app
      canary: app-v2/app
      steps:
)";
  Config c = load_ok(head + R"(        - set_header_route:
            name: testers
            match: { headers: [{ name: X-Tester, value: "yes" }, { name: user-agent, value: ".*Mobile.*", type: RegularExpression }] }
        - set_header_route: { name: testers }
        - set_weight: 100
)");
  ASSERT_EQ(c.routes.size(), 1u);
  const auto& steps = c.routes[0].rollout.steps;
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_EQ(steps[0].kind, RolloutStep::Kind::set_header_route);
  EXPECT_EQ(steps[0].header_route_name, "testers");
  EXPECT_EQ(steps[0].header_route,
            (std::vector<ValueMatch>{{ValueMatch::Type::exact, "x-tester", "yes"},
                                     {ValueMatch::Type::regex, "user-agent", ".*Mobile.*"}}));
  EXPECT_EQ(steps[1].kind, RolloutStep::Kind::set_header_route);
  EXPECT_TRUE(steps[1].header_route.empty());

  EXPECT_EQ(errors_of(head + "        - set_header_route: { match: { headers: [] } }\n"),
            "t.yaml:14:29: routes[0].rollout.steps[0].set_header_route: missing required key "
            "\"name\"\n");
  EXPECT_EQ(errors_of(head + "        - set_header_route: { name: t, match: { header: [] } }\n"),
            "t.yaml:14:49: routes[0].rollout.steps[0].set_header_route.match.header: unknown key "
            "\"header\" (did you mean \"headers\"?)\n");
  EXPECT_EQ(
      errors_of(head +
                "        - set_header_route: { name: t, match: { headers: [{ name: a }] } }\n"),
      "t.yaml:14:59: routes[0].rollout.steps[0].set_header_route.match.headers[0]: missing "
      "required key \"value\"\n");
}

} // namespace
} // namespace weir::config
