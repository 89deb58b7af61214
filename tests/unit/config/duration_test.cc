#include "weir/config/duration.h"

#include <gtest/gtest.h>

namespace weir::config {
namespace {

TEST(ConfigDuration, Parses) {
  EXPECT_EQ(parse_duration("500ms"), Duration{500});
  EXPECT_EQ(parse_duration("0s"), Duration{0});
  EXPECT_EQ(parse_duration("10s"), Duration{10000});
  EXPECT_EQ(parse_duration("2m"), Duration{120000});
  EXPECT_EQ(parse_duration("1h"), Duration{3600000});
  EXPECT_EQ(parse_duration("007s"), Duration{7000});
}

TEST(ConfigDuration, Rejects) {
  for (const char* text : {"", "10", "s", "1.5s", "-1s", "+1s", "1 s", "1S", "1d", "1sec", "1ms2",
                           " 1s", "99999999999999999999h", "9223372036854775807s"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << text;
  }
}

TEST(ConfigDuration, FormatsWithLargestEvenUnit) {
  EXPECT_EQ(format_duration(Duration{0}), "0ms");
  EXPECT_EQ(format_duration(Duration{1500}), "1500ms");
  EXPECT_EQ(format_duration(Duration{2000}), "2s");
  EXPECT_EQ(format_duration(Duration{120000}), "2m");
  EXPECT_EQ(format_duration(Duration{7200000}), "2h");
  for (const char* text : {"250ms", "30s", "5m", "24h"})
    EXPECT_EQ(format_duration(*parse_duration(text)), text);
}

} // namespace
} // namespace weir::config
