// When a DNS name is asked again: after its TTL within the clamp, and after failures with a
// pause that grows to a cap.
#include "weir/discovery/dns_watch.h"

#include <gtest/gtest.h>

namespace weir::discovery {
namespace {

using namespace std::chrono_literals;

TEST(DnsTiming, TheTtlIsClampedToMinAndMax) {
  config::Resolver r; // 1 s .. 5 min
  EXPECT_EQ(next_resolve_after(0, r), 1s) << "a TTL of 0 would ask without pause";
  EXPECT_EQ(next_resolve_after(30, r), 30s);
  EXPECT_EQ(next_resolve_after(86400, r), 5min);
  r.min_ttl = 5s;
  EXPECT_EQ(next_resolve_after(1, r), 5s);
}

TEST(DnsTiming, FailuresBackOffFromMinTtlToTenSeconds) {
  config::Resolver r;
  EXPECT_EQ(retry_after(1, r), 1s);
  EXPECT_EQ(retry_after(2, r), 2s);
  EXPECT_EQ(retry_after(4, r), 8s);
  EXPECT_EQ(retry_after(5, r), 10s);
  EXPECT_EQ(retry_after(1000, r), 10s);
  r.min_ttl = 30s; // a longer min_ttl is never shortened
  EXPECT_EQ(retry_after(1, r), 30s);
  EXPECT_EQ(retry_after(9, r), 30s);
}

} // namespace
} // namespace weir::discovery
