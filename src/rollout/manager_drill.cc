// Rollback drills: "always test rollback procedures before relying on them". After a promotion
// `rollout undo` would give the route back to the version it replaced; a drill asks that version
// what the live one is asked and compares the status classes of their answers:
//   - synthetic: each probe request of the target (GET / without probes) to every endpoint of
//     the target that takes traffic, and the same to the live version (Host::drill_requests);
//   - mirrored: the route's live GETs and HEADs copied to the target (Host::set_mirror, safe
//     methods only) until `requests` were compared or kDrillMirrorFor passed, judged by the
//     mirror's own comparison (status class) against what the clients got.
// "rollback ready" when every pair matched; else "not ready" with the first reason. The verdict
// is an event, is in `rollout status`, and a failed one makes `rollout undo` ask for --force.
#include "manager_state.h"
#include "weir/base/json.h"

namespace weir::rollout {

namespace {
constexpr auto kCheckEvery = std::chrono::milliseconds(250);

// "2xx", "5xx", or the error of a request that got no answer.
std::string outcome(int status, const std::string& error) {
  if (status <= 0) return error.empty() ? "no answer" : error;
  return std::to_string(status / 100) + "xx";
}
} // namespace

std::string Manager::drill(const std::string& route, uint32_t requests, DrillDone done) {
  if (!plan(route)) return no_plan(route);
  if (role_ == Role::follow)
    return "drills run on the fleet's leader: this replica follows (" + held_ + ")";
  State* s = find(route);
  if (!s || s->phase != Phase::healthy || s->stable.empty())
    return "no rollback to drill: route \"" + route +
           "\" has no promoted rollout (a drill asks the version `rollout undo` would return to)";
  // After the window (or once reported safe to delete) the old version may be scaled down: a
  // drill would send it traffic nobody plans for, and an undo needs --force anyway.
  const config::Rollout* p = plan(route);
  if ((p->rollback_window.count() > 0 && !s->rollback_until) || (s->cleanup && s->cleanup->safe))
    return "no rollback to drill: route \"" + route + "\"'s " +
           (s->rollback_until || p->rollback_window.count() == 0
                ? s->stable + " was reported safe to delete"
                : std::string("rollback window is over")) +
           " (`rollout undo --force` is the only way back)";
  if (s->drill) {
    // One drill at a time: a second asker gets the running one's report.
    s->drill->waiting.push_back(std::move(done));
    return "";
  }
  State::Drill d;
  d.epoch = s->epoch;
  d.target = s->stable;
  d.live = s->canary;
  d.requests = requests;
  d.mirror_until = clock_.now() + kDrillMirrorFor;
  d.base = host_.divergence(route);
  if (done) d.waiting.push_back(std::move(done));
  s->drill = std::move(d);
  record(*s, "drill",
         "rollback drill of " + s->stable + " started: its probes, and up to " +
             std::to_string(requests) + " mirrored live GETs compared with " + s->canary);
  host_.set_mirror(route, s->stable, 100, true);
  std::weak_ptr<bool> alive = alive_;
  uint64_t epoch = s->epoch;
  host_.drill_requests(route, s->stable, s->canary,
                       [this, alive, route, epoch](std::vector<Host::DrillAnswer> answers) {
                         if (alive.expired()) return;
                         State* sp = find(route);
                         if (!sp || !sp->drill || sp->drill->epoch != epoch) return;
                         sp->drill->answers = std::move(answers);
                         check_drill(*sp);
                       });
  if (s->drill) {
    s->drill_check_due = clock_.now() + kCheckEvery;
    schedule(*s);
  }
  return "";
}

void Manager::check_drill(State& s) {
  if (!s.drill) return;
  State::Drill& d = *s.drill;
  mirror::DivergenceCounts now = host_.divergence(s.route);
  bool enough = now.compared - d.base.compared >= d.requests;
  bool over = clock_.now() >= d.mirror_until;
  if (d.answers && (enough || over)) return finish_drill(s);
  s.drill_check_due = clock_.now() + kCheckEvery;
  schedule(s);
}

void Manager::finish_drill(State& s) {
  State::Drill d = std::move(*s.drill);
  s.drill.reset();
  s.drill_check_due.reset();
  // The route mirrors as its config says again.
  if (s.mirror_percent > 0)
    host_.set_mirror(s.route, s.canary, s.mirror_percent);
  else
    host_.clear_mirror(s.route);
  mirror::DivergenceCounts now = host_.divergence(s.route);
  uint64_t compared = now.compared - d.base.compared;
  uint64_t diverged = now.diverged - d.base.diverged;

  std::string reason;
  size_t same = 0;
  const auto& answers = *d.answers;
  if (answers.empty())
    reason = "no endpoint of " + d.target +
             " takes traffic (health checks mark them all down, or it has none)";
  for (const auto& a : answers) {
    std::string t = outcome(a.target_status, a.target_error);
    std::string l = outcome(a.live_status, a.live_error);
    if (t == l && a.target_status > 0) {
      ++same;
    } else if (reason.empty()) {
      reason = a.request + " on " + a.endpoint + ": " + d.target + " answered " + t + ", " +
               d.live + " " + l;
    }
  }
  if (reason.empty() && diverged > 0) {
    reason = std::to_string(diverged) + " of " + std::to_string(compared) + " mirrored live GETs " +
             "answered differently";
    auto recent = host_.recent_divergences(s.route);
    if (!recent.empty())
      reason += " (last: " + recent.back().method + " " + recent.back().path + ": " +
                recent.back().what + ")";
  }
  bool ready = reason.empty();
  json::Writer w;
  char stamp[32];
  w.begin_object().key("time").value(std::string(stamp, format_utc(clock_.wall_now(), stamp)));
  w.key("target").value(d.target).key("live").value(d.live);
  w.key("ready").value(ready);
  if (!ready) w.key("reason").value(reason);
  w.key("synthetic").begin_object().key("sent").value(static_cast<uint64_t>(answers.size()));
  w.key("same_class").value(static_cast<uint64_t>(same)).end_object();
  w.key("mirrored").begin_object().key("compared").value(compared);
  w.key("diverged").value(diverged).end_object();
  if (ready && compared == 0)
    w.key("note").value("no live GET arrived to mirror: judged on the probes alone");
  w.end_object();
  s.last_drill = w.take();
  s.last_drill_failed = !ready;
  s.last_drill_reason = reason;
  if (ready)
    record(s, "drill_passed",
           "rollback ready: " + d.target + " answered " + std::to_string(same) + " synthetic and " +
               std::to_string(compared) + " mirrored live requests as " + d.live + " did",
           s.last_drill);
  else
    record(s, "drill_failed",
           "rollback not ready: " + reason + "; `rollout undo` needs --force until a drill passes",
           s.last_drill);
  save();
  for (auto& done : d.waiting)
    if (done) done("", s.last_drill);
}

void Manager::end_drill(State& s) {
  s.next_drill_due.reset();
  if (!s.drill) return;
  auto waiting = std::move(s.drill->waiting);
  s.drill.reset();
  s.drill_check_due.reset();
  if (s.mirror_percent <= 0) host_.clear_mirror(s.route);
  schedule(s);
  for (auto& done : waiting)
    if (done)
      done("the drill was called off: the rollout moved on (an undo, a start or a reload)", "");
}

void Manager::scheduled_drill(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p || p->rollback_drill_every.count() == 0 || !s.rollback_until) return;
  // Only one that ends inside the window.
  if (!s.drill && *s.rollback_until - clock_.now() > kDrillMirrorFor) drill(s.route, 20, nullptr);
  s.next_drill_due = clock_.now() + p->rollback_drill_every;
  schedule(s);
}

} // namespace weir::rollout
