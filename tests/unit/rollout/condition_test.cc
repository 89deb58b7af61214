#include "weir/rollout/condition.h"

#include <cmath>
#include <gtest/gtest.h>
#include <limits>
#include <string>

// success_condition of an external metric: table-driven evaluation and one case per error.
namespace weir::rollout {
namespace {

Condition parsed(std::string_view text) {
  auto r = Condition::parse(text);
  EXPECT_TRUE(r.ok()) << text << ": " << (r.ok() ? "" : r.error().message);
  return r.ok() ? *r : *Condition::parse("result != result");
}

std::string error_of(std::string_view text) {
  auto r = Condition::parse(text);
  return r.ok() ? "(parsed)" : r.error().message;
}

struct Case {
  const char* condition;
  double result;
  bool met;
};

TEST(Condition, Evaluates) {
  const Case cases[] = {
      {"result < 0.01", 0.005, true},
      {"result < 0.01", 0.01, false},
      {"result <= 0.01", 0.01, true},
      {"result > 5", 5, false},
      {"result >= 5", 5, true},
      {"result == 1", 1, true},
      {"result != 1", 1, false},
      {"result >= 0.95 && result <= 1", 0.97, true},
      {"result >= 0.95 && result <= 1", 1.01, false},
      {"result < 0.1 || result > 0.9", 0.5, false},
      {"result < 0.1 || result > 0.9", 0.95, true},
      // && binds tighter than ||: true || (false && false)
      {"result < 1 || result > 5 && result < 3", 0, true},
      {"(result < 1 || result > 5) && result < 3", 6, false},
      {"((result == 2))", 2, true},
      {"0.5 > result", 0.25, true},
      {"result>-1e-3", -0.0005, true},
      {"result<+2.5E2", 249, true},
      {"  result\t<  3  ", 2, true},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(parsed(c.condition).evaluate(c.result), c.met) << c.condition << " with " << c.result;
  }
}

TEST(Condition, NaNMeetsOnlyInequality) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_FALSE(parsed("result < 1").evaluate(nan));
  EXPECT_FALSE(parsed("result >= 1").evaluate(nan));
  EXPECT_TRUE(parsed("result != 1").evaluate(nan));
  EXPECT_TRUE(parsed("result < 1").evaluate(-std::numeric_limits<double>::infinity()));
}

TEST(Condition, KeepsItsText) {
  EXPECT_EQ(parsed("result < 0.01").text(), "result < 0.01");
  // A copy evaluates on its own (the nodes are values, not views into the text).
  Condition copy = parsed("result >= 0.95 && result <= 1");
  Condition other = copy;
  EXPECT_TRUE(other.evaluate(0.99));
}

TEST(Condition, ErrorsNameTheColumn) {
  EXPECT_EQ(error_of(""), "at column 1: the condition is empty; expected e.g. \"result < 0.01\"");
  EXPECT_EQ(error_of("   "),
            "at column 4: the condition is empty; expected e.g. \"result < 0.01\"");
  EXPECT_EQ(error_of("result"),
            "at column 7: expected a comparison (<, <=, >, >=, == or !=), got the end");
  EXPECT_EQ(error_of("result = 1"),
            "at column 8: expected a comparison (<, <=, >, >=, == or !=), got \"=\"");
  EXPECT_EQ(error_of("result < x"), "at column 10: expected a number or \"result\", got \"x\"");
  EXPECT_EQ(error_of("results < 1"),
            "at column 1: expected a number or \"result\", got \"results\"");
  EXPECT_EQ(error_of("result < 1 and result > 0"),
            "at column 12: expected \"&&\", \"||\" or the end, got \"and\"");
  EXPECT_EQ(error_of("(result < 1"), "at column 12: expected \")\", got the end");
  EXPECT_EQ(error_of("result < 1)"), "at column 11: expected \"&&\", \"||\" or the end, got \")\"");
  EXPECT_EQ(error_of("1 < 2"), "at column 5: a comparison must involve \"result\"");
  EXPECT_EQ(error_of("result < 1 &&"),
            "at column 14: expected a number or \"result\", got the end");
  EXPECT_EQ(error_of("result < 1e999"), "at column 10: \"1e999\" is not a usable number");
  EXPECT_EQ(error_of("result < 1.2.3"), "at column 10: \"1.2.3\" is not a usable number");
  EXPECT_EQ(error_of(std::string(40, '(') + "result < 1" + std::string(40, ')')),
            "at column 33: parentheses nest too deeply");
}

} // namespace
} // namespace weir::rollout
