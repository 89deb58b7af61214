// A rollout in a fleet (cluster/fleet.h): the leader runs it as a lone weir would, every other
// replica follows the state the leader saves to the fleet's store.
#include "manager_state.h"
#include "weir/base/log.h"

#include <algorithm>

namespace weir::rollout {

void Manager::set_role(Role role, std::string why, bool holding) {
  held_ = role == Role::lead ? std::string() : why;
  holding_ = role == Role::follow && holding;
  if (role == role_) return;
  // Whatever a run here was waiting for (a hook, a metric) is answered into nothing.
  run_token_ = std::make_shared<bool>(true);
  stop();
  // A drill mirrors to the old version through this replica's workers: it ends here (its askers
  // hear so).
  for (auto& [route, s] : states_)
    end_drill(*s);
  role_ = role;
  states_.clear();
  if (role == Role::lead) {
    // The weights, mirror and header routes a follower applied stay until the run sets its own:
    // restore() sets them again for every running rollout.
    followed_.clear();
    log::info("rollouts: this replica leads the fleet's rollouts");
    restored_because_ = why.empty() ? "taken over" : why;
    restore();
    restored_because_.clear();
  } else {
    log::info("rollouts: followed, not run here: " + held_);
    refresh_followed();
  }
}

bool Manager::any_running() const {
  for (const auto& [route, s] : states_)
    if (s->phase == Phase::progressing || s->phase == Phase::paused) return true;
  return false;
}

bool Manager::command_ran(const std::string& route, const std::string& id) const {
  const State* s = find(route);
  return s && std::find(s->commands.begin(), s->commands.end(), id) != s->commands.end();
}

void Manager::note_command(const std::string& route, const std::string& id) {
  if (!plan(route)) return; // refused anyway: nothing to keep
  State& s = state_for(route);
  s.commands.push_back(id);
  if (s.commands.size() > 32) s.commands.pop_front();
}

void Manager::refresh_followed() {
  if (role_ != Role::follow) return;
  states_.clear();
  restore_from(host_.saved_state(), false);
  // The leader set its live mirror, header routes and fast abort on its own workers; those are
  // not in the shared live state, so each follower sets them on its own from what it saved.
  std::map<std::string, Followed> now;
  for (const auto& [route, s] : states_) {
    if (!plan(route)) continue;
    Followed f;
    f.running = s->phase == Phase::progressing || s->phase == Phase::paused;
    f.canary = s->canary;
    f.mirror_percent = f.running ? s->mirror_percent : 0;
    f.header_routes = f.running && !s->header_routes.empty();
    Followed before = followed_.count(route) ? followed_[route] : Followed{};
    if (f.running && (!before.running || before.canary != f.canary))
      host_.reset_fast_abort(route);
    else if (!f.running && before.running)
      host_.stop_fast_abort(route);
    if (f.mirror_percent > 0)
      host_.set_mirror(route, f.canary, f.mirror_percent);
    else if (before.mirror_percent > 0)
      host_.clear_mirror(route);
    if (f.header_routes)
      host_.set_header_routes(route, f.canary, s->header_routes);
    else if (before.header_routes)
      host_.set_header_routes(route, f.canary, {});
    now[route] = f;
  }
  for (const auto& [route, before] : followed_) {
    if (now.count(route)) continue;
    if (before.running) host_.stop_fast_abort(route);
    if (before.mirror_percent > 0) host_.clear_mirror(route);
    if (before.header_routes) host_.set_header_routes(route, before.canary, {});
  }
  followed_ = std::move(now);
}

void Manager::fast_abort_here(State& s, const FastAbort::Trip& trip) {
  // Local first: this replica's share of the errors is enough to stop sending users to the
  // canary here now; the rollout weights are the fleet's, so every replica follows within the
  // store's watch, and the leader records the abort and ends the run.
  std::string why = "fast abort on a follower: " + std::to_string(trip.errors) +
                    " consecutive errors from " + trip.service + " in " +
                    std::to_string(trip.window.count()) + " ms";
  log::warn("rollout " + s.route + ": " + why);
  host_.set_weights(s.route, {{s.stable, 100}, {s.canary, 0}});
  if (to_leader_) to_leader_(s.route, "abort", why);
}

} // namespace weir::rollout
