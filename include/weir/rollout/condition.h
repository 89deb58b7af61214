#pragma once

#include "weir/base/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::rollout {

// The success condition of an external metric (config::AnalysisMetric::success_condition), as
// in Argo Rollouts: `result` — the query's value — compared with a number, the comparisons
// combined with && and || and grouped with parentheses:
//
//   result < 0.01
//   result >= 0.95 && result <= 1
//   (result < 0.05 || result == 1) && result != 0.5
//
// Operators: < <= > >= == !=; && binds tighter than ||. Numbers are decimals with an optional
// sign and exponent (-1, 0.5, 1e-3). Either side of a comparison may be `result` or a number.
//
// Use: parse once when the config is loaded (the loader refuses a condition that does not parse,
// so parsing the loaded text again cannot fail), evaluate for each measurement. A NaN result
// makes every comparison false except != (as in IEEE 754). Immutable once parsed; any thread.
class Condition {
public:
  // The parsed condition, or an error whose message names the 1-based column, e.g.
  // "at column 10: expected a number or \"result\", got \"x\"".
  static Result<Condition> parse(std::string_view text);

  // Whether `result` meets the condition.
  bool evaluate(double result) const;

  const std::string& text() const { return text_; }

private:
  enum class Op : uint8_t { lt, le, gt, ge, eq, ne, logical_and, logical_or };
  // A comparison's side: `result` or a constant.
  struct Operand {
    bool is_result = false;
    double value = 0;
  };
  // Comparisons are leaves; && and || nodes refer to their children by index.
  struct Node {
    Op op = Op::lt;
    Operand left, right;   // comparisons
    uint32_t a = 0, b = 0; // && and ||
  };
  class Parser;

  bool eval(uint32_t node, double result) const;

  std::string text_;
  std::vector<Node> nodes_;
  uint32_t root_ = 0;
};

} // namespace weir::rollout
