#pragma once

#include "weir/config/config.h"
#include "weir/http/header_modifier.h"
#include "weir/route/table.h"
#include "weir/tls/contexts.h"

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace weir::runtime {

// Everything a worker needs to route a request, derived once from a Config (control thread)
// and never changed after it is published: a change builds a new Snapshot.
struct Snapshot {
  struct Endpoint {
    std::string key; // "host:port", also the identity of the worker's connection pool
    boost::asio::ip::tcp::endpoint address;
    bool drained = false; // gets no new requests; in-flight ones finish
    bool down = false;    // failed health checks or ejected as an outlier
  };
  struct Service {
    std::string id; // "namespace/name"
    std::vector<Endpoint> endpoints;
    std::vector<uint32_t> available; // indices of endpoints that may take new requests
    uint32_t max_idle_connections = 64;
    config::OutlierDetection outlier;
    std::shared_ptr<const tls::ClientContext> tls; // TLS to the endpoints (null: plain TCP)
  };
  struct Backend {
    uint32_t service = 0;           // index into services
    uint32_t configured_weight = 0; // from the config file
    uint32_t weight = 0;            // live weight: the override if any, else configured
    bool overridden = false;
    // What the split uses: the live weight, or 0 when the service has no endpoint available.
    uint32_t effective_weight = 0;
    // HTTPRoute filters of the requests sent to this backend: the route's, then the backend's
    // own, compiled once into one each way; the rewrite takes the backend's parts over the
    // route's.
    http::HeaderModifier request_headers;
    http::HeaderModifier response_headers;
    config::Rewrite rewrite;
  };
  struct Route {
    std::string name;
    std::vector<Backend> backends;
    std::vector<uint32_t> weights; // effective weights, same order as backends, for route::Split
    config::Timeouts timeouts;
    config::Retries retries;
    // Rollout fast abort: workers report the errors of the rollout's two versions while this is
    // not 0 (the threshold, counted on the control thread across workers, rollout/fast_abort.h).
    uint32_t fast_abort_errors = 0;
    // Bumped by the control plane when a rollout starts: a worker whose cell holds another
    // epoch starts its run of errors anew, and reports carry it so older ones are dropped.
    uint64_t rollout_epoch = 0;
    // Sticky versions (rollout affinity): clients hold a bucket 0..9999 in a cookie; buckets
    // below the canary's share go to the canary, so raising its weight only moves clients
    // from stable to canary. -1 when the route has no rollout plan.
    int sticky_canary = -1;
    int sticky_stable = -1;
    std::string affinity_cookie;
    int64_t affinity_max_age_s = 3600;
    std::string override_header;   // "always:SECRET" / "never:SECRET" in this header or cookie
    std::string override_secret;   // "": only trusted proxies force a version (plain values)
    std::string set_cookie_prefix; // "Set-Cookie: NAME="
    std::string unavailable_body;  // 503 body naming the route
    // HTTPRoute's RequestRedirect: when enabled weir answers every request of the route itself.
    config::Redirect redirect;
    // Request mirroring (mirror/sender.h): the route's `mirror:` filter, or the live override
    // (Overrides::mirrors) that wins over it. service < 0 or percent 0: nothing is mirrored.
    struct Mirror {
      int service = -1; // index into services
      double percent = 0;
      uint32_t max_body_bytes = 65536;
      uint32_t max_in_flight = 64;    // per worker
      bool compare = false;           // settings.enabled
      bool safe_methods_only = false; // GET and HEAD only (a rollback drill's mirror)
      // What the shadow comparison looks at: the route's mirror.compare; for a rollout's live
      // mirror on a route without one, the status class alone (a body may differ between any
      // two answers — a timestamp, the endpoint's name — so only what the user named is asked
      // more of).
      config::Compare settings;
    } mirror;
    // The rollout's header routes (Overrides::header_routes), compiled: a request matching every
    // condition of one of them goes to backends[header_route_backend] while its service has an
    // endpoint available (else the usual split). -1: none.
    int header_route_backend = -1;
    std::vector<std::vector<route::ValueMatcher>> header_routes;
  };
  // What a client connection needs before (and while) its request is routed, so the data plane
  // never reads the raw config. Filled per listener; `client` (the same values) serves a
  // connection whose listener a reload removed.
  struct ClientTimeouts {
    // Keep-alive idle before a request is routed (and a tunnel's before it): the first route's
    // timeouts.idle, 60 s without routes — what weir has always used.
    config::Duration idle{60000};
    config::Duration header{10000};    // limits.client_header_timeout
    config::Duration body{10000};      // limits.client_body_timeout
    config::Duration request{300000};  // limits.request_timeout
    config::Duration queue{5000};      // limits.queue_timeout
    config::Duration handshake{10000}; // limits.tls_handshake_timeout
  };
  struct Listener {
    std::string name;
    config::Address address;
    route::Table table;
    ClientTimeouts client;
    std::shared_ptr<const tls::ServerContext> tls; // TLS termination (null: plaintext)
    uint16_t redirect_to_https = 0;                // not 0: every request gets 308 to that port
  };

  std::shared_ptr<const config::Config> config;
  std::vector<Service> services;
  std::vector<Route> routes; // same order as config->routes
  std::vector<Listener> listeners;
  ClientTimeouts client;
  std::vector<config::Cidr> trusted_proxies; // config->trusted_proxies
  uint64_t generation = 0;

  // Live changes made by operators on top of the config file.
  struct Overrides {
    // route → service id → weight
    std::map<std::string, std::map<std::string, uint32_t>> weights;
    // service id → endpoint keys
    std::map<std::string, std::set<std::string>> drained;
    // service id → endpoint keys that are down (health checks) or ejected (outliers)
    std::map<std::string, std::set<std::string>> down;
    // route → rollout epoch (rollout::FastAbort); routes not named have epoch 0
    std::map<std::string, uint64_t> rollout_epochs;
    // Routes whose rollout runs now (Progressing or Paused): only their workers report errors
    // for fast abort.
    std::set<std::string> fast_abort_routes;
    // route → a live mirror (the rollout step set_mirror: the canary at its percent); wins over
    // the route's `mirror:` filter, whose max_body_bytes, max_in_flight and compare still apply.
    // percent 0 stops mirroring.
    struct Mirror {
      std::string service; // "namespace/name"
      double percent = 0;
      bool safe_methods_only = false; // GET and HEAD only: a rollback drill's
      bool operator==(const Mirror&) const = default;
    };
    std::map<std::string, Mirror> mirrors{}; // {}: positional initialisers may leave it out
    // route → the header routes its running rollout set (set_header_route): a request with
    // every header of one of them goes to `service` (the canary), whatever the weights.
    struct HeaderRoutes {
      std::string service; // "namespace/name"
      std::vector<std::pair<std::string, std::vector<config::ValueMatch>>> routes; // name → headers
      bool operator==(const HeaderRoutes&) const = default;
    };
    std::map<std::string, HeaderRoutes> header_routes{};
  };

  // Builds from a validated config. Fails only on what validation cannot see (an address that
  // does not parse as an IP address, a certificate file that changed since, for instance).
  // Overrides naming routes, services or endpoints that the config does not have are ignored.
  // `tls`: the config's TLS contexts, built before (the control thread keeps them across
  // snapshots); null builds them here.
  static std::shared_ptr<const Snapshot> build(std::shared_ptr<const config::Config> config,
                                               const Overrides& overrides, uint64_t generation,
                                               std::string* error,
                                               const tls::Contexts* tls = nullptr);
  static std::shared_ptr<const Snapshot> build(std::shared_ptr<const config::Config> config,
                                               uint64_t generation, std::string* error) {
    return build(std::move(config), Overrides{}, generation, error);
  }

  int route_index(std::string_view name) const;
  int service_index(std::string_view id) const;
};

// The key of a worker's connection pool to `endpoint` of `service`: its "host:port", shared by
// every service that reaches it in plaintext; a TLS service's connections are its own (another
// service may reach the same endpoint in plaintext, or with other certificates).
std::string pool_key(const Snapshot::Service& service, const Snapshot::Endpoint& endpoint);

// A worker's own handle on a published Snapshot: what a request holds so that the snapshot it
// started with lives until it ends. Copying a std::shared_ptr<const Snapshot> per request would
// write (two locked instructions) the one control block every worker shares, a cache line that
// then bounces between cores on every request. Instead each worker wraps every generation it
// installs in one holder of its own — the only shared_ptr it keeps to that generation — with a
// plain (non-atomic) count of the SnapshotRefs to it: copying a ref is a local increment, and
// when the last ref to a generation ends (the worker's own moved to a newer one, and no request
// still runs on it) the holder is freed and the shared_ptr dropped, once per worker and
// generation.
//
// Thread contract: the refs to one holder are made, copied, assigned and destroyed on one thread
// at a time: the worker's (every ClientConnection lives on its worker's thread; Worker::start
// adopts the first snapshot before the thread starts, and the Worker is destroyed after it is
// joined, handovers that order everything). To hand a snapshot to another thread, copy shared().
class SnapshotRef {
public:
  SnapshotRef() = default;
  // The first ref to a generation (Worker::install): one allocation per worker and generation.
  static SnapshotRef adopt(std::shared_ptr<const Snapshot> snapshot) {
    SnapshotRef r;
    if (snapshot) r.holder_ = new Holder{std::move(snapshot), 1};
    return r;
  }
  SnapshotRef(const SnapshotRef& other) : holder_(other.holder_) {
    if (holder_) ++holder_->uses;
  }
  SnapshotRef(SnapshotRef&& other) noexcept : holder_(other.holder_) { other.holder_ = nullptr; }
  SnapshotRef& operator=(const SnapshotRef& other) {
    if (other.holder_) ++other.holder_->uses; // first: self-assignment keeps the count right
    release();
    holder_ = other.holder_;
    return *this;
  }
  SnapshotRef& operator=(SnapshotRef&& other) noexcept {
    if (this != &other) {
      release();
      holder_ = other.holder_;
      other.holder_ = nullptr;
    }
    return *this;
  }
  ~SnapshotRef() { release(); }

  void reset() {
    release();
    holder_ = nullptr;
  }
  const Snapshot* get() const { return holder_ ? holder_->snapshot.get() : nullptr; }
  const Snapshot& operator*() const { return *holder_->snapshot; }
  const Snapshot* operator->() const { return holder_->snapshot.get(); }
  explicit operator bool() const { return holder_ != nullptr; }
  // The shared_ptr this worker keeps for the generation (empty for an empty ref). Copying it is
  // what another thread may do; on the request path, copy the ref.
  const std::shared_ptr<const Snapshot>& shared() const {
    return holder_ ? holder_->snapshot : none();
  }
  // Refs to this generation on this worker (0 for an empty ref). For tests and assertions.
  uint32_t use_count() const { return holder_ ? holder_->uses : 0; }

  friend bool operator==(const SnapshotRef& a, const SnapshotRef& b) { return a.get() == b.get(); }

private:
  struct Holder {
    std::shared_ptr<const Snapshot> snapshot;
    uint32_t uses;
  };
  static const std::shared_ptr<const Snapshot>& none() {
    static const std::shared_ptr<const Snapshot> kNone;
    return kNone;
  }
  void release() {
    if (holder_ && --holder_->uses == 0) delete holder_;
  }
  Holder* holder_ = nullptr;
};

} // namespace weir::runtime
