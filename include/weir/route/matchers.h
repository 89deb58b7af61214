#pragma once

#include "weir/config/config.h"
#include "weir/http/head.h"
#include "weir/route/regex.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace weir::route {

// One compiled condition on a header or a query parameter (HTTPRoute's HTTPHeaderMatch and
// HTTPQueryParamMatch).
//
// Built on the control thread (compile()); immutable afterwards, so worker threads test it
// concurrently. Exact conditions never allocate; a regex one may (its executor's state, and the
// joined value of a header sent several times). A regex condition takes time linear in the value
// (route/regex.h).
class ValueMatcher {
public:
  // Compiles `m`; nullopt and `error` set when its regex does not compile (the loader refuses
  // such a config, so only a config built elsewhere can hit it).
  static std::optional<ValueMatcher> compile(const config::ValueMatch& m, std::string* error);
  // A Regex (ECMAScript grammar, whole-value match, linear time); nullopt and `error` ("regular
  // expression \"P\" " and Regex::compile's reason) when Regex::compile refuses it.
  static std::optional<Regex> compile_regex(const std::string& pattern, std::string* error);

  // The header named name() (without case) holds the value. A header sent several times is
  // taken as its values joined with "," in the order received (RFC 9110 5.3); a header not sent
  // never matches, not even an empty value.
  bool matches_header(std::span<const http::Header> headers) const;

  // The query parameter named name() (with case) has the value: `query` is what follows '?' in
  // the target (no '#'), pairs split on '&', the first pair of the name counts, and its value is
  // compared as sent (no percent-decoding). A pair without '=' has the value "".
  bool matches_query(std::string_view query) const;

  const std::string& name() const { return name_; }
  bool is_regex() const { return regex_.has_value(); }

private:
  bool matches_value(std::string_view value) const;

  std::string name_; // headers: lower case
  std::string value_;
  std::optional<Regex> regex_;
};

// What follows '?' in a target, up to a '#' ("" when there is no query).
std::string_view query_of(std::string_view target);
// The target up to '?' or '#'.
std::string_view path_of(std::string_view target);

} // namespace weir::route
