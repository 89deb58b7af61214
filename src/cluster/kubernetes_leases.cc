// KubernetesStore's view of the fleet's Leases (kubernetes_store.h): the Leases' watch, who
// leads and the campaign for it, and which replicas are gone. Expiry is on this replica's steady
// clock: a Lease is expired once its resourceVersion has not moved for its TTL as seen here.
#include "weir/base/log.h"
#include "weir/cluster/kubernetes_store.h"

#include <algorithm>

namespace weir::cluster {

namespace k8s = kubernetes;
using namespace std::chrono_literals;

namespace {

constexpr auto kReplicaCheck = 1s;
// Timers wake this long after a Lease's expiry, so that "expired" holds then.
constexpr auto kExpiryMargin = 5ms;

// The Lease seen next, when `lease` says something new over `before` (nullptr: none); nullopt
// when it does not, or when it is older (a watch event behind this replica's own write).
std::optional<std::pair<k8s::Lease, bool>> newer_lease(const k8s::Lease* before, k8s::Lease lease) {
  if (before && k8s::older_version(lease.resource_version, before->resource_version))
    return std::nullopt;
  if (before && *before == lease) return std::nullopt;
  const bool moved = !before || before->resource_version != lease.resource_version;
  return std::make_pair(std::move(lease), moved);
}

} // namespace

// ---- The Leases' watch ---------------------------------------------------------------------

std::string KubernetesStore::on_leases_listed(const json::Value::Array& items) {
  const std::string leader_name = k8s::leader_lease_name(options_.cluster);
  bool leader_listed = false;
  std::set<std::string> listed;
  for (const auto& item : items) {
    std::string error;
    auto lease = k8s::parse_lease(item, error);
    if (!lease) continue;
    if (!error.empty()) log::warn("cluster: kubernetes lease " + lease->name + ": " + error);
    leader_listed = leader_listed || lease->name == leader_name;
    if (auto replica = k8s::replica_of(options_.cluster, lease->name)) listed.insert(*replica);
    saw_lease(std::move(*lease));
  }
  if (!leader_listed) leader_.reset();
  for (auto it = replicas_.begin(); it != replicas_.end();) {
    if (listed.count(it->first)) {
      ++it;
      continue;
    }
    gone_.erase(it->first);
    it = replicas_.erase(it);
  }
  leases_listed_ = true;
  synced_ = synced_ || (leases_listed_ && state_listed_);
  return "";
}

bool KubernetesStore::on_lease_event(discovery::WatchType type, const json::Value& object) {
  std::string error;
  auto lease = k8s::parse_lease(object, error);
  if (!lease) return false;
  if (!error.empty()) log::warn("cluster: kubernetes lease " + lease->name + ": " + error);
  if (type != discovery::WatchType::deleted) return saw_lease(std::move(*lease));
  if (lease->name == k8s::leader_lease_name(options_.cluster)) {
    if (!leader_ || k8s::older_version(lease->resource_version, leader_->lease.resource_version))
      return false;
    leader_.reset();
    return true;
  }
  auto replica = k8s::replica_of(options_.cluster, lease->name);
  if (!replica) return false;
  gone_.erase(*replica);
  return replicas_.erase(*replica) > 0;
}

bool KubernetesStore::saw_lease(k8s::Lease lease) {
  const auto now = Clock::now();
  if (lease.name == k8s::leader_lease_name(options_.cluster)) {
    auto next = newer_lease(leader_ ? &leader_->lease : nullptr, std::move(lease));
    if (!next) return false;
    leader_ = Seen{std::move(next->first), next->second ? now : leader_->changed_at};
    return true;
  }
  auto replica = k8s::replica_of(options_.cluster, lease.name);
  if (!replica || *replica == options_.replica) return false; // its own entries are known here
  auto it = replicas_.find(*replica);
  auto next = newer_lease(it == replicas_.end() ? nullptr : &it->second.lease, std::move(lease));
  if (!next) return false;
  if (next->second) gone_.erase(*replica); // renewed: alive again
  const auto changed_at = next->second ? now : it->second.changed_at;
  replicas_[*replica] = Seen{std::move(next->first), changed_at};
  return true;
}

// ---- Leadership ----------------------------------------------------------------------------

std::chrono::milliseconds KubernetesStore::ttl_of(const Seen& seen) const {
  return seen.lease.ttl.count() > 0 ? seen.lease.ttl : options_.lease_ttl;
}

bool KubernetesStore::expired(const Seen& seen) const {
  return Clock::now() - seen.changed_at >= ttl_of(seen);
}

bool KubernetesStore::holding() const {
  return leader_ && leader_->lease.holder == options_.replica && !expired(*leader_);
}

void KubernetesStore::arm_leader_timer() {
  if (stopped_ || !leader_ || leader_->lease.holder.empty() ||
      leader_->lease.holder == options_.replica) {
    leader_timer_.cancel();
    return;
  }
  leader_timer_.expires_at(leader_->changed_at + ttl_of(*leader_) + kExpiryMargin);
  leader_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    campaign();
  });
}

void KubernetesStore::campaign() {
  if (!started_ || stopped_ || !api_ || !reachable_ || campaign_in_flight_ || !leases_listed_)
    return;
  const std::string now = k8s::micro_time(std::chrono::system_clock::now());
  k8s::Lease next;
  next.name = k8s::leader_lease_name(options_.cluster);
  next.holder = options_.replica;
  next.duration_seconds = k8s::lease_duration_seconds(options_.lease_ttl);
  next.ttl = options_.lease_ttl;
  next.renew_time = now;
  next.acquire_time = now;
  if (leader_) {
    const k8s::Lease& seen = leader_->lease;
    const bool ours = seen.holder == options_.replica;
    if (!ours && !seen.holder.empty() && !expired(*leader_)) return arm_leader_timer();
    next.resource_version = seen.resource_version; // of two takers, one wins; the other: 409
    next.transitions = seen.transitions + (ours ? 0 : 1);
    if (ours) next.acquire_time = seen.acquire_time;
  }
  const bool create = !leader_;
  campaign_in_flight_ = true;
  const auto sent_at = Clock::now();
  send(create ? "POST" : "PUT", lease_target(create ? "" : next.name),
       k8s::lease_json(next, ns_, options_.cluster), [this, sent_at](const net::HttpResponse& r) {
         campaign_in_flight_ = false;
         const bool was = status_.leader;
         if (written(r)) {
           std::string error;
           if (auto object = object_in(r))
             if (auto lease = k8s::parse_lease(*object, error)) saw_lease(std::move(*lease));
           // The holder's term counts from before the API server wrote the renewal; the others
           // count from when they see it: the holder's ends first.
           if (leader_ && leader_->lease.holder == options_.replica)
             leader_->changed_at = std::min(leader_->changed_at, sent_at);
           recompute();
           if (!was && status_.leader) log::info("cluster: " + options_.replica + " leads");
           return arm_leader_timer();
         }
         if (!r.error.empty() || (r.status != 409 && r.status != 404)) return;
         // Someone else wrote it first (409), or it was deleted (404): read it again.
         campaign_in_flight_ = true;
         send("GET", lease_target(k8s::leader_lease_name(options_.cluster)), "",
              [this](const net::HttpResponse& again) {
                campaign_in_flight_ = false;
                std::string error;
                if (written(again)) {
                  if (auto object = object_in(again))
                    if (auto lease = k8s::parse_lease(*object, error)) saw_lease(std::move(*lease));
                } else if (again.error.empty() && again.status == 404) {
                  leader_.reset();
                } else {
                  return;
                }
                recompute();
                arm_leader_timer();
                if (!leader_ || leader_->lease.holder.empty()) campaign();
              });
       });
}

// ---- The other replicas --------------------------------------------------------------------

bool KubernetesStore::view_current() const {
  // Reachable, both collections listed since, the Leases' watch going: what is not seen moving
  // then did not move.
  return reachable_ && leases_listed_ && state_listed_ && lease_watch_status_.last_error.empty();
}

void KubernetesStore::check_replicas() {
  if (stopped_) return;
  if (view_current())
    for (const auto& [replica, seen] : replicas_)
      if (expired(seen) && gone_.insert(replica).second)
        log::info("cluster: replica " + replica + " is gone (its Lease was not renewed for " +
                  std::to_string(seen.lease.ttl.count()) + " ms)");
  recompute();
  arm_replica_timer();
}

void KubernetesStore::arm_replica_timer() {
  if (stopped_) return;
  // At the next expiry of a live replica's Lease, so its entries go when it does; at least once a
  // second.
  auto next = Clock::now() + kReplicaCheck;
  const bool current = view_current(); // else an expired one stays until it is
  for (const auto& [replica, seen] : replicas_)
    if (!gone_.count(replica) && (current || !expired(seen)))
      next = std::min(next, seen.changed_at + ttl_of(seen) + kExpiryMargin);
  check_timer_.expires_at(next);
  check_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!ec && *alive) check_replicas();
  });
}

} // namespace weir::cluster
