#pragma once

#include "weir/config/config.h"

#include <cstddef>
#include <string>
#include <string_view>

namespace weir::runtime {

// What a redirect needs to know of the request it answers.
struct RedirectRequest {
  std::string_view authority; // the routed authority: "host", "host:port" or "[v6]:port"
  std::string_view target;    // origin-form: path and query
  bool https = false;         // the request came over TLS
  size_t prefix_length = 0;   // route::Table::Hit::prefix_length, for a replace_prefix path
};

// Appends "Location: URL\r\n" for HTTPRoute's RequestRedirect: the configured scheme, hostname,
// port and path, the request's own where the redirect leaves them unset. The port follows the
// Gateway API: the configured one; else, when the redirect names a scheme, that scheme's
// well-known port; else the port the request came to (its Host's). It is left out when it is
// the scheme's well-known one (http 80, https 443). The query is kept. Returns false, appending
// nothing, when the redirect names no hostname and the request's Host is no usable host.
// Pure; any thread.
bool append_redirect_location(const config::Redirect& redirect, const RedirectRequest& request,
                              std::string& out);

} // namespace weir::runtime
