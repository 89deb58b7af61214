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
constexpr auto kHeartbeat = std::chrono::milliseconds(1000);
constexpr auto kQuietHeartbeat = std::chrono::seconds(2);
// A reply the leader wrote is read by the follower within its 10 s wait or never.
constexpr auto kUnreadReplies = std::chrono::seconds(30);
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
  // Nothing runs here until the store says who leads.
  rollouts_.set_role(rollout::Manager::Role::follow, held_reason(), holding());
  route_commands();
  controller_.set_live_listener(
      [this](const control::Controller::LiveChange& change) { on_live_changed(change); });
  controller_.set_health_listener(
      [this](const std::string& service, const std::string& endpoint, health::Override o) {
        on_health_changed(service, endpoint, static_cast<int>(o));
      });
  started_at_ = std::chrono::steady_clock::now();
  controller_.set_fleet_readiness([this]() -> std::string {
    if (caught_up_) return "";
    const StoreStatus& st = store_->status();
    // A store that has not answered since this replica started: after lease_ttl it serves what
    // it last knew (its state file, or what an upgrade handed over), as the replicas that are
    // up do; a fleet restarted during the outage must not stay out of service with it.
    if (!st.reachable && std::chrono::steady_clock::now() - started_at_ >= cluster_.lease_ttl)
      return "";
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
  pending_.clear(); // their responders hear nothing more: weir is stopping
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
    catch_up();
    caught_up_ = true;
    log::info("fleet " + cluster_.name + ": caught up from the store (" +
              std::to_string(store_->data().size()) + " entries)");
  }
  const bool lead = leading();
  // What a leader wrote that has not landed must not land over its successor's; a follower's
  // fast abort waiting for the store neither (the leader's abort, sent as a command, stands).
  if ((was_leading_ && !lead) || (was_reachable_ && !st.reachable)) {
    store_->discard_pending("rollouts");
    store_->discard_pending("live/rollout_weights/");
  }
  was_leading_ = lead;
  was_reachable_ = st.reachable;
  if (lead) {
    if (rollouts_.role() != rollout::Manager::Role::lead) {
      log::info("fleet " + cluster_.name + ": " + cluster_.replica + " leads");
      rollouts_.set_role(rollout::Manager::Role::lead,
                         "taken over by " + cluster_.replica + ", the fleet's leader now,");
    }
    run_waiting_commands();
  } else {
    rollouts_.set_role(rollout::Manager::Role::follow, held_reason(), holding());
  }
}

bool Fleet::holding() const {
  const StoreStatus& st = store_->status();
  return !st.reachable || !caught_up_ || st.leader_name.empty();
}

void Fleet::catch_up() {
  bool shared = false;
  for (const auto& [key, value] : store_->data())
    shared = shared || is_live_key(key) || key.starts_with(kHealth);
  if (shared) return adopt();
  // A new fleet: the first replica's own live state (its state file) becomes the fleet's, not
  // an empty one. Its rollouts' state too: whoever leads runs it.
  for (const auto& [key, value] : live_entries(controller_.live()))
    store_->put(key, value);
  adopted_config_ = &controller_.config();
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
  adopted_config_ = &controller_.config();
  controller_.adopt_live(shared);
  adopting_ = false;
  for (const auto& [key, value] : store_->data())
    if (key.starts_with(kHealth)) apply_health(key, value);
  rollouts_.refresh_followed();
}

void Fleet::on_live_changed(const control::Controller::LiveChange& change) {
  using Kind = control::Controller::LiveChange::Kind;
  if (adopting_ || !caught_up_) return; // the store's own, or what the store will replace
  std::string key;
  switch (change.kind) {
  case Kind::republished:
    // A reload or discovery pruned the live state to this replica's config: nothing is written
    // (another replica may have what this one lacks), and what the new config has again is
    // taken from the store.
    if (&controller_.config() != adopted_config_) adopt();
    return;
  case Kind::weights:
    key = "live/weights/" + change.name;
    break;
  case Kind::rollout_weights:
    key = "live/rollout_weights/" + change.name;
    break;
  case Kind::drained:
    key = "live/drained/" + change.name;
    break;
  case Kind::extra:
    key = change.name;
    break;
  }
  if (!is_live_key(key)) return;
  // The rollouts' state is the leader's alone; so are its weights, but for a follower's fast
  // abort (canary 0), which reaches every replica at once while the store answers.
  if (key == "rollouts" && !leading()) return;
  if (key.starts_with("live/rollout_weights/") && !leading() && !store_->status().reachable) return;
  std::map<std::string, std::string> now = live_entries(controller_.live());
  auto mine = now.find(key);
  auto theirs = store_->data().find(key);
  if (mine == now.end()) {
    if (theirs != store_->data().end()) store_->remove(key);
  } else if (theirs == store_->data().end() || theirs->second != mine->second) {
    store_->put(key, mine->second);
  }
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

void Fleet::schedule_heartbeat(std::chrono::milliseconds after) {
  heartbeat_timer_.expires_after(after);
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
  // Answers to commands that nobody read (the follower gave up waiting, or died).
  while (!replies_out_.empty() && now - replies_out_.front().at > kUnreadReplies) {
    store_->remove("replies/" + replies_out_.front().id);
    replies_out_.pop_front();
  }
  // Each entry written is a revision the store keeps (etcd until it compacts): the figures every
  // second only while a rollout runs and its analysis wants them fresh, else every 2 s. The
  // lease, not this entry, says the replica is alive.
  const bool running = rollouts_.any_running();
  if (running || now - last_published_ >= kQuietHeartbeat) {
    store_->put(std::string(kReplicas) + cluster_.replica, heartbeat_json(),
                Store::Lifetime::ephemeral);
    last_published_ = now;
  }
  schedule_heartbeat(kHeartbeat);
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
  // A new process, or one back after its entry expired (cut off longer than its lease): its
  // figures since are not one interval's, so its windows start anew.
  if (r.started != started || !r.present) {
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
