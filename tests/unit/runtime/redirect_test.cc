// The Location of HTTPRoute's RequestRedirect (weir/runtime/redirect.h), and the filters a
// snapshot compiles per backend. The cases restate the Gateway API conformance tests
// httproute-redirect-host-and-status, -path, -port and -scheme, and the API's rules for the
// port: the configured one; else the well-known port of a configured scheme; else the request's.
#include "weir/config/loader.h"
#include "weir/runtime/redirect.h"
#include "weir/runtime/snapshot.h"

#include <gtest/gtest.h>

namespace weir::runtime {
namespace {

constexpr auto kPrefix = config::PathModifier::Type::replace_prefix;
constexpr auto kFull = config::PathModifier::Type::replace_full;

// A redirect as the config holds it, built up field by field.
struct Spec {
  config::Redirect r;
  Spec() { r.enabled = true; }
  Spec& scheme(std::string v) {
    r.scheme = std::move(v);
    return *this;
  }
  Spec& hostname(std::string v) {
    r.hostname = std::move(v);
    return *this;
  }
  Spec& port(uint16_t v) {
    r.port = v;
    return *this;
  }
  Spec& path(config::PathModifier::Type type, std::string v) {
    r.path.type = type;
    r.path.value = std::move(v);
    return *this;
  }
};

// The Location's URL, or "(none)" when the request has no usable host.
std::string location(const Spec& spec, std::string_view authority, std::string_view target,
                     bool https = false, size_t prefix_length = 0) {
  RedirectRequest request;
  request.authority = authority;
  request.target = target;
  request.https = https;
  request.prefix_length = prefix_length;
  std::string out;
  if (!append_redirect_location(spec.r, request, out)) return out.empty() ? "(none)" : out;
  EXPECT_TRUE(out.starts_with("Location: ") && out.ends_with("\r\n")) << out;
  return out.substr(10, out.size() - 12);
}

TEST(Redirect, HostnameAndOtherwiseTheRequestsOwn) {
  // httproute-redirect-host-and-status: hostname example.org, the rest kept.
  EXPECT_EQ(location(Spec().hostname("example.org"), "gw.example:8080", "/hostname-redirect"),
            "http://example.org:8080/hostname-redirect");
  EXPECT_EQ(location(Spec().hostname("example.org"), "gw.example", "/host-and-status?x=1"),
            "http://example.org/host-and-status?x=1");
  // Nothing configured: the same URL (a loop, but what the spec says).
  EXPECT_EQ(location(Spec(), "gw.example:8080", "/a"), "http://gw.example:8080/a");
  EXPECT_EQ(location(Spec(), "gw.example:443", "/a", true), "https://gw.example/a");
}

TEST(Redirect, Scheme) {
  // httproute-redirect-scheme: https; with no port given, https's own (443, left out), not the
  // port the request came to.
  EXPECT_EQ(location(Spec().scheme("https"), "gw.example:8080", "/scheme"),
            "https://gw.example/scheme");
  EXPECT_EQ(
      location(Spec().scheme("https").hostname("example.org"), "gw.example", "/scheme-and-host"),
      "https://example.org/scheme-and-host");
  EXPECT_EQ(location(Spec().scheme("http"), "gw.example:8443", "/down", true),
            "http://gw.example/down");
  // A scheme with a port.
  EXPECT_EQ(location(Spec().scheme("https").port(8443), "gw.example", "/s"),
            "https://gw.example:8443/s");
}

TEST(Redirect, Port) {
  // httproute-redirect-port: port 8083, with and without a hostname.
  EXPECT_EQ(location(Spec().port(8083), "gw.example", "/port"), "http://gw.example:8083/port");
  EXPECT_EQ(location(Spec().hostname("example.org").port(8083), "gw.example:80", "/port-and-host"),
            "http://example.org:8083/port-and-host");
  // The scheme's well-known port is left out; the other scheme's is not.
  EXPECT_EQ(location(Spec().port(80), "gw.example:8080", "/p"), "http://gw.example/p");
  EXPECT_EQ(location(Spec().port(443), "gw.example:8080", "/p"), "http://gw.example:443/p");
  EXPECT_EQ(location(Spec().scheme("https").port(443), "gw.example:8080", "/p"),
            "https://gw.example/p");
}

TEST(Redirect, Path) {
  // httproute-redirect-path: PathPrefix /original-prefix → /replacement-prefix.
  EXPECT_EQ(location(Spec().path(kPrefix, "/replacement-prefix"), "gw", "/original-prefix/lemon",
                     false, 16),
            "http://gw/replacement-prefix/lemon");
  // PathPrefix /full → replaceFullPath /full-path-replacement.
  EXPECT_EQ(
      location(Spec().path(kFull, "/full-path-replacement"), "gw", "/full/path/original", false, 5),
      "http://gw/full-path-replacement");
  // PathPrefix /path-and-host with hostname example.org.
  EXPECT_EQ(location(Spec().hostname("example.org").path(kPrefix, "/replacement-prefix"), "gw",
                     "/path-and-host", false, 14),
            "http://example.org/replacement-prefix");
  // The query stays whatever the path becomes.
  EXPECT_EQ(location(Spec().path(kFull, "/new"), "gw", "/old/x?a=1&b=2", false, 4),
            "http://gw/new?a=1&b=2");
  EXPECT_EQ(location(Spec().path(kPrefix, "/v2"), "gw", "/v1/items?page=3", false, 3),
            "http://gw/v2/items?page=3");
}

TEST(Redirect, RequestHostsOfEveryForm) {
  EXPECT_EQ(location(Spec().port(9000), "[::1]:8080", "/a"), "http://[::1]:9000/a");
  EXPECT_EQ(location(Spec(), "[::1]:8080", "/a"), "http://[::1]:8080/a");
  EXPECT_EQ(location(Spec(), "Gw.Example", "/a"), "http://Gw.Example/a");
  // No usable host of the request's and none configured: no Location at all.
  EXPECT_EQ(location(Spec(), "", "/a"), "(none)");
  EXPECT_EQ(location(Spec(), "bad host", "/a"), "(none)");
  EXPECT_EQ(location(Spec(), "gw:99999", "/a"), "(none)");
  EXPECT_EQ(location(Spec(), "gw\r\nX-Injected: 1", "/a"), "(none)");
  // A configured hostname does not need the request's.
  EXPECT_EQ(location(Spec().hostname("example.org"), "", "/a"), "http://example.org/a");
}

// ---- what a snapshot compiles per backend ----

std::shared_ptr<const Snapshot> build(std::string_view yaml) {
  auto loaded = config::load_string(yaml, "test.yaml");
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
    ADD_FAILURE() << config::format_errors(*errors);
    return nullptr;
  }
  std::string error;
  auto snap = Snapshot::build(
      std::make_shared<const config::Config>(std::get<config::Config>(std::move(loaded))), 1,
      &error);
  EXPECT_EQ(error, "");
  return snap;
}

TEST(SnapshotFilters, RouteThenBackendCompiledPerBackend) {
  auto snap = build(R"(
listeners: [{ name: a, address: 127.0.0.1:0 }]
services:
  - { namespace: v1, name: app, endpoints: [127.0.0.1:9] }
  - { namespace: v2, name: app, endpoints: [127.0.0.1:10] }
routes:
  - name: r
    listener: a
    match: { path_prefix: /api }
    request_headers: { set: [{ name: X-Route, value: r }] }
    response_headers: { remove: [server] }
    rewrite: { hostname: route.internal, path: { replace_prefix: /v1 } }
    backends:
      - service: v1/app
        request_headers: { set: [{ name: X-Route, value: b }] }
        rewrite: { hostname: v1.internal }
      - service: v2/app
  - name: moved
    listener: a
    match: { path_prefix: /old }
    redirect: { scheme: https, status: 301 }
)");
  ASSERT_TRUE(snap);
  ASSERT_EQ(snap->routes.size(), 2u);
  const Snapshot::Route& r = snap->routes[0];
  ASSERT_EQ(r.backends.size(), 2u);
  EXPECT_EQ(r.backends[0].request_headers.lines(), "X-Route: b\r\n");
  EXPECT_EQ(r.backends[1].request_headers.lines(), "X-Route: r\r\n");
  EXPECT_TRUE(r.backends[0].response_headers.drops("Server"));
  EXPECT_TRUE(r.backends[1].response_headers.drops("Server"));
  // The backend's rewrite hostname over the route's; the route's path where it has none.
  EXPECT_EQ(r.backends[0].rewrite.hostname, "v1.internal");
  EXPECT_EQ(r.backends[0].rewrite.path.value, "/v1");
  EXPECT_EQ(r.backends[1].rewrite.hostname, "route.internal");
  EXPECT_FALSE(r.redirect.enabled);
  const Snapshot::Route& moved = snap->routes[1];
  EXPECT_TRUE(moved.backends.empty());
  EXPECT_TRUE(moved.redirect.enabled);
  EXPECT_EQ(moved.redirect.status, 301);
}

} // namespace
} // namespace weir::runtime
