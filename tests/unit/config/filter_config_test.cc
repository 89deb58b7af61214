#include "load_helpers.h"
#include "weir/config/loader.h"

#include <gtest/gtest.h>
#include <string>
#include <string_view>

// HTTPRoute's filters as keys of a route and of a backend (request_headers, response_headers,
// redirect, rewrite) and timeouts.backend_request: what is read, and what is refused with its
// place. The shapes and rules are the Gateway API's (HTTPHeaderFilter, HTTPRequestRedirectFilter,
// HTTPURLRewriteFilter, HTTPRouteTimeouts).
namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

// Lines appended start at line 9, indented as keys of the route.
constexpr std::string_view kRouteHead = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app }]
)";

// A route without backends; lines appended start at line 8.
constexpr std::string_view kBareRoute = R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
)";

std::string route_with(std::string_view lines) {
  return std::string(kRouteHead) + std::string(lines);
}

std::string bare_route_with(std::string_view lines) {
  return std::string(kBareRoute) + std::string(lines);
}

// The one error's message without its place, or the whole text when there is not exactly one.
std::string message_of(const std::string& errors) {
  const size_t colon = errors.find(": ", errors.find(": ") + 2);
  if (errors.empty() || errors.find('\n') != errors.size() - 1 || colon == std::string::npos)
    return errors;
  return errors.substr(colon + 2, errors.size() - colon - 3);
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

TEST(FilterConfig, HeaderModifiersReadAsHTTPRouteWritesThem) {
  // httproute-request-header-modifier: set, add and remove in one filter.
  const Config c = load_ok(route_with(R"(    request_headers:
      set: [{ name: X-Header-Set, value: set-overwrites-values }]
      add: [{ name: X-Header-Add, value: add-appends-values }]
      remove: [X-Header-Remove]
    response_headers:
      set: [{ name: X-Header-Set, value: "" }]
      remove: [X-Powered-By, Server]
)"));
  ASSERT_EQ(c.routes.size(), 1u);
  const Filters& f = c.routes[0].filters;
  ASSERT_EQ(f.request_headers.set.size(), 1u);
  EXPECT_EQ(f.request_headers.set[0].name, "X-Header-Set"); // spelt as written
  EXPECT_EQ(f.request_headers.set[0].value, "set-overwrites-values");
  ASSERT_EQ(f.request_headers.add.size(), 1u);
  EXPECT_EQ(f.request_headers.add[0].name, "X-Header-Add");
  EXPECT_EQ(f.request_headers.remove, std::vector<std::string>{"x-header-remove"}); // lower case
  ASSERT_EQ(f.response_headers.set.size(), 1u);
  EXPECT_EQ(f.response_headers.set[0].value, "");
  EXPECT_EQ(f.response_headers.remove, (std::vector<std::string>{"x-powered-by", "server"}));
  EXPECT_FALSE(f.redirect.enabled);
  EXPECT_TRUE(f.rewrite.empty());
}

TEST(FilterConfig, BackendFiltersAreItsOwn) {
  // httproute-request-header-modifier-backend: a filter on one backend reference only.
  const Config c = load_ok(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: app-v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: r
    listener: public
    backends:
      - service: app-v1/app
        request_headers: { set: [{ name: X-Version, value: v1 }] }
        response_headers: { add: [{ name: X-Served-By, value: v1 }] }
        rewrite: { hostname: v1.internal }
      - service: app-v2/app
)");
  ASSERT_EQ(c.routes.size(), 1u);
  const Route& r = c.routes[0];
  ASSERT_EQ(r.backends.size(), 2u);
  ASSERT_EQ(r.backends[0].filters.request_headers.set.size(), 1u);
  EXPECT_EQ(r.backends[0].filters.request_headers.set[0].value, "v1");
  ASSERT_EQ(r.backends[0].filters.response_headers.add.size(), 1u);
  EXPECT_EQ(r.backends[0].filters.rewrite.hostname, "v1.internal");
  EXPECT_TRUE(r.backends[1].filters.request_headers.empty());
  EXPECT_TRUE(r.filters.request_headers.empty());
}

TEST(FilterConfig, ABackendTakesNoRedirect) {
  EXPECT_TRUE(contains(errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    backends: [{ service: app-v1/app, redirect: { status: 301 } }]
)"),
                       "routes[0].backends[0].redirect: unknown key \"redirect\""));
}

TEST(FilterConfig, HeadersWeirOwnsAreRefused) {
  const auto refused = [](std::string_view which, std::string_view list, std::string_view name) {
    return errors_of(route_with("    " + std::string(which) + ": { " + std::string(list) + ": [" +
                                std::string(name) + "] }\n"));
  };
  EXPECT_EQ(refused("request_headers", "remove", "Host"),
            "t.yaml:9:33: routes[0].request_headers.remove[0]: header \"Host\" cannot be changed "
            "by a filter: weir sets Host from the request (use rewrite.hostname to change what "
            "the backend sees)\n");
  for (std::string_view framing : {"Content-Length", "transfer-encoding"})
    EXPECT_TRUE(contains(refused("response_headers", "remove", framing), "framing"));
  for (std::string_view hop :
       {"Connection", "Keep-Alive", "Upgrade", "TE", "Trailer", "Proxy-Authorization"})
    EXPECT_TRUE(contains(refused("request_headers", "remove", hop), "hop-by-hop")) << hop;
  for (std::string_view forwarding :
       {"X-Forwarded-For", "X-Forwarded-Proto", "x-forwarded-host", "Forwarded"})
    EXPECT_TRUE(contains(refused("request_headers", "remove", forwarding), "forwarding headers"))
        << forwarding;
  EXPECT_TRUE(contains(refused("request_headers", "remove", "X-Request-Id"), "x-request-id"));
  EXPECT_TRUE(contains(refused("response_headers", "remove", "Via"), "Via"));
  // What weir sets on requests only is the response's own business.
  EXPECT_EQ(refused("response_headers", "remove", "X-Request-Id"), "");
  EXPECT_EQ(refused("response_headers", "remove", "X-Forwarded-For"), "");
  // set and add are refused alike.
  EXPECT_TRUE(contains(
      errors_of(route_with("    request_headers: { add: [{ name: host, value: x.example }] }\n")),
      "routes[0].request_headers.add[0].name: header \"host\" cannot be changed"));
}

TEST(FilterConfig, NamesAreTokensAndValuesHaveNoLineBreaks) {
  EXPECT_TRUE(contains(
      errors_of(route_with("    request_headers: { set: [{ name: \"X Bad\", value: v }] }\n")),
      "routes[0].request_headers.set[0].name: expected a header name"));
  EXPECT_TRUE(contains(
      errors_of(route_with("    request_headers: { set: [{ name: X-A, value: \"a\\r\\nX-B: b\" }] "
                           "}\n")),
      "routes[0].request_headers.set[0].value: expected a header value without "
      "control characters"));
  EXPECT_TRUE(contains(
      errors_of(route_with("    response_headers: { add: [{ name: X-A, value: \"a\\0b\" }] }\n")),
      "without control characters"));
  EXPECT_EQ(errors_of(route_with(
                "    request_headers: { set: [{ name: X-A, value: \"tab\\there, ok\" }] }\n")),
            "");
}

TEST(FilterConfig, ANameBothSetAndRemovedIsAnError) {
  EXPECT_EQ(message_of(errors_of(route_with(
                "    request_headers: { set: [{ name: X-A, value: v }], remove: [x-a] }\n"))),
            "header \"x-a\" is both set and removed");
  EXPECT_EQ(message_of(errors_of(route_with("    request_headers: { set: [{ name: X-A, value: "
                                            "1 }, { name: x-a, value: 2 }] }\n"))),
            "header \"x-a\" is listed twice");
  EXPECT_EQ(message_of(errors_of(route_with("    request_headers: { remove: [X-A, x-a] }\n"))),
            "header \"x-a\" is listed twice");
  // Set and add of one name are two things: replace every one, then append one more.
  EXPECT_EQ(errors_of(route_with("    request_headers: { set: [{ name: X-A, value: 1 }], add: [{ "
                                 "name: X-A, value: 2 }] }\n")),
            "");
  EXPECT_EQ(message_of(errors_of(route_with("    request_headers: {}\n"))),
            "expected at least one of set, add or remove");
  EXPECT_EQ(message_of(errors_of(route_with("    request_headers: { set: [{ value: v }] }\n"))),
            "missing required key \"name\"");
}

TEST(FilterConfig, RedirectReadAsHTTPRouteWritesIt) {
  // httproute-redirect-host-and-status, -port, -scheme, -path: every field, and the defaults.
  const Config c = load_ok(bare_route_with(R"(    match: { path_prefix: /original-prefix }
    redirect:
      scheme: https
      hostname: Example.ORG
      port: 8443
      path: { replace_prefix: /replacement-prefix }
      status: 301
)"));
  ASSERT_EQ(c.routes.size(), 1u);
  const Redirect& r = c.routes[0].filters.redirect;
  EXPECT_TRUE(r.enabled);
  EXPECT_EQ(r.scheme, "https");
  EXPECT_EQ(r.hostname, "example.org");
  EXPECT_EQ(r.port, 8443);
  EXPECT_EQ(r.path.type, PathModifier::Type::replace_prefix);
  EXPECT_EQ(r.path.value, "/replacement-prefix");
  EXPECT_EQ(r.status, 301);
  EXPECT_TRUE(c.routes[0].backends.empty()); // a redirect needs none

  const Config d = load_ok(bare_route_with("    redirect: {}\n"));
  ASSERT_EQ(d.routes.size(), 1u);
  EXPECT_TRUE(d.routes[0].filters.redirect.enabled);
  EXPECT_EQ(d.routes[0].filters.redirect.status, 302);
  EXPECT_EQ(d.routes[0].filters.redirect.port, 0);
  EXPECT_EQ(d.routes[0].filters.redirect.scheme, "");
}

TEST(FilterConfig, RedirectFieldsAreChecked) {
  for (int status : {301, 302, 303, 307, 308})
    EXPECT_EQ(
        errors_of(bare_route_with("    redirect: { status: " + std::to_string(status) + " }\n")),
        "")
        << status;
  EXPECT_EQ(errors_of(bare_route_with("    redirect: { status: 304 }\n")),
            "t.yaml:8:25: routes[0].redirect.status: expected 301, 302, 303, 307 or 308, got "
            "304\n");
  EXPECT_EQ(message_of(errors_of(bare_route_with("    redirect: { scheme: ftp }\n"))),
            "expected http or https, got \"ftp\"");
  EXPECT_EQ(message_of(errors_of(bare_route_with("    redirect: { port: 0 }\n"))),
            "must be between 1 and 65535, got 0");
  EXPECT_TRUE(
      contains(errors_of(bare_route_with("    redirect: { hostname: \"*.example.org\" }\n")),
               "no wildcard"));
  EXPECT_TRUE(contains(
      errors_of(bare_route_with("    redirect: { hostname: \"example.org:80\" }\n")), "no port"));
  EXPECT_EQ(message_of(errors_of(bare_route_with("    redirect: { path: {} }\n"))),
            "expected replace_full or replace_prefix");
  EXPECT_EQ(message_of(errors_of(bare_route_with(
                "    redirect: { path: { replace_full: /a, replace_prefix: /b } }\n"))),
            "give either replace_full or replace_prefix, not both");
  EXPECT_TRUE(
      contains(errors_of(bare_route_with("    redirect: { path: { replace_full: \"a?b\" } }\n")),
               "expected a path starting with \"/\""));
}

TEST(FilterConfig, ARouteWithoutRedirectStillNeedsBackends) {
  EXPECT_EQ(errors_of(bare_route_with("    timeouts: { request: 1s }\n")),
            "t.yaml:6:5: routes[0]: missing required key \"backends\"\n");
  // A redirect route may still list backends (an imported HTTPRoute often does); they are not
  // used.
  EXPECT_EQ(errors_of(route_with("    redirect: { scheme: https }\n")), "");
}

TEST(FilterConfig, RedirectAndRewriteTogetherAreRefused) {
  EXPECT_EQ(message_of(errors_of(route_with(
                "    redirect: { scheme: https }\n    rewrite: { hostname: example.org }\n"))),
            "a route cannot both redirect and rewrite: a redirect answers the client itself, a "
            "rewrite changes what a backend sees");
}

TEST(FilterConfig, RewriteReadAsHTTPRouteWritesIt) {
  // httproute-rewrite-host and httproute-rewrite-path.
  const Config c = load_ok(route_with(R"(    match: { path_prefix: /prefix/one }
    rewrite:
      hostname: one.example.org
      path: { replace_prefix: /one }
)"));
  ASSERT_EQ(c.routes.size(), 1u);
  const Rewrite& r = c.routes[0].filters.rewrite;
  EXPECT_EQ(r.hostname, "one.example.org");
  EXPECT_EQ(r.path.type, PathModifier::Type::replace_prefix);
  EXPECT_EQ(r.path.value, "/one");

  const Config full = load_ok(route_with("    rewrite: { path: { replace_full: /one } }\n"));
  ASSERT_EQ(full.routes.size(), 1u);
  EXPECT_EQ(full.routes[0].filters.rewrite.path.type, PathModifier::Type::replace_full);
  EXPECT_TRUE(full.routes[0].filters.rewrite.hostname.empty());

  // An empty replacement strips the prefix (the Gateway API's table allows it).
  EXPECT_EQ(errors_of(route_with("    match: { path_prefix: /strip }\n    rewrite: { path: { "
                                 "replace_prefix: \"\" } }\n")),
            "");
  EXPECT_EQ(message_of(errors_of(route_with("    rewrite: {}\n"))),
            "expected hostname, path or both");
  EXPECT_TRUE(contains(errors_of(route_with("    rewrite: { path: { replace_full: \"\" } }\n")),
                       "expected a path starting with \"/\""));
}

TEST(FilterConfig, ReplacePrefixNeedsEveryAlternativeToBeAPathPrefix) {
  // HTTPRoute: ReplacePrefixMatch is only compatible with a PathPrefix match.
  const std::string exact =
      errors_of(route_with("    match: { path: { type: Exact, value: /a } }\n"
                           "    rewrite: { path: { replace_prefix: /b } }\n"));
  EXPECT_TRUE(contains(exact, "routes[0].rewrite.path.replace_prefix: replace_prefix replaces "
                              "the part of the path a PathPrefix matched, but the route's match "
                              "is Exact (use replace_full)"))
      << exact;
  const std::string second =
      errors_of(route_with("    match:\n"
                           "      - { path: { type: PathPrefix, value: /a } }\n"
                           "      - { path: { type: RegularExpression, value: \"/b.*\" } }\n"
                           "    redirect: { path: { replace_prefix: /c } }\n"));
  EXPECT_TRUE(contains(second, "but the route's match[1] is RegularExpression")) << second;
  // A backend's rewrite is held to its route's match as well.
  const std::string backend = errors_of(R"(
listeners:
  - { name: public, address: 127.0.0.1:0 }
services:
  - { namespace: app-v1, name: app, endpoints: [127.0.0.1:9001] }
routes:
  - name: r
    listener: public
    match: { path: { type: Exact, value: /a } }
    backends: [{ service: app-v1/app, rewrite: { path: { replace_prefix: /b } } }]
)");
  EXPECT_TRUE(contains(backend, "routes[0].backends[0].rewrite.path.replace_prefix")) << backend;
  // A route without a match matches the prefix "/".
  EXPECT_EQ(errors_of(route_with("    rewrite: { path: { replace_prefix: /b } }\n")), "");
}

TEST(FilterConfig, BackendRequestTimeout) {
  // httproute-timeout-backend-request: both timeouts, backend_request within request.
  const Config c = load_ok(route_with("    timeouts: { request: 2s, backend_request: 500ms }\n"));
  ASSERT_EQ(c.routes.size(), 1u);
  EXPECT_EQ(c.routes[0].timeouts.request, Duration{2000});
  EXPECT_EQ(c.routes[0].timeouts.upstream_read, Duration{2000});
  EXPECT_EQ(c.routes[0].timeouts.backend_request, Duration{500});
  const Config alone = load_ok(route_with("    timeouts: { backend_request: 500ms }\n"));
  ASSERT_EQ(alone.routes.size(), 1u);
  EXPECT_EQ(alone.routes[0].timeouts.request, Duration{0});
  EXPECT_EQ(alone.routes[0].timeouts.backend_request, Duration{500});
  EXPECT_EQ(errors_of(route_with("    timeouts: { request: 1s, backend_request: 2s }\n")),
            "t.yaml:9:47: routes[0].timeouts.backend_request: must not exceed timeouts.request "
            "(1s), got \"2s\"\n");
  EXPECT_EQ(message_of(errors_of(route_with("    timeouts: { backend_request: 0s }\n"))),
            "must be greater than 0");
}

} // namespace
} // namespace weir::config
