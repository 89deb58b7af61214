#include "weir/route/table.h"

#include <gtest/gtest.h>
#include <string>
#include <vector>

namespace weir::route {
namespace {

config::Route make_route(std::string name, std::string host, std::string prefix,
                         std::string listener = "main") {
  config::Route r;
  r.name = std::move(name);
  r.listener = std::move(listener);
  r.matches.emplace_back().host = std::move(host);
  r.matches.back().path.value = std::move(prefix);
  return r;
}

// Route names double as the expected answer in the cases below.
const std::vector<config::Route>& routes() {
  static const std::vector<config::Route> r = {
      make_route("any-root", "", "/"),                                   // 0
      make_route("any-api", "", "/api"),                                 // 1
      make_route("exact-root", "example.com", "/"),                      // 2
      make_route("exact-api", "example.com", "/api"),                    // 3
      make_route("exact-api-v1", "Example.COM", "/api/v1"),              // 4
      make_route("wild-root", "*.example.com", "/"),                     // 5
      make_route("wild-static", "*.example.com", "/static/"),            // 6
      make_route("wild-deep", "*.b.example.com", "/"),                   // 7
      make_route("other-listener", "example.com", "/api/v1/x", "admin"), // 8
      make_route("only-api", "api.only.test", "/api"),                   // 9
      make_route("v6", "[::1]", "/"),                                    // 10
      make_route("v6-bare", "fe80::1", "/"),                             // 11
      make_route("dotted", "dotted.test.", "/"),                         // 12
      make_route("wild-docs", "*.only.test", "/docs"),                   // 13
  };
  return r;
}

struct Case {
  const char* host;
  const char* path;
  const char* want; // route name, or nullptr for no match
};

void expect_cases(const Table& t, const std::vector<config::Route>& rs,
                  const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    const int got = t.match(c.host, c.path).route;
    const std::string got_name = got < 0 ? "(none)" : rs.at(static_cast<size_t>(got)).name;
    EXPECT_EQ(got_name, c.want ? c.want : "(none)")
        << "host=\"" << c.host << "\" path=\"" << c.path << "\"";
  }
}

TEST(RouteTable, Precedence) {
  const Table t = Table::build(routes(), "main");
  expect_cases(t, routes(),
               {
                   // exact beats wildcard beats any; longest prefix inside one host
                   {"example.com", "/", "exact-root"},
                   {"example.com", "/api", "exact-api"},
                   {"example.com", "/api/v1/users", "exact-api-v1"},
                   {"example.com", "/api/v2", "exact-api"},
                   {"example.com", "/other", "exact-root"},
                   {"a.example.com", "/api", "wild-root"},
                   {"a.example.com", "/static/app.js", "wild-static"},
                   {"a.b.example.com", "/x", "wild-deep"},
                   {"x.a.b.example.com", "/static/x", "wild-deep"},
                   {"c.example.com", "/static/x", "wild-static"},
                   {"unknown.test", "/", "any-root"},
                   {"unknown.test", "/api/x", "any-api"},
                   {"", "/api", "any-api"},
                   {"", "/", "any-root"},
                   // a wildcard does not match its bare domain
                   {"example.org", "/", "any-root"},
                   // host matched but no prefix did: fall through to less specific hosts
                   {"api.only.test", "/api/x", "only-api"},
                   {"api.only.test", "/docs/x", "wild-docs"},
                   {"api.only.test", "/other", "any-root"},
                   {"only.test", "/docs", "any-root"},
               });
}

TEST(RouteTable, SegmentBoundary) {
  const Table t = Table::build(routes(), "main");
  expect_cases(t, routes(),
               {
                   {"example.com", "/api", "exact-api"},
                   {"example.com", "/api/", "exact-api"},
                   {"example.com", "/api/x", "exact-api"},
                   {"example.com", "/api?x=1", "exact-api"},
                   {"example.com", "/api#frag", "exact-api"},
                   {"example.com", "/apix", "exact-root"},
                   {"example.com", "/api/v1", "exact-api-v1"},
                   {"example.com", "/api/v1?q", "exact-api-v1"},
                   {"example.com", "/api/v10", "exact-api"},
                   {"example.com", "/API", "exact-root"}, // paths are case-sensitive
                   {"example.com", "/ap?i", "exact-root"},
                   // a trailing '/' of a prefix is ignored (HTTPRoute's PathPrefix)
                   {"a.example.com", "/static/", "wild-static"},
                   {"a.example.com", "/static/x/y", "wild-static"},
                   {"a.example.com", "/static", "wild-static"},
                   {"a.example.com", "/staticx", "wild-root"},
                   // "/" matches everything
                   {"a.example.com", "*", "wild-root"},
                   {"a.example.com", "", "wild-root"},
                   {"a.example.com", "?q", "wild-root"},
               });
}

TEST(RouteTable, HostNormalisation) {
  const Table t = Table::build(routes(), "main");
  expect_cases(t, routes(),
               {
                   {"EXAMPLE.COM", "/api", "exact-api"},
                   {"eXaMpLe.CoM", "/api/v1", "exact-api-v1"},
                   {"example.com:8080", "/api", "exact-api"},
                   {"EXAMPLE.com:80", "/", "exact-root"},
                   {"example.com.", "/api", "exact-api"},
                   {"example.com.:443", "/api", "exact-api"},
                   {"A.Example.Com:8443", "/static/x", "wild-static"},
                   {"a.example.com.", "/", "wild-root"},
                   {"dotted.test", "/", "dotted"},
                   {"dotted.test.", "/", "dotted"},
                   {"[::1]", "/", "v6"},
                   {"[::1]:8080", "/", "v6"},
                   {"[FE80::1]:80", "/", "v6-bare"},
                   {"[::2]:8080", "/", "any-root"},
                   {"[::1", "/", "any-root"}, // malformed: no crash, no match on the IPv6 host
                   {":80", "/api", "any-api"},
                   {"example.com:", "/api", "exact-api"},
                   {".example.com", "/", "any-root"},
               });
}

TEST(RouteTable, OtherListenersIgnored) {
  const Table main = Table::build(routes(), "main");
  EXPECT_EQ(main.match("example.com", "/api/v1/x").route, 4); // not route 8 of "admin"
  const Table admin = Table::build(routes(), "admin");
  EXPECT_EQ(admin.match("example.com", "/api/v1/x").route, 8); // index into the full list
  EXPECT_EQ(admin.match("example.com", "/").route, -1);
  EXPECT_EQ(admin.match("other.test", "/api/v1/x").route, -1);
  const Table none = Table::build(routes(), "missing");
  EXPECT_TRUE(none.empty());
  EXPECT_EQ(none.match("example.com", "/").route, -1);
}

TEST(RouteTable, NoMatch) {
  const std::vector<config::Route> rs = {
      make_route("a", "a.test", "/a"),
      make_route("w", "*.w.test", "/w"),
      make_route("any", "", "/any"),
  };
  const Table t = Table::build(rs, "main");
  expect_cases(t, rs,
               {
                   {"a.test", "/a/1", "a"},
                   {"a.test", "/b", nullptr},
                   {"x.w.test", "/w", "w"},
                   {"x.w.test", "/", nullptr},
                   {"w.test", "/w", nullptr},
                   {"b.test", "/any/x", "any"},
                   {"b.test", "/anyx", nullptr},
                   {"", "", nullptr},
               });
  EXPECT_EQ(Table().match("a.test", "/a").route, -1);
}

TEST(RouteTable, EqualPrefixKeepsConfigOrder) {
  const std::vector<config::Route> rs = {
      make_route("first", "h.test", "/x"),
      make_route("second", "H.TEST", "/x"),
      make_route("third", "h.test.", "/x"),
  };
  const Table t = Table::build(rs, "main");
  EXPECT_EQ(t.match("h.test", "/x").route, 0);
}

TEST(RouteTable, ManyExactHostsBinarySearch) {
  std::vector<config::Route> rs;
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    rs.push_back(
        make_route(std::string("r").append(n), std::string("host").append(n).append(".Test"), "/"));
  }
  const Table t = Table::build(rs, "main");
  for (int i = 0; i < 50; ++i) {
    const std::string n = std::to_string(i);
    EXPECT_EQ(t.match(std::string("HOST").append(n).append(".test:1"), "/p").route, i);
    EXPECT_EQ(t.match(std::string("host").append(n).append(".tes"), "/p").route, -1);
  }
}

} // namespace
} // namespace weir::route
