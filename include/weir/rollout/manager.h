#pragma once

#include "weir/config/config.h"
#include "weir/control/command_table.h"
#include "weir/rollout/analysis.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
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
class Manager {
public:
  static constexpr size_t kHistory = 256;

  Manager(boost::asio::io_context& io, control::Controller& controller);
  ~Manager();

  // Restores saved rollouts (a pause resumes with its remaining time) and hooks fast abort.
  void start();
  void stop();
  void register_commands(control::CommandTable& table);

  // Operations; each returns "" or an error message.
  std::string begin(const std::string& route, const std::string& canary);
  std::string pause(const std::string& route);
  std::string resume(const std::string& route);
  std::string promote(const std::string& route, bool full);
  std::string abort(const std::string& route, const std::string& reason);
  void on_fast_abort(const std::string& route, const std::string& service);

  std::string status_json(const std::string& route) const;
  std::string history_json(const std::string& route) const;
  // For `watch ROUTE`: {"status":{...},"events":[events after cursor]}; advances cursor.
  std::string feed(const std::string& route, uint64_t& cursor) const;

private:
  struct State;
  State* find(const std::string& route);
  const State* find(const std::string& route) const;
  State& state_for(const std::string& route);
  const config::Rollout* plan(const std::string& route) const;
  void run_steps(State& s);
  void set_canary_weight(State& s, uint32_t percent);
  void arm_step_timer(State& s, std::chrono::milliseconds after);
  void arm_analysis(State& s);
  void analyze_now(State& s);
  void record(State& s, std::string type, std::string message, std::string details = "");
  void save();
  void restore();
  void notify(const std::string& url, const std::string& body);

  boost::asio::io_context& io_;
  control::Controller& controller_;
  std::map<std::string, std::unique_ptr<State>> states_;
};

} // namespace weir::rollout
