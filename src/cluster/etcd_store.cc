#include "weir/cluster/etcd_store.h"

#include "weir/base/log.h"
#include "weir/net/url.h"

#include <algorithm>
#include <boost/asio/post.hpp>

namespace weir::cluster {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;

// Short enough that a replica cut off from etcd says so within about a second (and that a
// keepalive never hangs for a whole TTL); long enough for a loaded etcd's answer.
constexpr auto kRequestTimeout = 1000ms;
constexpr auto kRetryAfter = 250ms;
constexpr auto kStopBudget = 1000ms;

int64_t whole_seconds(std::chrono::milliseconds d) {
  return std::max<int64_t>(1, (d.count() + 999) / 1000);
}

// etcd's errors of availability (no leader, timed out, shutting down) come as 503; 429 and 408
// ask to come back later. Other refusals (400, 404) are answers from a working store.
bool unavailable_status(int status) {
  return status == 0 || status >= 500 || status == 429 || status == 408;
}

// The config loader requires one endpoint at least; without any, one that fails every request
// (reported as unreachable) keeps every index valid.
std::vector<std::string> at_least_one(std::vector<std::string> endpoints) {
  if (endpoints.empty()) endpoints.emplace_back();
  return endpoints;
}

} // namespace

EtcdStore::EtcdStore(asio::io_context& io, StoreOptions options, std::vector<std::string> endpoints,
                     std::string prefix)
    : io_(io), options_(std::move(options)), endpoints_(at_least_one(std::move(endpoints))),
      key_prefix_(prefix + options_.cluster + "/"), range_end_(etcd::prefix_end(key_prefix_)),
      leader_key_(key_prefix_ + std::string(kLeaderKey)),
      ttl_seconds_(whole_seconds(options_.lease_ttl)), tick_timer_(io), retry_timer_(io),
      keep_alive_every_(keep_alive_period(options_.lease_ttl)) {
  status_.error = "not reached yet";
  notified_status_ = status_;
}

EtcdStore::~EtcdStore() {
  halt();
}

std::string EtcdStore::where() const {
  std::string out;
  for (const std::string& e : endpoints_)
    out += (out.empty() ? "" : ", ") + e;
  return out;
}

void EtcdStore::start(Callbacks callbacks) {
  if (started_) return;
  callbacks_ = std::move(callbacks);
  started_ = true;
  log::info("cluster: etcd " + where() + ": replica " + options_.replica + " of " +
            options_.cluster + " starting");
  arm_tick();
  drive();
}

void EtcdStore::stop() {
  if (stopped_) return;
  const int64_t lease = lease_;
  halt();
  holds_ = false;
  status_.leader = false;
  if (lease != 0) revoke(lease);
}

void EtcdStore::halt() {
  stopped_ = true;
  *alive_ = false;
  auto exchanges = std::move(exchanges_);
  exchanges_.clear();
  for (auto& [id, abort] : exchanges)
    abort();
  tick_timer_.cancel();
  retry_timer_.cancel();
}

void EtcdStore::revoke(int64_t lease) {
  // A private io_context: the caller's may be the one running this very call, and it must not
  // be run here (its other handlers would run inside stop()).
  asio::io_context io;
  const auto deadline = std::chrono::steady_clock::now() + kStopBudget;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) break;
    const size_t endpoint = (endpoint_ + i) % endpoints_.size();
    net::HttpRequest r = request(endpoint, "/v3/lease/revoke", etcd::lease_id_body(lease));
    r.timeout = left;
    std::optional<net::HttpResponse> answer;
    net::HttpClient::fetch(io, std::move(r), [&](net::HttpResponse a) { answer = std::move(a); });
    while (!answer && std::chrono::steady_clock::now() < deadline) {
      io.restart();
      io.run_one_until(deadline);
    }
    // 404: the lease is gone already, which is what was wanted.
    if (answer && answer->error.empty() && !unavailable_status(answer->status)) {
      log::info("cluster: etcd: replica " + options_.replica + " left (lease revoked)");
      return;
    }
  }
  log::warn("cluster: etcd: the lease of replica " + options_.replica +
            " could not be revoked; its entries and leadership end with the lease's TTL");
}

// --- requests ---

net::HttpRequest EtcdStore::request(size_t endpoint, std::string_view path,
                                    std::string body) const {
  net::HttpRequest r;
  r.method = "POST";
  if (auto url = net::parse_url(endpoints_[endpoint])) {
    r.url = *url;
    std::string base = r.url.target;
    if (const size_t q = base.find('?'); q != std::string::npos) base.resize(q);
    while (!base.empty() && base.back() == '/')
      base.pop_back();
    r.url.target = base + std::string(path);
  }
  r.headers.emplace_back("Content-Type", "application/json");
  r.body = std::move(body);
  r.timeout = kRequestTimeout;
  return r;
}

void EtcdStore::send(std::string_view path, std::string body, Reply done) {
  const size_t endpoint = endpoint_;
  net::HttpRequest r = request(endpoint, path, std::move(body));
  const uint64_t id = ++next_exchange_;
  auto alive = alive_;
  if (r.url.host.empty()) {
    // An endpoint the config loader should have refused; fail like an unreachable one.
    net::HttpResponse bad;
    bad.error = "not an http(s) URL";
    asio::post(io_, [this, alive, done, bad, endpoint] {
      if (*alive) done(bad, endpoint);
    });
    return;
  }
  exchanges_[id] = net::HttpClient::fetch(io_, std::move(r),
                                          [this, alive, id, endpoint, done](net::HttpResponse a) {
                                            if (!*alive) return;
                                            exchanges_.erase(id);
                                            done(std::move(a), endpoint);
                                          });
}

bool EtcdStore::failed(const net::HttpResponse& r, size_t endpoint, std::string_view what) {
  std::string why = r.error;
  if (why.empty() && unavailable_status(r.status)) {
    etcd::Answer a = etcd::parse_write(r.body);
    why = "HTTP " + std::to_string(r.status) + (a.error.empty() ? "" : ": " + a.error);
  }
  if (why.empty()) return false;
  if (endpoint != endpoint_ && status_.reachable) {
    // An endpoint already left for one that answers: no news about the store.
    retry_soon();
    return true;
  }
  if (endpoint == endpoint_) endpoint_ = (endpoint_ + 1) % endpoints_.size();
  unreachable(endpoints_[endpoint] + ": " + std::string(what) + ": " + why);
  retry_soon();
  return true;
}

void EtcdStore::unreachable(std::string error) {
  if (status_.reachable) {
    ++outages_;
    log::warn("cluster: etcd unreachable: " + error);
  }
  status_.reachable = false;
  status_.error = std::move(error);
  update_status();
}

void EtcdStore::reached() {
  if (status_.reachable) return;
  log::info("cluster: etcd " + endpoints_[endpoint_] + " reached");
  status_.reachable = true;
  status_.error.clear();
  // A watch that was open during the outage may have gone silent without closing (a partitioned
  // member): read everything again.
  if (watching_ && watch_outages_ != outages_) {
    stop_watch();
    next_watch_revision_ = 0;
  }
  update_status();
}

void EtcdStore::update_status() {
  status_.leader = holds_ && status_.reachable;
  if (status_ != notified_status_) post_notifications();
}

void EtcdStore::retry_soon() {
  if (!running() || retry_scheduled_) return;
  retry_scheduled_ = true;
  retry_timer_.expires_after(kRetryAfter);
  retry_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    retry_scheduled_ = false;
    drive();
  });
}

void EtcdStore::arm_tick() {
  tick_timer_.expires_after(keep_alive_every_);
  tick_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    if (lease_ != 0 && !keeping_alive_) keep_alive();
    drive();
    arm_tick();
  });
}

void EtcdStore::drive() {
  if (!running()) return;
  if (next_watch_revision_ == 0 && !reading_ && !watching_) read_all();
  if (lease_ == 0 && !granting_) grant();
  if (!in_flight_ && !pending_order_.empty()) write_next();
  if (lease_ != 0 && !holds_ && !campaigning_ && status_.synced && status_.leader_name.empty())
    campaign();
}

// --- callbacks ---

void EtcdStore::notify(RevisionedView::Changes changes) {
  if (changes.empty()) return;
  for (auto& c : changes)
    queued_changes_.push_back(std::move(c));
  post_notifications();
}

void EtcdStore::post_notifications() {
  if (notify_posted_ || stopped_) return;
  notify_posted_ = true;
  asio::post(io_, [this, alive = alive_] {
    if (!*alive) return;
    notify_posted_ = false;
    auto changes = std::move(queued_changes_);
    queued_changes_.clear();
    if (!changes.empty() && callbacks_.changed) callbacks_.changed(changes);
    if (!*alive) return; // stopped or destroyed by the callback
    if (status_ != notified_status_) {
      notified_status_ = status_;
      if (callbacks_.status_changed) callbacks_.status_changed();
    }
  });
}

} // namespace weir::cluster
