#pragma once

#include "weir/cluster/etcd_wire.h"
#include "weir/cluster/revisioned_view.h"
#include "weir/cluster/store.h"
#include "weir/net/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace weir::cluster {

// The Store on etcd v3 (3.4 and later), spoken to through its JSON gateway over weir's own HTTP
// client (etcd_wire.h): no gRPC stack to link, and the same client every other control-plane
// call uses. Entry KEY of cluster C lives at PREFIX + C + "/" + KEY.
// - One full read of the cluster's keys, then a watch from the revision after it. A watch that
//   breaks, or that was open while the store was out of reach, is replaced by a new full read and
//   watch; only what differs from data() is reported.
// - One lease of lease_ttl (rounded up to whole seconds, as etcd counts), kept alive every third
//   of its TTL. Ephemeral entries are put with it. When etcd says it is gone (a keepalive with
//   TTL 0, a put refused for it), a new one is granted, the ephemeral entries are put again and
//   the replica campaigns again. (If the watch reports their deletion before a keepalive has
//   told, this replica's data() shows them gone until they are put again.)
// - Leadership is the key "leader" (value: the replica's name), created bound to the lease only
//   when absent (a transaction comparing its create_revision with 0); when the watch sees it
//   deleted, every replica campaigns. It is reserved: not in data(), put/remove of it ignored.
// - Requests time out after a second; a failed one marks the store unreachable and moves to the
//   next endpoint, and what failed is tried again after a quarter of a second. Writes are made
//   one at a time, in the order of their keys' first pending write.
// Control thread only (the io_context given); callbacks run on it, posted.
class EtcdStore final : public Store {
public:
  // `endpoints`: client URLs ("http://127.0.0.1:2379"); `prefix`: "/weir/".
  EtcdStore(boost::asio::io_context& io, StoreOptions options, std::vector<std::string> endpoints,
            std::string prefix);
  // Without stop() first, as a crash: every request and timer ends, the lease is left to expire
  // (its ephemeral entries and the leadership vanish after lease_ttl). Tests cut a replica off so.
  ~EtcdStore() override;
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  void start(Callbacks callbacks) override;
  // Ends every request and timer (writes not made yet are dropped), then revokes the lease —
  // deleting the ephemeral entries and the leader key at once — with a request of its own on a
  // private io_context, waited for at most a second (milliseconds when etcd answers): it never
  // runs the caller's io_context, so stop() is safe inside one of its handlers.
  void stop() override;
  const std::map<std::string, std::string>& data() const override { return view_.data(); }
  const StoreStatus& status() const override { return status_; }
  void put(const std::string& key, std::string value,
           Lifetime lifetime = Lifetime::durable) override;
  void remove(const std::string& key) override;
  void discard_pending(const std::string& prefix) override;
  const char* kind() const override { return "etcd"; }
  std::string where() const override;

  static constexpr std::string_view kLeaderKey = "leader";

private:
  struct Write {
    std::optional<std::string> value; // nullopt: remove
    Lifetime lifetime = Lifetime::durable;
  };
  struct InFlight {
    std::string key;
    Write write;
    int64_t lease = 0; // the lease it was put with (ephemeral)
  };
  // An exchange's answer and the endpoint it went to.
  using Reply = std::function<void(net::HttpResponse, size_t endpoint)>;

  // A third of the TTL, at least 0.1 s.
  static std::chrono::milliseconds keep_alive_period(std::chrono::milliseconds ttl);
  bool running() const { return started_ && !stopped_; }
  // Starts whatever is due and not under way: the full read (and then the watch), a lease, the
  // next write, a campaign.
  void drive();
  // Every third of the lease's TTL: a keepalive, and drive() as a safety net.
  void arm_tick();
  void retry_soon();

  net::HttpRequest request(size_t endpoint, std::string_view path, std::string body) const;
  void send(std::string_view path, std::string body, Reply done);
  // True (and the store marked unreachable, the next endpoint chosen, a retry scheduled) when
  // the exchange did not reach a working store: no answer, or an error of etcd's availability.
  bool failed(const net::HttpResponse& r, size_t endpoint, std::string_view what);
  void reached();
  void unreachable(std::string error);
  void update_status();

  void read_all();
  void watch();
  void stop_watch();
  bool on_watch_bytes(std::string_view piece);
  void on_watch_end(const net::HttpResponse& r, size_t endpoint);

  void grant();
  void keep_alive();
  void lease_lost(int64_t lease);

  void enqueue(const std::string& key, Write write);
  void write_next();
  void on_written(InFlight f, const net::HttpResponse& r, size_t endpoint);
  void requeue_first(InFlight f);

  void campaign();
  // The leader key as seen at `revision` (kv nullptr: absent).
  void leader_seen(const etcd::KeyValue* kv, int64_t revision);

  void notify(RevisionedView::Changes changes);
  void post_notifications();
  void halt();
  void revoke(int64_t lease);

  boost::asio::io_context& io_;
  const StoreOptions options_;
  const std::vector<std::string> endpoints_;
  const std::string key_prefix_; // prefix + cluster + "/"
  const std::string range_end_;
  const std::string leader_key_;
  const int64_t ttl_seconds_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  Callbacks callbacks_;
  bool started_ = false;
  bool stopped_ = false;

  RevisionedView view_;
  StoreStatus status_;
  StoreStatus notified_status_;
  RevisionedView::Changes queued_changes_;
  bool notify_posted_ = false;

  size_t endpoint_ = 0;
  uint64_t outages_ = 0; // transitions to unreachable so far
  boost::asio::steady_timer tick_timer_;
  boost::asio::steady_timer retry_timer_;
  bool retry_scheduled_ = false;
  uint64_t next_exchange_ = 0;
  std::map<uint64_t, net::HttpClient::Abort> exchanges_;

  bool reading_ = false;
  int64_t next_watch_revision_ = 0; // 0: a full read is due first
  bool watching_ = false;
  uint64_t watch_exchange_ = 0;
  uint64_t watch_outages_ = 0; // outages_ when the watch started
  bool watch_created_ = false;
  bool watch_canceled_ = false;
  std::string watch_error_;
  etcd::LineSplitter watch_lines_;

  int64_t lease_ = 0;
  bool granting_ = false;
  bool keeping_alive_ = false;
  std::chrono::milliseconds keep_alive_every_;

  std::map<std::string, Write> pending_;
  std::deque<std::string> pending_order_;
  std::optional<InFlight> in_flight_;
  std::map<std::string, std::string> ephemeral_;

  bool holds_ = false;
  bool campaigning_ = false;
  int64_t leader_revision_ = 0; // of the leader key as last seen
  int64_t held_since_ = 0;      // create_revision of the leader key this replica holds
};

} // namespace weir::cluster
