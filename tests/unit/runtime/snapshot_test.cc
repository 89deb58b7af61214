// Snapshot::build: what the data plane reads instead of the raw config.
#include "weir/config/loader.h"
#include "weir/runtime/snapshot.h"

#include <gtest/gtest.h>

namespace weir::runtime {
namespace {

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

TEST(Snapshot, ClientTimeoutsAndTrustedProxiesComeFromTheConfig) {
  auto snap = build(R"(
limits:
  client_header_timeout: 3s
  client_body_timeout: 4s
  request_timeout: 5s
  queue_timeout: 6s
trusted_proxies: [10.0.0.0/8]
listeners:
  - name: a
    address: 127.0.0.1:18080
  - name: b
    address: 127.0.0.1:18081
services:
  - namespace: default
    name: app
    endpoints: [127.0.0.1:9]
routes:
  - name: first
    listener: a
    backends: [{service: default/app, weight: 1}]
    timeouts: {idle: 7s}
  - name: second
    listener: b
    backends: [{service: default/app, weight: 1}]
    timeouts: {idle: 8s}
)");
  ASSERT_TRUE(snap);
  using std::chrono::seconds;
  // The keep-alive idle before routing is the first route's, as it has always been.
  EXPECT_EQ(snap->client.idle, seconds(7));
  EXPECT_EQ(snap->client.header, seconds(3));
  EXPECT_EQ(snap->client.body, seconds(4));
  EXPECT_EQ(snap->client.request, seconds(5));
  EXPECT_EQ(snap->client.queue, seconds(6));
  ASSERT_EQ(snap->listeners.size(), 2u);
  for (const auto& l : snap->listeners) {
    EXPECT_EQ(l.client.idle, seconds(7)) << l.name;
    EXPECT_EQ(l.client.header, seconds(3)) << l.name;
  }
  ASSERT_EQ(snap->trusted_proxies.size(), 1u);
  EXPECT_EQ(snap->trusted_proxies[0].text, "10.0.0.0/8");
  EXPECT_EQ(snap->trusted_proxies, snap->config->trusted_proxies);
}

TEST(Snapshot, ClientTimeoutDefaultsWithoutRoutes) {
  // A config without routes passes no validation, but build() must not read routes.front().
  std::string error;
  auto snap = Snapshot::build(std::make_shared<const config::Config>(), 1, &error);
  ASSERT_TRUE(snap) << error;
  EXPECT_EQ(snap->client.idle, std::chrono::seconds(60));
  EXPECT_EQ(snap->client.header, snap->config->limits.client_header_timeout);
  EXPECT_EQ(snap->client.queue, snap->config->limits.queue_timeout);
  EXPECT_TRUE(snap->trusted_proxies.empty());
}

} // namespace
} // namespace weir::runtime

namespace weir::runtime {
namespace {

std::shared_ptr<const Snapshot> build_with(std::string_view yaml,
                                           const Snapshot::Overrides& overrides) {
  auto loaded = config::load_string(yaml, "test.yaml");
  if (auto* errors = std::get_if<std::vector<config::ConfigError>>(&loaded)) {
    ADD_FAILURE() << config::format_errors(*errors);
    return nullptr;
  }
  std::string error;
  auto snap = Snapshot::build(
      std::make_shared<const config::Config>(std::get<config::Config>(std::move(loaded))),
      overrides, 1, &error);
  EXPECT_EQ(error, "");
  return snap;
}

constexpr std::string_view kMirrorRoutes = R"(
listeners: [{ name: l, address: 127.0.0.1:0 }]
services:
  - { namespace: v1, name: app, endpoints: [127.0.0.1:9001] }
  - { namespace: v2, name: app, endpoints: [127.0.0.1:9002] }
routes:
  - name: plain
    listener: l
    match: { path_prefix: /plain }
    backends: [{ service: v1/app }, { service: v2/app, weight: 0 }]
  - name: compared
    listener: l
    match: { path_prefix: /compared }
    backends: [{ service: v1/app }, { service: v2/app, weight: 0 }]
    mirror:
      service: v2/app
      percent: 0
      compare: { status_class: false, json_fields: [price] }
)";

// A rollout's live mirror (set_mirror) compares too: with the route's own compare when it has
// one, else the status class alone, so max_divergence always has answers to judge.
TEST(Snapshot, ALiveMirrorComparesWithTheRoutesSettingsElseTheStatusClass) {
  Snapshot::Overrides o;
  auto none = build_with(kMirrorRoutes, o);
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->routes[0].mirror.compare);
  EXPECT_EQ(none->routes[0].mirror.service, -1);
  EXPECT_TRUE(none->routes[1].mirror.compare); // its own compare, at 0 %
  EXPECT_EQ(none->routes[1].mirror.percent, 0);

  o.mirrors["plain"] = {"v2/app", 10};
  o.mirrors["compared"] = {"v2/app", 20};
  auto live = build_with(kMirrorRoutes, o);
  ASSERT_TRUE(live);
  const auto& plain = live->routes[0].mirror;
  EXPECT_EQ(plain.service, 1);
  EXPECT_EQ(plain.percent, 10);
  EXPECT_TRUE(plain.compare);
  EXPECT_TRUE(plain.settings.status_class);
  EXPECT_EQ(plain.settings.body, config::Compare::Body::none);
  const auto& compared = live->routes[1].mirror;
  EXPECT_EQ(compared.percent, 20);
  EXPECT_TRUE(compared.compare);
  EXPECT_FALSE(compared.settings.status_class);
  EXPECT_EQ(compared.settings.json_fields, std::vector<std::string>{"price"});
}

} // namespace
} // namespace weir::runtime
