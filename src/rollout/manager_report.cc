// What the rollout manager tells: status (the split traffic really gets), history, the `watch`
// feed, the weir_rollout_* metrics, and the state file section that survives a restart.
#include "manager_state.h"
#include "weir/base/json.h"
#include "weir/base/log.h"
#include "weir/metrics/prometheus.h"

#include <algorithm>
#include <cmath>

namespace weir::rollout {

namespace {
Phase phase_of(std::string_view name) {
  for (Phase p : {Phase::idle, Phase::progressing, Phase::paused, Phase::degraded, Phase::healthy})
    if (name == phase_name(p)) return p;
  return Phase::idle;
}

std::chrono::milliseconds ms_until(Manager::TimePoint t, Manager::TimePoint now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t - now);
}

using HeaderRoutes = std::vector<std::pair<std::string, std::vector<config::ValueMatch>>>;

// [{"name":"testers","headers":[{"name":"x-tester","value":"yes","type":"Exact"}]}]: status
// and the state file alike.
void write_header_routes(json::Writer& w, const HeaderRoutes& routes) {
  w.begin_array();
  for (const auto& [name, headers] : routes) {
    w.begin_object().key("name").value(name).key("headers").begin_array();
    for (const config::ValueMatch& h : headers)
      w.begin_object()
          .key("name")
          .value(h.name)
          .key("value")
          .value(h.value)
          .key("type")
          .value(h.type == config::ValueMatch::Type::regex ? "RegularExpression" : "Exact")
          .end_object();
    w.end_array().end_object();
  }
  w.end_array();
}

// What write_header_routes wrote; anything else (an older file has none) is no header route.
HeaderRoutes read_header_routes(const json::Value* v) {
  HeaderRoutes out;
  if (!v || !v->is_array()) return out;
  for (const json::Value& r : v->as_array()) {
    if (!r.is_object()) continue;
    const json::Value* headers = r.find("headers");
    if (!headers || !headers->is_array()) continue;
    std::vector<config::ValueMatch> matches;
    for (const json::Value& h : headers->as_array()) {
      if (!h.is_object()) continue;
      config::ValueMatch m;
      m.name = h.get_string("name");
      m.value = h.get_string("value");
      m.type = h.get_string("type") == "RegularExpression" ? config::ValueMatch::Type::regex
                                                           : config::ValueMatch::Type::exact;
      if (!m.name.empty()) matches.push_back(std::move(m));
    }
    if (!matches.empty()) out.emplace_back(r.get_string("name"), std::move(matches));
  }
  return out;
}

// A blue/green preview's secret is the key to the unreleased version: status and the state file
// (on disk, and a fleet's shared store) show only its name.
HeaderRoutes shown_routes(const HeaderRoutes& routes, const std::set<std::string>& secret) {
  HeaderRoutes shown = routes;
  for (auto& [name, headers] : shown)
    if (secret.contains(name))
      for (auto& h : headers)
        h.value = "(secret)";
  return shown;
}

// A plan's steps in a few characters ("w10 a20000 w50 p0 w100"): what the state file keeps to
// tell, after a restart, whether the running rollout's plan is still the one it started with.
std::string steps_text(const std::vector<config::RolloutStep>& steps) {
  std::string out;
  for (const auto& st : steps) {
    if (!out.empty()) out.push_back(' ');
    switch (st.kind) {
    case config::RolloutStep::Kind::set_weight:
      out.push_back('w');
      out.append(std::to_string(st.weight));
      break;
    case config::RolloutStep::Kind::pause:
      out.push_back('p');
      out.append(std::to_string(st.duration.count()));
      break;
    case config::RolloutStep::Kind::analysis:
      out.push_back('a');
      out.append(std::to_string(st.duration.count()));
      break;
    case config::RolloutStep::Kind::set_header_route:
      out.push_back('h');
      out.append(st.header_route_name);
      break;
    case config::RolloutStep::Kind::set_mirror:
      out.push_back('m');
      out.append(std::to_string(st.mirror_percent));
      break;
    }
  }
  return out;
}

// The canary's share of the route's traffic, in whole percent as the plan writes weights.
uint32_t percent_of(const Split& split, const std::string& service) {
  for (const auto& b : split.backends)
    if (b.service == service) return static_cast<uint32_t>(std::lround(b.share * 100));
  return 0;
}
} // namespace

std::string Manager::status_json(const std::string& route) const {
  const config::Rollout* p = plan(route);
  if (!p) return "";
  const State* s = find(route);
  bool active = s && (s->phase == Phase::progressing || s->phase == Phase::paused);
  std::string stable = s && !s->stable.empty() ? s->stable : p->stable;
  std::string canary = s && !s->canary.empty() ? s->canary : p->canary;
  Split split = host_.split(route);
  json::Writer w;
  w.begin_object().key("route").value(route);
  w.key("phase").value(phase_name(s ? s->phase : Phase::idle));
  w.key("strategy")
      .value(p->strategy == config::Rollout::Strategy::blue_green ? "blue_green" : "canary");
  // A follower in a fleet: the leader runs it; or nobody does while the store is unreachable.
  if (!held_.empty()) w.key(holding_ ? "held" : "fleet").value(held_);
  w.key("stable").value(stable).key("canary").value(canary);
  // What traffic gets now (operator override, the rollout's weights or the config's), not what
  // the plan last asked for: that is plan_weight.
  w.key("canary_weight").value(percent_of(split, canary));
  if (s && s->phase != Phase::idle) w.key("plan_weight").value(s->canary_weight);
  w.key("weights_from").value(split.weights_from);
  w.key("split").begin_array();
  for (const auto& b : split.backends)
    w.begin_object()
        .key("service")
        .value(b.service)
        .key("weight")
        .value(b.weight)
        .key("share")
        .value(b.share)
        .end_object();
  w.end_array();
  {
    // What the versions really served over the last 10 s (user requests; forced and top-up ones
    // are counted apart): the weights above, sticky clients and retries included.
    auto length = std::chrono::seconds(10);
    auto c = host_.window({route, canary}, length).value_or(metrics::WindowStats{});
    auto st = host_.window({route, stable}, length).value_or(metrics::WindowStats{});
    uint64_t both = c.requests + st.requests;
    w.key("observed").begin_object().key("seconds").value(int64_t{10});
    w.key("canary_requests").value(c.requests).key("stable_requests").value(st.requests);
    w.key("canary_share").value(both ? static_cast<double>(c.requests) / both : 0.0);
    w.end_object();
  }
  if (!p->affinity_cookie.empty()) w.key("affinity_cookie").value(p->affinity_cookie);
  if (!p->override_header.empty()) w.key("override_header").value(p->override_header);
  // set_header_route: requests with these headers go to the canary whatever its weight.
  w.key("header_routes");
  write_header_routes(w, s ? shown_routes(s->header_routes, s->secret_routes) : HeaderRoutes{});
  w.key("step").value(static_cast<uint64_t>(s ? s->step : 0));
  w.key("message").value(s ? s->message : "no rollout started");
  if (s && s->step_deadline && s->phase == Phase::progressing) {
    auto left = ms_until(*s->step_deadline, clock_.now());
    w.key("step_remaining_ms").value(static_cast<int64_t>(std::max<int64_t>(0, left.count())));
  } else if (s && s->remaining) {
    w.key("step_remaining_ms").value(static_cast<int64_t>(s->remaining->count()));
  }
  if (s && !s->waiting_for.empty() && active) w.key("waiting_for").value(s->waiting_for);
  if (s && s->starting) w.key("starting").value(true);
  w.key("failures").value(s ? s->failures : 0u).key("inconclusive").value(s ? s->inconclusive : 0u);
  if (p->analysis.top_up.enabled) {
    w.key("top_up").begin_object().key("running").value(s && s->top_up);
    w.key("rate").value(p->analysis.top_up.rate).end_object();
  }
  w.key("steps").begin_array();
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
    case config::RolloutStep::Kind::set_header_route:
      w.key("set_header_route").value(st.header_route_name);
      break;
    case config::RolloutStep::Kind::set_mirror:
      w.key("set_mirror").value(st.mirror_percent);
      break;
    }
    w.key("current").value(s && s->step == i && active);
    w.key("done").value(s && (s->step > i || s->phase == Phase::healthy));
    w.end_object();
  }
  w.end_array();
  if (s && !s->last_details.empty()) w.key("last_analysis").raw(s->last_details);
  write_mirror_status(w, s);
  write_cutover_status(w, s);
  if (s && s->cleanup) {
    w.key("cleanup");
    write_cleanup_status(w, s);
  }
  if (s && s->drill) w.key("drill_running").value(true);
  if (s && !s->last_drill.empty()) w.key("last_drill").raw(s->last_drill);
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
      if (!e.origin.empty()) w.key("origin").value(e.origin);
      w.end_object();
    }
  w.end_array();
  return w.take();
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
      if (!e.origin.empty()) w.key("origin").value(e.origin);
      w.end_object();
    }
    cursor = s->events_total;
  }
  w.end_array().end_object();
  return w.take();
}

void Manager::write_metrics(std::string& out) const {
  std::vector<std::pair<std::string, const config::Rollout*>> plans;
  for (const auto& r : host_.config().routes)
    if (r.rollout.enabled) plans.emplace_back(r.name, &r.rollout);
  if (plans.empty()) return;
  auto labels = [&](const std::string& route) {
    std::string l = "route=\"";
    metrics::append_label_value(l, route);
    return l + "\"";
  };
  auto line = [&](const char* name, const std::string& l, uint64_t v) {
    out += name;
    out += "{" + l + "} " + std::to_string(v) + "\n";
  };
  out += "# HELP weir_rollout_phase Phase of a route's rollout: 1 for the phase it is in, 0 for "
         "the others.\n# TYPE weir_rollout_phase gauge\n";
  for (const auto& [route, p] : plans) {
    const State* s = find(route);
    for (Phase ph :
         {Phase::idle, Phase::progressing, Phase::paused, Phase::degraded, Phase::healthy})
      line("weir_rollout_phase", labels(route) + ",phase=\"" + phase_name(ph) + "\"",
           (s ? s->phase : Phase::idle) == ph ? 1 : 0);
  }
  out += "# HELP weir_rollout_canary_weight The canary's share of the route's traffic now, in "
         "percent (operator overrides included).\n# TYPE weir_rollout_canary_weight gauge\n";
  for (const auto& [route, p] : plans) {
    const State* s = find(route);
    std::string canary = s && !s->canary.empty() ? s->canary : p->canary;
    line("weir_rollout_canary_weight", labels(route), percent_of(host_.split(route), canary));
  }
  out += "# HELP weir_rollout_step The rollout's current step, from 1 (0: never started).\n"
         "# TYPE weir_rollout_step gauge\n";
  for (const auto& [route, p] : plans) {
    const State* s = find(route);
    uint64_t step = !s || s->phase == Phase::idle ? 0 : std::min(s->step + 1, p->steps.size());
    line("weir_rollout_step", labels(route), step);
  }
  out += "# HELP weir_version_safe_to_delete A version a promotion replaced: 1 once nothing used "
         "it for the plan's cleanup.grace_period, else 0.\n# TYPE weir_version_safe_to_delete "
         "gauge\n";
  std::map<std::string, bool> safe; // a version two routes replaced: safe when both say so
  for (const auto& [route, s] : states_)
    if (s->cleanup) {
      auto [it, first] = safe.emplace(s->cleanup->version, s->cleanup->safe);
      if (!first) it->second = it->second && s->cleanup->safe;
    }
  // Labelled as the other per-service families: namespace and name apart.
  for (const auto& [version, is_safe] : safe) {
    const size_t slash = version.find('/');
    std::string l = "namespace=\"";
    metrics::append_label_value(l, version.substr(0, slash));
    l += "\",service=\"";
    metrics::append_label_value(l, slash == std::string::npos ? "" : version.substr(slash + 1));
    line("weir_version_safe_to_delete", l + "\"", is_safe ? 1 : 0);
  }
  out += "# HELP weir_rollout_analysis_total Analysis verdicts reached, by outcome.\n"
         "# TYPE weir_rollout_analysis_total counter\n";
  for (const auto& [route, p] : plans) {
    const State* s = find(route);
    const char* names[] = {"pass", "fail", "inconclusive"};
    for (size_t i = 0; i < 3; ++i)
      line("weir_rollout_analysis_total", labels(route) + ",outcome=\"" + names[i] + "\"",
           s ? s->verdicts[i] : 0);
  }
}

void Manager::save() {
  if (restoring_) return;            // one save at the end of restore(), with every route in it
  if (role_ == Role::follow) return; // the leader's state is the fleet's; a follower's is a copy
  json::Writer w;
  w.begin_object();
  for (const auto& [route, s] : states_) {
    w.key(route).begin_object();
    w.key("phase").value(phase_name(s->phase)).key("stable").value(s->stable);
    w.key("canary").value(s->canary).key("step").value(static_cast<uint64_t>(s->step));
    w.key("canary_weight").value(s->canary_weight).key("gate").value(s->gate);
    w.key("user_paused").value(s->user_paused).key("message").value(s->message);
    w.key("failures").value(s->failures).key("inconclusive").value(s->inconclusive);
    w.key("awaiting_pass").value(s->awaiting_pass).key("plan_changed").value(s->plan_changed);
    w.key("steps").value(steps_text(s->steps_run));
    w.key("rollout_confirmed").value(s->rollout_confirmed);
    w.key("mirror_percent").value(s->mirror_percent);
    w.key("header_routes");
    write_header_routes(w, shown_routes(s->header_routes, s->secret_routes));
    if (!s->secret_routes.empty()) {
      w.key("secret_header_routes").begin_array();
      for (const auto& name : s->secret_routes)
        w.value(name);
      w.end_array();
    }
    w.key("promotion_confirmed").value(s->promotion_confirmed);
    w.key("verdicts").begin_array();
    for (uint64_t v : s->verdicts)
      w.value(v);
    w.end_array();
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
    if (s->cleanup) w.key("cleanup_version").value(s->cleanup->version);
    if (!s->last_drill.empty()) {
      w.key("last_drill").raw(s->last_drill);
      w.key("last_drill_failed").value(s->last_drill_failed);
      w.key("last_drill_reason").value(s->last_drill_reason);
    }
    if (s->rollback_until) {
      auto wall = clock_.wall_now() + ms_until(*s->rollback_until, clock_.now());
      w.key("rollback_until_unix_ms")
          .value(static_cast<int64_t>(
              std::chrono::duration_cast<std::chrono::milliseconds>(wall.time_since_epoch())
                  .count()));
    }
    if (!s->commands.empty()) {
      w.key("commands").begin_array();
      for (const auto& id : s->commands)
        w.value(id);
      w.end_array();
    }
    w.key("history").begin_array();
    size_t skip = s->history.size() > 64 ? s->history.size() - 64 : 0;
    for (size_t i = skip; i < s->history.size(); ++i) {
      const Event& e = s->history[i];
      w.begin_object().key("time").value(e.time).key("type").value(e.type);
      w.key("message").value(e.message);
      if (!e.origin.empty()) w.key("origin").value(e.origin);
      // An analysis's verdict outlives a restart (its full details do not: they are large).
      if (e.type == "analysis" && !e.details.empty())
        if (auto d = json::parse(e.details); d.value && d.value->is_object())
          if (std::string outcome = d.value->get_string("outcome"); !outcome.empty())
            w.key("outcome").value(outcome);
      w.end_object();
    }
    w.end_array().end_object();
  }
  w.end_object();
  host_.save_state(w.take());
}

void Manager::restore() {
  restore_from(host_.saved_state(), true);
}

void Manager::restore_from(const std::string& saved, bool run) {
  if (saved.empty()) return;
  auto parsed = json::parse(saved);
  if (!parsed.value || !parsed.value->is_object()) {
    log::error("rollout state unreadable: " + parsed.error);
    return;
  }
  restoring_ = true;
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
    s.awaiting_pass = v.get_bool("awaiting_pass");
    s.plan_changed = v.get_bool("plan_changed");
    s.rollout_confirmed = v.get_bool("rollout_confirmed");
    s.promotion_confirmed = v.get_bool("promotion_confirmed");
    s.mirror_percent = std::clamp(v.get_number("mirror_percent"), 0.0, 100.0);
    s.header_routes = read_header_routes(v.find("header_routes"));
    // A secret's value was not saved: the plan's step of that name has it. Without one (another
    // plan now) the header route is gone: nobody can know its secret.
    if (const json::Value* names = v.find("secret_header_routes"); names && names->is_array())
      for (const json::Value& n : names->as_array())
        if (n.is_string()) s.secret_routes.insert(n.as_string());
    const config::Rollout* p = plan(route);
    std::erase_if(s.header_routes, [&](auto& hr) {
      if (!s.secret_routes.contains(hr.first)) return false;
      for (const auto& st : p->steps)
        if (st.header_route_secret && st.header_route_name == hr.first) {
          hr.second = st.header_route;
          return false;
        }
      s.secret_routes.erase(hr.first);
      return true;
    });
    // The comparisons of the process that saved this are gone with it: count from here.
    reset_divergence(s);
    if (const json::Value* a = v.find("verdicts"); a && a->is_array())
      for (size_t i = 0; i < 3 && i < a->as_array().size(); ++i)
        if (a->as_array()[i].is_number())
          s.verdicts[i] = static_cast<uint64_t>(a->as_array()[i].as_number());
    int64_t remaining = static_cast<int64_t>(v.get_number("step_remaining_ms", -1));
    if (const json::Value* d = v.find("step_deadline_unix_ms"); d && d->is_number()) {
      int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           clock_.wall_now().time_since_epoch())
                           .count();
      remaining = std::max<int64_t>(0, static_cast<int64_t>(d->as_number()) - now_ms);
    }
    if (const json::Value* d = v.find("last_drill"); d && d->is_object()) {
      s.last_drill = json::Writer().value(*d).take();
      s.last_drill_failed = v.get_bool("last_drill_failed");
      s.last_drill_reason = v.get_string("last_drill_reason");
    }
    if (const json::Value* u = v.find("rollback_until_unix_ms");
        u && u->is_number() && s.phase == Phase::healthy) {
      int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           clock_.wall_now().time_since_epoch())
                           .count();
      // A window that ended while weir was down closes at once (its event comes then).
      s.rollback_until = clock_.now() + std::chrono::milliseconds(std::max<int64_t>(
                                            0, static_cast<int64_t>(u->as_number()) - now_ms));
      if (p->rollback_drill_every.count() > 0)
        s.next_drill_due = clock_.now() + p->rollback_drill_every;
      if (run) schedule(s);
    }
    // What used the replaced version while weir was down is unknown: its conditions start
    // over from now (later, never sooner).
    if (std::string version = v.get_string("cleanup_version");
        run && !version.empty() && s.phase == Phase::healthy && version == s.stable)
      start_cleanup(s);
    if (const json::Value* h = v.find("history"); h && h->is_array())
      for (const auto& e : h->as_array()) {
        std::string details; // of an analysis: its outcome, as saved
        if (e.find("outcome"))
          details = json::Writer()
                        .begin_object()
                        .key("outcome")
                        .value(e.get_string("outcome"))
                        .end_object()
                        .take();
        s.history.push_back({e.get_string("time"), e.get_string("type"), e.get_string("message"),
                             details, e.get_string("origin")});
      }
    s.events_total = s.history.size();
    if (const json::Value* c = v.find("commands"); c && c->is_array())
      for (const auto& id : c->as_array())
        if (id.is_string()) s.commands.push_back(id.as_string());
    if (remaining >= 0) {
      if (s.phase == Phase::paused)
        s.remaining = std::chrono::milliseconds(remaining);
      else
        s.step_deadline = clock_.now() + std::chrono::milliseconds(remaining);
    }
    if (!run) continue; // a follower's copy: shown, not run
    if (s.phase == Phase::progressing || s.phase == Phase::paused) {
      // A running rollout: fast abort counts from here. Its plan must be the one it started
      // with: weir may come back with another file, whose steps it must not run blind.
      host_.reset_fast_abort(route);
      // The live mirror is not in the controller's state file: the rollout sets it again.
      if (s.mirror_percent > 0) host_.set_mirror(route, s.canary, s.mirror_percent);
      // Nor are the header routes.
      if (!s.header_routes.empty()) host_.set_header_routes(route, s.canary, s.header_routes);
      s.steps_run = plan(route)->steps;
      // (A state file from before steps were saved has none: taken as the same plan.)
      const json::Value* saved_steps = v.find("steps");
      if (!s.plan_changed && saved_steps && saved_steps->is_string() &&
          saved_steps->as_string() != steps_text(s.steps_run)) {
        hold_for_changed_plan(s, "weir restarted with a plan whose steps differ from the "
                                 "running rollout's");
        continue;
      }
    }
    if (s.phase == Phase::progressing) {
      s.started_at = clock_.now();
      record(s, "restored",
             (restored_because_.empty() ? std::string("restarted") : restored_because_) +
                 " at step " + std::to_string(s.step + 1) +
                 (remaining >= 0 ? " with " + std::to_string(remaining) + "ms left" : ""));
      arm_analysis(s);
      top_up_if_thin(s);
      run_steps(s);
    }
  }
  restoring_ = false;
  if (run) save();
}

} // namespace weir::rollout
