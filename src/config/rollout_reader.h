#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// Reads a route's `rollout` block: stable and canary, steps, analysis (thresholds, external
// metrics, top-up), fast abort, readiness, affinity, override, notify, capacity and hooks. Puts
// rollout.stable and rollout.canary in `marks` for the cross-reference checks.
void read_rollout(Checker& checker, const Item& item, Rollout& rollout, RouteMarks& marks);

} // namespace weir::config::yaml
