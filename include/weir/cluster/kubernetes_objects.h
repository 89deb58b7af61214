#pragma once

#include "weir/base/json.h"

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

// The Kubernetes objects the cluster store keeps its state in (kubernetes_store.h): their names,
// their JSON as written, and what is read back from them. Pure functions; any thread.
namespace weir::cluster::kubernetes {

// Every object of a fleet carries this label with the fleet's name: the store's LIST and WATCH
// select on it, and `kubectl get leases,configmaps -l weir.dev/cluster=NAME` shows the fleet.
inline constexpr const char* kClusterLabel = "weir.dev/cluster";
// A replica Lease's ephemeral entries: one JSON object of strings.
inline constexpr const char* kEntriesAnnotation = "weir.dev/entries";
// The writer's lease_ttl in milliseconds: leaseDurationSeconds is whole seconds, and a TTL
// under a second (the tests') would be rounded up to one.
inline constexpr const char* kTtlAnnotation = "weir.dev/lease-ttl-ms";

// The names are the fleet's and the replica's as configured, which must therefore fit a
// Kubernetes object name (lower-case letters, digits, '-', '.') and a label value; the API
// server refuses them otherwise (422), which the store reports as its error.
std::string leader_lease_name(std::string_view cluster);     // weir-C-leader
std::string state_config_map_name(std::string_view cluster); // weir-C-state
std::string replica_lease_name(std::string_view cluster,
                               std::string_view replica); // weir-C-replica-R
// The replica a Lease of `cluster` belongs to; nullopt when `lease_name` is no replica Lease.
std::optional<std::string> replica_of(std::string_view cluster, std::string_view lease_name);

// ConfigMap data keys must match [-._a-zA-Z0-9]+ (and be neither "." nor ".." nor start with
// ".."); the store's keys hold '/' and may hold anything. Reversible: '_' is the escape, a byte
// outside the allowed set (and '_' itself, and a leading '.') becomes "_XX" in lower-case hex:
// "live/weights/web" -> "live_2fweights_2fweb". The empty key becomes "_".
std::string encode_data_key(std::string_view key);
// nullopt when `data_key` is not one that encode_data_key() makes (another writer's key).
std::optional<std::string> decode_data_key(std::string_view data_key);

// A metav1.MicroTime: RFC 3339 in UTC with microseconds ("2024-05-01T10:00:00.123456Z").
std::string micro_time(std::chrono::system_clock::time_point t);

// leaseDurationSeconds for a TTL: whole seconds, rounded up, at least 1.
int lease_duration_seconds(std::chrono::milliseconds ttl);

// A coordination.k8s.io/v1 Lease as the store reads and writes it.
struct Lease {
  std::string name;
  std::string resource_version;     // "" when writing: an unconditional replace, or a create
  std::string holder;               // spec.holderIdentity ("" when released)
  int duration_seconds = 0;         // spec.leaseDurationSeconds
  std::chrono::milliseconds ttl{0}; // kTtlAnnotation, else duration_seconds
  std::string acquire_time;         // MicroTime
  std::string renew_time;           // MicroTime
  int transitions = 0;              // spec.leaseTransitions
  std::map<std::string, std::string> entries; // kEntriesAnnotation (replica Leases)
  bool operator==(const Lease&) const = default;
};
// A Lease from the API server. `error` set (and entries empty) when its entries annotation is
// not a JSON object of strings; the rest is still read. nullopt when it has no name.
std::optional<Lease> parse_lease(const json::Value& object, std::string& error);
// The whole object for a POST or PUT, in namespace `ns`, labelled with `cluster`;
// metadata.resourceVersion only when the Lease has one; the entries annotation only when there
// are entries.
std::string lease_json(const Lease& lease, std::string_view ns, std::string_view cluster);

// The state ConfigMap as read: its data decoded (keys that do not decode are another writer's
// and left out of `data`, but kept in the object), and the object itself, which a replace
// writes back with new data.
struct ConfigMap {
  std::string name;
  std::string resource_version;
  std::map<std::string, std::string> data;
  json::Value object;
};
std::optional<ConfigMap> parse_config_map(const json::Value& object);
// A new ConfigMap holding `data` (keys encoded).
std::string new_config_map_json(std::string_view name, std::string_view ns,
                                std::string_view cluster,
                                const std::map<std::string, std::string>& data);
// `present.object` with its data replaced by `data` (keys encoded) and everything else as read,
// metadata.resourceVersion included: the precondition of the PUT. Data keys that are not the
// store's stay.
std::string replaced_config_map_json(const ConfigMap& present,
                                     const std::map<std::string, std::string>& data);

// Whether resourceVersion `a` is older than `b`. Both are the decimal numbers that every
// etcd-backed API server gives; when either is not, nothing is older (only equality is known).
bool older_version(std::string_view a, std::string_view b);

} // namespace weir::cluster::kubernetes
