#pragma once

#include "weir/base/result.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace weir::net {

// An absolute http:// or https:// URL as weir's own HTTP client uses it (rollout hooks, the
// Prometheus server of an external metric). Plain value; any thread.
struct Url {
  bool tls = false;     // https
  std::string host;     // a DNS name (lower-cased) or a numeric address (IPv6 without brackets)
  bool numeric = false; // host is an IPv4/IPv6 literal: no DNS, and no SNI (RFC 6066 3)
  uint16_t port = 0;    // explicit, or 80 / 443
  std::string target;   // origin-form request target: path and query, at least "/"

  // "host" or "host:port" (brackets around IPv6), the port left out when it is the scheme's
  // default: the Host header.
  std::string authority() const;
  // scheme://authority + target.
  std::string text() const;
};

// Parses "http[s]://host[:port][/path][?query]". The host is a DNS name, an IPv4 address or an
// IPv6 address in brackets; user info and fragments are refused (user info would put a secret in
// logs and events, a fragment is never sent). The target may not hold spaces or control
// characters, which would break the request line. Errors say what is wrong, for the config
// loader's messages. Pure function.
Result<Url> parse_url(std::string_view text);

// RFC 3986 percent-encoding of everything but the unreserved characters (ALPHA DIGIT - . _ ~):
// safe inside a query parameter's value. Pure function.
std::string percent_encode(std::string_view s);

} // namespace weir::net
