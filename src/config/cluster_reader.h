#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// Reads the top-level `cluster` block: the fleet's name, this replica's name (the host name when
// not given), the lease TTL and the one store, etcd or the Kubernetes API.
void read_cluster(Checker& checker, const Item& item, Cluster& cluster);

} // namespace weir::config::yaml
