// EtcdStore's data: the full read, the watch that follows it, and this replica's
// writes, in order (etcd_store.h).
#include "weir/base/log.h"
#include "weir/cluster/etcd_store.h"

#include <algorithm>

namespace weir::cluster {
namespace {

using namespace std::chrono_literals;

// A watch is renewed from the revision after the last event this often: HttpClient bounds the
// whole exchange, and a renewal also catches a stream that went silent without closing.
constexpr auto kWatchSpan = 60s;
constexpr size_t kMaxWatchLine = 16 * 1024 * 1024;

} // namespace

// --- reading and watching ---

void EtcdStore::read_all() {
  reading_ = true;
  send("/v3/kv/range", etcd::range_body(key_prefix_, range_end_),
       [this](net::HttpResponse r, size_t endpoint) {
         reading_ = false;
         if (failed(r, endpoint, "read")) return;
         etcd::RangeAnswer a = etcd::parse_range(r.body);
         if (a.error.empty() && a.revision <= 0) a.error = "an answer without a revision";
         if (!a.error.empty()) {
           unreachable(endpoints_[endpoint] + ": read: " + a.error);
           return retry_soon();
         }
         reached();
         std::map<std::string, std::pair<std::string, int64_t>> entries;
         const etcd::KeyValue* leader = nullptr;
         for (const etcd::KeyValue& kv : a.kvs) {
           if (kv.key == leader_key_)
             leader = &kv;
           else if (kv.key.starts_with(key_prefix_))
             entries[kv.key.substr(key_prefix_.size())] = {kv.value, kv.mod_revision};
         }
         RevisionedView::Changes changes;
         view_.seen_all(entries, a.revision, changes);
         view_.reported_up_to(a.revision);
         if (!status_.synced)
           log::info("cluster: etcd: read " + std::to_string(entries.size()) + " entries of " +
                     options_.cluster);
         status_.synced = true;
         next_watch_revision_ = a.revision + 1;
         watch();
         notify(std::move(changes));
         leader_seen(leader, leader ? leader->mod_revision : a.revision);
         update_status();
         drive();
       });
}

void EtcdStore::watch() {
  const size_t endpoint = endpoint_;
  net::HttpRequest r =
      request(endpoint, "/v3/watch",
              etcd::watch_create_body(key_prefix_, range_end_, next_watch_revision_));
  r.timeout = kWatchSpan;
  watch_lines_.clear();
  watch_created_ = false;
  watch_canceled_ = false;
  watch_error_.clear();
  watch_outages_ = outages_;
  auto alive = alive_;
  r.on_head = [alive](int status) { return *alive && status == 200; };
  r.on_body = [this, alive](std::string_view piece) { return *alive && on_watch_bytes(piece); };
  const uint64_t id = ++next_exchange_;
  watch_exchange_ = id;
  watching_ = true;
  exchanges_[id] =
      net::HttpClient::fetch(io_, std::move(r), [this, alive, id, endpoint](net::HttpResponse a) {
        if (!*alive) return;
        exchanges_.erase(id);
        if (id != watch_exchange_) return;
        watching_ = false;
        on_watch_end(a, endpoint);
      });
}

void EtcdStore::stop_watch() {
  if (!watching_) return;
  watching_ = false;
  if (auto it = exchanges_.find(watch_exchange_); it != exchanges_.end()) {
    auto abort = std::move(it->second);
    exchanges_.erase(it);
    abort();
  }
}

bool EtcdStore::on_watch_bytes(std::string_view piece) {
  RevisionedView::Changes changes;
  bool keep_going = true;
  for (const std::string& line : watch_lines_.feed(piece)) {
    etcd::WatchMessage m = etcd::parse_watch_message(line);
    if (!m.error.empty()) {
      watch_error_ = m.error;
      keep_going = false;
      break;
    }
    if (m.created) watch_created_ = true;
    if (m.canceled) {
      watch_canceled_ = true;
      watch_error_ = m.compact_revision > 0
                         ? "compacted past revision " + std::to_string(next_watch_revision_)
                         : "canceled by etcd: " + m.cancel_reason;
      keep_going = false;
      break;
    }
    for (const etcd::WatchEvent& e : m.events) {
      const int64_t revision = e.kv.mod_revision;
      if (e.kv.key == leader_key_) {
        leader_seen(e.deleted ? nullptr : &e.kv, revision);
      } else if (e.kv.key.starts_with(key_prefix_)) {
        std::optional<std::string> value;
        if (!e.deleted) value = e.kv.value;
        view_.seen(e.kv.key.substr(key_prefix_.size()), std::move(value), revision, changes);
      }
      next_watch_revision_ = std::max(next_watch_revision_, revision + 1);
    }
    view_.reported_up_to(next_watch_revision_ - 1);
  }
  if (keep_going && watch_lines_.pending() > kMaxWatchLine) {
    watch_error_ = "a watch message larger than 16 MiB";
    keep_going = false;
  }
  notify(std::move(changes));
  return keep_going;
}

void EtcdStore::on_watch_end(const net::HttpResponse& r, size_t endpoint) {
  if (r.timed_out && watch_created_ && watch_error_.empty()) return watch(); // renewal
  if (watch_error_.empty() && failed(r, endpoint, "watch")) {
    next_watch_revision_ = 0;
    return;
  }
  if (!watch_error_.empty())
    log::warn("cluster: etcd " + endpoints_[endpoint] + ": watch: " + watch_error_ +
              "; reading everything again");
  next_watch_revision_ = 0;
  retry_soon();
}

// --- writes ---

void EtcdStore::put(const std::string& key, std::string value, Lifetime lifetime) {
  if (stopped_) return;
  if (key == kLeaderKey) {
    log::warn("cluster: etcd: the key \"leader\" is reserved for the leadership; not written");
    return;
  }
  if (lifetime == Lifetime::ephemeral)
    ephemeral_[key] = value;
  else
    ephemeral_.erase(key);
  RevisionedView::Changes changes;
  view_.write(key, value, changes);
  enqueue(key, Write{std::move(value), lifetime});
  notify(std::move(changes));
  drive();
}

void EtcdStore::remove(const std::string& key) {
  if (stopped_ || key == kLeaderKey) return;
  ephemeral_.erase(key);
  RevisionedView::Changes changes;
  view_.write(key, std::nullopt, changes);
  enqueue(key, Write{});
  notify(std::move(changes));
  drive();
}

void EtcdStore::discard_pending(const std::string& prefix) {
  if (stopped_) return;
  RevisionedView::Changes changes;
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (!it->first.starts_with(prefix)) {
      ++it;
      continue;
    }
    const std::string key = it->first;
    it = pending_.erase(it);
    std::erase(pending_order_, key);
    // The one in flight, if any, still decides what the store holds.
    view_.dropped(key, in_flight_ && in_flight_->key == key, changes);
  }
  notify(std::move(changes));
}

void EtcdStore::enqueue(const std::string& key, Write write) {
  if (!pending_.contains(key)) pending_order_.push_back(key);
  pending_[key] = std::move(write);
}

void EtcdStore::write_next() {
  const std::string key = pending_order_.front();
  auto it = pending_.find(key);
  const bool with_lease = it->second.value && it->second.lifetime == Lifetime::ephemeral;
  // An ephemeral entry waits for a lease, and the writes after it wait too: the order holds.
  if (with_lease && lease_ == 0) return;
  InFlight f{key, std::move(it->second), with_lease ? lease_ : 0};
  pending_.erase(it);
  pending_order_.pop_front();
  const std::string full = key_prefix_ + key;
  std::string body =
      f.write.value ? etcd::put_body(full, *f.write.value, f.lease) : etcd::delete_body(full);
  const char* path = f.write.value ? "/v3/kv/put" : "/v3/kv/deleterange";
  in_flight_ = f;
  send(path, std::move(body), [this](net::HttpResponse r, size_t endpoint) {
    InFlight done = std::move(*in_flight_);
    in_flight_.reset();
    on_written(std::move(done), r, endpoint);
  });
}

void EtcdStore::on_written(InFlight f, const net::HttpResponse& r, size_t endpoint) {
  if (failed(r, endpoint, "write " + f.key)) return requeue_first(std::move(f));
  etcd::Answer a = etcd::parse_write(r.body);
  if (!a.error.empty() && a.code == 5 && f.lease != 0) { // the lease is gone: a new one first
    reached();
    const int64_t lease = f.lease;
    requeue_first(std::move(f));
    return lease_lost(lease);
  }
  reached();
  RevisionedView::Changes changes;
  const bool more = pending_.contains(f.key);
  if (a.error.empty()) {
    view_.confirmed(f.key, std::move(f.write.value), a.revision, more, changes);
  } else {
    log::warn("cluster: etcd refused the write of " + f.key + ": " + a.error);
    view_.dropped(f.key, more, changes);
  }
  notify(std::move(changes));
  drive();
}

void EtcdStore::requeue_first(InFlight f) {
  // Its first pending write came before every other key's: back to the front, with the latest
  // value if a newer write of the key is waiting.
  if (!pending_.contains(f.key)) pending_[f.key] = std::move(f.write);
  std::erase(pending_order_, f.key);
  pending_order_.push_front(f.key);
}

} // namespace weir::cluster
