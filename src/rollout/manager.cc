#include "weir/rollout/manager.h"

#include "weir/base/clock.h"
#include "weir/base/json.h"
#include "weir/base/log.h"
#include "weir/control/controller.h"
#include "weir/rollout/controller_host.h"

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
Phase phase_of(std::string_view name) {
  for (Phase p : {Phase::idle, Phase::progressing, Phase::paused, Phase::degraded, Phase::healthy})
    if (name == phase_name(p)) return p;
  return Phase::idle;
}

void write_window(json::Writer& w, const metrics::WindowStats& s) {
  w.begin_object();
  w.key("requests").value(s.requests).key("errors").value(s.errors);
  w.key("error_rate").value(s.error_rate).key("p99_ms").value(s.p99_ms);
  w.key("rps").value(s.rps).end_object();
}

std::chrono::milliseconds ms_until(Manager::TimePoint t, Manager::TimePoint now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - now);
}

} // namespace

struct Manager::State {
  explicit State(asio::io_context& io) : timer(io) {}
  std::string route;
  Phase phase = Phase::idle;
  std::string stable;
  std::string canary;
  size_t step = 0;
  uint32_t canary_weight = 0;
  bool gate = false;                      // paused at a manual gate: `rollout promote` continues
  bool user_paused = false;               // `rollout pause` (or too many inconclusive intervals)
  std::optional<TimePoint> step_deadline; // end of the current pause/analysis step
  std::optional<std::chrono::milliseconds> remaining; // of a step deadline while paused
  uint32_t failures = 0;
  uint32_t inconclusive = 0;
  std::optional<Verdict> last;
  std::string message; // why it stands where it stands
  std::deque<Event> history;
  uint64_t events_total = 0; // events ever recorded; history holds the last kHistory
  // Due times; `timer` wakes the manager at the earliest.
  std::optional<TimePoint> step_due;     // run_steps again (a step's end, a readiness retry)
  std::optional<TimePoint> analysis_due; // the next background analysis interval
  asio::steady_timer timer;
};

Manager::Manager(asio::io_context& io, control::Controller& controller)
    : io_(io), owned_host_(std::make_unique<ControllerHost>(io, controller)), host_(*owned_host_),
      clock_(Clock::system()) {
  controller.set_rollout_feed(
      [this](const std::string& route, uint64_t& cursor) { return feed(route, cursor); });
  controller.set_fast_abort_handler([this](const FastAbort::Trip& trip) { on_fast_abort(trip); });
}

Manager::Manager(asio::io_context& io, Host& host, Clock& clock)
    : io_(io), host_(host), clock_(clock) {}

Manager::~Manager() {
  stop();
}

void Manager::stop() {
  for (auto& [route, s] : states_)
    stop_timers(*s);
}

const config::Rollout* Manager::plan(const std::string& route) const {
  for (const auto& r : host_.config().routes)
    if (r.name == route && r.rollout.enabled) return &r.rollout;
  return nullptr;
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

std::string Manager::feed(const std::string& route, uint64_t& cursor) const {
  if (!plan(route)) return "";
  const State* s = find(route);
  json::Writer w;
  w.begin_object().key("status").raw(status_json(route));
  w.key("events").begin_array();
  if (s) {
    uint64_t first = s->events_total - s->history.size(); // sequence of history.front()
    if (cursor < first) cursor = first;
    for (uint64_t i = cursor; i < s->events_total; ++i) {
      const Event& e = s->history[static_cast<size_t>(i - first)];
      w.begin_object().key("time").value(e.time).key("type").value(e.type);
      w.key("message").value(e.message);
      if (!e.details.empty()) w.key("details").raw(e.details);
      w.end_object();
    }
    cursor = s->events_total;
  }
  w.end_array().end_object();
  return w.take();
}

void Manager::start() {
  restore();
}

void Manager::record(State& s, std::string type, std::string message, std::string details) {
  char stamp[32];
  Event e{std::string(stamp, format_utc(clock_.wall_now(), stamp)), std::move(type),
          std::move(message), std::move(details)};
  log::info("rollout " + s.route + ": " + e.type + ": " + e.message);
  s.history.push_back(e);
  ++s.events_total;
  if (s.history.size() > kHistory) s.history.pop_front();
  if (const config::Rollout* p = plan(s.route); p && !p->notify_webhook.empty()) {
    json::Writer w;
    w.begin_object().key("route").value(s.route).key("time").value(e.time);
    w.key("type").value(e.type).key("message").value(e.message);
    w.key("phase").value(phase_name(s.phase)).key("stable").value(s.stable);
    w.key("canary").value(s.canary).key("canary_weight").value(s.canary_weight);
    if (!e.details.empty()) w.key("details").raw(e.details);
    w.end_object();
    host_.post_webhook(p->notify_webhook, w.take());
  }
}

void Manager::set_canary_weight(State& s, uint32_t percent) {
  const config::Rollout* p = plan(s.route);
  uint32_t effective = percent;
  if (p && percent > 0 && percent < 100) {
    // Capacity-aware: the canary gets at most what its available endpoints can carry compared
    // with the stable version's (scaled by max_canary_share_of_capacity).
    std::optional<size_t> c = host_.available_endpoints(s.canary);
    std::optional<size_t> st = host_.available_endpoints(s.stable);
    if (c && st) {
      double canary_eps = static_cast<double>(*c);
      double stable_eps = static_cast<double>(*st);
      if (stable_eps > 0) {
        double cap = canary_eps / stable_eps * 100.0 * p->max_canary_share_of_capacity / 100.0;
        if (cap < effective) {
          effective = static_cast<uint32_t>(cap);
          record(s, "capped",
                 "canary weight " + std::to_string(percent) + "% capped to " +
                     std::to_string(effective) + "% by capacity (" +
                     std::to_string(static_cast<int>(canary_eps)) + " canary vs " +
                     std::to_string(static_cast<int>(stable_eps)) + " stable endpoints)");
        }
      }
    }
  }
  s.canary_weight = effective;
  host_.set_weights(s.route, {{s.stable, 100 - effective}, {s.canary, effective}});
}

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
  if (s.analysis_due && (!due || *s.analysis_due < *due)) due = s.analysis_due;
  if (!due) {
    s.timer.cancel();
    return;
  }
  // Relative to the injected clock: the timer only wakes run_due(), which decides by that clock.
  auto left = *due - clock_.now();
  s.timer.expires_after(left > Clock::Steady::duration::zero() ? left
                                                               : Clock::Steady::duration::zero());
  State* sp = &s;
  s.timer.async_wait([this, sp](const boost::system::error_code& ec) {
    if (!ec) run_due(*sp);
  });
}

std::optional<Manager::TimePoint> Manager::next_due() const {
  std::optional<TimePoint> due;
  for (const auto& [route, s] : states_)
    for (const auto& t : {s->step_due, s->analysis_due})
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
      analyze_now(s);
      if (s.phase == Phase::progressing && !s.analysis_due) arm_analysis(s);
    }
  }
  if (s.step_due && now >= *s.step_due) {
    s.step_due.reset();
    if (s.phase == Phase::progressing) run_steps(s);
  }
  schedule(s);
}

void Manager::analyze_now(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p) return;
  if (s.canary_weight > 0 && p->require_ready && !host_.ready(s.canary)) {
    abort(s.route, "canary " + s.canary + " became unready (synthetic probes failing)");
    return;
  }
  if (s.canary_weight == 0) return; // nothing to judge yet
  auto window = std::chrono::duration_cast<std::chrono::seconds>(p->analysis.interval);
  if (window < std::chrono::seconds(1)) window = std::chrono::seconds(1);
  metrics::WindowStats canary =
      host_.window({s.route, s.canary}, window).value_or(metrics::WindowStats{});
  metrics::WindowStats stable =
      host_.window({s.route, s.stable}, window).value_or(metrics::WindowStats{});
  Thresholds t;
  t.min_requests = p->analysis.min_requests;
  t.max_error_rate = p->analysis.max_error_rate;
  t.max_error_rate_increase = p->analysis.max_error_rate_increase;
  t.max_p99_ms = static_cast<double>(p->analysis.max_p99_latency.count());
  t.max_p99_increase = p->analysis.max_p99_increase;
  Verdict v = analyze(canary, stable, t);
  json::Writer w;
  w.begin_object().key("outcome").value(outcome_name(v.outcome)).key("reason").value(v.reason);
  w.key("canary");
  write_window(w, v.canary);
  w.key("stable");
  write_window(w, v.stable);
  w.key("thresholds").begin_object();
  w.key("min_requests").value(t.min_requests).key("max_error_rate").value(t.max_error_rate);
  w.key("max_error_rate_increase").value(t.max_error_rate_increase);
  w.key("max_p99_ms").value(t.max_p99_ms).key("max_p99_increase").value(t.max_p99_increase);
  w.end_object().end_object();
  s.last = v;
  record(s, "analysis", v.reason, w.take());
  switch (v.outcome) {
  case Outcome::pass:
    s.failures = 0;
    s.inconclusive = 0;
    break;
  case Outcome::fail:
    s.inconclusive = 0;
    if (++s.failures >= p->analysis.failure_limit)
      abort(s.route,
            "analysis failed " + std::to_string(s.failures) + " intervals in a row: " + v.reason);
    break;
  case Outcome::inconclusive:
    if (++s.inconclusive >= p->analysis.inconclusive_limit) {
      s.phase = Phase::paused;
      s.user_paused = true;
      if (s.step_deadline) {
        s.remaining = ms_until(*s.step_deadline, clock_.now());
        if (*s.remaining < std::chrono::milliseconds(0)) s.remaining = std::chrono::milliseconds(0);
      }
      stop_timers(s);
      s.message = std::to_string(s.inconclusive) + " inconclusive intervals in a row (" + v.reason +
                  "); paused, `rollout resume` to go on";
      record(s, "paused", s.message);
    }
    break;
  }
  save();
}

void Manager::run_steps(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p) return;
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
      continue;
    case config::RolloutStep::Kind::pause:
      if (step.duration.count() == 0) {
        s.phase = Phase::paused;
        s.gate = true;
        s.message =
            "step " + std::to_string(s.step + 1) + ": manual gate; `rollout promote` goes on";
        record(s, "paused", s.message);
        save();
        return;
      }
      [[fallthrough]];
    case config::RolloutStep::Kind::analysis: {
      TimePoint now = clock_.now();
      if (!s.step_deadline) {
        s.step_deadline = now + step.duration;
        s.last.reset();
        record(s, "step",
               "step " + std::to_string(s.step + 1) + ": " +
                   (step.kind == config::RolloutStep::Kind::pause ? "pause " : "analysis ") +
                   std::to_string(step.duration.count()) + "ms");
      }
      if (now < *s.step_deadline) {
        save();
        return step_due_at(s, *s.step_deadline);
      }
      if (step.kind == config::RolloutStep::Kind::analysis &&
          (!s.last || s.last->outcome != Outcome::pass)) {
        // A blocking analysis step goes on only after a passing interval.
        analyze_now(s);
        if (s.phase != Phase::progressing) return;
        if (!s.last || s.last->outcome != Outcome::pass)
          return step_due_at(s, now + p->analysis.interval);
      }
      s.step_deadline.reset();
      ++s.step;
      continue;
    }
    }
  }
  if (s.phase == Phase::progressing && s.step >= p->steps.size()) {
    set_canary_weight(s, 100);
    s.phase = Phase::healthy;
    s.message = "promoted: " + s.canary + " serves the route";
    stop_timers(s);
    record(s, "promoted", s.message);
  }
  save();
}

std::string Manager::begin(const std::string& route, const std::string& canary_arg) {
  const config::Rollout* p = plan(route);
  if (!p) return "route \"" + route + "\" has no rollout plan";
  State& s = state_for(route);
  if (s.phase == Phase::progressing || s.phase == Phase::paused)
    return "a rollout of route \"" + route + "\" is already " + phase_name(s.phase);
  std::string stable = p->stable;
  std::string canary = p->canary;
  if (s.phase == Phase::healthy) {
    // The promoted version is the stable one now.
    stable = s.canary;
    canary = s.canary == p->canary ? p->stable : p->canary;
  } else if (s.phase == Phase::degraded && !s.stable.empty()) {
    // After an abort the stable version of that rollout still serves: it stays stable.
    stable = s.stable;
    canary = s.canary;
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
  s.phase = Phase::progressing;
  s.stable = stable;
  s.canary = canary;
  s.step = 0;
  s.gate = s.user_paused = false;
  s.step_deadline.reset();
  s.remaining.reset();
  s.failures = s.inconclusive = 0;
  s.last.reset();
  s.message = "progressing";
  record(s, "started", "rollout of " + canary + " over " + stable + " started");
  set_canary_weight(s, 0);
  arm_analysis(s);
  run_steps(s);
  return "";
}

std::string Manager::pause(const std::string& route) {
  State* s = find(route);
  if (!s || s->phase != Phase::progressing)
    return "no rollout of route \"" + route + "\" is progressing";
  s->phase = Phase::paused;
  s->user_paused = true;
  if (s->step_deadline) {
    auto left = ms_until(*s->step_deadline, clock_.now());
    s->remaining = std::max(left, std::chrono::milliseconds(0));
  }
  stop_timers(*s);
  s->message = "paused by operator";
  record(*s, "paused", s->message);
  save();
  return "";
}

std::string Manager::resume(const std::string& route) {
  State* s = find(route);
  if (!s || s->phase != Phase::paused) return "no rollout of route \"" + route + "\" is paused";
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
  arm_analysis(*s);
  run_steps(*s);
  return "";
}

std::string Manager::promote(const std::string& route, bool full) {
  State* s = find(route);
  if (!s || (s->phase != Phase::progressing && s->phase != Phase::paused))
    return "no rollout of route \"" + route + "\" to promote";
  const config::Rollout* p = plan(route);
  if (!p) return "route \"" + route + "\" has no rollout plan";
  if (full) {
    s->step = p->steps.size();
    s->phase = Phase::progressing;
    record(*s, "promoted", "full promotion requested by operator");
  } else if (s->gate) {
    s->gate = false;
    ++s->step;
    s->phase = Phase::progressing;
    record(*s, "resumed", "manual gate passed");
  } else if (s->step < p->steps.size() && s->step_deadline) {
    s->step_deadline.reset();
    ++s->step;
    s->phase = Phase::progressing;
    record(*s, "step", "step skipped by operator");
  } else {
    return "nothing to promote: the rollout is not waiting at a gate or in a timed step";
  }
  s->user_paused = false;
  s->remaining.reset();
  arm_analysis(*s);
  run_steps(*s);
  return "";
}

std::string Manager::abort(const std::string& route, const std::string& reason) {
  State* s = find(route);
  if (!s || (s->phase != Phase::progressing && s->phase != Phase::paused))
    return "no rollout of route \"" + route + "\" to abort";
  set_canary_weight(*s, 0);
  s->phase = Phase::degraded;
  s->gate = s->user_paused = false;
  s->step_deadline.reset();
  s->remaining.reset();
  stop_timers(*s);
  s->message = "aborted: " + reason;
  record(*s, "aborted", reason);
  save();
  return "";
}

void Manager::on_fast_abort(const FastAbort::Trip& trip) {
  State* s = find(trip.route);
  if (!s || s->canary != trip.service ||
      (s->phase != Phase::progressing && s->phase != Phase::paused))
    return;
  abort(trip.route, "fast abort: " + std::to_string(trip.errors) + " consecutive errors from " +
                        trip.service + " in " + std::to_string(trip.window.count()) + " ms");
}

std::string Manager::status_json(const std::string& route) const {
  const config::Rollout* p = plan(route);
  const State* s = find(route);
  json::Writer w;
  w.begin_object().key("route").value(route);
  w.key("phase").value(phase_name(s ? s->phase : Phase::idle));
  w.key("stable").value(s && !s->stable.empty() ? s->stable : p ? p->stable : "");
  w.key("canary").value(s && !s->canary.empty() ? s->canary : p ? p->canary : "");
  w.key("canary_weight").value(s ? s->canary_weight : 0u);
  w.key("step").value(static_cast<uint64_t>(s ? s->step : 0));
  w.key("message").value(s ? s->message : "no rollout started");
  if (s && s->step_deadline && s->phase == Phase::progressing) {
    auto left = ms_until(*s->step_deadline, clock_.now());
    w.key("step_remaining_ms").value(static_cast<int64_t>(std::max<int64_t>(0, left.count())));
  } else if (s && s->remaining) {
    w.key("step_remaining_ms").value(static_cast<int64_t>(s->remaining->count()));
  }
  w.key("failures").value(s ? s->failures : 0u).key("inconclusive").value(s ? s->inconclusive : 0u);
  w.key("steps").begin_array();
  if (p) {
    for (size_t i = 0; i < p->steps.size(); ++i) {
      const auto& st = p->steps[i];
      w.begin_object();
      switch (st.kind) {
      case config::RolloutStep::Kind::set_weight:
        w.key("set_weight").value(st.weight);
        break;
      case config::RolloutStep::Kind::pause:
        w.key("pause_ms").value(static_cast<int64_t>(st.duration.count()));
        break;
      case config::RolloutStep::Kind::analysis:
        w.key("analysis_ms").value(static_cast<int64_t>(st.duration.count()));
        break;
      }
      w.key("current").value(s && s->step == i &&
                             (s->phase == Phase::progressing || s->phase == Phase::paused));
      w.key("done").value(s && (s->step > i || s->phase == Phase::healthy));
      w.end_object();
    }
  }
  w.end_array();
  if (s && s->last) {
    w.key("last_analysis").begin_object();
    w.key("outcome").value(outcome_name(s->last->outcome)).key("reason").value(s->last->reason);
    w.key("canary");
    write_window(w, s->last->canary);
    w.key("stable");
    write_window(w, s->last->stable);
    w.end_object();
  }
  w.end_object();
  return w.take();
}

std::string Manager::history_json(const std::string& route) const {
  const State* s = find(route);
  json::Writer w;
  w.begin_array();
  if (s)
    for (const auto& e : s->history) {
      w.begin_object().key("time").value(e.time).key("type").value(e.type);
      w.key("message").value(e.message);
      if (!e.details.empty()) w.key("details").raw(e.details);
      w.end_object();
    }
  w.end_array();
  return w.take();
}

void Manager::save() {
  json::Writer w;
  w.begin_object();
  for (const auto& [route, s] : states_) {
    w.key(route).begin_object();
    w.key("phase").value(phase_name(s->phase)).key("stable").value(s->stable);
    w.key("canary").value(s->canary).key("step").value(static_cast<uint64_t>(s->step));
    w.key("canary_weight").value(s->canary_weight).key("gate").value(s->gate);
    w.key("user_paused").value(s->user_paused).key("message").value(s->message);
    w.key("failures").value(s->failures).key("inconclusive").value(s->inconclusive);
    // A running step's end is saved as wall-clock time: after a crash the step resumes with
    // the time really left, not with what was left at the last save.
    int64_t remaining = -1;
    if (s->remaining) {
      remaining = s->remaining->count();
    } else if (s->step_deadline) {
      auto wall = clock_.wall_now() + ms_until(*s->step_deadline, clock_.now());
      w.key("step_deadline_unix_ms")
          .value(static_cast<int64_t>(
              std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch())
                  .count()));
    }
    w.key("step_remaining_ms").value(remaining);
    w.key("history").begin_array();
    size_t skip = s->history.size() > 64 ? s->history.size() - 64 : 0;
    for (size_t i = skip; i < s->history.size(); ++i) {
      const Event& e = s->history[i];
      w.begin_object().key("time").value(e.time).key("type").value(e.type);
      w.key("message").value(e.message).end_object();
    }
    w.end_array().end_object();
  }
  w.end_object();
  host_.save_state(w.take());
}

void Manager::restore() {
  std::string saved = host_.saved_state();
  if (saved.empty()) return;
  auto parsed = json::parse(saved);
  if (!parsed.value || !parsed.value->is_object()) {
    log::error("rollout state unreadable: " + parsed.error);
    return;
  }
  for (const auto& [route, v] : parsed.value->as_object()) {
    if (!plan(route)) continue;
    State& s = state_for(route);
    s.phase = phase_of(v.get_string("phase"));
    s.stable = v.get_string("stable");
    s.canary = v.get_string("canary");
    s.step = static_cast<size_t>(v.get_number("step"));
    s.canary_weight = static_cast<uint32_t>(v.get_number("canary_weight"));
    s.gate = v.get_bool("gate");
    s.user_paused = v.get_bool("user_paused");
    s.message = v.get_string("message");
    s.failures = static_cast<uint32_t>(v.get_number("failures"));
    s.inconclusive = static_cast<uint32_t>(v.get_number("inconclusive"));
    int64_t remaining = static_cast<int64_t>(v.get_number("step_remaining_ms", -1));
    if (const json::Value* d = v.find("step_deadline_unix_ms"); d && d->is_number()) {
      int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           clock_.wall_now().time_since_epoch())
                           .count();
      remaining = std::max<int64_t>(0, static_cast<int64_t>(d->as_number()) - now_ms);
    }
    if (const json::Value* h = v.find("history"); h && h->is_array())
      for (const auto& e : h->as_array())
        s.history.push_back(
            {e.get_string("time"), e.get_string("type"), e.get_string("message"), ""});
    s.events_total = s.history.size();
    if (remaining >= 0) {
      if (s.phase == Phase::paused)
        s.remaining = std::chrono::milliseconds(remaining);
      else
        s.step_deadline = clock_.now() + std::chrono::milliseconds(remaining);
    }
    if (s.phase == Phase::progressing) {
      record(s, "restored",
             "restarted at step " + std::to_string(s.step + 1) +
                 (remaining >= 0 ? " with " + std::to_string(remaining) + "ms left" : ""));
      arm_analysis(s);
      run_steps(s);
    }
  }
}

void Manager::register_commands(control::CommandTable& table) {
  using control::Args;
  using control::Responder;
  auto simple = [this](std::string name, std::string help,
                       std::function<std::string(const std::string&)> op) {
    return control::Command{
        "rollout " + name, "ROUTE", std::move(help),
        [this, name, op](const Args& args, std::shared_ptr<Responder> r) {
          if (args.size() != 1)
            return r->reply(control::error_reply("usage: rollout " + name + " ROUTE"));
          std::string err = op(args[0]);
          if (!err.empty()) return r->reply(control::error_reply(err));
          r->reply(control::ok_reply(
              [&](json::Writer& w) { w.key("rollout").raw(status_json(args[0])); }));
        }};
  };
  table.add({"rollout start", "ROUTE [CANARY]",
             "start the route's rollout plan (from the promoted version after a promotion)",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.empty() || args.size() > 2)
                 return r->reply(control::error_reply("usage: rollout start ROUTE [CANARY]"));
               std::string err = begin(args[0], args.size() == 2 ? args[1] : "");
               if (!err.empty()) return r->reply(control::error_reply(err));
               r->reply(control::ok_reply(
                   [&](json::Writer& w) { w.key("rollout").raw(status_json(args[0])); }));
             }});
  table.add(simple("pause", "pause a progressing rollout (timers stop, weights stay)",
                   [this](const std::string& route) { return pause(route); }));
  table.add(simple("resume", "resume a paused rollout",
                   [this](const std::string& route) { return resume(route); }));
  table.add({"rollout promote", "ROUTE [--full]",
             "pass a manual gate or skip the current timed step; --full promotes to 100 % now",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               bool full = args.size() == 2 && args[1] == "--full";
               if (args.empty() || args.size() > 2 || (args.size() == 2 && !full))
                 return r->reply(control::error_reply("usage: rollout promote ROUTE [--full]"));
               std::string err = promote(args[0], full);
               if (!err.empty()) return r->reply(control::error_reply(err));
               r->reply(control::ok_reply(
                   [&](json::Writer& w) { w.key("rollout").raw(status_json(args[0])); }));
             }});
  table.add(
      simple("abort", "roll back now: canary weight 0 on every worker",
             [this](const std::string& route) { return abort(route, "aborted by operator"); }));
  table.add({"rollout status", "ROUTE", "state, steps with the current one marked, last analysis",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.size() != 1)
                 return r->reply(control::error_reply("usage: rollout status ROUTE"));
               if (!plan(args[0]))
                 return r->reply(
                     control::error_reply("route \"" + args[0] + "\" has no rollout plan"));
               r->reply(control::ok_reply(
                   [&](json::Writer& w) { w.key("rollout").raw(status_json(args[0])); }));
             }});
  table.add({"rollout history", "ROUTE", "every transition and analysis verdict, oldest first",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.size() != 1)
                 return r->reply(control::error_reply("usage: rollout history ROUTE"));
               if (!plan(args[0]))
                 return r->reply(
                     control::error_reply("route \"" + args[0] + "\" has no rollout plan"));
               r->reply(control::ok_reply(
                   [&](json::Writer& w) { w.key("events").raw(history_json(args[0])); }));
             }});
}

} // namespace weir::rollout
