#pragma once

#include "yaml_checker.h"

#include <vector>

namespace weir::config::yaml {

// A service's `health_check`: present means on; type, path, interval, timeout, thresholds and
// the expected statuses.
void read_health_check(Checker& checker, const Item& item, HealthCheck& check);

// A service's `probes`: each a scripted request with expectations, names unique.
void read_probes(Checker& checker, const Item& item, std::vector<Probe>& probes);

// A service's `outlier_detection`.
void read_outlier_detection(Checker& checker, const Item& item, OutlierDetection& outlier);

} // namespace weir::config::yaml
