#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

// The distributed store a fleet of weir replicas shares (cluster/fleet.h): a small key-value map
// every replica sees the same, entries that live only as long as their replica does, and one
// leader at a time. Two implementations, etcd v3 (etcd_store.h) and the Kubernetes API
// (kubernetes_store.h); weir never runs a consensus of its own.
namespace weir::cluster {

// One entry that changed: `value` nullopt when it is gone (removed, or its replica's lease
// ended).
struct StoreChange {
  std::string key; // relative to the cluster's own prefix, e.g. "live/weights/web"
  std::optional<std::string> value;
};

// Where the store and this replica stand.
struct StoreStatus {
  bool synced = false;     // data() holds the store's contents (a first full read happened)
  bool reachable = false;  // the last exchange with the store succeeded
  std::string error;       // why it is not reachable ("" when it is)
  bool leader = false;     // this replica holds the leadership now (and the store is reachable)
  std::string leader_name; // the replica that holds it as last seen ("" none)
  bool operator==(const StoreStatus&) const = default;
};

// Contract shared by every implementation (the same tests run against each,
// tests/integration/store_test.cc):
// - Everything runs on the io_context given at construction (the control thread); callbacks run
//   there, never inside put()/remove()/start().
// - data() is every entry under the prefix as this replica knows it: the store's contents (from
//   a full read, then a watch) with this replica's own writes applied at once (read your
//   writes); an older value of a key this replica wrote is never applied over its write.
// - put()/remove() never fail to the caller: while the store is unreachable the last write of
//   each key waits and is made when it is reachable again, in the order of the keys' first
//   pending write.
// - Lifetime::ephemeral entries belong to this replica: they vanish for everyone at most
//   lease_ttl (+ the store's own granularity) after the replica stops renewing (killed, or cut off
//   from the store), and come back (written again) when the replica reaches the store again.
// - Leadership: every started replica campaigns; at most one holds it; when the holder stops
//   renewing, another takes it within lease_ttl + 1 s. status().leader is true only while this
//   replica holds it and the store is reachable. stop() gives it up at once (others take over
//   without waiting for the TTL).
// - changed() reports every key whose value in data() changed (own writes included, once), in
//   the order seen; status_changed() every change of status().
class Store {
public:
  enum class Lifetime { durable, ephemeral };
  struct Callbacks {
    std::function<void(const std::vector<StoreChange>&)> changed;
    std::function<void()> status_changed;
  };

  virtual ~Store() = default;
  virtual void start(Callbacks callbacks) = 0;
  // Gives up leadership, removes this replica's ephemeral entries (best effort, bounded to about
  // a second) and stops every request and timer; no callback runs after it returns.
  virtual void stop() = 0;
  virtual const std::map<std::string, std::string>& data() const = 0;
  virtual const StoreStatus& status() const = 0;
  virtual void put(const std::string& key, std::string value,
                   Lifetime lifetime = Lifetime::durable) = 0;
  virtual void remove(const std::string& key) = 0;
  // Drops this replica's writes of keys starting with `prefix` that are still waiting (the store
  // unreachable): data() shows the store's values again. A write already sent may still land.
  // What a leader wrote before it lost the lead must not land over its successor's.
  virtual void discard_pending(const std::string& prefix) = 0;
  // "etcd" or "kubernetes".
  virtual const char* kind() const = 0;
  // Where the store is, for status ("http://127.0.0.1:2379", "kubernetes namespace weir").
  virtual std::string where() const = 0;
};

// What every implementation is made with.
struct StoreOptions {
  std::string cluster; // the fleet's name
  std::string replica; // this replica's name (unique in the fleet)
  std::chrono::milliseconds lease_ttl{5000};
};

} // namespace weir::cluster
