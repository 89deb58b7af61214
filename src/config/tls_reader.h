#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// Reads a listener's `tls` block and checks its files: each certificate and key readable, the key
// the certificate's, the certificate valid now; the client CA readable. Relative paths are taken
// from `base_dir` (the config file's directory) and stored absolute.
void read_listener_tls(Checker& checker, const Item& item, const std::string& base_dir,
                       ListenerTls& tls);

// Reads a service's `tls` block (TLS to its endpoints) and checks its files the same way.
void read_upstream_tls(Checker& checker, const Item& item, const std::string& base_dir,
                       UpstreamTls& tls);

} // namespace weir::config::yaml
