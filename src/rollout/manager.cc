// The rollout state machine: starts, steps, gates on the way, promotion, abort, undo, and who
// owns a route's weights. Analysis intervals are in manager_interval.cc, hook calls in
// manager_gates.cc, status and the state file in manager_report.cc.
#include "weir/rollout/manager.h"

#include "manager_state.h"
#include "weir/base/clock.h"
#include "weir/base/json.h"
#include "weir/base/log.h"

#include <algorithm>
#include <cstdio>

namespace weir::rollout {

namespace asio = boost::asio;

const char* phase_name(Phase p) {
  switch (p) {
  case Phase::idle:
    return "Idle";
  case Phase::progressing:
    return "Progressing";
  case Phase::paused:
    return "Paused";
  case Phase::degraded:
    return "Degraded";
  case Phase::healthy:
    return "Healthy";
  }
  return "Idle";
}

namespace {
std::chrono::milliseconds ms_until(Manager::TimePoint t, Manager::TimePoint now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - now);
}

bool active(Phase p) {
  return p == Phase::progressing || p == Phase::paused;
}

// "x-tester: \"yes\" and user-agent ~ \".*Mobile.*\"": what a header route asks of a request.
// A secret value (blue/green's preview) is never written out: events reach logs and webhooks.
std::string header_route_text(const config::RolloutStep& step) {
  std::string out;
  for (const auto& h : step.header_route) {
    if (!out.empty()) out += " and ";
    if (step.header_route_secret)
      out += h.name + ": (the preview secret)";
    else
      out +=
          h.name + (h.type == config::ValueMatch::Type::regex ? " ~ \"" : ": \"") + h.value + "\"";
  }
  return out;
}

// "10%", "0.5%".
std::string mirror_share(double percent) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g%%", percent);
  return buf;
}
} // namespace

Manager::Manager(asio::io_context& io, Host& host, Clock& clock)
    : io_(io), host_(host), clock_(clock) {}

Manager::~Manager() {
  *alive_ = false;
  stop();
}

void Manager::start() {
  if (role_ == Role::follow) return refresh_followed(); // a fleet's follower (set_role)
  restore();
}

void Manager::stop() {
  for (auto& [route, s] : states_) {
    stop_timers(*s);
    stop_top_up(*s);
  }
}

const config::Rollout* Manager::plan(const std::string& route) const {
  for (const auto& r : host_.config().routes)
    if (r.name == route && r.rollout.enabled) return &r.rollout;
  return nullptr;
}

bool Manager::route_exists(const std::string& route) const {
  for (const auto& r : host_.config().routes)
    if (r.name == route) return true;
  return false;
}

std::string Manager::no_plan(const std::string& route) const {
  if (!route_exists(route)) return "unknown route \"" + route + "\"";
  return "route \"" + route + "\" has no rollout plan";
}

Manager::State* Manager::find(const std::string& route) {
  auto it = states_.find(route);
  return it == states_.end() ? nullptr : it->second.get();
}
const Manager::State* Manager::find(const std::string& route) const {
  auto it = states_.find(route);
  return it == states_.end() ? nullptr : it->second.get();
}

Manager::State& Manager::state_for(const std::string& route) {
  auto& s = states_[route];
  if (!s) {
    s = std::make_unique<State>(io_);
    s->route = route;
  }
  return *s;
}

void Manager::record(State& s, std::string type, std::string message, std::string details) {
  char stamp[32];
  Event e{std::string(stamp, format_utc(clock_.wall_now(), stamp)), std::move(type),
          std::move(message), std::move(details), origin_};
  log::info("rollout " + s.route + ": " + e.type + ": " + e.message +
            (e.origin.empty() ? "" : " (by " + e.origin + ")"));
  s.history.push_back(e);
  ++s.events_total;
  if (s.history.size() > kHistory) s.history.pop_front();
  if (const config::Rollout* p = plan(s.route); p && !p->notify_webhook.empty()) {
    json::Writer w;
    w.begin_object().key("route").value(s.route).key("time").value(e.time);
    w.key("type").value(e.type).key("message").value(e.message);
    if (!e.origin.empty()) w.key("origin").value(e.origin);
    w.key("phase").value(phase_name(s.phase)).key("stable").value(s.stable);
    w.key("canary").value(s.canary).key("canary_weight").value(s.canary_weight);
    if (!e.details.empty()) w.key("details").raw(e.details);
    w.end_object();
    host_.post_webhook(p->notify_webhook, w.take());
  }
}

// --- weights ---

void Manager::set_canary_weight(State& s, uint32_t percent) {
  const config::Rollout* p = plan(s.route);
  uint32_t effective = percent;
  if (p && percent > 0 && percent < 100) {
    // Capacity-aware: the canary gets at most what its available endpoints can carry compared
    // with the stable version's (scaled by max_canary_share_of_capacity).
    std::optional<size_t> c = host_.available_endpoints(s.canary);
    std::optional<size_t> st = host_.available_endpoints(s.stable);
    if (c && st && *st > 0) {
      double canary_eps = static_cast<double>(*c);
      double stable_eps = static_cast<double>(*st);
      double cap = canary_eps / stable_eps * 100.0 * p->max_canary_share_of_capacity / 100.0;
      if (cap < effective) {
        effective = static_cast<uint32_t>(cap);
        record(s, "capped",
               "canary weight " + std::to_string(percent) + "% capped to " +
                   std::to_string(effective) + "% by capacity (" + std::to_string(*c) +
                   " canary vs " + std::to_string(*st) + " stable endpoints)");
      }
    }
  }
  s.canary_weight = effective;
  host_.set_weights(s.route, {{s.stable, 100 - effective}, {s.canary, effective}});
}

void Manager::set_header_route(State& s, const config::RolloutStep& step) {
  auto& routes = s.header_routes;
  auto it = std::find_if(routes.begin(), routes.end(),
                         [&](const auto& r) { return r.first == step.header_route_name; });
  if (step.header_route.empty()) {
    if (it != routes.end()) routes.erase(it);
  } else if (it != routes.end()) {
    it->second = step.header_route;
  } else {
    routes.emplace_back(step.header_route_name, step.header_route);
  }
  if (step.header_route_secret && !step.header_route.empty())
    s.secret_routes.insert(step.header_route_name);
  else
    s.secret_routes.erase(step.header_route_name);
  host_.set_header_routes(s.route, s.canary, routes);
}

void Manager::clear_header_routes(State& s) {
  s.secret_routes.clear();
  if (s.header_routes.empty()) return;
  s.header_routes.clear();
  host_.set_header_routes(s.route, s.canary, {});
}

void Manager::reclaim_weights(State& s) {
  if (host_.split(s.route).weights_from != "operator") return;
  host_.clear_operator_weights(s.route);
  record(s, "weights",
         "the plan takes the weights back: the operator's override is dropped, canary at " +
             std::to_string(s.canary_weight) + "%");
}

std::string Manager::guard_weights(const std::string& route, bool force,
                                   const std::string& command) {
  State* s = find(route);
  if (!s || !plan(route)) return "";
  if (s->starting && !force)
    return "route \"" + route +
           "\" is starting a rollout (pre_rollout hooks asked): its weights belong to the plan; "
           "add --force to set them anyway";
  if (!active(s->phase)) return "";
  if (force && role_ == Role::follow) {
    // The leader runs the rollout: it pauses it, as it does for its own operator.
    if (to_leader_)
      to_leader_(route, "pause", "the operator took the weights over (" + command + ")");
    return "";
  }
  if (!force)
    return "route \"" + route + "\" is under a rollout (" + phase_name(s->phase) + " at step " +
           std::to_string(s->step + 1) + ", canary " + s->canary + " at " +
           std::to_string(s->canary_weight) +
           "%): its weights belong to the plan until it ends (`weirctl rollout abort " + route +
           "`); add --force to take them over now (that pauses the rollout; resume or promote "
           "gives them back)";
  if (s->phase == Phase::progressing) {
    enter_paused(*s, "paused: the operator took the weights over (" + command + ")");
    record(*s, "paused", s->message);
  }
  record(*s, "override",
         "operator: " + command + " (the plan's canary weight was " +
             std::to_string(s->canary_weight) + "%)");
  save();
  return "";
}

// --- timers ---

void Manager::step_due_at(State& s, TimePoint at) {
  s.step_due = at;
  schedule(s);
}

void Manager::arm_analysis(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p) return;
  s.analysis_due = clock_.now() + p->analysis.interval;
  schedule(s);
}

void Manager::stop_timers(State& s) {
  s.step_due.reset();
  s.analysis_due.reset();
  schedule(s);
}

void Manager::schedule(State& s) {
  std::optional<TimePoint> due = s.step_due;
  for (const auto& t :
       {s.analysis_due, s.rollback_until, s.cleanup_due, s.drill_check_due, s.next_drill_due})
    if (t && (!due || *t < *due)) due = t;
  if (!due) {
    s.timer.cancel();
    return;
  }
  // Relative to the injected clock: the timer only wakes run_due(), which decides by that clock.
  auto left = *due - clock_.now();
  s.timer.expires_after(left > Clock::Steady::duration::zero() ? left
                                                               : Clock::Steady::duration::zero());
  State* sp = &s;
  // A fleet's role change clears every state (set_role), and a wake-up already queued then
  // runs with no error: the run's token says whether `sp` still exists.
  std::weak_ptr<bool> run = run_token_;
  s.timer.async_wait([this, sp, run](const boost::system::error_code& ec) {
    if (!ec && !run.expired()) run_due(*sp);
  });
}

std::optional<Manager::TimePoint> Manager::next_due() const {
  std::optional<TimePoint> due;
  for (const auto& [route, s] : states_)
    for (const auto& t : {s->step_due, s->analysis_due, s->rollback_until, s->cleanup_due,
                          s->drill_check_due, s->next_drill_due})
      if (t && (!due || *t < *due)) due = t;
  return due;
}

void Manager::run_due() {
  for (auto& [route, s] : states_)
    run_due(*s);
}

void Manager::run_due(State& s) {
  TimePoint now = clock_.now();
  if (s.analysis_due && now >= *s.analysis_due) {
    s.analysis_due.reset();
    if (s.phase == Phase::progressing) {
      arm_analysis(s); // a fixed cadence, whatever the interval's answers take
      begin_interval(s);
    }
  }
  if (s.step_due && now >= *s.step_due) {
    s.step_due.reset();
    if (s.phase == Phase::progressing) run_steps(s);
  }
  if (s.rollback_until && now >= *s.rollback_until) close_rollback_window(s);
  if (s.cleanup_due && now >= *s.cleanup_due) {
    s.cleanup_due.reset();
    check_cleanup(s);
  }
  if (s.drill_check_due && now >= *s.drill_check_due) {
    s.drill_check_due.reset();
    check_drill(s);
  }
  if (s.next_drill_due && now >= *s.next_drill_due) {
    s.next_drill_due.reset();
    scheduled_drill(s);
  }
  schedule(s);
}

void Manager::enter_paused(State& s, std::string message) {
  s.phase = Phase::paused;
  s.user_paused = true;
  if (s.step_deadline)
    s.remaining = std::max(ms_until(*s.step_deadline, clock_.now()), std::chrono::milliseconds(0));
  stop_timers(s);
  stop_top_up(s);
  s.message = std::move(message);
}

// --- steps ---

void Manager::run_steps(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p) return;
  using Type = config::RolloutHook::Type;
  if (s.phase == Phase::progressing && s.step == 0 && !confirmed(s, Type::confirm_rollout))
    return save();
  while (s.phase == Phase::progressing && s.step < p->steps.size()) {
    const config::RolloutStep& step = p->steps[s.step];
    switch (step.kind) {
    case config::RolloutStep::Kind::set_weight:
      if (step.weight > 0 && p->require_ready && !host_.ready(s.canary)) {
        s.message = "waiting: canary " + s.canary + " is not ready (synthetic probes)";
        if (s.history.empty() || s.history.back().message != s.message)
          record(s, "waiting", s.message);
        save();
        return step_due_at(s, clock_.now() + std::chrono::seconds(1));
      }
      set_canary_weight(s, step.weight);
      record(s, "step",
             "step " + std::to_string(s.step + 1) + ": set_weight " + std::to_string(step.weight) +
                 "%");
      ++s.step;
      top_up_if_thin(s);
      continue;
    case config::RolloutStep::Kind::set_header_route:
      set_header_route(s, step);
      record(s, "step",
             "step " + std::to_string(s.step + 1) + ": set_header_route " + step.header_route_name +
                 (step.header_route.empty()
                      ? " removed"
                      : ": requests with " + header_route_text(step) + " go to " + s.canary));
      ++s.step;
      top_up_if_thin(s);
      continue;
    case config::RolloutStep::Kind::set_mirror:
      set_mirror(s, step.mirror_percent);
      record(s, "step",
             "step " + std::to_string(s.step + 1) + ": set_mirror " +
                 mirror_share(step.mirror_percent) +
                 (step.mirror_percent > 0 ? " of the requests mirrored to " + s.canary
                                          : " (the rollout mirrors nothing)"));
      ++s.step;
      continue;
    case config::RolloutStep::Kind::pause:
      if (step.duration.count() == 0) {
        s.phase = Phase::paused;
        s.gate = true;
        stop_timers(s);
        stop_top_up(s);
        s.message =
            previewing(s)
                ? "step " + std::to_string(s.step + 1) + ": previewing " + s.canary +
                      "; `rollout promote` switches the route to it at once"
                : "step " + std::to_string(s.step + 1) + ": manual gate; `rollout promote` goes on";
        record(s, "paused", s.message);
        return save();
      }
      [[fallthrough]];
    case config::RolloutStep::Kind::analysis: {
      TimePoint now = clock_.now();
      bool analysis = step.kind == config::RolloutStep::Kind::analysis;
      if (!s.step_deadline) {
        s.step_deadline = now + step.duration;
        s.awaiting_pass = false;
        s.last_outcome.clear();
        record(s, "step",
               "step " + std::to_string(s.step + 1) + ": " + (analysis ? "analysis " : "pause ") +
                   std::to_string(step.duration.count()) + "ms");
      }
      if (now < *s.step_deadline) {
        save();
        return step_due_at(s, *s.step_deadline);
      }
      // The step's time is over. Only a pass given at or after its end moves on at once (one
      // given before leaves the last stretch unjudged: an interval that ends with the step,
      // when the step's timer fires first); else the next passing verdict (an interval's) does.
      if (analysis && (s.last_outcome != "pass" || !s.last_verdict_at ||
                       *s.last_verdict_at < *s.step_deadline)) {
        s.awaiting_pass = true;
        s.message = "step " + std::to_string(s.step + 1) +
                    ": analysis time is over, waiting for a passing interval" +
                    (s.last_reason.empty() ? "" : " (last: " + s.last_reason + ")");
        return save();
      }
      s.step_deadline.reset();
      s.awaiting_pass = false;
      ++s.step;
      continue;
    }
    }
  }
  if (s.phase == Phase::progressing && s.step >= p->steps.size()) {
    if (!confirmed(s, Type::confirm_promotion)) return save();
    promote_now(s);
  }
  save();
}

void Manager::end_run(State& s) {
  ++s.epoch;
  s.gate = s.user_paused = s.awaiting_pass = false;
  s.measuring = s.asking_gate = false;
  s.waiting_for.clear();
  s.step_deadline.reset();
  s.remaining.reset();
  stop_timers(s);
  stop_top_up(s);
  host_.stop_fast_abort(s.route);
  set_mirror(s, 0); // the route mirrors as its config says again
  clear_header_routes(s);
}

void Manager::hold_for_changed_plan(State& s, const std::string& why) {
  s.plan_changed = true;
  s.steps_run.clear();
  std::string what = "paused: " + why + "; `rollout restart " + s.route +
                     "` runs the new plan from step 1, `rollout promote " + s.route +
                     " --full` promotes now, `rollout abort " + s.route + "` rolls back";
  if (s.phase == Phase::progressing) {
    enter_paused(s, what);
  } else {
    s.message = what;
    stop_top_up(s);
  }
  record(s, "paused", s.message);
}

void Manager::top_up_if_thin(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p || !p->analysis.top_up.enabled || s.top_up || !takes_traffic(s) ||
      s.phase != Phase::progressing)
    return;
  // The route's real requests of the last interval at the canary's share: what the next
  // interval will likely see.
  auto window = std::chrono::duration_cast<std::chrono::seconds>(p->analysis.interval);
  if (window < std::chrono::seconds(1)) window = std::chrono::seconds(1);
  uint64_t total = 0;
  for (const auto* v : {&s.stable, &s.canary})
    total += host_.window({s.route, *v}, window).value_or(metrics::WindowStats{}).requests;
  metrics::WindowStats expected;
  expected.requests = total * s.canary_weight / 100;
  if (s.canary_weight == 0) // a preview: the canary's own (preview) requests of that window
    expected = host_.window({s.route, s.canary}, window).value_or(metrics::WindowStats{});
  update_top_up(s, expected);
}

void Manager::promote_now(State& s) {
  set_canary_weight(s, 100);
  s.phase = Phase::healthy;
  end_run(s);
  record_promotion(s);
  notify_hooks(s, config::RolloutHook::Type::post_rollout);
}

// --- operations ---

std::string Manager::check_start(const std::string& route, const std::string& canary_arg,
                                 std::string& stable, std::string& canary) {
  const config::Rollout* p = plan(route);
  if (!p) return no_plan(route);
  const State* s = find(route);
  if (s && active(s->phase))
    return "a rollout of route \"" + route + "\" is already " + phase_name(s->phase);
  if (s && s->starting)
    return "a start of route \"" + route + "\" is waiting on its pre_rollout hooks";
  stable = p->stable;
  canary = p->canary;
  if (s && s->phase == Phase::healthy) {
    // The promoted version is the stable one now.
    stable = s->canary;
    canary = s->canary == p->canary ? p->stable : p->canary;
  } else if (s && s->phase == Phase::degraded && !s->stable.empty()) {
    // After an abort (or undo) the version that serves is that rollout's stable one: it stays
    // stable, and its canary is the one tried again.
    stable = s->stable;
    canary = s->canary;
  }
  if (!canary_arg.empty()) canary = canary_arg;
  bool found = false;
  for (const auto& r : host_.config().routes)
    if (r.name == route)
      for (const auto& b : r.backends)
        found = found || b.service == canary;
  if (!found) return "service \"" + canary + "\" is not a backend of route \"" + route + "\"";
  if (canary == stable) return "the canary must differ from the stable version " + stable;
  if (p->require_ready && !host_.ready(canary)) {
    std::string why;
    for (const auto& probe : host_.probes(canary))
      if (!probe.ready())
        why +=
            (why.empty() ? "" : "; ") + probe.name + ": " +
            (probe.ran ? (probe.last_passed ? "passed " + std::to_string(probe.consecutive_passes) +
                                                  " of " + std::to_string(probe.ready_after)
                                            : probe.last_failure)
                       : "not run yet");
    return "canary " + canary + " is not ready (" + why + ")";
  }
  return "";
}

std::string Manager::begin(const std::string& route, const std::string& canary_arg, Done done) {
  std::string stable, canary;
  if (std::string err = check_start(route, canary_arg, stable, canary); !err.empty()) return err;
  State& s = state_for(route);
  const config::Rollout* p = plan(route);
  bool gated = false;
  for (const auto& h : p->hooks)
    gated = gated || h.type == config::RolloutHook::Type::pre_rollout;
  if (!gated) {
    start_now(s, stable, canary);
    if (done) done("");
    return "";
  }
  // pre_rollout hooks decide: the start waits for them, roles and weights untouched meanwhile
  // (the hooks hear of the versions about to start).
  s.starting = true;
  s.pending_stable = stable;
  s.pending_canary = canary;
  uint64_t epoch = s.epoch;
  call_hooks(
      s, config::RolloutHook::Type::pre_rollout,
      [this, route, stable, canary, epoch, done = std::move(done)](bool ok, std::string why) {
        State* sp = find(route);
        if (!sp) return;
        if (sp->epoch != epoch || !sp->starting) {
          // `rollout abort` or a reload called the start off meanwhile.
          if (done)
            done("start cancelled (by `rollout abort` or a reload) while its pre_rollout hooks "
                 "were asked");
          return;
        }
        sp->starting = false;
        if (!ok) {
          std::string reason = "start refused: " + why;
          record(*sp, "refused", reason);
          save();
          if (done) done(reason);
          return;
        }
        start_now(*sp, stable, canary);
        if (done) done("");
      });
  return "";
}

std::string Manager::restart(const std::string& route, Done done) {
  if (!plan(route)) return no_plan(route);
  State* s = find(route);
  if (!s || (!active(s->phase) && s->phase != Phase::degraded))
    return "no rollout of route \"" + route +
           "\" to restart (restart runs a progressing, paused or aborted rollout again from its "
           "first step)";
  if (s->starting) return "a start of route \"" + route + "\" is waiting on its pre_rollout hooks";
  std::string stable = s->stable, canary = s->canary;
  if (plan(route)->require_ready && !host_.ready(canary))
    return "canary " + canary + " is not ready (synthetic probes): the rollout is left as it is";
  if (active(s->phase)) {
    // Back to where a start begins: the canary at 0, no timers, no answers awaited.
    ++s->epoch;
    stop_timers(*s);
    stop_top_up(*s);
    set_canary_weight(*s, 0);
    s->phase = Phase::degraded;
    s->message = "restarting";
  }
  record(*s, "restarted",
         "restart requested by operator: " + canary + " over " + stable + " from step 1");
  std::string err = begin(route, canary, std::move(done));
  if (!err.empty()) save();
  return err;
}

void Manager::start_now(State& s, const std::string& stable, const std::string& canary) {
  ++s.epoch;
  s.phase = Phase::progressing;
  s.stable = stable;
  s.canary = canary;
  s.step = 0;
  s.gate = s.user_paused = s.awaiting_pass = false;
  s.step_deadline.reset();
  s.remaining.reset();
  s.failures = s.inconclusive = 0;
  s.metric_failures.clear();
  s.last_outcome.clear();
  s.last_reason.clear();
  s.last_details.clear();
  s.measuring = s.asking_gate = false;
  s.waiting_for.clear();
  s.gate_refusal.clear();
  s.rollout_confirmed = s.promotion_confirmed = false;
  s.started_at = clock_.now();
  s.rollback_until.reset(); // an earlier promotion's window and cleanup: this start ends them
  end_cleanup(s);
  end_drill(s);
  s.last_drill.clear(); // drills are of a promotion's rollback target: this start has none yet
  s.last_drill_failed = false;
  s.last_drill_reason.clear();
  // A drain of the last promotion goes on: the tunnels it picked were opened before it, by users
  // of the version that is now this rollout's canary (new tunnels are not the drain's).
  s.hook_said.clear();
  s.plan_changed = s.skipping = false;
  if (const config::Rollout* p = plan(s.route)) s.steps_run = p->steps;
  set_mirror(s, 0); // an earlier run's mirror (a restart) is not this one's
  clear_header_routes(s);
  reset_divergence(s);
  s.message = "progressing";
  // Errors counted before this start (or in flight on an older snapshot) are not this
  // rollout's: the workers' fast-abort runs start from zero.
  host_.reset_fast_abort(s.route);
  record(s, "started", "rollout of " + canary + " over " + stable + " started");
  set_canary_weight(s, 0);
  reclaim_weights(s);
  arm_analysis(s);
  run_steps(s);
}

std::string Manager::pause(const std::string& route) {
  if (!plan(route)) return no_plan(route);
  State* s = find(route);
  if (!s || s->phase != Phase::progressing)
    return "no rollout of route \"" + route + "\" is progressing";
  enter_paused(*s, "paused by operator");
  record(*s, "paused", s->message);
  save();
  return "";
}

std::string Manager::resume(const std::string& route) {
  if (!plan(route)) return no_plan(route);
  State* s = find(route);
  if (!s || s->phase != Phase::paused) return "no rollout of route \"" + route + "\" is paused";
  if (s->plan_changed)
    return "the plan's steps changed under this rollout: `rollout restart " + route +
           "` runs the new plan from step 1, `rollout promote " + route +
           " --full` promotes now, `rollout abort " + route + "` rolls back";
  if (s->gate) return "paused at a manual gate: use `rollout promote " + route + "`";
  s->phase = Phase::progressing;
  s->user_paused = false;
  s->inconclusive = 0;
  if (s->remaining) {
    s->step_deadline = clock_.now() + *s->remaining;
    s->remaining.reset();
  }
  s->message = "progressing";
  record(*s, "resumed", "resumed");
  reclaim_weights(*s);
  arm_analysis(*s);
  top_up_if_thin(*s);
  run_steps(*s);
  return "";
}

std::string Manager::promote(const std::string& route, bool full) {
  const config::Rollout* p = plan(route);
  if (!p) return no_plan(route);
  State* s = find(route);
  if (!s || !active(s->phase)) return "no rollout of route \"" + route + "\" to promote";
  if (s->plan_changed && !full)
    return "the plan's steps changed under this rollout: `rollout restart " + route +
           "` runs the new plan, `--full` promotes now, `rollout abort` rolls back";
  if (full) {
    s->plan_changed = false;
    s->step = p->steps.size();
    s->phase = Phase::progressing;
    s->promotion_confirmed = true; // the operator's word passes a confirm_promotion gate too
    s->waiting_for.clear();
    record(*s, "promoted", "full promotion requested by operator");
  } else if (s->gate) {
    s->gate = false;
    ++s->step;
    s->phase = Phase::progressing;
    record(*s, "resumed", "manual gate passed");
  } else if (s->step < p->steps.size() && s->step_deadline) {
    s->step_deadline.reset();
    s->awaiting_pass = false;
    ++s->step;
    s->phase = Phase::progressing;
    record(*s, "step", "step skipped by operator");
  } else {
    return "nothing to promote: the rollout is not waiting at a gate or in a timed step";
  }
  s->user_paused = false;
  s->remaining.reset();
  reclaim_weights(*s);
  arm_analysis(*s);
  run_steps(*s);
  return "";
}

std::string Manager::abort(const std::string& route, const std::string& reason) {
  if (!plan(route)) return no_plan(route);
  State* s = find(route);
  if (s && s->starting) {
    // A start still waiting on its pre_rollout hooks is called off: their answer is dropped.
    ++s->epoch;
    s->starting = false;
    record(*s, "refused", "start cancelled while its pre_rollout hooks were asked: " + reason);
    save();
    return "";
  }
  if (!s || !active(s->phase)) return "no rollout of route \"" + route + "\" to abort";
  set_canary_weight(*s, 0);
  s->phase = Phase::degraded;
  end_run(*s);
  s->message = "aborted: " + reason;
  record(*s, "aborted", reason);
  close_failed_tunnels(*s, s->canary);
  // An operator's forced weights would keep the failed canary's traffic: the abort wins.
  reclaim_weights(*s);
  notify_hooks(*s, config::RolloutHook::Type::post_rollout);
  save();
  return "";
}

void Manager::on_reload() {
  if (role_ == Role::follow) return refresh_followed(); // the leader ends what the file ended
  auto is_backend = [this](const std::string& route, const std::string& service) {
    for (const auto& r : host_.config().routes)
      if (r.name == route)
        for (const auto& b : r.backends)
          if (b.service == service) return true;
    return false;
  };
  for (auto& [route, sp] : states_) {
    State& s = *sp;
    const config::Rollout* p = plan(route);
    std::string gone;
    if (!p)
      gone = route_exists(route) ? "its rollout plan was removed" : "the route was removed";
    else
      for (const std::string* v : {&s.stable, &s.canary})
        if (!v->empty() && !is_backend(route, *v))
          gone = *v + " is no longer a backend of the route";
    if (!gone.empty()) {
      if (s.phase == Phase::idle && !s.starting) continue;
      bool running = active(s.phase) || s.starting;
      // The rollout cannot go on: it ends, and the route follows the config file's weights.
      end_run(s);
      end_cleanup(s);
      end_drill(s);
      s.rollback_until.reset();
      s.starting = false;
      s.phase = Phase::idle;
      // Nothing of that rollout stands: the next start begins from the plan's versions.
      s.stable.clear();
      s.canary.clear();
      s.step = 0;
      s.canary_weight = 0;
      s.plan_changed = false;
      s.last_details.clear();
      host_.clear_rollout_weights(route);
      s.message = "ended by a reload: " + gone + "; the route follows the config file's weights";
      record(s, running ? "aborted" : "ended", s.message);
      continue;
    }
    // A preview's secret follows the file at once, whatever else waits for the operator.
    if (!s.secret_routes.empty()) follow_preview_secrets(s, *p);
    if (active(s.phase) && !s.plan_changed && p->steps != s.steps_run) {
      // Going on in a plan whose steps moved under it could skip to 100 % at once, or land on
      // a step that is not there: the operator decides.
      hold_for_changed_plan(s, "a reload changed the plan's steps");
    }
    if (s.top_up) {
      if (s.phase != Phase::progressing || !p->analysis.top_up.enabled)
        stop_top_up(s);
      else // new settings take effect; the same ones change nothing
        host_.set_top_up(route, s.stable, s.canary, &p->analysis.top_up);
    }
  }
  save();
}

void Manager::on_fast_abort(const FastAbort::Trip& trip) {
  State* s = find(trip.route);
  if (!s || s->canary != trip.service || !active(s->phase)) return;
  if (role_ == Role::follow) return fast_abort_here(*s, trip);
  std::string workers;
  for (size_t i = 0; i < trip.per_worker.size(); ++i)
    if (trip.per_worker[i] > 0)
      workers += (workers.empty() ? "" : ", ") + std::to_string(trip.per_worker[i]) +
                 " on worker " + std::to_string(i);
  abort(trip.route, "fast abort: " + std::to_string(trip.errors) + " consecutive errors from " +
                        trip.service + " in " + std::to_string(trip.window.count()) + " ms" +
                        (workers.empty() ? "" : " (" + workers + ")"));
}

} // namespace weir::rollout
