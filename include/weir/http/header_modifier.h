#pragma once

#include "weir/config/config.h"

#include <string>
#include <string_view>
#include <vector>

namespace weir::http {

// HTTPRoute's RequestHeaderModifier / ResponseHeaderModifier, compiled once per snapshot from
// one or two config::HeaderModifier (a route's, then a backend's) into what writing a head needs:
// the names whose received headers are left out (those set or removed) and the complete
// "Name: value\r\n" lines to add (those set, then those added). Applying it costs one name
// comparison per header and one append, and allocates nothing.
//
// Immutable once built; any thread may read it.
class HeaderModifier {
public:
  HeaderModifier() = default;

  // `first` applies, then `then`: a name `then` sets or removes drops what `first` set or added
  // under it too, so a backend's filter has the last word over its route's.
  static HeaderModifier compile(const config::HeaderModifier& first,
                                const config::HeaderModifier& then = {});

  bool empty() const { return dropped_.empty() && lines_.empty(); }
  // Whether a received header of this name (any case) is left out.
  bool drops(std::string_view name) const;
  // The lines to add, each "Name: value\r\n".
  std::string_view lines() const { return lines_; }

private:
  std::vector<std::string> dropped_; // lower case
  std::string lines_;
};

} // namespace weir::http
