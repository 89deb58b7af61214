#pragma once

#include "weir/base/clock.h"
#include "weir/config/config.h"
#include "weir/control/command_table.h"
#include "weir/rollout/analysis.h"
#include "weir/rollout/fast_abort.h"
#include "weir/rollout/host.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace weir::json {
class Writer;
}

namespace weir::rollout {

// Where a route's rollout stands (Argo Rollouts' names).
enum class Phase { idle, progressing, paused, degraded, healthy };
const char* phase_name(Phase p);

// One thing that happened: a transition, an analysis verdict, a hook's answer. Kept in a bounded
// history (the flight recorder), logged, and posted to the webhook.
struct Event {
  std::string time;
  std::string type; // started, step, paused, resumed, analysis, aborted, promoted, waiting, hook…
  std::string message;
  std::string details; // JSON object text ("" when none)
  // Who asked for it, when an operator did: the control client ("uid 1000, pid 4242"), a
  // dashboard ("dashboard 127.0.0.1:52310") or a fleet replica; "" for the plan's own doing.
  std::string origin = "";
};

// Runs the rollout plans of every route on the control thread: steps on timers, analysis
// intervals (built-in metric windows, external metrics, `rollout` and `rollback` hooks) judged
// as one verdict, gates (pre_rollout, confirm_rollout, confirm_promotion), fast abort, promotion
// and rollback through the host's rollout weights (atomic on all workers), top-up traffic for
// thin services, and the state file section "rollouts".
//
// Weights have one owner at a time: the plan while a rollout is Progressing or Paused (an
// operator's `set weight` / `clear weight` is refused then, unless --force, which pauses the
// rollout), the operator otherwise. Status always reports the split traffic really gets.
//
// Time: every decision reads `clock` and keeps what it waits for as due times (the end of a
// timed step, the next analysis interval); one asio timer per route only wakes the manager at
// the earliest of them to run_due(). Tests step a ManualClock and call run_due() themselves.
// Hook calls and metric queries answer later through the host; an answer that arrives after
// the rollout moved on (another start, an abort) is dropped by its epoch.
class Manager {
public:
  static constexpr size_t kHistory = 256;
  using TimePoint = Clock::Steady::time_point;
  // "" when the operation went through, else why not.
  using Done = std::function<void(std::string error)>;

  // `io` only carries the wake-up timers; `host` and `clock` outlive the manager. In weir the
  // host is the controller's adapter (ControllerHost) and connect() (controller_host.h) gives
  // the controller's hooks to the manager: the manager knows only its Host.
  Manager(boost::asio::io_context& io, Host& host, Clock& clock);
  ~Manager();

  // Restores saved rollouts (a running step goes on with the wall-clock time it really has left).
  void start();
  void stop();
  void register_commands(control::CommandTable& table);

  // Operations; each returns "" or an error message. begin() and restart() return an error at
  // once when the start cannot be tried; otherwise `done` (if any) runs exactly once, after the
  // pre_rollout hooks answered (at once when there are none), with "" or their refusal.
  std::string begin(const std::string& route, const std::string& canary, Done done = nullptr);
  std::string restart(const std::string& route, Done done = nullptr);
  std::string pause(const std::string& route);
  std::string resume(const std::string& route);
  std::string promote(const std::string& route, bool full);
  std::string abort(const std::string& route, const std::string& reason);
  // After a promotion: the previous stable version takes the whole route again at once. After
  // the plan's rollback window closed only with `force` (that version may be scaled down).
  std::string undo(const std::string& route, bool force = false);
  // The workers' runs of errors from a version added up to the fast-abort threshold
  // (rollout/fast_abort.h): aborts when that version is the canary of a running rollout.
  void on_fast_abort(const FastAbort::Trip& trip);
  // An operator's weight command on `route`: "" to let it through, else the refusal.
  std::string guard_weights(const std::string& route, bool force, const std::string& command);
  // A rollback drill (manager_drill.cc): after a promotion, the version `rollout undo` would
  // return to gets the live version's probes and, mirrored, up to `requests` live GETs (GET and
  // HEAD only, for at most kDrillMirrorFor), and their status classes are compared with the live
  // answers. Returns an error at once when no drill can run; otherwise `done` runs once with ""
  // and the report (JSON: ready, reason, synthetic and mirrored counts). A failed drill is an
  // event and makes `rollout undo` ask for --force until a drill passes.
  static constexpr auto kDrillMirrorFor = std::chrono::seconds(10);
  using DrillDone = std::function<void(std::string error, std::string report)>;
  std::string drill(const std::string& route, uint32_t requests, DrillDone done);
  // A new config is in force: a rollout whose plan (or one of its versions) is gone ends and its
  // weights go back to the file's; one whose steps changed pauses; top-up follows its settings.
  void on_reload();

  // --- in a fleet (cluster/fleet.h): the leader runs every rollout, the others follow ---
  enum class Role { lead, follow };
  // lead: the saved state (the fleet's, as the last leader wrote it) is restored and run, as at
  // a start: a running step goes on with the wall-clock time it has left. follow: nothing runs
  // or is saved here; the status shows the saved state (refresh_followed) and `held` why this
  // replica does not run it. Answers still out from a run here (hooks, metrics) are dropped.
  // `why`: a follower's note in status (`held` when `holding`: nobody can lead; else `fleet`:
  // who runs it); the leader's: what its "restored" events say.
  void set_role(Role role, std::string why = "", bool holding = false);
  // Whether some route's rollout runs (Progressing or Paused), here or at the leader as
  // followed.
  bool any_running() const;
  // Fleet commands (cluster/fleet_commands.cc) the leader ran for `route`: kept with the
  // route's state, so a new leader that restores the state a command produced does not run the
  // command again, and one that restores an older state does.
  bool command_ran(const std::string& route, const std::string& id) const;
  void note_command(const std::string& route, const std::string& id);
  Role role() const { return role_; }
  // The leader saved a new state: followed again (status, the live mirror and header routes,
  // fast abort for the running rollouts, as the leader set them on its own workers).
  void refresh_followed();
  // What a follower asks of the leader: op "abort" (its workers' fast abort tripped; it has set
  // the canary to 0 itself already) or "pause" (an operator's forced weights), with why.
  using ToLeader =
      std::function<void(const std::string& route, const std::string& op, const std::string& why)>;
  void set_to_leader(ToLeader f) { to_leader_ = std::move(f); }

  // "" for a route that has no plan.
  std::string status_json(const std::string& route) const;
  std::string history_json(const std::string& route) const;
  // For `show services`: whether `service`, replaced by a promotion, is safe to delete yet and
  // what still uses it (a JSON object; "" when no route's cleanup tracks it).
  std::string cleanup_json(const std::string& service) const;
  // For `watch ROUTE`: {"status":{...},"events":[events after cursor]}; advances cursor.
  std::string feed(const std::string& route, uint64_t& cursor) const;
  // weir_rollout_* families in the Prometheus text format.
  void write_metrics(std::string& out) const;

  // The earliest time something is due on any route (nullopt: nothing waits on time).
  std::optional<TimePoint> next_due() const;
  // Runs, on every route, what is due at clock.now(): what the timers call.
  void run_due();

private:
  struct State;
  struct Interval;
  State* find(const std::string& route);
  const State* find(const std::string& route) const;
  State& state_for(const std::string& route);
  const config::Rollout* plan(const std::string& route) const;
  bool route_exists(const std::string& route) const;
  // The refusal for a command on a route without a plan: unknown route, or no plan.
  std::string no_plan(const std::string& route) const;

  // manager.cc: the state machine.
  std::string check_start(const std::string& route, const std::string& canary_arg,
                          std::string& stable, std::string& canary);
  void start_now(State& s, const std::string& stable, const std::string& canary);
  void run_steps(State& s);
  void run_due(State& s);
  void promote_now(State& s);
  void set_canary_weight(State& s, uint32_t percent);
  void step_due_at(State& s, TimePoint at);
  void arm_analysis(State& s);
  void stop_timers(State& s);
  void enter_paused(State& s, std::string message);
  // The rollout stops running (abort, promotion, undo, its plan gone): timers, top-up, fast
  // abort and any answer still out end with it.
  void end_run(State& s);
  // Holds a running rollout whose plan's steps changed under it (see State::plan_changed).
  void hold_for_changed_plan(State& s, const std::string& why);
  // Starts top-up at once when the route's real traffic at the canary's share would not reach
  // min_requests (a weight step, a resume, a restore), instead of an interval late.
  void top_up_if_thin(State& s);
  // The plan takes the weights back from an operator's override (resume, promote).
  void reclaim_weights(State& s);
  // set_header_route: adds, replaces or (no headers) removes the named header route, and gives
  // the route's header routes to the host; clear_header_routes drops them all (the run ends).
  void set_header_route(State& s, const config::RolloutStep& step);
  void clear_header_routes(State& s);
  // manager_fleet.cc: a follower's workers tripped fast abort: the canary to 0 here at once, and
  // the abort asked of the leader.
  void fast_abort_here(State& s, const FastAbort::Trip& trip);
  void schedule(State& s);
  void record(State& s, std::string type, std::string message, std::string details = "");

  // Whether the canary gets requests of its own to judge: a weight above 0, or a blue/green
  // preview (its header route, probes and top-up at weight 0).
  bool takes_traffic(const State& s) const;
  bool previewing(const State& s) const;

  // manager_cutover.cc: the preview's secret across reloads, and the end of a rollout: the
  // switch, the rollback window, undo.
  void follow_preview_secrets(State& s, const config::Rollout& plan);
  // A promotion's "promoted" event (a blue/green switch says what it switched) and the window
  // that opens with it.
  void record_promotion(State& s);
  void close_rollback_window(State& s);
  void write_cutover_status(json::Writer& w, const State* s) const;
  // Tunnels at cutover: the replaced version's drain over tunnels.drain_over after a promotion,
  // the failed version's close after tunnels.abort_grace after an abort or undo.
  void drain_replaced_tunnels(State& s);
  void close_failed_tunnels(State& s, const std::string& version);

  // manager_drill.cc
  void check_drill(State& s);
  void finish_drill(State& s);
  void scheduled_drill(State& s);
  void end_drill(State& s);

  // manager_cleanup.cc: when the replaced version is safe to delete.
  void start_cleanup(State& s);
  void end_cleanup(State& s);
  void check_cleanup(State& s);
  void write_cleanup_status(json::Writer& w, const State* s) const;

  // manager_interval.cc: one analysis interval, judged as one verdict.
  void begin_interval(State& s);
  void finish_interval(State& s, Interval& in);
  void update_top_up(State& s, const metrics::WindowStats& user_canary);
  void stop_top_up(State& s);

  // manager_mirror.cc: set_mirror and the shadow comparison's part of a verdict.
  // Mirrors `percent` of the route's requests to the canary (0: the rollout mirrors nothing).
  void set_mirror(State& s, double percent);
  // Whether the canary's answers are being compared now (a set_mirror, or the route's own
  // mirror to the canary with compare): what max_divergence needs to judge an interval.
  bool mirroring(const State& s) const;
  // The tally since the last interval judged against max_divergence (nullopt: not judged);
  // moves the interval's start on.
  std::optional<DivergenceVerdict> judge_divergence(State& s);
  // Both tallies start over from the book's counts now (a start, a restore).
  void reset_divergence(State& s);
  // Status: the live mirror and what the comparisons found since the rollout started.
  void write_mirror_status(json::Writer& w, const State* s) const;

  // manager_gates.cc: hooks.
  std::string hook_body(const State& s, const config::RolloutHook& hook) const;
  // Calls every hook of `type` and runs `then(ok, why)` once all answered (ok: all 2xx).
  void call_hooks(State& s, config::RolloutHook::Type type,
                  std::function<void(bool ok, std::string why)> then);
  // The pre_rollout hooks of a start: the body names the versions about to start.
  // Holds the rollout at a confirm gate until its hooks answer 2xx: true when it may go on.
  bool confirmed(State& s, config::RolloutHook::Type type);
  void notify_hooks(State& s, config::RolloutHook::Type type);

  // manager_report.cc: status, history, state file.
  void save();
  void restore();
  // Reads the saved state into states_; with `run`, restarts what was running (restore()).
  void restore_from(const std::string& saved, bool run);

  boost::asio::io_context& io_;
  Host& host_;
  Clock& clock_;
  std::map<std::string, std::unique_ptr<State>> states_;
  bool restoring_ = false; // restore() runs: it saves once, at its end
  // Async answers check it: none runs into a destroyed manager.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  // The same for the answers of a run (hooks, metric queries): made anew when the role changes.
  std::shared_ptr<bool> run_token_ = std::make_shared<bool>(true);
  Role role_ = Role::lead;
  // The control client whose command runs now (its Responder's peer()): what record() puts in
  // an event's origin. Set for the command's synchronous part only (OriginScope).
  std::string origin_;
  class OriginScope;
  std::string held_;             // why rollouts do not run here (a follower): shown in status
  bool holding_ = false;         // held_ says nobody can run them now
  std::string restored_because_; // a new leader's restore(): its "restored" events say so
  ToLeader to_leader_;
  // What a follower applied to its own workers for each followed route.
  struct Followed {
    bool running = false;
    std::string canary;
    double mirror_percent = 0;
    bool header_routes = false;
  };
  std::map<std::string, Followed> followed_;
};

} // namespace weir::rollout
