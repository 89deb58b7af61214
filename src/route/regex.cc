#include "weir/route/regex.h"

#include <algorithm>
#include <cstdint>

#ifndef __GLIBCXX__
#error "weir::route::Regex relies on libstdc++'s breadth-first std::regex executor (__polynomial)"
#endif

namespace weir::route {
namespace {

constexpr uint64_t kSaturated = uint64_t{1} << 40;

uint64_t add(uint64_t a, uint64_t b) {
  return std::min(a + b, kSaturated);
}

uint64_t multiply(uint64_t a, uint64_t b) {
  if (a != 0 && b > kSaturated / a) return kSaturated;
  return std::min(a * b, kSaturated);
}

// Sizes a pattern by recursive descent over ECMAScript's grammar (alternation, sequence,
// quantified atom). The depth is bounded by the pattern's nesting, and patterns come from the
// config (at most a few KiB), never from a request.
class SizeParser {
public:
  explicit SizeParser(std::string_view p) : p_(p) {}

  uint64_t run() {
    uint64_t size = alternation();
    while (i_ < p_.size()) { // a stray ')': std::regex refuses it; size the rest anyway
      ++i_;
      size = add(size, alternation());
    }
    return size;
  }

  std::string unsupported;

private:
  bool at(char c) const { return i_ < p_.size() && p_[i_] == c; }

  void note(std::string what) {
    if (unsupported.empty()) unsupported = std::move(what);
  }

  uint64_t alternation() {
    uint64_t size = sequence();
    while (at('|')) {
      ++i_;
      size = add(add(size, sequence()), 1);
    }
    return size;
  }

  uint64_t sequence() {
    uint64_t size = 0;
    while (i_ < p_.size() && !at('|') && !at(')'))
      size = add(size, quantified(atom()));
    return size;
  }

  uint64_t atom() {
    const char c = p_[i_++];
    if (c == '\\') {
      if (i_ < p_.size()) {
        const char e = p_[i_++];
        if (e >= '1' && e <= '9') note(std::string("a back-reference (\\") + e + ")");
      }
      return 1;
    }
    if (c == '[') {
      if (at('^')) ++i_;
      while (i_ < p_.size() && !at(']'))
        i_ += at('\\') ? 2 : 1;
      if (at(']')) ++i_;
      return 1;
    }
    if (c == '(') {
      if (p_.substr(i_).starts_with("?=") || p_.substr(i_).starts_with("?!")) {
        note("lookahead (\"(" + std::string(p_.substr(i_, 2)) + "\")");
        i_ += 2;
      } else if (p_.substr(i_).starts_with("?:")) {
        i_ += 2;
      }
      const uint64_t inner = alternation();
      if (at(')')) ++i_;
      return add(inner, 2);
    }
    return 1;
  }

  // Reads the digits at i_ (saturating); false when there are none.
  bool number(uint64_t& out) {
    const size_t start = i_;
    out = 0;
    while (i_ < p_.size() && p_[i_] >= '0' && p_[i_] <= '9')
      out = std::min(out * 10 + static_cast<uint64_t>(p_[i_++] - '0'), kSaturated);
    return i_ != start;
  }

  // "{n}", "{n,}" or "{n,m}" at i_: how many times its part is laid out; nullopt (i_ unmoved)
  // when the brace is no repetition.
  std::optional<uint64_t> braces() {
    const size_t start = i_;
    ++i_;
    uint64_t n = 0;
    uint64_t m = 0;
    if (number(n)) {
      if (at('}')) {
        ++i_;
        return n;
      }
      if (at(',')) {
        ++i_;
        const bool bounded = number(m);
        if (at('}')) {
          ++i_;
          return bounded ? std::max(n, m) : add(n, 1);
        }
      }
    }
    i_ = start;
    return std::nullopt;
  }

  uint64_t quantified(uint64_t size) {
    while (i_ < p_.size()) {
      if (at('*') || at('+') || at('?')) {
        ++i_;
        size = add(size, 1);
      } else if (at('{')) {
        const std::optional<uint64_t> times = braces();
        if (!times) break;
        size = add(multiply(size, *times), 1);
      } else {
        break;
      }
    }
    return size;
  }

  std::string_view p_;
  size_t i_ = 0;
};

} // namespace

size_t regex_expanded_size(std::string_view pattern, std::string* unsupported) {
  SizeParser parser(pattern);
  const uint64_t size = parser.run();
  if (unsupported) *unsupported = std::move(parser.unsupported);
  return static_cast<size_t>(size);
}

std::optional<Regex> Regex::compile(const std::string& pattern, std::string* error) {
  std::string unsupported;
  const size_t size = regex_expanded_size(pattern, &unsupported);
  if (!unsupported.empty()) {
    if (error)
      *error = "uses " + unsupported +
               ", which weir does not support: it matches in time linear in the value, as RE2 "
               "(Envoy's engine) does";
    return std::nullopt;
  }
  if (size > kMaxSize) {
    if (error)
      *error = "is too large: its repetitions expand to " +
               (size >= kSaturated ? std::string("more than 10^12") : std::to_string(size)) +
               " units, at most " + std::to_string(kMaxSize) +
               " (each character, class or group counts one; {n,m} repeats its part m times)";
    return std::nullopt;
  }
  try {
    // nosubs: only whether the whole value matches counts, so no capture is kept per state.
    // __polynomial: the breadth-first executor (see regex.h).
    return Regex(std::regex(pattern, std::regex::ECMAScript | std::regex::nosubs |
                                         std::regex_constants::__polynomial));
  } catch (const std::regex_error& e) {
    if (error)
      *error = std::string("does not compile (ECMAScript, matching the whole value): ") + e.what();
    return std::nullopt;
  }
}

bool Regex::matches(std::string_view value) const {
  return std::regex_match(value.begin(), value.end(), re_);
}

} // namespace weir::route
