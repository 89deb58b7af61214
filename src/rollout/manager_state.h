#pragma once
// Private to the rollout manager's implementation files: one route's rollout state.

#include "weir/rollout/manager.h"

#include <boost/asio/steady_timer.hpp>
#include <deque>
#include <set>

namespace weir::rollout {

struct Manager::State {
  explicit State(boost::asio::io_context& io) : timer(io) {}
  std::string route;
  Phase phase = Phase::idle;
  std::deque<std::string> commands; // the last fleet commands run for it (note_command)
  std::string stable;
  std::string canary;
  size_t step = 0;
  uint32_t canary_weight = 0;             // what the plan set; status reports the live split
  bool gate = false;                      // paused at a manual gate: `rollout promote` continues
  bool user_paused = false;               // `rollout pause` (or too many inconclusive intervals)
  std::optional<TimePoint> step_deadline; // end of the current pause/analysis step
  std::optional<std::chrono::milliseconds> remaining; // of a step deadline while paused
  // An analysis step's time is over: the next passing verdict moves the rollout on.
  bool awaiting_pass = false;
  uint32_t failures = 0; // built-in analysis and `rollout` hooks: failed intervals in a row
  uint32_t inconclusive = 0;
  std::map<std::string, uint32_t> metric_failures; // external metric → failed intervals in a row
  std::string last_outcome;                        // the whole last verdict ("" before any)
  std::optional<TimePoint> last_verdict_at;        // when it was given
  std::string last_reason;
  std::string last_details; // its JSON, for status
  std::string message;      // why it stands where it stands
  std::deque<Event> history;
  uint64_t events_total = 0; // events ever recorded; history holds the last kHistory
  // Due times; `timer` wakes the manager at the earliest.
  std::optional<TimePoint> step_due;     // run_steps again (a step's end, a gate's next ask)
  std::optional<TimePoint> analysis_due; // the next analysis interval
  boost::asio::steady_timer timer;

  // Changes whenever the rollout starts over or ends: a hook answer or metric of another epoch
  // is about a rollout that is gone.
  uint64_t epoch = 0;
  bool starting = false;      // pre_rollout hooks asked, no answer yet
  std::string pending_stable; // the versions of that start (stable and canary change only once
  std::string pending_canary; // it goes through)
  std::vector<config::RolloutStep> steps_run; // the plan's steps when this rollout started
  // The plan's steps changed under the running rollout (a reload, or a restart with another
  // file): it holds until the operator restarts, promotes fully or aborts it.
  bool plan_changed = false;
  bool skipping = false;    // intervals are being skipped (one event for the whole stretch)
  bool measuring = false;   // an interval's metrics or hooks asked, no answer yet
  bool asking_gate = false; // confirm hooks asked, no answer yet
  std::string waiting_for;  // the confirm gate that holds the rollout ("" when none)
  std::string gate_refusal; // its last refusal, recorded once per change
  std::map<std::string, std::string> hook_said; // confirm hook → its last recorded answer
  bool rollout_confirmed = false;
  bool promotion_confirmed = false;
  std::optional<TimePoint> started_at;
  bool top_up = false; // synthetic requests running
  // set_mirror: the share of the route's requests mirrored to the canary now (0: the rollout
  // mirrors nothing; the route's own `mirror`, if any, applies).
  double mirror_percent = 0;
  // set_header_route: name → headers, in the order first set; requests with every header of one
  // go to the canary whatever its weight, while the rollout runs.
  std::vector<std::pair<std::string, std::vector<config::ValueMatch>>> header_routes;
  // The names of those whose values are a secret (blue/green's preview): status and the state
  // file write "(secret)" instead, and a restore or reload takes the values from the plan.
  std::set<std::string> secret_routes;
  // The route's comparison tally (DivergenceBook) when the last interval began and when this
  // rollout started (or weir restarted): an interval judges what was compared since.
  mirror::DivergenceCounts divergence_base;
  mirror::DivergenceCounts divergence_start;
  // After a promotion (manager_cutover.cc): until then the replaced version is kept warm and
  // `rollout undo` switches back without --force (nullopt: the plan has no window, or it closed).
  std::optional<TimePoint> rollback_until;
  // After a promotion (manager_cleanup.cc): what still uses the replaced version, checked
  // every second until a new rollout, an undo or a reload ends it.
  struct Cleanup {
    std::string version;
    // One per thing that keeps a version in use, in the order status lists them.
    struct Condition {
      const char* name;
      bool pending = true;
      TimePoint since;    // when it became pending or clear
      std::string detail; // "3 open", "2 % of the sticky buckets", …
    };
    std::vector<Condition> conditions;
    bool safe = false;
    TimePoint safe_since{};
    bool draining_tunnels = false;           // a drain asked; "tunnels_drained" when none is left
    std::optional<TimePoint> idle_closed_at; // the last time its idle connections were closed
  };
  std::optional<Cleanup> cleanup;
  std::optional<TimePoint> cleanup_due;
  // Rollback drills (manager_drill.cc): the one running, the last one's verdict, and when
  // rollback_drill.every runs the next.
  struct Drill {
    uint64_t epoch = 0; // the rollout's: a drill of a rollout that moved on is dropped
    std::string target, live;
    uint32_t requests = 0;    // mirrored live GETs wanted
    TimePoint mirror_until{}; // the mirror stops then, however few were compared
    mirror::DivergenceCounts base;
    std::optional<std::vector<Host::DrillAnswer>> answers; // the synthetic requests' pairs
    std::vector<std::function<void(std::string error, std::string report)>> waiting;
  };
  std::optional<Drill> drill;
  std::optional<TimePoint> drill_check_due; // the running drill's next look at its mirror
  std::optional<TimePoint> next_drill_due;  // rollback_drill.every
  // The last drill's report (JSON) and verdict; a failed one makes `rollout undo` ask --force.
  std::string last_drill;
  bool last_drill_failed = false;
  std::string last_drill_reason;
  // Verdicts ever reached, by outcome (weir_rollout_analysis_total).
  uint64_t verdicts[3] = {0, 0, 0};
};

} // namespace weir::rollout
