// UtcFormatter: format_utc's output, with the date and time of day formatted once per second.
#include "weir/base/clock.h"

#include <gtest/gtest.h>
#include <string>

namespace weir {
namespace {

using std::chrono::milliseconds;
using Wall = std::chrono::system_clock;

std::string plain(Wall::time_point t) {
  char buf[32];
  return std::string(buf, format_utc(t, buf));
}

std::string cached(UtcFormatter& f, Wall::time_point t) {
  char buf[32];
  size_t n = f.format(t, buf);
  EXPECT_EQ(buf[n], '\0');
  return std::string(buf, n);
}

TEST(UtcFormatter, SameAsFormatUtcAcrossSecondsDaysAndYears) {
  UtcFormatter f;
  // Every millisecond around a year's end (seconds, minutes, hours, day, month and year roll).
  Wall::time_point start =
      Wall::time_point{} + std::chrono::seconds(1798761599) - milliseconds(2500);
  for (int ms = 0; ms < 5000; ++ms) {
    Wall::time_point t = start + milliseconds(ms) + std::chrono::microseconds(ms % 7 * 131);
    ASSERT_EQ(cached(f, t), plain(t)) << ms;
  }
  EXPECT_EQ(cached(f, Wall::time_point{} + std::chrono::seconds(1798761600)),
            "2027-01-01T00:00:00.000Z");
}

TEST(UtcFormatter, TimeGoingBackOrJumping) {
  UtcFormatter f;
  Wall::time_point now = Wall::time_point{} + std::chrono::seconds(1'764'000'000);
  for (auto t :
       {now, now + milliseconds(999), now - milliseconds(1), now + std::chrono::hours(30), now,
        now + milliseconds(1), Wall::time_point{}, Wall::time_point{} - milliseconds(1), now}) {
    ASSERT_EQ(cached(f, t), plain(t));
  }
}

} // namespace
} // namespace weir
