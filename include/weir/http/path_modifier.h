#pragma once

#include "weir/config/config.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace weir::http {

// Appends the target a request goes on with after HTTPRoute's HTTPPathModifier (a rewrite's, or
// a redirect's Location): `target` is the origin-form target as received ("/a/b?q=1"),
// `prefix_length` the characters of its path that the matched PathPrefix covered, without a
// trailing '/' (route::Table::Hit::prefix_length). The modifier replaces the path only: the
// query stays. replace_prefix follows the Gateway API's table: "/foo/bar" matched by "/foo"
// becomes "/xyz/bar" with "/xyz" or "/xyz/", and "/bar" with "" or "/"; an empty result is "/".
// Pure; appends to a reused string.
void append_modified_path(std::string& out, std::string_view target,
                          const config::PathModifier& modifier, size_t prefix_length);

} // namespace weir::http
