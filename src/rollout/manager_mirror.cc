// Mirroring in a rollout: the set_mirror step's live mirror to the canary, and the shadow
// comparison's part of an analysis verdict (analysis.max_divergence) and of the status.
#include "manager_state.h"
#include "weir/base/json.h"

namespace weir::rollout {

void Manager::set_mirror(State& s, double percent) {
  if (percent > 0) {
    s.mirror_percent = percent;
    host_.set_mirror(s.route, s.canary, percent);
    return;
  }
  if (s.mirror_percent == 0) return;
  s.mirror_percent = 0;
  host_.clear_mirror(s.route);
}

bool Manager::mirroring(const State& s) const {
  if (s.mirror_percent > 0) return true;
  for (const auto& r : host_.config().routes)
    if (r.name == s.route) {
      const config::Mirror& m = r.filters.mirror;
      return m.enabled && m.percent > 0 && m.compare.enabled && m.service == s.canary;
    }
  return false;
}

void Manager::reset_divergence(State& s) {
  s.divergence_base = s.divergence_start = host_.divergence(s.route);
}

std::optional<DivergenceVerdict> Manager::judge_divergence(State& s) {
  const config::Rollout* p = plan(s.route);
  const mirror::DivergenceCounts now = host_.divergence(s.route);
  const mirror::DivergenceCounts interval = counts_since(now, s.divergence_base);
  s.divergence_base = now;
  if (!p || p->analysis.max_divergence < 0 || !mirroring(s)) return std::nullopt;
  const std::vector<mirror::Divergence> recent = host_.recent_divergences(s.route);
  // The newest divergence is this interval's whenever the interval had one (it is only named
  // in a failure, which needs one).
  const mirror::Divergence* last =
      interval.diverged > 0 && !recent.empty() ? &recent.back() : nullptr;
  const double max = p->analysis.max_divergence;
  return analyze_divergence(interval, max, min_compared(max, p->analysis.min_requests), last);
}

void Manager::write_mirror_status(json::Writer& w, const State* s) const {
  const config::Rollout* p = s ? plan(s->route) : nullptr;
  if (!s || !p) return;
  const bool running = s->phase == Phase::progressing || s->phase == Phase::paused;
  if (running && s->mirror_percent > 0) {
    w.key("mirror").begin_object().key("service").value(s->canary);
    w.key("percent").value(s->mirror_percent).end_object();
  }
  if (p->analysis.max_divergence < 0 && !(running && mirroring(*s))) return;
  // Since the rollout started (or weir restarted): the intervals' verdicts are in the history.
  const mirror::DivergenceCounts c = counts_since(host_.divergence(s->route), s->divergence_start);
  auto ratio = [](uint64_t part, uint64_t whole) {
    return whole == 0 ? 0.0 : static_cast<double>(part) / static_cast<double>(whole);
  };
  w.key("divergence").begin_object();
  w.key("compared").value(c.compared).key("diverged").value(c.diverged);
  w.key("noise_compared").value(c.noise_compared).key("noise_diverged").value(c.noise_diverged);
  const double rate = ratio(c.diverged, c.compared);
  const double noise = ratio(c.noise_diverged, c.noise_compared);
  w.key("rate").value(rate).key("noise").value(noise).key("divergence").value(rate - noise);
  w.key("max_divergence").value(p->analysis.max_divergence);
  w.key("recent").begin_array();
  const std::vector<mirror::Divergence> recent = host_.recent_divergences(s->route);
  // Newest first; at most ten.
  size_t shown = 0;
  for (auto it = recent.rbegin(); it != recent.rend() && shown < 10; ++it, ++shown) {
    char stamp[32];
    w.begin_object().key("time").value(std::string(stamp, format_utc(it->at, stamp)));
    w.key("method").value(it->method).key("path").value(it->path);
    w.key("what").value(it->what).end_object();
  }
  w.end_array().end_object();
}

} // namespace weir::rollout
