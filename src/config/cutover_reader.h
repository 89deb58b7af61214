#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// The keys of a route's `rollout` about the end of a rollout, for Fields.
inline constexpr std::string_view kCutoverKeys[] = {"rollback_window", "tunnels", "cleanup",
                                                    "rollback_drill"};

// Reads them: rollback_window: 10m; tunnels: {drain_over: 5m, abort_grace: 30s};
// cleanup: {grace_period: 10m}; rollback_drill: {every: 1m}. A blue_green plan reads its own
// keys first (its rollback_window defaults to 10m).
void read_cutover(Checker& checker, const Fields& fields, Rollout& rollout);

} // namespace weir::config::yaml
