// When the version a promotion replaced is safe to delete: no request, no open connection, no
// tunnel and no sticky client for the plan's cleanup.grace_period, and no rollback window open.
// Checked every second on the control thread from what the workers count (Host); CI deletes the
// old namespace on the `safe_to_delete` event or weir_version_safe_to_delete, not on a timer.
#include "manager_state.h"
#include "weir/base/json.h"
#include "weir/metrics/prometheus.h"

#include <algorithm>
#include <cmath>

namespace weir::rollout {

namespace {
constexpr auto kCheckEvery = std::chrono::seconds(1);
constexpr auto kIdleCloseEvery = std::chrono::seconds(5);

std::string utc(std::chrono::system_clock::time_point t) {
  char stamp[32];
  return std::string(stamp, format_utc(t, stamp));
}
} // namespace

void Manager::start_cleanup(State& s) {
  State::Cleanup c;
  c.version = s.stable;
  TimePoint now = clock_.now();
  for (const char* name :
       {"requests", "mirrored", "connections", "tunnels", "sticky", "rollback_window"})
    c.conditions.push_back({name, true, now, ""});
  s.cleanup = std::move(c);
  check_cleanup(s);
}

void Manager::end_cleanup(State& s) {
  s.cleanup.reset();
  s.cleanup_due.reset();
  schedule(s);
}

void Manager::check_cleanup(State& s) {
  if (!s.cleanup) return;
  const config::Rollout* p = plan(s.route);
  if (!p) return end_cleanup(s);
  State::Cleanup& c = *s.cleanup;
  const std::string& v = c.version;
  TimePoint now = clock_.now();

  // Every route that has the version as a backend: another route may still send it traffic.
  uint64_t requests = 0, tunnels = 0;
  double sticky_share = 0;
  // Copies of requests count as use too: a route's mirror to it, a rollback drill running.
  std::string mirrored_by;
  if (s.drill) mirrored_by = "a rollback drill";
  for (const auto& r : host_.config().routes)
    if (r.filters.mirror.enabled && r.filters.mirror.percent > 0 && r.filters.mirror.service == v)
      mirrored_by += (mirrored_by.empty() ? "route " : ", route ") + r.name;
  for (const auto& r : host_.config().routes) {
    bool backend = false;
    for (const auto& b : r.backends)
      backend = backend || b.service == v;
    if (!backend) continue;
    // Two seconds: a request counted late into the last second is still seen.
    requests += host_.window({r.name, v}, std::chrono::seconds(2))
                    .value_or(metrics::WindowStats{})
                    .requests;
    tunnels += host_.tunnels_open(r.name, v);
    // A sticky client holds a bucket; while the version's share covers buckets, a cookie maps
    // to it. At 0 % every bucket has moved past it.
    if (!r.rollout.affinity_cookie.empty())
      for (const auto& b : host_.split(r.name).backends)
        if (b.service == v) sticky_share = std::max(sticky_share, b.share);
  }
  // A tunnel's request stays in flight as long as the tunnel: counted as a tunnel only.
  uint64_t in_flight = host_.requests_in_flight(v);
  requests += in_flight > tunnels ? in_flight - tunnels : 0;
  uint64_t connections = host_.upstream_connections_open(v);
  // Idle keep-alive connections to it are kept warm while a rollback may need them; after that
  // nothing would close them but the upstream: weir does, once nothing sends it requests (again
  // every few seconds while some are left: a request in flight returns its connection later).
  const bool warm = s.rollback_until.has_value();
  if (!warm && connections > 0 && requests == 0 && tunnels == 0 && mirrored_by.empty() &&
      (!c.idle_closed_at || now - *c.idle_closed_at >= kIdleCloseEvery)) {
    host_.close_idle_connections(v);
    c.idle_closed_at = now;
  }

  auto set = [&](State::Cleanup::Condition& cond, bool pending, std::string detail) {
    if (cond.pending != pending) cond.since = now;
    cond.pending = pending;
    cond.detail = pending ? std::move(detail) : "";
  };
  for (auto& cond : c.conditions) {
    std::string_view name = cond.name;
    if (name == "requests")
      set(cond, requests > 0, std::to_string(requests) + " in the last 2 s or in flight");
    else if (name == "mirrored")
      set(cond, !mirrored_by.empty(), mirrored_by + " mirrors requests to it");
    else if (name == "connections")
      set(cond, connections > 0, std::to_string(connections) + " upstream connections open");
    else if (name == "tunnels")
      set(cond, tunnels > 0, std::to_string(tunnels) + " open");
    else if (name == "sticky")
      set(cond, sticky_share > 0,
          std::to_string(static_cast<int>(std::ceil(sticky_share * 100))) +
              " % of the sticky buckets still map to it");
    else if (name == "rollback_window")
      set(cond, s.rollback_until.has_value(), "open: `rollout undo` may switch back to it");
  }
  if (c.draining_tunnels && tunnels == 0) {
    c.draining_tunnels = false;
    record(s, "tunnels_drained", "no tunnel to " + v + " is left open");
  }

  bool all_clear = std::none_of(c.conditions.begin(), c.conditions.end(),
                                [](const auto& cond) { return cond.pending; });
  TimePoint clear_since{};
  for (const auto& cond : c.conditions)
    clear_since = std::max(clear_since, cond.since);
  bool safe = all_clear && now - clear_since >= p->cleanup_grace;
  if (safe && !c.safe) {
    c.safe = true;
    c.safe_since = now;
    record(s, "safe_to_delete",
           v + " is safe to delete: no request, mirror, connection, tunnel or sticky client for " +
               std::to_string(
                   std::chrono::duration_cast<std::chrono::seconds>(p->cleanup_grace).count()) +
               " s, and the rollback window closed");
    save();
  } else if (!safe && c.safe) {
    c.safe = false;
    std::string what;
    for (const auto& cond : c.conditions)
      if (cond.pending) what += (what.empty() ? "" : ", ") + std::string(cond.name);
    record(s, "in_use_again", v + " is in use again (" + what + "): not safe to delete");
    save();
  }
  s.cleanup_due = now + kCheckEvery;
  schedule(s);
}

void Manager::write_cleanup_status(json::Writer& w, const State* s) const {
  if (!s || !s->cleanup) return;
  const config::Rollout* p = plan(s->route);
  if (!p) return;
  const State::Cleanup& c = *s->cleanup;
  TimePoint now = clock_.now();
  auto wall = [&](TimePoint t) {
    return utc(clock_.wall_now() -
               std::chrono::duration_cast<std::chrono::system_clock::duration>(now - t));
  };
  w.begin_object().key("version").value(c.version).key("safe_to_delete").value(c.safe);
  w.key("grace_period_ms").value(static_cast<int64_t>(p->cleanup_grace.count()));
  if (c.safe) w.key("safe_since").value(wall(c.safe_since));
  bool all_clear = true;
  TimePoint clear_since{};
  for (const auto& cond : c.conditions) {
    all_clear = all_clear && !cond.pending;
    clear_since = std::max(clear_since, cond.since);
  }
  if (all_clear && !c.safe) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(clear_since + p->cleanup_grace - now);
    w.key("safe_in_ms").value(static_cast<int64_t>(std::max<int64_t>(0, left.count())));
  }
  w.key("pending").begin_array();
  for (const auto& cond : c.conditions)
    if (cond.pending)
      w.begin_object()
          .key("condition")
          .value(cond.name)
          .key("detail")
          .value(cond.detail)
          .key("since")
          .value(wall(cond.since))
          .end_object();
  w.end_array().key("clear").begin_array();
  for (const auto& cond : c.conditions)
    if (!cond.pending)
      w.begin_object()
          .key("condition")
          .value(cond.name)
          .key("since")
          .value(wall(cond.since))
          .end_object();
  w.end_array().end_object();
}

std::string Manager::cleanup_json(const std::string& service) const {
  for (const auto& [route, s] : states_)
    if (s->cleanup && s->cleanup->version == service) {
      json::Writer w;
      write_cleanup_status(w, s.get());
      return w.take();
    }
  return "";
}

// --- tunnels at cutover ---

void Manager::drain_replaced_tunnels(State& s) {
  const config::Rollout* p = plan(s.route);
  if (!p || p->tunnels_drain_over.count() == 0) return;
  host_.stop_tunnel_drain(s.route, s.canary); // it serves now
  uint64_t open = host_.tunnels_open(s.route, s.stable);
  if (open == 0) return;
  host_.drain_tunnels(s.route, s.stable, std::chrono::milliseconds(0), p->tunnels_drain_over);
  if (s.cleanup) s.cleanup->draining_tunnels = true;
  record(s, "tunnels_draining",
         std::to_string(open) + " tunnels to " + s.stable + " close one by one over " +
             std::to_string(
                 std::chrono::duration_cast<std::chrono::seconds>(p->tunnels_drain_over).count()) +
             " s, each with a closing handshake; their clients reconnect to " + s.canary);
}

void Manager::close_failed_tunnels(State& s, const std::string& version) {
  const config::Rollout* p = plan(s.route);
  if (!p) return;
  const std::string& serving = version == s.canary ? s.stable : s.canary;
  host_.stop_tunnel_drain(s.route, serving); // it serves again
  uint64_t open = host_.tunnels_open(s.route, version);
  if (open == 0) return;
  host_.drain_tunnels(s.route, version, p->tunnels_abort_grace, std::chrono::milliseconds(0));
  record(s, "tunnels_closing",
         std::to_string(open) + " tunnels to " + version + " close in " +
             std::to_string(
                 std::chrono::duration_cast<std::chrono::seconds>(p->tunnels_abort_grace).count()) +
             " s (tunnels.abort_grace), each with a closing handshake");
}

} // namespace weir::rollout
