#pragma once

#include <optional>
#include <regex>
#include <string>
#include <string_view>

namespace weir::route {

// A RegularExpression condition (path, header, query parameter, set_header_route): ECMAScript
// syntax, matched against the whole value, in time linear in the value's length and with a
// stack bounded by the pattern, whatever a client sends.
//
// libstdc++'s default std::regex executor backtracks recursively: one stack frame or more per
// character, so "(a|b)*c" against a 16 KiB header overflows a worker's 8 MiB stack and kills
// the process, and "(a|aa)*c" takes exponential time. Compiled here, a Regex runs libstdc++'s
// breadth-first executor instead (a Thompson simulation: each input character advances the set
// of live NFA states once; recursion only follows a pattern's empty transitions), which is what
// users of Envoy's RE2 expect. What that executor cannot do in linear time is refused when the
// pattern is compiled: back-references, lookahead (RE2 refuses both) and a pattern whose
// repetitions expand to more than kMaxSize units (RE2's max program size, which Envoy checks).
//
// Built on the control thread; immutable afterwards, so worker threads match concurrently.
// matches() allocates (the executor's state sets).
class Regex {
public:
  // Units of an expanded pattern: each literal, class, '.', anchor or group counts one, a
  // quantifier one more, and {n,m} repeats its part's units m times (n+1 for {n,}); about
  // RE2's program size, which Envoy caps at 100 by default. Patterns routes use stay far below
  // ("/api/v[0-9]+/users/[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}" is about 60). The time per
  // character grows with the NFA states live at once: a few for such patterns (16 KiB in about
  // a millisecond), but a pattern built to keep every state live ("((a?){60})*x") costs tenths
  // of a second per 16 KiB value with libstdc++'s executor.
  static constexpr size_t kMaxSize = 256;

  // nullopt with `error` set (when not null) to a sentence saying why: it does not compile, or
  // it uses what linear-time matching refuses.
  static std::optional<Regex> compile(const std::string& pattern, std::string* error);

  // The whole of `value` matches.
  bool matches(std::string_view value) const;

private:
  explicit Regex(std::regex re) : re_(std::move(re)) {}
  std::regex re_;
};

// The expanded size of `pattern` in Regex's units (saturating at a large value); `unsupported`
// (when not null) is set to what linear-time matching refuses in it ("" when nothing). A pattern
// that does not parse is sized as best it can: std::regex judges its syntax.
size_t regex_expanded_size(std::string_view pattern, std::string* unsupported);

} // namespace weir::route
