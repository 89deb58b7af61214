#include "weir/rollout/condition.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <utility>

namespace weir::rollout {

// Recursive descent over the text; nesting is bounded so a hostile config cannot exhaust the
// stack.
class Condition::Parser {
public:
  Parser(std::string_view text, Condition& out) : text_(text), out_(out) {}

  Result<Condition> run() {
    skip_space();
    if (pos_ == text_.size())
      return fail("the condition is empty; expected e.g. \"result < 0.01\"");
    auto root = disjunction(0);
    if (!root) return *error_;
    skip_space();
    if (pos_ != text_.size()) return fail("expected \"&&\", \"||\" or the end, got " + got());
    out_.root_ = *root;
    return std::move(out_);
  }

private:
  static constexpr int kMaxDepth = 32;

  std::optional<uint32_t> disjunction(int depth) {
    auto left = conjunction(depth);
    while (left && consume("||")) {
      auto right = conjunction(depth);
      if (!right) return std::nullopt;
      left = add({Op::logical_or, {}, {}, *left, *right});
    }
    return left;
  }

  std::optional<uint32_t> conjunction(int depth) {
    auto left = primary(depth);
    while (left && consume("&&")) {
      auto right = primary(depth);
      if (!right) return std::nullopt;
      left = add({Op::logical_and, {}, {}, *left, *right});
    }
    return left;
  }

  std::optional<uint32_t> primary(int depth) {
    skip_space();
    if (consume("(")) {
      if (depth >= kMaxDepth) return fail_at("parentheses nest too deeply", pos_ - 1);
      auto inner = disjunction(depth + 1);
      if (!inner) return std::nullopt;
      if (!consume(")")) return fail_at("expected \")\", got " + got());
      return inner;
    }
    auto left = operand();
    if (!left) return std::nullopt;
    auto op = comparison();
    if (!op) return std::nullopt;
    auto right = operand();
    if (!right) return std::nullopt;
    if (!left->is_result && !right->is_result)
      return fail_at("a comparison must involve \"result\"", start_);
    return add({*op, *left, *right, 0, 0});
  }

  std::optional<Operand> operand() {
    skip_space();
    start_ = pos_;
    if (text_.substr(pos_).starts_with("result")) {
      const size_t after = pos_ + 6;
      if (after == text_.size() || !is_word_char(text_[after])) {
        pos_ = after;
        return Operand{true, 0};
      }
    }
    size_t end = pos_;
    if (end < text_.size() && (text_[end] == '-' || text_[end] == '+')) ++end;
    bool digits = false;
    while (end < text_.size() &&
           (std::isdigit(static_cast<unsigned char>(text_[end])) || text_[end] == '.')) {
      digits = digits || text_[end] != '.';
      ++end;
    }
    if (digits && end < text_.size() && (text_[end] == 'e' || text_[end] == 'E')) {
      size_t exp = end + 1;
      if (exp < text_.size() && (text_[exp] == '-' || text_[exp] == '+')) ++exp;
      const size_t first = exp;
      while (exp < text_.size() && std::isdigit(static_cast<unsigned char>(text_[exp])))
        ++exp;
      if (exp > first) end = exp;
    }
    if (!digits || (end < text_.size() && is_word_char(text_[end]))) {
      fail_at("expected a number or \"result\", got " + got());
      return std::nullopt;
    }
    const std::string number(text_.substr(pos_, end - pos_));
    char* stop = nullptr;
    errno = 0;
    const double value = std::strtod(number.c_str(), &stop);
    if (stop != number.c_str() + number.size() || errno == ERANGE || !std::isfinite(value)) {
      fail_at("\"" + number + "\" is not a usable number");
      return std::nullopt;
    }
    pos_ = end;
    return Operand{false, value};
  }

  std::optional<Op> comparison() {
    skip_space();
    static constexpr std::pair<std::string_view, Op> kOps[] = {{"<=", Op::le}, {">=", Op::ge},
                                                               {"==", Op::eq}, {"!=", Op::ne},
                                                               {"<", Op::lt},  {">", Op::gt}};
    for (const auto& [token, op] : kOps) {
      if (consume(token)) return op;
    }
    fail_at("expected a comparison (<, <=, >, >=, == or !=), got " + got());
    return std::nullopt;
  }

  bool consume(std::string_view token) {
    skip_space();
    if (!text_.substr(pos_).starts_with(token)) return false;
    pos_ += token.size();
    return true;
  }

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t'))
      ++pos_;
  }

  static bool is_word_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
  }

  // What stands at the current position, for messages: the next word or character.
  std::string got() const {
    if (pos_ >= text_.size()) return "the end";
    size_t end = pos_;
    while (end < text_.size() && is_word_char(text_[end]))
      ++end;
    if (end == pos_) ++end;
    std::string out(1, '"'); // appended: GCC 12 warns falsely about "\"" + std::string(...)
    out.append(text_.substr(pos_, end - pos_));
    out.push_back('"');
    return out;
  }

  uint32_t add(Node node) {
    out_.nodes_.push_back(node);
    return static_cast<uint32_t>(out_.nodes_.size() - 1);
  }

  std::nullopt_t fail_at(std::string message) { return fail_at(std::move(message), pos_); }
  std::nullopt_t fail_at(std::string message, size_t at) {
    if (!error_)
      error_ = Error{ErrorSource::config, "at column " + std::to_string(at + 1) + ": " + message};
    return std::nullopt;
  }
  Error fail(std::string message) {
    fail_at(std::move(message));
    return *error_;
  }

  std::string_view text_;
  Condition& out_;
  size_t pos_ = 0;
  size_t start_ = 0; // where the last operand began
  std::optional<Error> error_;
};

Result<Condition> Condition::parse(std::string_view text) {
  Condition condition;
  condition.text_ = std::string(text);
  // The parser keeps views into its own copy of the text, which moves with the result.
  const std::string copy = condition.text_;
  return Parser(copy, condition).run();
}

bool Condition::evaluate(double result) const {
  if (nodes_.empty()) return false;
  return eval(root_, result);
}

bool Condition::eval(uint32_t index, double result) const {
  const Node& n = nodes_[index];
  const double l = n.left.is_result ? result : n.left.value;
  const double r = n.right.is_result ? result : n.right.value;
  switch (n.op) {
  case Op::lt:
    return l < r;
  case Op::le:
    return l <= r;
  case Op::gt:
    return l > r;
  case Op::ge:
    return l >= r;
  case Op::eq:
    return l == r;
  case Op::ne:
    return l != r;
  case Op::logical_and:
    return eval(n.a, result) && eval(n.b, result);
  case Op::logical_or:
    return eval(n.a, result) || eval(n.b, result);
  }
  return false;
}

} // namespace weir::rollout
