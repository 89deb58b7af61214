#include "weir/route/table.h"

#include <gtest/gtest.h>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

// The Gateway API conformance suite's HTTPRoute matching cases (kubernetes-sigs/gateway-api,
// conformance/tests/httproute-*.yaml and .go), restated for weir's route::Table: each rule of an
// HTTPRoute is a weir route whose alternatives are the rule's matches; the backend a case
// expects is named by the route's name ("v1", "v2", "v3"); a 404 is no route. Rules appear in
// the order the HTTPRoute lists them, which is what config order stands for.
namespace weir::route {
namespace {

using Type = config::ValueMatch::Type;
using PathType = config::PathMatch::Type;

// One alternative, built up condition by condition.
struct Alt {
  config::Match m;
  Alt& host(std::string h) {
    m.host = std::move(h);
    return *this;
  }
  Alt& prefix(std::string p) {
    m.path = {PathType::prefix, std::move(p)};
    return *this;
  }
  Alt& exact(std::string p) {
    m.path = {PathType::exact, std::move(p)};
    return *this;
  }
  Alt& regex(std::string p) {
    m.path = {PathType::regex, std::move(p)};
    return *this;
  }
  Alt& method(std::string v) {
    m.method = std::move(v);
    return *this;
  }
  Alt& header(std::string name, std::string value, Type type = Type::exact) {
    m.headers.push_back({type, std::move(name), std::move(value)});
    return *this;
  }
  Alt& query(std::string name, std::string value, Type type = Type::exact) {
    m.query.push_back({type, std::move(name), std::move(value)});
    return *this;
  }
};

config::Route rule(std::string backend, std::initializer_list<Alt> alternatives) {
  config::Route r;
  r.name = std::move(backend);
  r.listener = "gw";
  for (const Alt& a : alternatives)
    r.matches.push_back(a.m);
  if (r.matches.empty()) r.matches.emplace_back();
  return r;
}

using Headers = std::vector<std::pair<std::string, std::string>>;

struct Request {
  Request(std::string target_, Headers headers_ = {}, std::string method_ = "GET",
          std::string host_ = "example.com", const char* want_ = nullptr)
      : target(std::move(target_)), headers(std::move(headers_)), method(std::move(method_)),
        host(std::move(host_)), want(want_) {}
  std::string target;
  Headers headers;
  std::string method;
  std::string host;
  const char* want; // backend (route name); nullptr: 404
};

void expect(const std::vector<config::Route>& rules, const std::vector<Request>& cases) {
  const Table t = Table::build(rules, "gw");
  for (const Request& c : cases) {
    std::vector<http::Header> headers;
    for (const auto& [name, value] : c.headers)
      headers.push_back({name, value});
    const Table::Hit hit = t.match(Table::Request{c.host, c.target, c.method, headers});
    const std::string got = hit.route < 0 ? "404" : rules.at(static_cast<size_t>(hit.route)).name;
    std::string headers_text;
    for (const auto& [name, value] : c.headers)
      headers_text += " " + name + ": " + value;
    EXPECT_EQ(got, c.want ? c.want : "404")
        << c.method << " " << c.host << c.target << headers_text;
  }
}

// httproute-matching: one HTTPRoute, a rule {path / OR header version: one} → v1 and a rule
// {path /v2 OR header version: two} → v2.
TEST(RouteTableConformance, HTTPRouteMatching) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().prefix("/"), Alt().header("version", "one")}),
      rule("v2", {Alt().prefix("/v2"), Alt().header("version", "two")}),
  };
  expect(rules, {
                    {"/", {}, "GET", "example.com", "v1"},
                    {"/example", {}, "GET", "example.com", "v1"},
                    {"/", {{"Version", "one"}}, "GET", "example.com", "v1"},
                    {"/v2", {}, "GET", "example.com", "v2"},
                    {"/v2/example", {}, "GET", "example.com", "v2"},
                    // The header alternative (path "/" plus one header) outranks path "/".
                    {"/", {{"Version", "two"}}, "GET", "example.com", "v2"},
                });
}

// httproute-matching-across-routes: the same matches split over two HTTPRoutes; the first for
// example.com and example.net, the second (created later) for example.com only.
TEST(RouteTableConformance, HTTPRouteMatchingAcrossRoutes) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().host("example.com").prefix("/"),
                  Alt().host("example.com").header("version", "one"),
                  Alt().host("example.net").prefix("/"),
                  Alt().host("example.net").header("version", "one")}),
      rule("v2", {Alt().host("example.com").prefix("/v2"),
                  Alt().host("example.com").header("version", "two")}),
  };
  expect(rules, {
                    {"/", {}, "GET", "example.com", "v1"},
                    {"/example", {}, "GET", "example.com", "v1"},
                    {"/example", {}, "GET", "example.net", "v1"},
                    {"/example", {{"Version", "one"}}, "GET", "example.com", "v1"},
                    {"/v2", {}, "GET", "example.com", "v2"},
                    // the /v2 match belongs to example.com only
                    {"/v2", {}, "GET", "example.net", "v1"},
                    {"/v2/example", {}, "GET", "example.com", "v2"},
                    {"/", {{"Version", "two"}}, "GET", "example.com", "v2"},
                });
}

// httproute-header-matching: header names match without case, values exactly; every header of
// an alternative must be there; more header matches win; an OR of two alternatives.
TEST(RouteTableConformance, HTTPRouteHeaderMatching) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().header("version", "one")}),
      rule("v2", {Alt().header("version", "two")}),
      rule("v1", {Alt().header("version", "two").header("color", "orange")}),
      rule("v1", {Alt().header("color", "blue"), Alt().header("color", "green")}),
      rule("v2", {Alt().header("color", "red"), Alt().header("color", "yellow")}),
  };
  expect(rules, {
                    {"/", {{"Version", "one"}}, "GET", "example.com", "v1"},
                    {"/", {{"Version", "two"}}, "GET", "example.com", "v2"},
                    {"/", {{"Version", "two"}, {"Color", "orange"}}, "GET", "example.com", "v1"},
                    {"/", {{"Version", "two"}, {"Color", "blue"}}, "GET", "example.com", "v2"},
                    {"/", {{"Color", "orange"}}},
                    {"/", {{"Some-Other-Header", "one"}}},
                    {"/", {{"Color", "blue"}}, "GET", "example.com", "v1"},
                    {"/", {{"Color", "green"}}, "GET", "example.com", "v1"},
                    {"/", {{"Color", "red"}}, "GET", "example.com", "v2"},
                    {"/", {{"Color", "yellow"}}, "GET", "example.com", "v2"},
                    {"/", {{"Color", "purple"}}},
                    // values compare with case
                    {"/", {{"version", "ONE"}}},
                });
}

// httproute-query-param-matching: names and values with case, the first of a name counts, more
// query matches win; combinations with path and headers, ORs, and precedence: a longer path
// beats a query match, a header match beats a query match.
TEST(RouteTableConformance, HTTPRouteQueryParamMatching) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().query("animal", "whale")}),
      rule("v2", {Alt().query("animal", "dolphin")}),
      rule("v3", {Alt().query("animal", "dolphin").query("color", "blue"),
                  Alt().query("ANIMAL", "Whale")}),
      rule("v1", {Alt().prefix("/path1").query("animal", "whale")}),
      rule("v2", {Alt().header("version", "one").query("animal", "whale")}),
      rule("v3", {Alt().prefix("/path2").header("version", "two").query("animal", "whale")}),
      rule("v1", {Alt().prefix("/path3").query("animal", "shark"),
                  Alt().prefix("/path4").header("version", "three").query("animal", "kraken")}),
      rule("v1", {Alt().prefix("/path5")}),
      rule("v2", {Alt().query("animal", "hydra")}),
      rule("v3", {Alt().header("version", "four")}),
  };
  expect(rules, {
                    {"/?animal=whale", {}, "GET", "example.com", "v1"},
                    {"/?animal=dolphin", {}, "GET", "example.com", "v2"},
                    {"/?animal=dolphin&color=blue", {}, "GET", "example.com", "v3"},
                    {"/?ANIMAL=Whale", {}, "GET", "example.com", "v3"},
                    {"/?animal=whale&otherparam=irrelevant", {}, "GET", "example.com", "v1"},
                    {"/?animal=dolphin&color=yellow", {}, "GET", "example.com", "v2"},
                    {"/?color=blue"},
                    {"/?animal=dog"},
                    {"/?animal=whaledolphin"},
                    {"/"},
                    {"/path1?animal=whale", {}, "GET", "example.com", "v1"},
                    {"/?animal=whale", {{"version", "one"}}, "GET", "example.com", "v2"},
                    {"/path2?animal=whale", {{"version", "two"}}, "GET", "example.com", "v3"},
                    {"/path3?animal=shark", {}, "GET", "example.com", "v1"},
                    {"/path4?animal=kraken", {{"version", "three"}}, "GET", "example.com", "v1"},
                    {"/?animal=shark"},
                    {"/path4?animal=kraken"},
                    {"/path5?animal=hydra", {}, "GET", "example.com", "v1"},
                    {"/?animal=hydra", {{"version", "four"}}, "GET", "example.com", "v3"},
                    // weir: the first parameter of a name counts, values as sent
                    {"/?animal=dolphin&animal=whale", {}, "GET", "example.com", "v2"},
                    {"/?animal=wh%61le"},
                });
}

// httproute-method-matching: a method match alone, with a path, with headers, ORs, and
// precedence: a longer path beats a method match, a method match beats a header match.
TEST(RouteTableConformance, HTTPRouteMethodMatching) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().method("POST")}),
      rule("v2", {Alt().method("GET")}),
      rule("v1", {Alt().prefix("/path1").method("GET")}),
      rule("v2", {Alt().header("version", "one").method("PUT")}),
      rule("v3", {Alt().prefix("/path2").header("version", "two").method("POST")}),
      rule("v1", {Alt().prefix("/path3").method("PATCH"),
                  Alt().prefix("/path4").header("version", "three").method("DELETE")}),
      rule("v1", {Alt().prefix("/path5")}),
      rule("v2", {Alt().method("PATCH")}),
      rule("v3", {Alt().header("version", "four")}),
  };
  expect(rules, {
                    {"/", {}, "POST", "example.com", "v1"},
                    {"/", {}, "GET", "example.com", "v2"},
                    {"/", {}, "HEAD"},
                    {"/path1", {}, "GET", "example.com", "v1"},
                    {"/", {{"version", "one"}}, "PUT", "example.com", "v2"},
                    {"/path2", {{"version", "two"}}, "POST", "example.com", "v3"},
                    {"/path3", {}, "PATCH", "example.com", "v1"},
                    {"/path4", {{"version", "three"}}, "DELETE", "example.com", "v1"},
                    {"/", {}, "PUT"},
                    {"/path4", {}, "DELETE"},
                    {"/path5", {}, "PATCH", "example.com", "v1"},
                    {"/", {{"version", "four"}}, "PATCH", "example.com", "v2"},
                });
}

// httproute-exact-path-matching: Exact matches the whole path only.
TEST(RouteTableConformance, HTTPRouteExactPathMatching) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().exact("/one")}),
      rule("v2", {Alt().exact("/two")}),
  };
  expect(rules, {
                    {"/one", {}, "GET", "example.com", "v1"},
                    {"/two", {}, "GET", "example.com", "v2"},
                    {"/one?x=1", {}, "GET", "example.com", "v1"},
                    {"/"},
                    {"/one/example"},
                    {"/two/"},
                    {"/One"},
                });
}

// httproute-path-match-order: Exact beats PathPrefix, and the prefix with the most characters
// wins, whatever the order the rules are written in.
TEST(RouteTableConformance, HTTPRoutePathMatchOrder) {
  const std::vector<config::Route> rules = {
      rule("v1", {Alt().exact("/match")}),
      rule("v2", {Alt().exact("/match/exact")}),
      rule("v3", {Alt().exact("/match/exact/one")}),
      rule("v3", {Alt().prefix("/match/")}),
      rule("v1", {Alt().prefix("/match/prefix/")}),
      rule("v2", {Alt().prefix("/match/prefix/one")}),
  };
  expect(rules, {
                    {"/match/exact/one", {}, "GET", "example.com", "v3"},
                    {"/match/exact", {}, "GET", "example.com", "v2"},
                    {"/match", {}, "GET", "example.com", "v1"},
                    {"/match/prefix/one/any", {}, "GET", "example.com", "v2"},
                    {"/match/prefix/any", {}, "GET", "example.com", "v1"},
                    {"/match/any", {}, "GET", "example.com", "v3"},
                });
}

// The spec's precedence list (HTTPRouteRule.matches): Exact, the longest PathPrefix, then
// (weir's choice for what the spec leaves to implementations) RegularExpression; then a method,
// the most headers, the most query parameters, then the older route and the earlier match.
TEST(RouteTableConformance, PrecedenceTieBreaks) {
  const std::vector<config::Route> rules = {
      rule("regex", {Alt().regex("/api/[0-9]+")}),
      rule("prefix-root", {Alt().prefix("/")}),
      rule("query2", {Alt().prefix("/api").query("a", "1").query("b", "2")}),
      rule("header1", {Alt().prefix("/api").header("x", "1")}),
      rule("header1-later", {Alt().prefix("/api").header("y", "1")}),
      rule("query1", {Alt().prefix("/api").query("a", "1")}),
      rule("method", {Alt().prefix("/api").method("DELETE")}),
      rule("exact", {Alt().exact("/api/7")}),
  };
  expect(rules, {
                    // Exact over everything else
                    {"/api/7", {{"x", "1"}}, "DELETE", "example.com", "exact"},
                    // a prefix (even "/") over a regex
                    {"/api/8", {}, "GET", "example.com", "prefix-root"},
                    // method over headers, headers over query
                    {"/api/8?a=1&b=2", {{"x", "1"}}, "DELETE", "example.com", "method"},
                    {"/api/8?a=1&b=2", {{"x", "1"}}, "GET", "example.com", "header1"},
                    {"/api/8?a=1", {}, "GET", "example.com", "query1"},
                    {"/api/8?a=1&b=2", {}, "GET", "example.com", "query2"},
                    // equal rank: the earlier route
                    {"/api/8", {{"y", "1"}, {"x", "1"}}, "GET", "example.com", "header1"},
                    {"/api/8", {{"y", "1"}}, "GET", "example.com", "header1-later"},
                });
  // With no prefix route, the regex takes what it matches, and nothing else.
  const std::vector<config::Route> only_regex = {rule("regex", {Alt().regex("/api/[0-9]+")})};
  expect(only_regex, {
                         {"/api/12", {}, "GET", "example.com", "regex"},
                         {"/api/12/x"}, // a whole-path match
                         {"/api/x"},
                     });
}

// Headers and query parameters as RegularExpression (Extended support), header values sent
// several times (joined with ","), and what Hit tells about the match.
TEST(RouteTableConformance, RegexConditionsAndHit) {
  const std::vector<config::Route> rules = {
      rule("mobile", {Alt().header("user-agent", ".*Mobile.*", Type::regex)}),
      rule("paged", {Alt().query("page", "[0-9]+", Type::regex)}),
      rule("both", {Alt().prefix("/x").header("accept", "a,b")}),
      rule("rest", {Alt().prefix("/api/"), Alt().prefix("/static")}),
  };
  expect(rules, {
                    {"/", {{"User-Agent", "Foo Mobile Bar"}}, "GET", "example.com", "mobile"},
                    {"/", {{"User-Agent", "Desktop"}}},
                    {"/?page=12", {}, "GET", "example.com", "paged"},
                    {"/?page=12a"},
                    {"/x", {{"Accept", "a"}, {"accept", "b"}}, "GET", "example.com", "both"},
                    {"/x", {{"Accept", "a,b"}}, "GET", "example.com", "both"},
                    {"/x", {{"Accept", "a"}}},
                    {"/x", {{"Accept", "a"}, {"accept", "b"}, {"accept", "c"}}},
                });
  const Table t = Table::build(rules, "gw");
  const Table::Hit api = t.match("example.com", "/api/users?x");
  EXPECT_EQ(api.route, 3);
  EXPECT_EQ(api.alternative, 0u);
  EXPECT_EQ(api.prefix_length, 4u); // "/api", the trailing '/' not counted
  const Table::Hit stat = t.match("example.com", "/static");
  EXPECT_EQ(stat.alternative, 1u);
  EXPECT_EQ(stat.prefix_length, 7u);
  const Table::Hit mobile = t.match(Table::Request{"a", "/p", "GET", {}});
  EXPECT_EQ(mobile.route, -1);
}

} // namespace
} // namespace weir::route
