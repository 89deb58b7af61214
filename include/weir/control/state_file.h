#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>

// The live state that operators change at run time and that must survive a restart or kill -9:
// DIR/weir.state, rewritten atomically after each change. Control thread only (blocking I/O).
namespace weir::control {

struct LiveState {
  // route name -> (backend service "ns/name" -> weight) overrides set with `set weight`: the
  // operator's. They win over rollout_weights while present.
  std::map<std::string, std::map<std::string, uint32_t>> weight_overrides;
  // The same, set by a route's rollout (its steps, abort, promotion): what the route serves
  // when no operator override is in force, so `clear weight` after an abort keeps the canary at 0.
  std::map<std::string, std::map<std::string, uint32_t>> rollout_weights;
  // drained endpoints: service "ns/name" -> set of endpoint "host:port"
  std::map<std::string, std::set<std::string>> drained;
  // opaque per-feature sections other modules add (e.g. "rollouts"): name -> JSON text of the
  // value. Stored compact: from_json() yields each value re-encoded by json::Writer.
  std::map<std::string, std::string> extra;

  bool operator==(const LiveState&) const = default;
};

inline constexpr const char* kStateFileName = "weir.state";
inline constexpr const char* kCorruptStateFileName = "weir.state.corrupt";

// {"version":1,"weights":{route:{service:weight}},"rollout_weights":{route:{service:weight}},
//  "drained":{service:[endpoint]},"extra":{name:value}} on one line. An extra value that is not
//  valid JSON is written as null.
std::string to_json(const LiveState& state);

// Parses to_json() output. Unknown top-level keys are ignored (a newer minor addition); a
// version other than 1, or a section of the wrong shape, is an error. `error` may be null.
std::optional<LiveState> from_json(std::string_view text, std::string* error);

// Atomic replace: writes DIR/weir.state.tmp.<pid>, fsyncs it, renames it to DIR/weir.state and
// fsyncs DIR, so a crash at any moment leaves either the old or the new file. Returns "" or an
// error message; on error DIR/weir.state is untouched. The directory must exist. Refuses (and
// writes nothing) when an extra section is not valid JSON.
std::string save_state(const std::string& dir, const LiveState& state);

// Missing file (or missing directory) -> empty state, no error. Unreadable file -> nullopt and
// the error. Corrupt file -> nullopt and the error, and the file is renamed to
// DIR/weir.state.corrupt (replacing an older one) so that the caller can log, start empty and
// save over it without destroying the evidence. `error` may be null.
std::optional<LiveState> load_state(const std::string& dir, std::string* error);

} // namespace weir::control
