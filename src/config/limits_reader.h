#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// Reads the `limits` block: head and buffer sizes, client and handshake timeouts, connection
// caps. A limit that depends on another (the request line within the head) is checked here.
void read_limits(Checker& checker, const Item& item, Limits& limits);

} // namespace weir::config::yaml
