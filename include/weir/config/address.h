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

// Parses "10.0.0.0/8", "fd00::/8" or a single address ("127.0.0.1" = /32). Host bits below
// the prefix must be zero, so "10.1.2.3/8" (a typo more often than not) is refused.
Result<Cidr> parse_cidr(std::string_view text);

// True when the address (4 bytes for IPv4, 16 for IPv6; an IPv4-mapped IPv6 address counts as
// IPv4) lies in the network. No allocation: workers call it once per connection.
bool cidr_contains(const Cidr& net, bool v6, const unsigned char* bytes);

} // namespace weir::config
