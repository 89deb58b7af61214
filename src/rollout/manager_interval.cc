// One analysis interval: the built-in verdict over the metric windows (user and synthetic
// requests together), every external metric, and the `rollout` and `rollback` hooks, judged as
// ONE verdict and recorded as one event. Also when top-up traffic runs.
#include "manager_state.h"
#include "weir/base/json.h"
#include "weir/rollout/condition.h"
#include "weir/rollout/query_template.h"

#include <cmath>
#include <cstdio>

namespace weir::rollout {

using Type = config::RolloutHook::Type;

// What an interval waits for: its answers come back one by one through the host.
struct Manager::Interval {
  uint64_t epoch = 0;
  // False while the canary takes no user traffic (weight 0) and only its mirrored answers are
  // judged: the built-in metrics have nothing to say then.
  bool builtin_judged = true;
  Verdict builtin;
  std::optional<DivergenceVerdict> divergence; // max_divergence, when judged
  Thresholds thresholds;
  metrics::WindowStats synthetic_canary, synthetic_stable;
  struct Metric {
    const config::AnalysisMetric* config = nullptr; // only while begin_interval() asks
    std::string name;
    std::string condition;
    uint32_t failure_limit = 0;
    std::string query;
    MetricValue value;
  };
  std::vector<Metric> metrics;
  struct Hook {
    std::string name;
    Type type = Type::rollout;
    HookResult result;
  };
  std::vector<Hook> hooks;
  size_t pending = 0;
};

namespace {
void write_window(json::Writer& w, const metrics::WindowStats& s) {
  w.begin_object();
  w.key("requests").value(s.requests).key("errors").value(s.errors);
  w.key("error_rate").value(s.error_rate).key("p99_ms").value(s.p99_ms);
  w.key("rps").value(s.rps).end_object();
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

size_t outcome_index(Outcome o) {
  return o == Outcome::pass ? 0 : o == Outcome::fail ? 1 : 2;
}
} // namespace

void Manager::begin_interval(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p) return;
  if (takes_traffic(s) && p->require_ready && !host_.ready(s.canary)) {
    abort(s.route, "canary " + s.canary + " became unready (synthetic probes failing)");
    return;
  }
  // Nothing to judge yet, unless the canary's mirrored answers are compared.
  if (!takes_traffic(s) && (p->analysis.max_divergence < 0 || !mirroring(s))) {
    judge_divergence(s); // the next interval starts here
    return;
  }
  if (s.measuring) {
    // The last interval's answers are still out: this one is skipped, and the history says so
    // once for the whole stretch (the failure limits then take longer than the plan suggests).
    if (!s.skipping)
      record(s, "skipped",
             "analysis intervals skipped until the last one's external metrics and hooks "
             "answer");
    s.skipping = true;
    return;
  }
  // The interval's window, but nothing from before this rollout started.
  auto length = std::chrono::duration_cast<std::chrono::seconds>(p->analysis.interval);
  if (s.started_at) {
    auto since = std::chrono::duration_cast<std::chrono::seconds>(clock_.now() - *s.started_at +
                                                                  std::chrono::milliseconds(999));
    length = std::min(length, since);
  }
  if (length < std::chrono::seconds(1)) length = std::chrono::seconds(1);
  auto in = std::make_shared<Interval>();
  in->epoch = s.epoch;
  Thresholds& t = in->thresholds;
  t.min_requests = p->analysis.min_requests;
  t.max_error_rate = p->analysis.max_error_rate;
  t.max_error_rate_increase = p->analysis.max_error_rate_increase;
  t.max_p99_ms = static_cast<double>(p->analysis.max_p99_latency.count());
  t.max_p99_increase = p->analysis.max_p99_increase;
  metrics::WindowStats canary =
      host_.analysis_window({s.route, s.canary}, length).value_or(metrics::WindowStats{});
  metrics::WindowStats stable =
      host_.analysis_window({s.route, s.stable}, length).value_or(metrics::WindowStats{});
  in->synthetic_canary =
      host_.synthetic_window({s.route, s.canary}, length).value_or(metrics::WindowStats{});
  in->synthetic_stable =
      host_.synthetic_window({s.route, s.stable}, length).value_or(metrics::WindowStats{});
  in->builtin_judged = takes_traffic(s);
  in->builtin = in->builtin_judged ? analyze(canary, stable, t) : Verdict{};
  if (!in->builtin_judged) {
    in->builtin.outcome = Outcome::pass; // not judged: it neither fails nor holds the verdict
    in->builtin.reason = "canary at 0%: only its mirrored answers are judged";
  }
  in->divergence = judge_divergence(s);
  update_top_up(s, host_.window({s.route, s.canary}, length).value_or(metrics::WindowStats{}));

  auto vars = query_variables(s.route, s.stable, s.canary);
  for (const auto& m : p->analysis.metrics)
    in->metrics.push_back({&m, m.name, m.success_condition,
                           m.failure_limit ? m.failure_limit : p->analysis.failure_limit,
                           render_query(m.query, vars), MetricValue{}});
  for (const auto& h : p->hooks)
    if (h.type == Type::rollout || h.type == Type::rollback)
      in->hooks.push_back({h.name, h.type, HookResult{}});
  in->pending = in->metrics.size() + in->hooks.size();
  if (in->pending == 0) return finish_interval(s, *in);

  s.measuring = true;
  std::weak_ptr<bool> alive = run_token_;
  std::string route = s.route;
  auto answered = [this, alive, route, in] {
    if (alive.expired() || --in->pending > 0) return;
    if (State* sp = find(route)) finish_interval(*sp, *in);
  };
  for (size_t i = 0; i < in->metrics.size(); ++i)
    host_.query_metric(*in->metrics[i].config, in->metrics[i].query,
                       [in, i, answered](MetricValue v) {
                         in->metrics[i].value = std::move(v);
                         answered();
                       });
  size_t h = 0;
  for (const auto& hook : p->hooks) {
    if (hook.type != Type::rollout && hook.type != Type::rollback) continue;
    host_.call_hook(hook, hook_body(s, hook), [in, h, answered](HookResult r) {
      in->hooks[h].result = std::move(r);
      answered();
    });
    ++h;
  }
}

void Manager::finish_interval(State& s, Interval& in) {
  if (in.epoch != s.epoch) return; // about a rollout that has ended or started over
  s.measuring = false;
  s.skipping = false;
  if (s.phase != Phase::progressing) return; // paused meanwhile: the verdict waits for a resume
  const config::Rollout* p = plan(s.route);
  if (!p) return;

  Outcome outcome = in.builtin.outcome;
  std::string reason = in.builtin.reason;
  std::string fail_reason = outcome == Outcome::fail ? reason : "";
  std::string inconclusive_reason = outcome == Outcome::inconclusive ? reason : "";
  bool builtin_failed = outcome == Outcome::fail;
  std::string rollback_by;

  json::Writer w;
  w.begin_object();
  w.key("canary");
  write_window(w, in.builtin.canary);
  w.key("stable");
  write_window(w, in.builtin.stable);
  w.key("synthetic").begin_object();
  w.key("canary");
  write_window(w, in.synthetic_canary);
  w.key("stable");
  write_window(w, in.synthetic_stable);
  w.end_object();
  const Thresholds& t = in.thresholds;
  w.key("thresholds").begin_object();
  w.key("min_requests").value(t.min_requests).key("max_error_rate").value(t.max_error_rate);
  w.key("max_error_rate_increase").value(t.max_error_rate_increase);
  w.key("max_p99_ms").value(t.max_p99_ms).key("max_p99_increase").value(t.max_p99_increase);
  w.end_object();
  w.key("builtin").begin_object();
  w.key("outcome").value(in.builtin_judged ? outcome_name(in.builtin.outcome) : "not judged");
  w.key("reason").value(in.builtin.reason);
  w.end_object();

  // The shadow comparison: a failure counts against failure_limit as the built-in one does.
  bool divergence_failed = false;
  if (const auto& d = in.divergence) {
    divergence_failed = d->outcome == Outcome::fail;
    if (divergence_failed && fail_reason.empty()) fail_reason = d->reason;
    if (d->outcome == Outcome::inconclusive && inconclusive_reason.empty())
      inconclusive_reason = d->reason;
    w.key("divergence").begin_object();
    w.key("outcome").value(outcome_name(d->outcome)).key("reason").value(d->reason);
    w.key("compared").value(d->counts.compared).key("diverged").value(d->counts.diverged);
    w.key("noise_compared").value(d->counts.noise_compared);
    w.key("noise_diverged").value(d->counts.noise_diverged);
    w.key("rate").value(d->rate).key("noise").value(d->noise);
    w.key("divergence")
        .value(d->divergence)
        .key("max_divergence")
        .value(p->analysis.max_divergence);
    w.key("min_compared").value(d->min_compared).end_object();
  }

  // External metrics: each one passes, fails (its condition is false) or is inconclusive (the
  // query gave no single number). Its failed intervals in a row count against its own limit.
  std::string metric_abort;
  w.key("metrics").begin_array();
  for (auto& m : in.metrics) {
    Outcome o = Outcome::inconclusive;
    std::string why;
    if (!m.value.ok) {
      why = "metric " + m.name + ": " + m.value.error;
    } else {
      auto cond = Condition::parse(m.condition);
      if (!cond.ok()) {
        why = "metric " + m.name + ": condition: " + cond.error().message;
      } else {
        o = cond->evaluate(m.value.value) ? Outcome::pass : Outcome::fail;
        why = "metric " + m.name + " = " + number(m.value.value) +
              (o == Outcome::pass ? " meets " : " fails ") + m.condition;
      }
    }
    uint32_t& failed = s.metric_failures[m.name];
    if (o == Outcome::fail) {
      ++failed;
      if (fail_reason.empty()) fail_reason = why;
      if (failed >= m.failure_limit && metric_abort.empty())
        metric_abort = "metric " + m.name + " failed " + std::to_string(failed) +
                       " intervals in a row: " + why;
    } else if (o == Outcome::pass) {
      failed = 0;
    } else if (inconclusive_reason.empty()) {
      inconclusive_reason = why;
    }
    w.begin_object().key("name").value(m.name).key("query").value(m.query);
    w.key("condition").value(m.condition).key("outcome").value(outcome_name(o));
    if (m.value.ok)
      w.key("value").value(m.value.value);
    else
      w.key("error").value(m.value.error);
    w.key("failures").value(failed).key("failure_limit").value(m.failure_limit).end_object();
  }
  w.end_array();

  // `rollout` hooks: a refusal is a failed interval. `rollback` hooks: a 2xx aborts.
  bool hook_failed = false;
  std::string hook_reason;
  w.key("hooks").begin_array();
  for (const auto& h : in.hooks) {
    std::string what = "hook " + h.name + ": " +
                       (h.result.status ? "HTTP " + std::to_string(h.result.status) : "no answer") +
                       (h.result.message.empty() ? "" : " (" + h.result.message + ")");
    if (h.type == Type::rollout && !h.result.ok) {
      hook_failed = true;
      if (hook_reason.empty()) hook_reason = what;
      if (fail_reason.empty()) fail_reason = what;
    }
    if (h.type == Type::rollback && h.result.ok && rollback_by.empty())
      rollback_by = "rollback hook " + h.name + " answered " + std::to_string(h.result.status) +
                    (h.result.message.empty() ? "" : ": " + h.result.message);
    w.begin_object().key("name").value(h.name).key("type").value(config::hook_type_name(h.type));
    w.key("ok").value(h.result.ok).key("status").value(static_cast<int64_t>(h.result.status));
    w.key("attempts").value(h.result.attempts).key("message").value(h.result.message);
    w.end_object();
  }
  w.end_array();

  if (!rollback_by.empty()) {
    outcome = Outcome::fail; // the verdict is the rollback hook's
    reason = rollback_by;
  } else if (!fail_reason.empty()) {
    outcome = Outcome::fail;
    reason = fail_reason;
  } else if (!inconclusive_reason.empty()) {
    outcome = Outcome::inconclusive;
    reason = inconclusive_reason;
  } else {
    outcome = Outcome::pass;
    if (in.divergence)
      reason = in.builtin_judged ? reason + "; " + in.divergence->reason
                                 : "pass: " + in.divergence->reason;
    for (const auto& m : in.metrics)
      reason += "; metric " + m.name + " = " + number(m.value.value);
  }
  if (in.synthetic_canary.requests > 0)
    reason += " [" + std::to_string(in.synthetic_canary.requests) + " of the canary's " +
              std::to_string(in.builtin.canary.requests) + " requests synthetic]";
  w.key("outcome").value(outcome_name(outcome)).key("reason").value(reason);
  w.end_object();

  s.last_outcome = outcome_name(outcome);
  s.last_verdict_at = clock_.now();
  s.last_reason = reason;
  s.last_details = w.take();
  ++s.verdicts[outcome_index(outcome)];
  record(s, "analysis", reason, s.last_details);

  if (!rollback_by.empty()) {
    abort(s.route, rollback_by);
    return;
  }
  if (builtin_failed || hook_failed || divergence_failed)
    ++s.failures;
  else if (in.builtin.outcome == Outcome::pass &&
           (!in.divergence || in.divergence->outcome == Outcome::pass))
    s.failures = 0;
  if (s.failures >= p->analysis.failure_limit) {
    abort(s.route, "analysis failed " + std::to_string(s.failures) + " intervals in a row: " +
                       (builtin_failed      ? in.builtin.reason
                        : divergence_failed ? in.divergence->reason
                                            : hook_reason));
    return;
  }
  if (!metric_abort.empty()) {
    abort(s.route, metric_abort);
    return;
  }
  if (outcome == Outcome::inconclusive) {
    if (++s.inconclusive >= p->analysis.inconclusive_limit) {
      // Too little traffic is the usual cause: say what would let the analysis judge.
      bool thin = (in.builtin.outcome == Outcome::inconclusive && !p->analysis.top_up.enabled) ||
                  (in.divergence && in.divergence->outcome == Outcome::inconclusive);
      enter_paused(s, std::to_string(s.inconclusive) + " inconclusive intervals in a row (" +
                          reason + "); paused, `rollout resume` to go on" +
                          (thin ? " (more traffic, a lower analysis.min_requests or "
                                  "analysis.top_up would let the analysis judge)"
                                : ""));
      record(s, "paused", s.message);
    }
  } else {
    s.inconclusive = 0;
  }
  if (s.phase == Phase::progressing && s.awaiting_pass && outcome == Outcome::pass) {
    s.awaiting_pass = false;
    s.step_deadline.reset();
    ++s.step;
    run_steps(s);
    return;
  }
  save();
}

void Manager::update_top_up(State& s, const metrics::WindowStats& user_canary) {
  const config::Rollout* p = plan(s.route);
  if (!p || !p->analysis.top_up.enabled) return;
  uint64_t min = p->analysis.min_requests;
  bool thin = user_canary.requests < min;
  // A margin before it stops, so traffic hovering at min_requests does not toggle it each
  // interval.
  bool plenty = user_canary.requests >= min + min / 4;
  if (thin && !s.top_up && s.phase == Phase::progressing && takes_traffic(s)) {
    host_.set_top_up(s.route, s.stable, s.canary, &p->analysis.top_up);
    s.top_up = true;
    record(s, "top_up",
           "top-up on: " + std::to_string(user_canary.requests) +
               " real canary requests per interval, fewer than min_requests " +
               std::to_string(p->analysis.min_requests) + "; " + number(p->analysis.top_up.rate) +
               " synthetic requests/s go to both versions");
  } else if (plenty && s.top_up) {
    stop_top_up(s);
    record(s, "top_up",
           "top-up off: real traffic suffices (" + std::to_string(user_canary.requests) +
               " canary requests in the last interval)");
  }
}

void Manager::stop_top_up(State& s) {
  if (!s.top_up) return;
  host_.set_top_up(s.route, s.stable, s.canary, nullptr);
  s.top_up = false;
}

} // namespace weir::rollout
