#pragma once

#include "yaml_checker.h"

#include <string>
#include <vector>

namespace weir::config::yaml {

constexpr size_t kMaxMatchAlternatives = 64; // HTTPRoute: 64 matches per rule
constexpr size_t kMaxValueMatches = 16;      // HTTPRoute: 16 headers, 16 query parameters
constexpr size_t kMaxMatchValueLength = 1024;

// Reads a route's `match`: one map (the old {host, path_prefix} keys, or one alternative) or a
// list of alternatives, each an AND of host, path {type, value}, method, headers and query
// (HTTPRoute's HTTPRouteMatch). Appends at least one alternative to `matches` on success;
// false when something was wrong (reported to `checker`).
bool read_match(Checker& checker, const Item& item, std::vector<Match>& matches);

// Reads a list of header (`header` true: names are tokens, stored lower case) or query
// parameter conditions [{name, value, type: Exact|RegularExpression}], at most 16, no name
// twice. Also what a rollout's set_header_route reads. False when something was wrong.
bool read_value_matches(Checker& checker, const Item& item, bool header,
                        std::vector<ValueMatch>& out);

// What makes two alternatives the same for routing: the host, the path (a PathPrefix without
// its trailing '/'), the method and the header and query conditions in any order. Two routes on
// one listener with the same key: the later one would never be chosen.
std::string match_key(const Match& match);

} // namespace weir::config::yaml
