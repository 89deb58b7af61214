// EtcdStore's lease, which its ephemeral entries and the leadership live by, and the campaign for
// the leadership (etcd_store.h).
#include "weir/base/log.h"
#include "weir/cluster/etcd_store.h"

#include <algorithm>

namespace weir::cluster {

using namespace std::chrono_literals;

std::chrono::milliseconds EtcdStore::keep_alive_period(std::chrono::milliseconds ttl) {
  return std::max<std::chrono::milliseconds>(100ms, ttl / 3);
}

// --- the lease ---

void EtcdStore::grant() {
  granting_ = true;
  send("/v3/lease/grant", etcd::lease_grant_body(ttl_seconds_),
       [this](net::HttpResponse r, size_t endpoint) {
         granting_ = false;
         if (failed(r, endpoint, "lease grant")) return;
         etcd::LeaseAnswer a = etcd::parse_lease(r.body);
         if (a.error.empty() && (a.id == 0 || a.ttl <= 0)) a.error = "no lease in the answer";
         if (!a.error.empty()) {
           unreachable(endpoints_[endpoint] + ": lease grant: " + a.error);
           return retry_soon();
         }
         reached();
         lease_ = a.id;
         keep_alive_every_ = keep_alive_period(std::chrono::seconds(a.ttl));
         arm_tick();
         drive();
       });
}

void EtcdStore::keep_alive() {
  keeping_alive_ = true;
  const int64_t lease = lease_;
  send("/v3/lease/keepalive", etcd::lease_id_body(lease),
       [this, lease](net::HttpResponse r, size_t endpoint) {
         keeping_alive_ = false;
         if (failed(r, endpoint, "lease keepalive")) return;
         etcd::LeaseAnswer a = etcd::parse_lease(r.body);
         if (!a.error.empty() && a.code != 5) {
           unreachable(endpoints_[endpoint] + ": lease keepalive: " + a.error);
           return retry_soon();
         }
         reached();
         if (a.ttl <= 0) lease_lost(lease);
         drive();
       });
}

void EtcdStore::lease_lost(int64_t lease) {
  if (lease != lease_ || lease == 0) return;
  log::warn("cluster: etcd: the lease of replica " + options_.replica +
            " ended; taking a new one and writing its entries again");
  lease_ = 0;
  if (holds_) {
    holds_ = false;
    status_.leader_name.clear(); // the leader key went with the lease
  }
  // Written again as this replica's own writes: its data() keeps them meanwhile.
  RevisionedView::Changes changes;
  for (const auto& [key, value] : ephemeral_) {
    if (pending_.contains(key) || (in_flight_ && in_flight_->key == key)) continue;
    view_.write(key, value, changes);
    enqueue(key, Write{value, Lifetime::ephemeral});
  }
  notify(std::move(changes));
  update_status();
  drive();
}

// --- leadership ---

void EtcdStore::campaign() {
  campaigning_ = true;
  const int64_t lease = lease_;
  send("/v3/kv/txn", etcd::create_if_absent_body(leader_key_, options_.replica, lease),
       [this, lease](net::HttpResponse r, size_t endpoint) {
         campaigning_ = false;
         if (failed(r, endpoint, "campaign")) return;
         etcd::CreateAnswer a = etcd::parse_create_if_absent(r.body);
         if (!a.error.empty() && a.code == 5) return reached(), lease_lost(lease);
         if (!a.error.empty()) {
           unreachable(endpoints_[endpoint] + ": campaign: " + a.error);
           return retry_soon();
         }
         reached();
         if (a.created && a.revision > leader_revision_ && lease == lease_) {
           leader_revision_ = a.revision;
           held_since_ = a.revision;
           holds_ = true;
           status_.leader_name = options_.replica;
           log::info("cluster: etcd: replica " + options_.replica + " leads " + options_.cluster);
         } else if (!a.created && !a.holder.empty()) {
           leader_seen(&a.holder.front(), a.holder.front().mod_revision);
         }
         update_status();
         drive();
       });
}

void EtcdStore::leader_seen(const etcd::KeyValue* kv, int64_t revision) {
  if (revision <= leader_revision_) return; // older than what is known
  leader_revision_ = revision;
  const bool held = holds_;
  if (!kv) {
    holds_ = false;
    status_.leader_name.clear();
  } else {
    status_.leader_name = kv->value;
    if (holds_ && kv->create_revision != held_since_) holds_ = false;
    if (!holds_ && kv->value == options_.replica && kv->lease == lease_ && lease_ != 0) {
      holds_ = true; // this replica's own campaign, seen before its answer
      held_since_ = kv->create_revision;
    }
  }
  if (held && !holds_)
    log::warn("cluster: etcd: replica " + options_.replica + " no longer leads " +
              options_.cluster);
  if (!held && holds_)
    log::info("cluster: etcd: replica " + options_.replica + " leads " + options_.cluster);
  update_status();
  drive();
}

} // namespace weir::cluster
