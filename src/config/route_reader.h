#pragma once

#include "yaml_checker.h"

#include <vector>

namespace weir::config::yaml {

// Reads a route's `match`: one map (the old {host, path_prefix} keys, or one alternative) or a
// list of alternatives, each an AND of host, path {type, value}, method, headers and query
// (HTTPRoute's HTTPRouteMatch). Appends at least one alternative to `matches` on success;
// false when something was wrong (reported to `checker`).
bool read_match(Checker& checker, const Item& item, std::vector<Match>& matches);

} // namespace weir::config::yaml
