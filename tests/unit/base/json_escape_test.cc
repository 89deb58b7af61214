// json::escape_to's fast path (plain runs copied 16 bytes at a time) against its byte-at-a-time
// definition: every byte value at every position of every length up to three SSE2 steps, and
// random mixes of ASCII, escapes and valid and broken UTF-8.
#include "weir/base/json.h"

#include <gtest/gtest.h>
#include <random>
#include <string>

namespace weir::json {
namespace {

std::string fast(std::string_view s) {
  std::string out = "x"; // appends to what is there
  escape_to(out, s);
  return out;
}
std::string bytewise(std::string_view s) {
  std::string out = "x";
  escape_to_bytewise(out, s);
  return out;
}

TEST(JsonEscape, EveryByteAtEveryPosition) {
  size_t mismatches = 0;
  for (int value = 0; value < 256; ++value) {
    for (size_t len = 1; len <= 50; ++len) {
      for (size_t pos = 0; pos < len; ++pos) {
        std::string s(len, 'a');
        s[pos] = static_cast<char>(value);
        if (fast(s) != bytewise(s) && ++mismatches <= 5)
          ADD_FAILURE() << "byte " << value << " at " << pos << " of " << len;
      }
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(JsonEscape, RandomMixes) {
  std::mt19937 rng(11);
  const std::string pieces[] = {"a",    "Z9/",  "\"",           "\\",           "\n",
                                "\x01", "\x7f", "\xc3\xa9",     "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                "\xc3", "\xff", "\xed\xa0\x80", "    "};
  for (int round = 0; round < 20000; ++round) {
    std::string s;
    size_t n = rng() % 40;
    for (size_t i = 0; i < n; ++i)
      s += pieces[rng() % std::size(pieces)];
    ASSERT_EQ(fast(s), bytewise(s)) << round;
  }
  EXPECT_EQ(escape("plain text that is long enough for two steps"),
            "\"plain text that is long enough for two steps\"");
}

} // namespace
} // namespace weir::json
