#pragma once

#include "weir/control/state_file.h"

#include <map>
#include <string>
#include <vector>

// The fleet's live state as store entries, and back. Pure functions; any thread.
//
//   live/weights/ROUTE          {"ns/svc":W,...}   an operator's `set weight`
//   live/rollout_weights/ROUTE  {"ns/svc":W,...}   what the route's rollout set
//   live/drained/NS/SVC         ["host:port",...]  drained endpoints
//   rollouts                    the rollout manager's state (the leader's), as in the state file
//
// One entry per route or service, so two replicas changing two routes at once never write the
// same key.
namespace weir::cluster {

// Whether `key` is one of the entries above.
bool is_live_key(const std::string& key);

std::map<std::string, std::string> live_entries(const control::LiveState& live);

// The live state `data`'s live entries describe (other keys ignored). An entry that cannot be
// read is skipped and named in `errors` (may be null): one bad write never hides the rest.
control::LiveState live_from_entries(const std::map<std::string, std::string>& data,
                                     std::vector<std::string>* errors);

} // namespace weir::cluster
