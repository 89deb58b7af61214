// The fleet's life: the store, the live state both ways, leadership and the heartbeat.
#include "weir/cluster/fleet.h"

#include "weir/base/build_id.h"
#include "weir/base/json.h"
#include "weir/base/log.h"
#include "weir/cluster/live_entries.h"
#include "weir/control/controller.h"
#include "weir/rollout/manager.h"

namespace weir::cluster {

namespace asio = boost::asio;

namespace {

constexpr std::string_view kReplicas = "replicas/";
constexpr std::string_view kHealth = "live/health/";
constexpr auto kHeartbeat = std::chrono::seconds(1);
// A replica gone this long has no share in any window weir keeps (5 min at most).
constexpr auto kForgetRemote = std::chrono::minutes(6);

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

Fleet::Fleet(asio::io_context& io, control::Controller& controller, rollout::Manager& rollouts,
             control::CommandTable& commands)
    : io_(io), controller_(controller), rollouts_(rollouts), commands_(commands),
      heartbeat_timer_(io), started_(std::to_string(unix_ms())) {}

Fleet::~Fleet() {
  *alive_ = false;
  stop();
}

void Fleet::start() {
  const config::Config& config = controller_.config();
  if (!config.cluster.enabled()) return;
  cluster_ = config.cluster;
  std::string error;
  store_ = make_store(io_, config, error);
  if (!store_) {
    log::error("fleet: " + error);
    return;
  }
  last_live_ = live_entries(controller_.live());
  // Nothing runs here until the store says who leads.
  rollouts_.set_role(rollout::Manager::Role::follow, held_reason());
  route_commands();
  controller_.set_live_listener([this] { on_live_changed(); });
  controller_.set_health_listener(
      [this](const std::string& service, const std::string& endpoint, health::Override o) {
        on_health_changed(service, endpoint, static_cast<int>(o));
      });
  controller_.set_fleet_readiness([this]() -> std::string {
    if (caught_up_) return "";
    const StoreStatus& st = store_->status();
    return "fleet " + cluster_.name + ": not caught up from its store (" + store_->kind() + " at " +
           store_->where() + ")" + (st.error.empty() ? "" : ": " + st.error);
  });
  controller_.set_fleet_metrics([this](std::string& out) { write_metrics(out); });
  controller_.set_remote_windows(
      [this](const metrics::BackendKey& key, std::chrono::seconds length,
             metrics::WindowTotals& into) { return remote_windows(key, length, into); });
  rollouts_.set_to_leader([this](const std::string& route, const std::string& op,
                                 const std::string& why) { to_leader(route, op, why); });
  log::info("fleet " + cluster_.name + ": replica " + cluster_.replica + " on " + store_->kind() +
            " at " + store_->where());
  std::weak_ptr<bool> alive = alive_;
  store_->start({[this, alive](const std::vector<StoreChange>& changes) {
                   if (!alive.expired()) on_changes(changes);
                 },
                 [this, alive] {
                   if (!alive.expired()) on_status();
                 }});
  heartbeat();
}

void Fleet::stop() {
  if (!store_) return;
  heartbeat_timer_.cancel();
  store_->stop();
  controller_.set_live_listener(nullptr);
  controller_.set_health_listener(nullptr);
  controller_.set_remote_windows(nullptr);
  rollouts_.set_to_leader(nullptr);
  for (auto& [id, p] : pending_)
    (void)p; // their responders hear nothing more: weir is stopping
  pending_.clear();
}

bool Fleet::leading() const {
  return store_ && caught_up_ && store_->status().leader;
}

std::string Fleet::held_reason() const {
  if (!store_) return "";
  const StoreStatus& st = store_->status();
  if (!st.reachable)
    return "the fleet's store is unreachable" + (st.error.empty() ? "" : " (" + st.error + ")") +
           ": rollouts hold until it answers";
  if (!caught_up_) return "catching up from the fleet's store";
  if (st.leader_name.empty()) return "the fleet has no leader yet: rollouts hold";
  return "run by the fleet's leader " + st.leader_name;
}

void Fleet::on_status() {
  const StoreStatus& st = store_->status();
  if (st.synced && !caught_up_) {
    adopt();
    caught_up_ = true;
    log::info("fleet " + cluster_.name + ": caught up from the store (" +
              std::to_string(store_->data().size()) + " entries)");
  }
  if (leading()) {
    if (rollouts_.role() != rollout::Manager::Role::lead) {
      log::info("fleet " + cluster_.name + ": " + cluster_.replica + " leads");
      rollouts_.set_role(rollout::Manager::Role::lead);
    }
    run_waiting_commands();
  } else {
    rollouts_.set_role(rollout::Manager::Role::follow, held_reason());
  }
}

void Fleet::on_changes(const std::vector<StoreChange>& changes) {
  bool live = false;
  for (const auto& c : changes) {
    if (is_live_key(c.key)) {
      live = true;
    } else if (c.key.starts_with(kHealth)) {
      if (caught_up_) apply_health(c.key, c.value);
    } else if (c.key.starts_with(kReplicas)) {
      on_replica(c.key.substr(kReplicas.size()), c.value);
    } else if (c.key.starts_with("commands/")) {
      if (c.value && leading()) run_command(c.key.substr(9), *c.value);
    } else if (c.key.starts_with("replies/")) {
      if (c.value) on_reply(c.key.substr(8), *c.value);
    }
  }
  if (live && caught_up_) adopt();
}

void Fleet::adopt() {
  std::vector<std::string> errors;
  control::LiveState shared = live_from_entries(store_->data(), &errors);
  for (const auto& e : errors)
    log::error("fleet " + cluster_.name + ": store entry skipped: " + e);
  adopting_ = true;
  controller_.adopt_live(shared);
  adopting_ = false;
  last_live_ = live_entries(controller_.live());
  for (const auto& [key, value] : store_->data())
    if (key.starts_with(kHealth)) apply_health(key, value);
  rollouts_.refresh_followed();
}

void Fleet::on_live_changed() {
  std::map<std::string, std::string> now = live_entries(controller_.live());
  if (adopting_ || !caught_up_) {
    // What the store said, or what this replica had before it read the store (which wins).
    last_live_ = std::move(now);
    return;
  }
  // Only what changed here is written: a key this replica's config lacks (pruned) is left to
  // the replicas that have it.
  for (const auto& [key, value] : now) {
    auto it = last_live_.find(key);
    if (it == last_live_.end() || it->second != value) {
      // The rollouts' state is the leader's alone: a follower never writes its copy back.
      if (key == "rollouts" && !leading()) continue;
      store_->put(key, value);
    }
  }
  for (const auto& [key, value] : last_live_)
    if (!now.count(key) && (key != "rollouts" || leading())) store_->remove(key);
  last_live_ = std::move(now);
}

void Fleet::on_health_changed(const std::string& service, const std::string& endpoint,
                              int override) {
  if (adopting_ || !store_) return;
  std::string key = std::string(kHealth) + service + "/" + endpoint;
  auto o = static_cast<health::Override>(override);
  const auto& data = store_->data();
  auto it = data.find(key);
  if (o == health::Override::automatic) {
    if (it != data.end()) store_->remove(key);
  } else {
    std::string value = health::override_name(o);
    if (it == data.end() || it->second != value) store_->put(key, value);
  }
}

void Fleet::apply_health(const std::string& key, const std::optional<std::string>& value) {
  // live/health/NS/SVC/HOST:PORT: the service id holds exactly one "/".
  std::string rest = key.substr(kHealth.size());
  size_t first = rest.find('/');
  size_t second = first == std::string::npos ? first : rest.find('/', first + 1);
  if (second == std::string::npos) return;
  std::string service = rest.substr(0, second);
  std::string endpoint = rest.substr(second + 1);
  health::Override o = health::Override::automatic;
  if (value && *value == "up") o = health::Override::up;
  if (value && *value == "down") o = health::Override::down;
  adopting_ = true;
  controller_.set_health(service, endpoint, o, [key](Result<std::string> r) {
    // A service or endpoint this replica's config lacks: left to those that have it.
    if (!r.ok()) log::warn("fleet: " + key + " not applied: " + r.error().message);
  });
  adopting_ = false;
}

void Fleet::schedule_heartbeat() {
  heartbeat_timer_.expires_after(kHeartbeat);
  std::weak_ptr<bool> alive = alive_;
  heartbeat_timer_.async_wait([this, alive](const boost::system::error_code& ec) {
    if (!ec && !alive.expired()) heartbeat();
  });
}

void Fleet::heartbeat() {
  auto now = std::chrono::steady_clock::now();
  // Every other replica's figures are sampled on this replica's cadence, its newest totals
  // again when nothing new arrived: a replica that died stops adding and its share of every
  // window ends as the windows move past it.
  for (auto it = remotes_.begin(); it != remotes_.end();) {
    Remote& r = it->second;
    if (!r.present && now - r.last_heard > kForgetRemote) {
      it = remotes_.erase(it);
      continue;
    }
    r.windows.sample_totals(r.totals, now);
    ++it;
  }
  store_->put(std::string(kReplicas) + cluster_.replica, heartbeat_json(),
              Store::Lifetime::ephemeral);
  schedule_heartbeat();
}

std::string Fleet::heartbeat_json() const {
  json::Writer w;
  w.begin_object();
  w.key("version").value(build_id()).key("started").value(started_);
  w.key("heartbeat_unix_ms").value(unix_ms()).key("leader").value(leading());
  const metrics::Aggregator& a = controller_.aggregator();
  // Requests/s of every route and backend over the last 10 s, for `weirctl fleet`: a number each.
  w.key("rates").begin_array();
  for (const auto& key : a.keys())
    if (auto win = a.window(key, std::chrono::seconds(10)))
      w.begin_array().value(key.route).value(key.service).value(win->rps).end_array();
  w.end_array();
  // The cumulative figures the leader's analysis adds up, of the routes with a rollout plan only:
  // a histogram each, and a store entry has a size limit (a Kubernetes object's annotations
  // 256 KiB in all).
  std::set<std::string> planned;
  for (const auto& r : controller_.config().routes)
    if (r.rollout.enabled) planned.insert(r.name);
  w.key("totals").begin_array();
  for (const auto& key : a.keys()) {
    const metrics::BackendTotals* t = a.latest(key);
    if (!t || !planned.count(key.route)) continue;
    w.begin_object().key("route").value(key.route).key("service").value(key.service);
    w.key("requests").value(t->requests).key("errors").value(t->upstream_errors);
    w.key("client_errors").value(t->client_errors);
    w.key("count").value(t->total.count).key("sum_ns").value(t->total.sum_ns);
    w.key("buckets").begin_array();
    for (size_t i = 0; i < t->total.buckets.size(); ++i)
      if (t->total.buckets[i])
        w.begin_array().value(static_cast<uint64_t>(i)).value(t->total.buckets[i]).end_array();
    w.end_array().end_object();
  }
  w.end_array().end_object();
  return w.take();
}

void Fleet::on_replica(const std::string& name, const std::optional<std::string>& value) {
  if (name == cluster_.replica) {
    // Two processes under one replica name would take each other's entries for their own.
    auto parsed = json::parse(value.value_or("{}"));
    if (value && parsed.value && parsed.value->get_string("started") != started_)
      log::error("fleet " + cluster_.name + ": another weir runs as replica " + cluster_.replica +
                 " (started at unix ms " + parsed.value->get_string("started") +
                 "): give every replica its own `cluster.replica`");
    return;
  }
  if (!value) {
    if (auto it = remotes_.find(name); it != remotes_.end()) it->second.present = false;
    return;
  }
  auto parsed = json::parse(*value);
  if (!parsed.value || !parsed.value->is_object()) {
    log::warn("fleet: replica " + name + "'s entry is unreadable: " + parsed.error);
    return;
  }
  const json::Value& v = *parsed.value;
  Remote& r = remotes_[name];
  std::string started = v.get_string("started");
  if (r.started != started) {
    // A new process: its counters start from zero, so its windows start anew.
    r.windows = metrics::Aggregator();
    r.totals.clear();
    r.started = started;
  }
  r.version = v.get_string("version");
  r.leader = v.get_bool("leader");
  r.heartbeat_unix_ms = static_cast<int64_t>(v.get_number("heartbeat_unix_ms"));
  r.present = true;
  r.last_heard = std::chrono::steady_clock::now();
  r.rates.clear();
  if (const json::Value* rates = v.find("rates"); rates && rates->is_array())
    for (const auto& e : rates->as_array())
      if (e.is_array() && e.as_array().size() == 3 && e.as_array()[0].is_string() &&
          e.as_array()[1].is_string() && e.as_array()[2].is_number())
        r.rates.push_back({e.as_array()[0].as_string(), e.as_array()[1].as_string(),
                           e.as_array()[2].as_number()});
  if (const json::Value* totals = v.find("totals"); totals && totals->is_array()) {
    for (const auto& t : totals->as_array()) {
      metrics::BackendKey key{t.get_string("route"), t.get_string("service")};
      if (key.route.empty() || key.service.empty()) continue;
      metrics::BackendTotals& b = r.totals[key];
      b.requests = static_cast<uint64_t>(t.get_number("requests"));
      b.upstream_errors = static_cast<uint64_t>(t.get_number("errors"));
      b.client_errors = static_cast<uint64_t>(t.get_number("client_errors"));
      b.total = metrics::HistogramData{};
      b.total.count = static_cast<uint64_t>(t.get_number("count"));
      b.total.sum_ns = static_cast<uint64_t>(t.get_number("sum_ns"));
      if (const json::Value* buckets = t.find("buckets"); buckets && buckets->is_array())
        for (const auto& pair : buckets->as_array()) {
          if (!pair.is_array() || pair.as_array().size() != 2) continue;
          double i = pair.as_array()[0].is_number() ? pair.as_array()[0].as_number() : -1;
          if (i < 0 || i >= static_cast<double>(b.total.buckets.size())) continue;
          b.total.buckets[static_cast<size_t>(i)] = static_cast<uint64_t>(
              pair.as_array()[1].is_number() ? pair.as_array()[1].as_number() : 0);
        }
    }
  }
}

bool Fleet::remote_windows(const metrics::BackendKey& key, std::chrono::seconds length,
                           metrics::WindowTotals& into) const {
  bool any = false;
  for (const auto& [name, r] : remotes_) {
    auto w = r.windows.window_totals(key, length);
    if (!w) continue;
    into.add(*w);
    any = true;
  }
  return any;
}

} // namespace weir::cluster
