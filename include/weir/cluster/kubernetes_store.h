#pragma once

#include "weir/cluster/kubernetes_objects.h"
#include "weir/cluster/store.h"
#include "weir/config/config.h"
#include "weir/discovery/resource_watch.h"
#include "weir/net/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace weir::cluster {

// The Store (store.h) on the Kubernetes API, in one namespace, for fleets that run in a cluster.
// Objects (kubernetes_objects.h), each labelled weir.dev/cluster=C:
// - Lease "weir-C-leader": the leadership. Taken when it is absent (POST), released
//   (holderIdentity "") or expired, then renewed every lease_ttl/3, each time by a PUT that carries
//   the resourceVersion last seen: of two replicas that both try, the API server lets one write
//   and answers the other 409 Conflict, which re-reads it.
// - ConfigMap "weir-C-state": the durable entries, one data key per store key (encoded:
//   kubernetes::encode_data_key). Written read-modify-write: the replica's own pending changes
//   merged into the ConfigMap as last seen, PUT with its resourceVersion; a 409 re-reads it and
//   merges again, so another replica's keys written meanwhile are kept. Pending keys go in the
//   order of their first pending write; one PUT takes as many as are in key order too, since a
//   watcher reports one ConfigMap change key by key in key order.
// - Lease "weir-C-replica-R" per replica: its ephemeral entries (a JSON object in the
//   annotation weir.dev/entries) and its liveness, renewed every lease_ttl/3 (and written at
//   once when its entries change); deleted by stop().
// Reads: a LIST then WATCH (discovery::ResourceWatch) of the fleet's Leases and of its
// ConfigMap, by label. data() is the ConfigMap's entries, then this replica's pending durable
// writes, then the live replicas' ephemeral entries (by replica name; its own last), each over
// the one before; an ephemeral put of a key removes a durable one of that name and the other way
// round, as in etcd, where a key is one or the other.
//
// Expiry is judged on this replica's steady clock, like client-go's leader election: a Lease
// counts as expired when its resourceVersion has not changed for its TTL as observed here, not
// when its renewTime (another machine's wall clock) is older than now, so clock skew between
// nodes does not matter. The cost: a replica that starts gives a Lease it has never seen move a
// whole TTL from its start. Other replicas' Leases are checked at their expiry and at least once a
// second (their entries then leave data() and are reported removed), as the leader's; nothing
// expires while this replica cannot reach the API server, and after it reaches it again only once
// both collections were listed again. resourceVersions are compared as numbers (older_version()) so
// that a watch event older than what this replica's own write returned is not applied over it.
//
// Reachable: the last exchange of this replica's own requests (renewals, writes) succeeded; each
// has a timeout of lease_ttl/3 between 0.5 s and 1 s, so a leader that cannot renew knows it
// before its Lease can expire for the others. While unreachable, writes wait (the last of each
// key) and are made when a renewal gets through again; the watches are then started afresh
// (LIST at once rather than at their back-off's next try). When both the ConfigMap and the
// replica Lease have changes waiting, both are written at once (in no order between the two).
//
// Values must be UTF-8 text (ConfigMap data and annotations are JSON strings; weir writes JSON).
// The Leases' side (their watch, leadership, replica expiry) is in kubernetes_leases.cc.
// Control thread only (the io_context given); see Store for the callbacks' contract.
class KubernetesStore final : public Store {
public:
  KubernetesStore(boost::asio::io_context& io, StoreOptions options, config::Kubernetes api,
                  std::string ns);
  // Without stop(): like a replica killed, its Leases left to expire.
  ~KubernetesStore() override;
  KubernetesStore(const KubernetesStore&) = delete;
  KubernetesStore& operator=(const KubernetesStore&) = delete;

  void start(Callbacks callbacks) override;
  // Releases the leader Lease (holderIdentity "") if held and deletes the replica Lease, on an
  // io_context of its own, waiting at most about a second.
  void stop() override;
  const std::map<std::string, std::string>& data() const override { return data_; }
  const StoreStatus& status() const override { return status_; }
  void put(const std::string& key, std::string value,
           Lifetime lifetime = Lifetime::durable) override;
  void remove(const std::string& key) override;
  void discard_pending(const std::string& prefix) override;
  const char* kind() const override { return "kubernetes"; }
  std::string where() const override;

private:
  using Clock = std::chrono::steady_clock;
  // A Lease as seen, and when this replica saw its resourceVersion change.
  struct Seen {
    kubernetes::Lease lease;
    Clock::time_point changed_at;
  };
  struct PendingWrite {
    std::optional<std::string> value; // nullopt: remove
    uint64_t first = 0;               // the key's first pending write (its place in the order)
    uint64_t last = 0;                // the latest (what a confirmation must match)
  };
  using Done = std::function<void(const net::HttpResponse&)>;
  // A 200 or 201; the object in an answer's body.
  static bool written(const net::HttpResponse& r);
  static std::optional<json::Value> object_in(const net::HttpResponse& r);

  // Requests. `done` runs after the reachability was updated from the answer.
  void send(const std::string& method, const std::string& target, std::string body, Done done);
  std::string lease_target(const std::string& name) const; // "" name: the collection
  std::string config_map_target(const std::string& name) const;
  void exchanged(const net::HttpResponse& r, const std::string& what);
  void reached();

  // The watches.
  void start_watches();
  std::string on_leases_listed(const json::Value::Array& items);
  bool on_lease_event(discovery::WatchType type, const json::Value& object);
  std::string on_state_listed(const json::Value::Array& items);
  bool on_state_event(discovery::WatchType type, const json::Value& object);
  // A Lease seen (from the watch or an answer); true when it changed something.
  bool saw_lease(kubernetes::Lease lease);
  bool saw_state(std::optional<kubernetes::ConfigMap> state);

  // Writes: the ConfigMap's pending keys (see above); the replica Lease whole.
  void pend(const std::string& key, std::optional<std::string> value);
  void flush();
  void write_state();
  void refetch_state();
  void write_own_lease();

  // Leadership.
  void campaign();
  std::chrono::milliseconds ttl_of(const Seen& seen) const;
  bool expired(const Seen& seen) const;
  bool holding() const;
  void arm_leader_timer();

  void tick();
  bool view_current() const;
  void check_replicas();
  void arm_replica_timer();
  // data() and status() from what is known; the differences go to the callbacks (posted).
  void recompute();
  void notify();

  boost::asio::io_context& io_;
  StoreOptions options_;
  std::string ns_;
  std::optional<discovery::ApiAccess> api_; // nullopt: the config has no usable access
  std::string api_error_;
  std::chrono::milliseconds timeout_;
  Callbacks callbacks_;
  bool started_ = false;
  bool stopped_ = false;

  std::map<std::string, std::string> data_;
  StoreStatus status_;
  std::vector<StoreChange> changes_; // not yet reported
  StoreStatus reported_status_;
  bool notify_posted_ = false;

  // From the API server.
  std::optional<Seen> leader_;           // the leader Lease (nullopt: none seen, or deleted)
  std::map<std::string, Seen> replicas_; // other replicas' Leases, by replica name
  std::set<std::string> gone_;           // of those, the expired ones
  bool state_known_ = false;             // state_ says what the API server has
  std::optional<kubernetes::ConfigMap> state_;
  bool leases_listed_ = false; // since the watches last started
  bool state_listed_ = false;
  bool synced_ = false; // both listed once
  bool reachable_ = false;
  bool ever_reached_ = false;
  std::string error_ = "not reached yet";
  std::string last_refusal_; // the last 4xx logged

  // This replica's writes.
  std::map<std::string, PendingWrite> pending_; // durable, not yet in the ConfigMap
  uint64_t next_seq_ = 1;
  bool state_in_flight_ = false;
  int state_conflicts_ = 0;                        // 409s in a row
  std::map<std::string, std::string> own_entries_; // ephemeral
  uint64_t own_entries_seq_ = 0;                   // the first change not yet written (0: none)
  bool own_lease_in_flight_ = false;
  bool own_lease_again_ = false; // changed while in flight
  bool own_lease_exists_ = false;
  std::string own_acquire_time_;
  bool campaign_in_flight_ = false;

  discovery::SourceStatus lease_watch_status_;
  discovery::SourceStatus state_watch_status_;
  std::unique_ptr<discovery::ResourceWatch> lease_watch_;
  std::unique_ptr<discovery::ResourceWatch> state_watch_;
  std::map<uint64_t, net::HttpClient::Abort> in_flight_;
  uint64_t next_request_ = 0;
  boost::asio::steady_timer tick_timer_;   // every lease_ttl/3: renewals, retries
  boost::asio::steady_timer check_timer_;  // other replicas' expiry (at least once a second)
  boost::asio::steady_timer leader_timer_; // the leader Lease's expiry
  std::shared_ptr<bool> alive_;
};

} // namespace weir::cluster
