#include "weir/cluster/kubernetes_store.h"

#include "weir/base/log.h"
#include "weir/discovery/source.h"
#include "weir/net/url.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <cstdlib>

namespace weir::cluster {

namespace asio = boost::asio;
namespace k8s = kubernetes;
using namespace std::chrono_literals;

namespace {

// 409s in a row on the ConfigMap before the write waits for the next tick (many replicas
// writing at once; each re-read and merge is correct, only the number of tries is bounded).
constexpr int kMaxConflicts = 20;
// stop() waits this long at most for the leader Lease's release and the replica Lease's delete.
constexpr auto kStopWait = 1200ms;

// Answers that say the API server took or refused a request for reasons of the request itself
// (404, 409, 422): it was reached. 401/403 (the token, RBAC), 429 and 5xx: the store is not
// usable now.
bool reached_by(const net::HttpResponse& r) {
  return r.error.empty() && r.status >= 200 && r.status < 500 && r.status != 401 &&
         r.status != 403 && r.status != 429;
}

} // namespace

KubernetesStore::KubernetesStore(asio::io_context& io, StoreOptions options, config::Kubernetes api,
                                 std::string ns)
    : io_(io), options_(std::move(options)), ns_(std::move(ns)),
      timeout_(std::clamp<std::chrono::milliseconds>(options_.lease_ttl / 3, 500ms, 1000ms)),
      tick_timer_(io), check_timer_(io), leader_timer_(io), alive_(std::make_shared<bool>(true)) {
  auto access = discovery::api_access(api, [](const char* name) { return std::getenv(name); });
  if (access.ok())
    api_ = *access;
  else
    api_error_ = access.error().message;
  status_.error = error_;
  reported_status_ = status_;
}

KubernetesStore::~KubernetesStore() {
  *alive_ = false;
  for (auto& [id, abort] : in_flight_)
    if (abort) abort();
}

std::string KubernetesStore::where() const {
  return "kubernetes namespace " + ns_;
}

void KubernetesStore::start(Callbacks callbacks) {
  if (started_ || stopped_) return;
  started_ = true;
  callbacks_ = std::move(callbacks);
  if (!api_) {
    error_ = api_error_;
    log::warn("cluster: kubernetes store: " + error_);
    return recompute();
  }
  own_acquire_time_ = k8s::micro_time(std::chrono::system_clock::now());
  start_watches();
  write_own_lease();
  tick();
  check_replicas();
  recompute();
}

void KubernetesStore::stop() {
  if (stopped_) return;
  const bool release = started_ && api_ && holding();
  stopped_ = true;
  *alive_ = false;
  for (auto& [id, abort] : in_flight_)
    if (abort) abort();
  in_flight_.clear();
  lease_watch_.reset();
  state_watch_.reset();
  tick_timer_.cancel();
  check_timer_.cancel();
  leader_timer_.cancel();
  status_.leader = false;
  if (!started_ || !api_) return;

  // On an io_context of its own: the owner's may not run again after this returns.
  asio::io_context own;
  auto fire = [&](const char* method, const std::string& target, std::string body) {
    std::string error;
    net::HttpRequest r = discovery::api_request(*api_, target, error);
    if (!error.empty()) return;
    r.method = method;
    r.body = std::move(body);
    if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
    r.timeout = 1s;
    net::HttpClient::fetch(own, std::move(r), [](const net::HttpResponse&) {});
  };
  if (release) {
    // As client-go releases: no holder, the shortest duration; the others take it at once.
    k8s::Lease released = leader_->lease;
    released.holder.clear();
    released.duration_seconds = 1;
    released.ttl = 1s;
    released.renew_time = k8s::micro_time(std::chrono::system_clock::now());
    fire("PUT", lease_target(released.name), k8s::lease_json(released, ns_, options_.cluster));
  }
  fire("DELETE", lease_target(k8s::replica_lease_name(options_.cluster, options_.replica)), "");
  own.run_for(kStopWait);
  log::info("cluster: kubernetes store stopped" +
            std::string(release ? " (leadership released)" : ""));
}

void KubernetesStore::put(const std::string& key, std::string value, Lifetime lifetime) {
  if (stopped_) return;
  auto own_changed = [&] {
    if (own_entries_seq_ == 0) own_entries_seq_ = next_seq_++;
  };
  if (lifetime == Lifetime::durable) {
    pend(key, std::move(value));
    if (own_entries_.erase(key)) own_changed();
  } else {
    own_entries_[key] = std::move(value);
    own_changed();
    // One key is durable or ephemeral, as in etcd: a durable one of that name goes.
    auto p = pending_.find(key);
    const bool durable = (p != pending_.end() && p->second.value) ||
                         (p == pending_.end() && state_ && state_->data.count(key));
    if (durable) pend(key, std::nullopt);
  }
  recompute();
  flush();
}

void KubernetesStore::remove(const std::string& key) {
  if (stopped_) return;
  // Always: before the first read, a durable key this replica has not seen may still exist.
  pend(key, std::nullopt);
  if (own_entries_.erase(key) && own_entries_seq_ == 0) own_entries_seq_ = next_seq_++;
  recompute();
  flush();
}

void KubernetesStore::discard_pending(const std::string& prefix) {
  if (stopped_) return;
  // A write in flight finds its key gone and leaves it so (the confirmation matches nothing).
  std::erase_if(pending_, [&](const auto& p) { return p.first.starts_with(prefix); });
  recompute();
}

void KubernetesStore::pend(const std::string& key, std::optional<std::string> value) {
  const uint64_t seq = next_seq_++;
  auto [it, added] = pending_.try_emplace(key, PendingWrite{std::nullopt, seq, seq});
  it->second.value = std::move(value);
  it->second.last = seq;
}

// ---- Requests ------------------------------------------------------------------------------

void KubernetesStore::send(const std::string& method, const std::string& target, std::string body,
                           Done done) {
  const std::string what = method + " " + target;
  std::string error;
  net::HttpRequest r = discovery::api_request(*api_, target, error);
  if (!error.empty()) {
    // As an answer that did not come; never inside the caller (put() and start() call here).
    asio::post(io_, [this, what, error, done = std::move(done), alive = alive_] {
      if (!*alive) return;
      net::HttpResponse failed;
      failed.error = error;
      exchanged(failed, what);
      done(failed);
    });
    return;
  }
  r.method = method;
  r.body = std::move(body);
  if (!r.body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  r.timeout = timeout_;
  const uint64_t id = ++next_request_;
  in_flight_[id] = net::HttpClient::fetch(
      io_, std::move(r),
      [this, id, what, done = std::move(done), alive = alive_](net::HttpResponse response) {
        if (!*alive) return;
        in_flight_.erase(id);
        exchanged(response, what);
        done(response);
      });
}

bool KubernetesStore::written(const net::HttpResponse& r) {
  return r.error.empty() && (r.status == 200 || r.status == 201);
}

std::optional<json::Value> KubernetesStore::object_in(const net::HttpResponse& r) {
  auto parsed = json::parse(r.body);
  if (!parsed.value || !parsed.value->is_object()) return std::nullopt;
  return std::move(parsed.value);
}

std::string KubernetesStore::lease_target(const std::string& name) const {
  return "/apis/coordination.k8s.io/v1/namespaces/" + net::percent_encode(ns_) + "/leases" +
         (name.empty() ? "" : "/" + net::percent_encode(name));
}

std::string KubernetesStore::config_map_target(const std::string& name) const {
  return "/api/v1/namespaces/" + net::percent_encode(ns_) + "/configmaps" +
         (name.empty() ? "" : "/" + net::percent_encode(name));
}

void KubernetesStore::exchanged(const net::HttpResponse& r, const std::string& what) {
  if (reached_by(r)) {
    // Refused for itself (422: a name the API server does not take): said once, not at every
    // renewal.
    if (r.status >= 400 && r.status != 404 && r.status != 409) {
      std::string refusal =
          what + ": HTTP " + std::to_string(r.status) + " " + discovery::printable(r.body);
      if (refusal != last_refusal_) log::warn("cluster: kubernetes " + refusal);
      last_refusal_ = std::move(refusal);
    }
    if (!reachable_) reached();
    return recompute();
  }
  std::string why = !r.error.empty() ? r.error : "HTTP " + std::to_string(r.status);
  if (r.status == 401) why += " (the token in " + api_->token_file + " was refused)";
  if (r.status == 403) why += " (RBAC: weir may not " + what + ")";
  std::string error = what + ": " + discovery::printable(why);
  if (reachable_ || error != error_)
    log::warn("cluster: kubernetes store unreachable: " + error + " (writes wait)");
  reachable_ = false;
  error_ = std::move(error);
  recompute();
}

void KubernetesStore::reached() {
  const bool again = ever_reached_;
  ever_reached_ = true;
  reachable_ = true;
  error_.clear();
  log::info("cluster: kubernetes store reachable (" + api_->url.text() + ", namespace " + ns_ +
            ")");
  // After the answer's own handler, which may be the one that has a write to finish.
  asio::post(io_, [this, again, alive = alive_] {
    if (!*alive || !reachable_) return;
    // The watches may be in their back-off: a fresh LIST now, and nothing expires before it.
    if (again) start_watches();
    flush();
    if (!own_lease_in_flight_) write_own_lease();
    campaign();
  });
}

// ---- The watches ---------------------------------------------------------------------------

void KubernetesStore::start_watches() {
  lease_watch_.reset();
  state_watch_.reset();
  leases_listed_ = false;
  state_listed_ = false;
  const std::string selector = std::string(k8s::kClusterLabel) + "=" + options_.cluster;
  const std::string in = " in " + ns_;
  auto changed = [this](bool) {
    recompute();
    arm_leader_timer();
    arm_replica_timer();
    if (!leader_ || leader_->lease.holder.empty()) campaign();
  };
  lease_watch_ = std::make_unique<discovery::ResourceWatch>(
      io_, *api_,
      discovery::ResourceWatch::What{lease_target(""), selector, "leases" + in,
                                     "cluster: kubernetes leases" + in},
      lease_watch_status_,
      discovery::ResourceWatch::Handlers{
          [this](const json::Value::Array& items) { return on_leases_listed(items); },
          [this](discovery::WatchType type, const json::Value& object, std::string&) {
            return on_lease_event(type, object);
          },
          changed});
  state_watch_ = std::make_unique<discovery::ResourceWatch>(
      io_, *api_,
      discovery::ResourceWatch::What{config_map_target(""), selector, "configmaps" + in,
                                     "cluster: kubernetes configmaps" + in},
      state_watch_status_,
      discovery::ResourceWatch::Handlers{
          [this](const json::Value::Array& items) { return on_state_listed(items); },
          [this](discovery::WatchType type, const json::Value& object, std::string&) {
            return on_state_event(type, object);
          },
          changed});
  lease_watch_->start();
  state_watch_->start();
}

std::string KubernetesStore::on_state_listed(const json::Value::Array& items) {
  const std::string name = k8s::state_config_map_name(options_.cluster);
  std::optional<k8s::ConfigMap> listed;
  for (const auto& item : items)
    if (auto map = k8s::parse_config_map(item); map && map->name == name) listed = std::move(map);
  saw_state(std::move(listed));
  state_listed_ = true;
  synced_ = synced_ || (leases_listed_ && state_listed_);
  return "";
}

bool KubernetesStore::on_state_event(discovery::WatchType type, const json::Value& object) {
  auto map = k8s::parse_config_map(object);
  if (!map || map->name != k8s::state_config_map_name(options_.cluster)) return false;
  if (type != discovery::WatchType::deleted) return saw_state(std::move(map));
  if (state_ && k8s::older_version(map->resource_version, state_->resource_version)) return false;
  return saw_state(std::nullopt);
}

bool KubernetesStore::saw_state(std::optional<k8s::ConfigMap> state) {
  const bool was_known = state_known_;
  state_known_ = true;
  if (state && state_ &&
      (k8s::older_version(state->resource_version, state_->resource_version) ||
       state->resource_version == state_->resource_version))
    return false;
  if (!state && !state_ && was_known) return false;
  state_ = std::move(state);
  return true;
}

// ---- Writes --------------------------------------------------------------------------------

void KubernetesStore::flush() {
  if (!started_ || stopped_ || !api_ || !reachable_) return;
  write_state();
  if (own_entries_seq_ != 0) write_own_lease();
}

void KubernetesStore::write_state() {
  if (!reachable_ || state_in_flight_ || pending_.empty()) return;
  if (!state_known_) return refetch_state();
  const std::map<std::string, std::string> present = state_ ? state_->data : decltype(present){};
  // Writes that change nothing (a removal of what is not there, a value in force) are done.
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto p = present.find(it->first);
    const bool same = it->second.value ? p != present.end() && p->second == *it->second.value
                                       : p == present.end();
    it = same ? pending_.erase(it) : std::next(it);
  }
  if (pending_.empty()) return recompute();
  std::vector<std::pair<uint64_t, const std::string*>> order;
  for (const auto& [key, write] : pending_)
    order.emplace_back(write.first, &key);
  std::sort(order.begin(), order.end());
  std::map<std::string, std::string> merged = present;
  std::map<std::string, uint64_t> sent; // key -> the write sent
  for (const auto& [first, key] : order) {
    if (!sent.empty() && *key < sent.rbegin()->first) break; // the next PUT's
    const PendingWrite& write = pending_.at(*key);
    sent[*key] = write.last;
    if (write.value)
      merged[*key] = *write.value;
    else
      merged.erase(*key);
  }
  state_in_flight_ = true;
  const std::string name = k8s::state_config_map_name(options_.cluster);
  const bool create = !state_;
  std::string body = create ? k8s::new_config_map_json(name, ns_, options_.cluster, merged)
                            : k8s::replaced_config_map_json(*state_, merged);
  send(create ? "POST" : "PUT", config_map_target(create ? "" : name), std::move(body),
       [this, sent](const net::HttpResponse& r) {
         state_in_flight_ = false;
         if (written(r)) {
           state_conflicts_ = 0;
           if (auto object = object_in(r)) saw_state(k8s::parse_config_map(*object));
           for (const auto& [key, last] : sent)
             if (auto it = pending_.find(key); it != pending_.end() && it->second.last == last)
               pending_.erase(it);
           recompute();
           return write_state(); // what was put meanwhile
         }
         if (!reached_by(r)) return; // waits for the store (tick)
         if ((r.status == 409 || r.status == 404) && ++state_conflicts_ <= kMaxConflicts) {
           // Written by another replica since it was read (409), or deleted (404): read it
           // again, merge this replica's keys into it, write again.
           return refetch_state();
         }
         state_conflicts_ = 0;
       });
}

void KubernetesStore::refetch_state() {
  state_in_flight_ = true;
  send("GET", config_map_target(k8s::state_config_map_name(options_.cluster)), "",
       [this](const net::HttpResponse& r) {
         state_in_flight_ = false;
         if (written(r)) {
           if (auto object = object_in(r)) saw_state(k8s::parse_config_map(*object));
         } else if (r.error.empty() && r.status == 404) {
           state_known_ = true;
           state_.reset();
         } else {
           return;
         }
         recompute();
         write_state();
       });
}

void KubernetesStore::write_own_lease() {
  if (!started_ || stopped_ || !api_) return;
  if (own_lease_in_flight_) {
    own_lease_again_ = own_lease_again_ || own_entries_seq_ != 0;
    return;
  }
  own_lease_in_flight_ = true;
  own_lease_again_ = false;
  const uint64_t seq = std::exchange(own_entries_seq_, 0);
  k8s::Lease lease;
  lease.name = k8s::replica_lease_name(options_.cluster, options_.replica);
  lease.holder = options_.replica;
  lease.duration_seconds = k8s::lease_duration_seconds(options_.lease_ttl);
  lease.ttl = options_.lease_ttl;
  lease.acquire_time = own_acquire_time_;
  lease.renew_time = k8s::micro_time(std::chrono::system_clock::now());
  lease.entries = own_entries_;
  const bool create = !own_lease_exists_;
  // Only this replica writes its Lease: a replace needs no resourceVersion.
  send(create ? "POST" : "PUT", lease_target(create ? "" : lease.name),
       k8s::lease_json(lease, ns_, options_.cluster), [this, seq](const net::HttpResponse& r) {
         own_lease_in_flight_ = false;
         bool again = own_lease_again_;
         if (written(r)) {
           own_lease_exists_ = true;
         } else {
           if (seq != 0 && (own_entries_seq_ == 0 || seq < own_entries_seq_))
             own_entries_seq_ = seq; // still to write
           // 404: gone (deleted by hand, or never made); 409: made by an earlier life.
           if (r.error.empty() && (r.status == 404 || r.status == 409)) {
             own_lease_exists_ = r.status == 409;
             again = true;
           }
         }
         if (again && reachable_) write_own_lease();
       });
}

// ---- Time ----------------------------------------------------------------------------------

void KubernetesStore::tick() {
  if (stopped_) return;
  write_own_lease(); // the renewal, and the probe of an unreachable store
  if (reachable_) {
    campaign();
    write_state();
  }
  recompute();
  tick_timer_.expires_after(std::max<std::chrono::milliseconds>(options_.lease_ttl / 3, 100ms));
  tick_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (!ec && *alive) tick();
  });
}

// ---- What the owner sees -------------------------------------------------------------------

void KubernetesStore::recompute() {
  std::map<std::string, std::string> next = state_ ? state_->data : decltype(next){};
  for (const auto& [key, write] : pending_) {
    if (write.value)
      next[key] = *write.value;
    else
      next.erase(key);
  }
  for (const auto& [replica, seen] : replicas_)
    if (!gone_.count(replica) && !seen.lease.holder.empty())
      for (const auto& [key, value] : seen.lease.entries)
        next[key] = value;
  for (const auto& [key, value] : own_entries_)
    next[key] = value;

  auto a = data_.begin();
  auto b = next.begin();
  while (a != data_.end() || b != next.end()) {
    if (b == next.end() || (a != data_.end() && a->first < b->first)) {
      changes_.push_back({a->first, std::nullopt});
      ++a;
    } else if (a == data_.end() || b->first < a->first) {
      changes_.push_back({b->first, b->second});
      ++b;
    } else {
      if (a->second != b->second) changes_.push_back({b->first, b->second});
      ++a;
      ++b;
    }
  }
  data_ = std::move(next);

  StoreStatus s;
  s.synced = synced_;
  s.reachable = reachable_;
  s.error = reachable_ ? "" : error_;
  s.leader = !stopped_ && reachable_ && holding();
  s.leader_name = leader_ ? leader_->lease.holder : "";
  if (status_.leader && !s.leader && !stopped_)
    log::warn("cluster: " + options_.replica + " no longer leads" +
              (reachable_ ? "" : " (the store is unreachable)"));
  status_ = std::move(s);
  if (!changes_.empty() || status_ != reported_status_) notify();
}

void KubernetesStore::notify() {
  if (notify_posted_ || !started_ || stopped_) return;
  notify_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    notify_posted_ = false;
    std::vector<StoreChange> changes = std::move(changes_);
    changes_.clear();
    const bool status_moved = status_ != reported_status_;
    reported_status_ = status_;
    if (!changes.empty() && callbacks_.changed) callbacks_.changed(changes);
    // The owner may have stopped (or destroyed) the store in its callback.
    if (*alive && status_moved && callbacks_.status_changed) callbacks_.status_changed();
  });
}

} // namespace weir::cluster
