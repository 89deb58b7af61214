#pragma once

#include "weir/base/clock.h"
#include "weir/config/config.h"
#include "weir/control/command_table.h"
#include "weir/rollout/analysis.h"
#include "weir/rollout/fast_abort.h"
#include "weir/rollout/host.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

namespace weir::control {
class Controller;
}

namespace weir::rollout {

// Where a route's rollout stands (Argo Rollouts' names).
enum class Phase { idle, progressing, paused, degraded, healthy };
const char* phase_name(Phase p);

// One thing that happened: a transition or an analysis verdict. Kept in a bounded history (the
// flight recorder), logged, and posted to the webhook.
struct Event {
  std::string time;
  std::string type; // started, step, paused, resumed, analysis, aborted, promoted, waiting
  std::string message;
  std::string details; // JSON object text ("" when none)
};

// Runs the rollout plans of every route on the control thread: steps on timers, analysis of
// the built-in metric windows, fast abort, promotion and rollback through the controller's live
// weights (so every change is atomic on all workers), and the state file section "rollouts".
//
// Time: every decision reads `clock` and keeps what it waits for as due times (the end of a
// timed step, the next analysis interval); one asio timer per route only wakes the manager at
// the earliest of them to run_due(). Tests step a ManualClock and call run_due() themselves.
class Manager {
public:
  static constexpr size_t kHistory = 256;
  using TimePoint = Clock::Steady::time_point;

  // weir's: the controller is the host (fast abort and `watch` hooked), real time.
  Manager(boost::asio::io_context& io, control::Controller& controller);
  // `io` only carries the wake-up timers; `host` and `clock` outlive the manager.
  Manager(boost::asio::io_context& io, Host& host, Clock& clock);
  ~Manager();

  // Restores saved rollouts (a running step goes on with the wall-clock time it really has left).
  void start();
  void stop();
  void register_commands(control::CommandTable& table);

  // Operations; each returns "" or an error message.
  std::string begin(const std::string& route, const std::string& canary);
  std::string pause(const std::string& route);
  std::string resume(const std::string& route);
  std::string promote(const std::string& route, bool full);
  std::string abort(const std::string& route, const std::string& reason);
  // The workers' runs of errors from a version added up to the fast-abort threshold
  // (rollout/fast_abort.h): aborts when that version is the canary of a running rollout.
  void on_fast_abort(const FastAbort::Trip& trip);

  std::string status_json(const std::string& route) const;
  std::string history_json(const std::string& route) const;
  // For `watch ROUTE`: {"status":{...},"events":[events after cursor]}; advances cursor.
  std::string feed(const std::string& route, uint64_t& cursor) const;

  // The earliest time something is due on any route (nullopt: nothing waits on time).
  std::optional<TimePoint> next_due() const;
  // Runs, on every route, what is due at clock.now(): what the timers call.
  void run_due();

private:
  struct State;
  State* find(const std::string& route);
  const State* find(const std::string& route) const;
  State& state_for(const std::string& route);
  const config::Rollout* plan(const std::string& route) const;
  void run_steps(State& s);
  void run_due(State& s);
  void set_canary_weight(State& s, uint32_t percent);
  void step_due_at(State& s, TimePoint at);
  void arm_analysis(State& s);
  void stop_timers(State& s);
  // Points the route's wake-up timer at its earliest due time (or cancels it).
  void schedule(State& s);
  void analyze_now(State& s);
  void record(State& s, std::string type, std::string message, std::string details = "");
  void save();
  void restore();

  boost::asio::io_context& io_;
  std::unique_ptr<Host> owned_host_; // the controller's adapter, in weir
  Host& host_;
  Clock& clock_;
  std::map<std::string, std::unique_ptr<State>> states_;
};

} // namespace weir::rollout
