#pragma once

#include "yaml_checker.h"

namespace weir::config::yaml {

// The keys of a route's `rollout` that belong to the blue_green strategy, for Fields.
inline constexpr std::string_view kBlueGreenKeys[] = {"preview", "pre_promotion", "auto_promotion"};

// Reads a blue/green plan's own keys from the rollout map's fields and makes its steps:
//   1. set_header_route "preview": requests with the preview header and its secret go to the
//      new version (its value hidden in status, events and logs);
//   2. analysis for pre_promotion.analysis.duration, when given: judged on the preview, probe
//      and top-up traffic the new version gets at weight 0;
//   3. pause for auto_promotion.after (none when it is 0), or a manual gate when
//      auto_promotion is false;
// and the end of the steps is the switch of 100 % at once. rollback_window defaults to 10m.
void read_blue_green(Checker& checker, const Fields& fields, Rollout& rollout);

// A canary plan given a blue_green key: one error per key, naming the strategy it needs.
void refuse_blue_green_keys(Checker& checker, const Fields& fields);

} // namespace weir::config::yaml
