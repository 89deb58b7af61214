#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"

#include <string_view>

namespace weir::config {

// Parses "a.b.c.d:port" or "[v6]:port" (numeric only: no DNS, which is slow and belongs on the
// control thread anyway). IPv6 hosts come back in canonical form so equal addresses compare
// equal. Port 0 is accepted only when `allow_port_zero` (listeners bound by tests).
// Pure function; any thread.
Result<Address> parse_address(std::string_view text, bool allow_port_zero);

} // namespace weir::config
