// Passive outlier ejection over a ManualClock: an endpoint is out for base_ejection_time × its
// ejections so far, back exactly when that is over, and max_ejection_percent is never exceeded.
#include "weir/base/clock.h"
#include "weir/control/ejections.h"

#include <chrono>
#include <gtest/gtest.h>
#include <string>
#include <utility>
#include <vector>

namespace weir::control {
namespace {

using namespace std::chrono_literals;
using Endpoints = std::vector<std::pair<std::string, std::string>>;

// Out of line: GCC 12 at -O3 warns (wrongly) about the default expected_status list when a
// config::Service is built inline in a test body.
[[gnu::noinline]] config::Service service(int endpoints, uint32_t max_percent) {
  config::Service s;
  s.ns = "app-v1";
  s.name = "app";
  for (int i = 0; i < endpoints; ++i)
    s.endpoints.push_back({"127.0.0.1", static_cast<uint16_t>(9001 + i)});
  s.outlier_detection.consecutive_failures = 3;
  s.outlier_detection.base_ejection_time = 1s;
  s.outlier_detection.max_ejection_percent = max_percent;
  return s;
}

TEST(Ejections, OutForBaseTimesCountAndBackExactlyWhenItIsOver) {
  ManualClock clock;
  Ejections ej;
  config::Service s = service(2, 50);
  const std::string bad = s.endpoints[1].text();

  Ejections::Outcome first = ej.eject(s, bad, clock.now());
  EXPECT_TRUE(first.ejected);
  EXPECT_EQ(first.duration, 1s);
  EXPECT_TRUE(ej.ejected(s.id(), bad));
  EXPECT_FALSE(ej.ejected(s.id(), s.endpoints[0].text()));
  EXPECT_EQ(ej.find(s.id(), bad)->count, 1u);
  ASSERT_TRUE(ej.next_end());
  EXPECT_EQ(*ej.next_end(), clock.now() + 1s);
  // Reports while it is out change nothing.
  EXPECT_FALSE(ej.eject(s, bad, clock.now() + 500ms).ejected);
  EXPECT_EQ(ej.total(), 1u);

  clock.advance(999ms);
  EXPECT_TRUE(ej.expire(clock.now()).empty());
  EXPECT_TRUE(ej.ejected(s.id(), bad));
  clock.advance(1ms);
  EXPECT_EQ(ej.expire(clock.now()), (Endpoints{{s.id(), bad}}));
  EXPECT_FALSE(ej.ejected(s.id(), bad));
  EXPECT_FALSE(ej.next_end());

  // Still failing: the second ejection lasts twice as long, the third three times.
  Ejections::Outcome second = ej.eject(s, bad, clock.now());
  EXPECT_EQ(second.duration, 2s);
  clock.advance(1999ms);
  EXPECT_TRUE(ej.expire(clock.now()).empty());
  clock.advance(1ms);
  EXPECT_EQ(ej.expire(clock.now()).size(), 1u);
  EXPECT_EQ(ej.eject(s, bad, clock.now()).duration, 3s);
  EXPECT_EQ(ej.find(s.id(), bad)->count, 3u);
  EXPECT_EQ(ej.total(), 3u);
}

TEST(Ejections, MaxEjectionPercentHoldsTheRestInRotation) {
  ManualClock clock;
  Ejections ej;
  config::Service two = service(2, 50);
  EXPECT_TRUE(ej.eject(two, two.endpoints[0].text(), clock.now()).ejected);
  Ejections::Outcome refused = ej.eject(two, two.endpoints[1].text(), clock.now());
  EXPECT_FALSE(refused.ejected);
  EXPECT_EQ(refused.refused, "1 of 2 endpoints ejected already (max_ejection_percent 50)");
  EXPECT_FALSE(ej.ejected(two.id(), two.endpoints[1].text()));
  // Once the first is back, the second may go.
  clock.advance(1s);
  ej.expire(clock.now());
  EXPECT_TRUE(ej.eject(two, two.endpoints[1].text(), clock.now()).ejected);

  // 10 endpoints at 30 %: three out at most, whatever the order of reports.
  Ejections many;
  config::Service ten = service(10, 30);
  ten.ns = "app-v2";
  int out = 0;
  for (const auto& ep : ten.endpoints)
    out += many.eject(ten, ep.text(), clock.now()).ejected ? 1 : 0;
  EXPECT_EQ(out, 3);
  // A single endpoint under a cap below 100 % is never ejected.
  Ejections single;
  config::Service one = service(1, 50);
  EXPECT_FALSE(single.eject(one, one.endpoints[0].text(), clock.now()).ejected);
}

TEST(Ejections, NextEndIsTheEarliestOfSeveral) {
  ManualClock clock;
  Ejections ej;
  config::Service s = service(4, 100);
  ej.eject(s, s.endpoints[0].text(), clock.now());
  ej.eject(s, s.endpoints[0].text(), clock.now()); // out already
  clock.advance(300ms);
  ej.eject(s, s.endpoints[1].text(), clock.now());
  EXPECT_EQ(*ej.next_end(), clock.now() + 700ms);
  clock.advance(700ms);
  EXPECT_EQ(ej.expire(clock.now()), (Endpoints{{s.id(), s.endpoints[0].text()}}));
  EXPECT_EQ(*ej.next_end(), clock.now() + 300ms);
}

} // namespace
} // namespace weir::control
