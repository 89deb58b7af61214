// Rollout hooks (Flagger's webhooks): the gates a rollout waits on (pre_rollout before a start,
// confirm_rollout before the first step, confirm_promotion before 100 %) and the notifications
// after it ends (post_rollout). The `rollout` and `rollback` hooks run with each analysis
// interval (manager_interval.cc).
#include "manager_state.h"
#include "weir/base/json.h"

namespace weir::rollout {

using Type = config::RolloutHook::Type;

std::string Manager::hook_body(const State& s, const config::RolloutHook& hook) const {
  json::Writer w;
  w.begin_object().key("route").value(s.route).key("hook").value(hook.name);
  w.key("type").value(config::hook_type_name(hook.type));
  // A start's pre_rollout hooks hear of the versions about to start.
  w.key("phase").value(phase_name(s.phase));
  w.key("stable").value(s.starting ? s.pending_stable : s.stable);
  w.key("canary").value(s.starting ? s.pending_canary : s.canary);
  w.key("canary_weight").value(s.canary_weight);
  w.key("step").value(static_cast<uint64_t>(s.step + 1)).key("message").value(s.message);
  w.end_object();
  return w.take();
}

void Manager::call_hooks(State& s, Type type, std::function<void(bool, std::string)> then) {
  const config::Rollout* p = plan(s.route);
  std::vector<const config::RolloutHook*> hooks;
  if (p)
    for (const auto& h : p->hooks)
      if (h.type == type) hooks.push_back(&h);
  if (hooks.empty()) return then(true, "");
  struct Pending {
    size_t left = 0;
    bool ok = true;
    std::string why;
    std::function<void(bool, std::string)> then;
  };
  auto pending = std::make_shared<Pending>();
  pending->left = hooks.size();
  pending->then = std::move(then);
  std::weak_ptr<bool> alive = run_token_;
  std::string route = s.route;
  uint64_t epoch = s.epoch;
  for (const config::RolloutHook* h : hooks) {
    std::string name = h->name;
    host_.call_hook(
        *h, hook_body(s, *h), [this, alive, route, name, type, epoch, pending](HookResult r) {
          if (alive.expired()) return;
          std::string what =
              std::string(config::hook_type_name(type)) + " hook " + name + ": " +
              (r.status ? "HTTP " + std::to_string(r.status) : std::string("no answer")) +
              (r.message.empty() ? "" : " (" + r.message + ")") +
              (r.attempts > 1 ? " after " + std::to_string(r.attempts) + " attempts" : "");
          // An answer about a rollout that has ended or started over is not this one's event.
          if (State* sp = find(route); sp && sp->epoch == epoch) {
            json::Writer w;
            w.begin_object().key("name").value(name).key("type").value(
                config::hook_type_name(type));
            w.key("ok").value(r.ok).key("status").value(static_cast<int64_t>(r.status));
            w.key("attempts").value(r.attempts).key("message").value(r.message).end_object();
            // A confirm gate is asked again every interval: a hook's unchanged answer is not
            // repeated in the history (the status shows the latest).
            bool confirm = type == Type::confirm_rollout || type == Type::confirm_promotion;
            bool quiet = confirm && sp->hook_said[name] == what;
            if (confirm) sp->hook_said[name] = what;
            if (!quiet) record(*sp, "hook", what, w.take());
          }
          if (!r.ok && pending->ok) {
            pending->ok = false;
            pending->why = what;
          }
          if (--pending->left == 0) pending->then(pending->ok, pending->why);
        });
  }
}

bool Manager::confirmed(State& s, Type type) {
  bool& done = type == Type::confirm_rollout ? s.rollout_confirmed : s.promotion_confirmed;
  if (done) return true;
  const config::Rollout* p = plan(s.route);
  bool any = false;
  if (p)
    for (const auto& h : p->hooks)
      any = any || h.type == type;
  if (!any) return done = true;
  const std::string name = config::hook_type_name(type);
  s.waiting_for = name;
  if (s.asking_gate) return false;
  s.asking_gate = true;
  if (s.gate_refusal.empty()) s.message = "waiting for the " + name + " hooks to answer 2xx";
  std::string route = s.route;
  uint64_t epoch = s.epoch;
  call_hooks(s, type, [this, route, epoch, type, name](bool ok, std::string why) {
    State* sp = find(route);
    if (!sp || sp->epoch != epoch) return;
    sp->asking_gate = false;
    const config::Rollout* p = plan(route);
    if (!p) return;
    if (ok) {
      (type == Type::confirm_rollout ? sp->rollout_confirmed : sp->promotion_confirmed) = true;
      sp->waiting_for.clear();
      sp->gate_refusal.clear();
      record(*sp, "gate", name + " confirmed: the rollout goes on");
      sp->message = "progressing";
      if (sp->phase == Phase::progressing) run_steps(*sp);
      return;
    }
    // Not yet: asked again after an analysis interval (while Progressing).
    if (sp->gate_refusal != why) record(*sp, "waiting", "waiting at " + name + ": " + why);
    sp->gate_refusal = why;
    sp->message = "waiting at " + name + ": " + why;
    save();
    if (sp->phase == Phase::progressing) step_due_at(*sp, clock_.now() + p->analysis.interval);
  });
  return false;
}

void Manager::notify_hooks(State& s, Type type) {
  // Informational: the answers are recorded as events and change nothing.
  call_hooks(s, type, [](bool, std::string) {});
}

} // namespace weir::rollout
