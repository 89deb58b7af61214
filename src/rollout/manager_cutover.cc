// Blue/green's preview (who may reach the new version before the switch) and the end of a
// rollout: what a promotion switched, the rollback window that follows it, and `rollout undo`
// (Argo Rollouts' scaleDownDelaySeconds and undo).
#include "manager_state.h"
#include "weir/base/json.h"

namespace weir::rollout {

namespace {
std::string utc(std::chrono::system_clock::time_point t) {
  char stamp[32];
  return std::string(stamp, format_utc(t, stamp));
}

std::string minutes_text(config::Duration d) {
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (s % 60 == 0) return std::to_string(s / 60) + "m";
  return std::to_string(s) + "s";
}
} // namespace

bool Manager::previewing(const State& s) const {
  const config::Rollout* p = plan(s.route);
  return p && p->strategy == config::Rollout::Strategy::blue_green &&
         (s.phase == Phase::progressing || s.phase == Phase::paused) && !s.header_routes.empty();
}

bool Manager::takes_traffic(const State& s) const {
  return s.canary_weight > 0 || previewing(s);
}

// A reload that changes a preview's secret revokes the old one at once (and one whose plan has
// no preview any more ends it), while the rest of a changed plan waits for the operator.
void Manager::follow_preview_secrets(State& s, const config::Rollout& p) {
  bool changed = false;
  for (auto it = s.header_routes.begin(); it != s.header_routes.end();) {
    const config::RolloutStep* step = nullptr;
    for (const auto& st : p.steps)
      if (st.header_route_secret && st.header_route_name == it->first) step = &st;
    if (!s.secret_routes.contains(it->first) || (step && step->header_route == it->second)) {
      ++it;
      continue;
    }
    changed = true;
    if (step) {
      it->second = step->header_route;
      record(s, "preview",
             "the preview's secret changed with the config: the old one no longer reaches " +
                 s.canary);
      ++it;
    } else {
      record(s, "preview",
             "the plan has no preview any more: header route " + it->first + " removed");
      s.secret_routes.erase(it->first);
      it = s.header_routes.erase(it);
    }
  }
  if (changed) host_.set_header_routes(s.route, s.canary, s.header_routes);
}

void Manager::record_promotion(State& s) {
  const config::Rollout* p = plan(s.route);
  const bool window = p && p->rollback_window.count() > 0;
  std::string kept;
  if (window) {
    s.rollback_until = clock_.now() + p->rollback_window;
    if (p->rollback_drill_every.count() > 0)
      s.next_drill_due = clock_.now() + p->rollback_drill_every;
    schedule(s);
    kept = "; " + s.stable + " is kept warm for the " + minutes_text(p->rollback_window) +
           " rollback window (until " + utc(clock_.wall_now() + p->rollback_window) +
           "): `rollout undo " + s.route + "` switches back at once";
  }
  if (p && p->strategy == config::Rollout::Strategy::blue_green)
    s.message = "promoted: the route switched to " + s.canary +
                " at once, 100 % (sticky clients included)" + kept;
  else
    s.message = "promoted: " + s.canary + " serves the route" + kept;
  record(s, "promoted", s.message);
  start_cleanup(s);
  drain_replaced_tunnels(s);
}

void Manager::close_rollback_window(State& s) {
  s.rollback_until.reset();
  s.next_drill_due.reset(); // drills run during the window
  end_drill(s);
  if (s.phase != Phase::healthy) return;
  s.message = "promoted: " + s.canary + " serves the route; the rollback window is over (" +
              s.stable + " need not be kept warm; `rollout undo` needs --force)";
  record(s, "rollback_window_closed",
         "the rollback window is over: " + s.stable + " need not be kept warm any more; `rollout " +
             "undo " + s.route + "` now needs --force");
  save();
}

std::string Manager::undo(const std::string& route, bool force) {
  const config::Rollout* p = plan(route);
  if (!p) return no_plan(route);
  State* s = find(route);
  if (s && s->starting)
    return "a start of route \"" + route + "\" is waiting on its pre_rollout hooks";
  if (!s || s->phase != Phase::healthy)
    return "nothing to undo: route \"" + route +
           "\" has no promoted rollout (a running one is rolled back with `rollout abort`)";
  if (p->rollback_window.count() > 0 && !s->rollback_until && !force)
    return "the rollback window of route \"" + route + "\" (" + minutes_text(p->rollback_window) +
           ") is over: " + s->stable +
           " may have been scaled down since; add --force to switch back anyway";
  if (s->cleanup && s->cleanup->safe && !force)
    return "route \"" + route + "\": " + s->stable +
           " was reported safe to delete and may be gone; add --force to switch back anyway";
  if (s->last_drill_failed && !force)
    return "the last rollback drill of route \"" + route + "\" failed (" + s->last_drill_reason +
           "): `rollout drill " + route + "` again, or add --force to switch back anyway";
  // The promoted canary goes back to 0 and the version it replaced takes the route again; the
  // next `rollout start` tries the undone version as canary again.
  set_canary_weight(*s, 0);
  s->phase = Phase::degraded;
  end_run(*s);
  s->rollback_until.reset();
  end_cleanup(*s);
  end_drill(*s);
  s->message = "undone: " + s->stable + " serves the route again (" + s->canary + " at 0%)";
  record(*s, "undone", s->message);
  close_failed_tunnels(*s, s->canary);
  save();
  return "";
}

void Manager::write_cutover_status(json::Writer& w, const State* s) const {
  if (!s || s->phase != Phase::healthy) return;
  const config::Rollout* p = plan(s->route);
  if (!p || p->rollback_window.count() == 0) return;
  w.key("rollback_window").begin_object();
  w.key("open").value(s->rollback_until.has_value());
  if (s->rollback_until) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(*s->rollback_until - clock_.now());
    w.key("remaining_ms").value(static_cast<int64_t>(std::max<int64_t>(0, left.count())));
    w.key("until").value(utc(clock_.wall_now() + left));
  }
  w.key("undo_to").value(s->stable).end_object();
}

} // namespace weir::rollout
