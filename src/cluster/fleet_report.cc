// What the fleet shows: `show fleet` (weirctl fleet) and its /metrics families.
#include "weir/base/build_id.h"
#include "weir/base/json.h"
#include "weir/cluster/fleet.h"
#include "weir/control/controller.h"
#include "weir/metrics/prometheus.h"

namespace weir::cluster {

namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Requests/s per route and backend over the last 10 s, as `watch` and `show routes` count them.
void write_rates(json::Writer& w, const metrics::Aggregator& a) {
  w.key("routes").begin_array();
  for (const auto& key : a.keys()) {
    auto win = a.window(key, std::chrono::seconds(10));
    if (!win) continue;
    w.begin_object().key("route").value(key.route).key("service").value(key.service);
    w.key("rps").value(win->rps).end_object();
  }
  w.end_array();
}

} // namespace

void Fleet::write_status(json::Writer& w) const {
  w.begin_object();
  if (!store_) {
    w.key("enabled").value(false).end_object();
    return;
  }
  const StoreStatus& st = store_->status();
  w.key("enabled").value(true).key("name").value(cluster_.name);
  w.key("replica").value(cluster_.replica);
  w.key("leader").value(st.leader_name).key("leading").value(leading());
  w.key("caught_up").value(caught_up_);
  w.key("lease_ttl_ms").value(static_cast<int64_t>(cluster_.lease_ttl.count()));
  w.key("store").begin_object().key("kind").value(store_->kind());
  w.key("where").value(store_->where()).key("reachable").value(st.reachable);
  w.key("synced").value(st.synced).key("error").value(st.error).end_object();
  if (!leading()) w.key("rollouts_held").value(held_reason());
  int64_t now = unix_ms_now();
  w.key("replicas").begin_array();
  // This replica first, then the others whose entry is in the store (alive by their lease).
  w.begin_object().key("name").value(cluster_.replica).key("self").value(true);
  w.key("version").value(build_id()).key("leader").value(st.leader_name == cluster_.replica);
  w.key("started_unix_ms").value(static_cast<int64_t>(std::stoll(started_)));
  w.key("heartbeat_age_ms").value(static_cast<int64_t>(0));
  write_rates(w, controller_.aggregator());
  w.end_object();
  for (const auto& [name, r] : remotes_) {
    if (!r.present) continue;
    w.begin_object().key("name").value(name).key("self").value(false);
    w.key("version").value(r.version).key("leader").value(st.leader_name == name);
    w.key("started_unix_ms").value(static_cast<int64_t>(std::atoll(r.started.c_str())));
    w.key("heartbeat_age_ms").value(std::max<int64_t>(0, now - r.heartbeat_unix_ms));
    w.key("routes").begin_array();
    for (const auto& rate : r.rates) {
      w.begin_object().key("route").value(rate.route).key("service").value(rate.service);
      w.key("rps").value(rate.rps).end_object();
    }
    w.end_array();
    w.end_object();
  }
  w.end_array().end_object();
}

void Fleet::write_metrics(std::string& out) const {
  if (!store_) return;
  const StoreStatus& st = store_->status();
  size_t replicas = 1;
  for (const auto& [name, r] : remotes_)
    replicas += r.present ? 1 : 0;
  std::string labels = "fleet=\"";
  metrics::append_label_value(labels, cluster_.name);
  labels += "\",replica=\"";
  metrics::append_label_value(labels, cluster_.replica);
  labels += "\"";
  out += "# HELP weir_fleet_replicas Replicas of the fleet alive in its store, as this replica "
         "sees them (itself included).\n# TYPE weir_fleet_replicas gauge\n";
  out += "weir_fleet_replicas{" + labels + "} " + std::to_string(replicas) + "\n";
  out += "# HELP weir_fleet_leader 1 while this replica leads the fleet (runs its rollouts).\n"
         "# TYPE weir_fleet_leader gauge\n";
  out += "weir_fleet_leader{" + labels + "} " + (leading() ? "1" : "0") + "\n";
  out += "# HELP weir_fleet_store_reachable 1 while the fleet's store answers this replica.\n"
         "# TYPE weir_fleet_store_reachable gauge\n";
  out += "weir_fleet_store_reachable{" + labels + "} " + (st.reachable ? "1" : "0") + "\n";
}

} // namespace weir::cluster
