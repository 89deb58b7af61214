// choose_backend: the weighted split, the override header and cookie, and the sticky bucket,
// as a pure function of route, head and peer.
#include "weir/runtime/backend_choice.h"

#include <gtest/gtest.h>

namespace weir::runtime {
namespace {

struct Fixture {
  Snapshot snap;
  Snapshot::Route route;

  // Backend 0 is stable (weight 90), 1 the canary (weight 10), both with an endpoint available.
  Fixture() {
    snap.services.resize(2);
    snap.services[0].id = "v1/app";
    snap.services[0].available = {0};
    snap.services[1].id = "v2/app";
    snap.services[1].available = {0};
    route.name = "app";
    route.backends.resize(2);
    route.backends[0].service = 0;
    route.backends[0].effective_weight = 90;
    route.backends[1].service = 1;
    route.backends[1].effective_weight = 10;
    route.sticky_stable = 0;
    route.sticky_canary = 1;
    route.affinity_cookie = "weir-bucket";
    route.affinity_max_age_s = 3600;
    route.set_cookie_prefix = "Set-Cookie: weir-bucket=";
    route.override_header = "x-weir-version";
    route.override_secret = "s3cret";
  }
};

http::Head head_with(std::vector<http::Header> headers) {
  http::Head h;
  h.method_name = "GET";
  h.headers = std::move(headers);
  return h;
}

TEST(BackendChoice, RouteWithoutRolloutUsesTheSplit) {
  Fixture f;
  f.route.sticky_canary = f.route.sticky_stable = -1;
  BackendChoice c = choose_backend(f.snap, f.route, head_with({{"cookie", "weir-bucket=1"}}), true);
  EXPECT_EQ(c.kind, BackendChoice::Kind::split);
  EXPECT_FALSE(c.forced);
}

TEST(BackendChoice, OverrideWithTheSecretForcesEitherVersion) {
  Fixture f;
  BackendChoice c =
      choose_backend(f.snap, f.route, head_with({{"x-weir-version", "always:s3cret"}}), false);
  EXPECT_EQ(c.kind, BackendChoice::Kind::fixed);
  EXPECT_EQ(c.backend, 1);
  EXPECT_TRUE(c.forced);
  c = choose_backend(f.snap, f.route, head_with({{"cookie", "a=b; x-weir-version=never:s3cret"}}),
                     false);
  EXPECT_EQ(c.backend, 0);
  EXPECT_TRUE(c.forced);
}

TEST(BackendChoice, OverrideWithoutTheSecretIsIgnoredUnlessThePeerIsTrusted) {
  Fixture f;
  auto wrong = head_with({{"x-weir-version", "always:guess"}, {"cookie", "weir-bucket=9999"}});
  BackendChoice c = choose_backend(f.snap, f.route, wrong, true);
  EXPECT_FALSE(c.forced);
  EXPECT_EQ(c.backend, 0); // the bucket decides: 9999 is above the canary's 10 %
  auto plain = head_with({{"x-weir-version", "always"}});
  EXPECT_FALSE(choose_backend(f.snap, f.route, plain, false).forced);
  c = choose_backend(f.snap, f.route, plain, true);
  EXPECT_TRUE(c.forced);
  EXPECT_EQ(c.backend, 1);
  // A route without a secret believes only trusted proxies.
  f.route.override_secret.clear();
  EXPECT_FALSE(
      choose_backend(f.snap, f.route, head_with({{"x-weir-version", "always:"}}), false).forced);
}

TEST(BackendChoice, OverrideToAVersionWithoutEndpointsIsIgnored) {
  Fixture f;
  f.snap.services[1].available.clear();
  BackendChoice c =
      choose_backend(f.snap, f.route, head_with({{"x-weir-version", "always:s3cret"}}), false);
  EXPECT_FALSE(c.forced);
  EXPECT_EQ(c.kind, BackendChoice::Kind::new_bucket);
}

TEST(BackendChoice, BucketCookieBelowTheCanaryShareGoesToTheCanary) {
  Fixture f; // canary share: 10 % = buckets 0..999
  for (auto [cookie, backend] :
       std::vector<std::pair<const char*, int>>{{"weir-bucket=0", 1},
                                                {"weir-bucket=999", 1},
                                                {"weir-bucket=1000", 0},
                                                {"weir-bucket=0999", 1},
                                                {"x=1; weir-bucket=5000", 0}}) {
    SCOPED_TRACE(cookie);
    BackendChoice c = choose_backend(f.snap, f.route, head_with({{"Cookie", cookie}}), false);
    EXPECT_EQ(c.kind, BackendChoice::Kind::fixed);
    EXPECT_EQ(c.backend, backend);
    EXPECT_FALSE(c.forced);
  }
}

TEST(BackendChoice, MissingOrInvalidBucketAsksForANewOne) {
  Fixture f;
  for (const char* cookie :
       {"", "weir-bucket=", "weir-bucket=10000", "weir-bucket=-1", "weir-bucket=12a", "other=5"}) {
    SCOPED_TRACE(cookie);
    BackendChoice c = choose_backend(f.snap, f.route, head_with({{"cookie", cookie}}), false);
    EXPECT_EQ(c.kind, BackendChoice::Kind::new_bucket);
  }
}

TEST(BackendChoice, NoAffinityOrNoWeightFallsBackToTheSplit) {
  Fixture f;
  f.route.affinity_cookie.clear();
  EXPECT_EQ(choose_backend(f.snap, f.route, head_with({}), false).kind, BackendChoice::Kind::split);
  Fixture g;
  g.route.backends[0].effective_weight = g.route.backends[1].effective_weight = 0;
  EXPECT_EQ(choose_backend(g.snap, g.route, head_with({{"cookie", "weir-bucket=1"}}), false).kind,
            BackendChoice::Kind::split);
}

TEST(BackendChoice, BucketBackendMovesClientsOnlyFromStableToCanary) {
  Fixture f;
  int last_canary_buckets = 0;
  for (uint32_t w : {0u, 1u, 10u, 50u, 90u, 100u}) {
    f.route.backends[1].effective_weight = w;
    f.route.backends[0].effective_weight = 100 - w;
    int canary = 0;
    for (uint32_t b = 0; b < 10000; ++b)
      if (bucket_backend(f.route, b) == 1) {
        ++canary;
        EXPECT_LT(b, w * 100u); // only the lowest buckets
      }
    EXPECT_EQ(canary, static_cast<int>(w * 100));
    EXPECT_GE(canary, last_canary_buckets);
    last_canary_buckets = canary;
  }
}

TEST(BackendChoice, ParseBucketAndCookie) {
  EXPECT_EQ(parse_bucket("0"), 0u);
  EXPECT_EQ(parse_bucket("9999"), 9999u);
  EXPECT_EQ(parse_bucket("0042"), 42u);
  EXPECT_FALSE(parse_bucket("10000"));
  EXPECT_FALSE(parse_bucket(""));
  EXPECT_FALSE(parse_bucket("1 "));
  Fixture f;
  std::string out;
  append_bucket_cookie(f.route, 42, out);
  EXPECT_EQ(out, "Set-Cookie: weir-bucket=42; Max-Age=3600; Path=/; HttpOnly; SameSite=Lax\r\n");
}

TEST(BackendChoice, SameSecret) {
  EXPECT_TRUE(same_secret("abc", "abc"));
  EXPECT_FALSE(same_secret("abd", "abc"));
  EXPECT_FALSE(same_secret("ab", "abc"));
  EXPECT_FALSE(same_secret("abcd", "abc"));
  EXPECT_TRUE(same_secret("", ""));
}

} // namespace
} // namespace weir::runtime
