#pragma once

#include "weir/base/clock.h"
#include "weir/base/result.h"
#include "weir/config/config.h"
#include "weir/control/command_table.h"
#include "weir/control/ejections.h"
#include "weir/control/state_file.h"
#include "weir/control/systemd_notify.h"
#include "weir/discovery/discovery.h"
#include "weir/gateway/gateway_controller.h"
#include "weir/health/checker.h"
#include "weir/health/prober.h"
#include "weir/metrics/aggregator.h"
#include "weir/rollout/fast_abort.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/worker_group.h"
#include "weir/tls/contexts.h"
#include "weir/tls/ticket_keys.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace weir::control {

// Owns what operators change while weir serves: the config in force, live weight overrides and
// drains, and the state file that keeps them across restarts. Every change builds one new
// immutable Snapshot and publishes it to all workers; callers hear back only once every worker
// uses it. Control thread only.
class Controller {
public:
  using Done = std::function<void(Result<std::string>)>; // a JSON fragment or an error

  // `clock` (outliving the controller) times ejections and metric samples.
  Controller(boost::asio::io_context& io, std::string config_path,
             std::shared_ptr<const config::Config> config, Clock& clock = Clock::system());

  // What a weir being upgraded hands over (control/upgrade.h): the new process starts from it
  // instead of the state file, on the old process's listening sockets.
  struct Inherited {
    LiveState live;
    std::vector<health::Checker::OverrideEntry> health;
    std::vector<health::Checker::Finding> checks; // what the health checks found
    std::string ticket_keys; // tls::TicketKeys::export_keys(): sessions resume across it
    // What discovery had found, by service id: used until this process's own sources answer.
    std::map<std::string, discovery::Found> discovered;
    std::vector<runtime::ListenerSockets> sockets;
  };
  // Restores the state file (or takes `inherited`'s state and sockets), starts the workers and
  // the once-a-second metrics merge. With `inherited` the workers accept nothing, and the state
  // file is not written, until finish_takeover().
  Result<bool> start(Inherited* inherited = nullptr);
  // The old process has let go: its state as it left it (`latest`, sockets unused) replaces
  // what start() took, then the workers accept.
  void finish_takeover(const Inherited& latest);
  void stop();
  // The live state as the new process of an upgrade takes it:
  // {"live":STATE,"health":[...],"checks":[...],"ticket_keys":"..."}.
  std::string handover_state() const;
  // Parses handover_state() into `into` (sockets untouched); an error says what is wrong.
  static std::string parse_handover_state(std::string_view json, Inherited& into);
  // The new process owns the state file from now on: this one writes it no more.
  void hand_off() { handed_off_ = true; }

  runtime::WorkerGroup& workers() { return workers_; }
  const metrics::Aggregator& aggregator() const { return aggregator_; }
  // What times the metric samples (aggregator()'s time points are its steady ones).
  Clock& clock() const { return clock_; }
  // Rollout top-up traffic (rollout/top_up_traffic.h), kept apart from user traffic: its cells
  // (written on the control thread, keyed like the workers') and their once-a-second windows,
  // sampled at the same instants as aggregator() so the two merge exactly.
  metrics::Registry& synthetic_metrics() { return synthetic_metrics_; }
  const metrics::Registry& synthetic_metrics() const { return synthetic_metrics_; }
  const metrics::Aggregator& synthetic_aggregator() const { return synthetic_aggregator_; }
  // The config in force: the file's, with the endpoints discovery found added to its services.
  const config::Config& config() const { return *config_; }
  // The config as loaded from the file (no discovered endpoints).
  const config::Config& file_config() const { return *file_config_; }
  const discovery::Discovery& discovery() const { return discovery_; }
  // The Gateway API controller (null without `gateway`, or when the API server is unknown).
  const gateway::GatewayController* gateway() const { return gateway_.get(); }
  // "" when weir may report ready as far as the config goes; else why not (discovery has not
  // answered for some service yet), a line per reason.
  std::string not_ready() const;
  const std::shared_ptr<const runtime::Snapshot>& snapshot() const { return snapshot_; }
  const LiveState& live() const { return live_; }
  const std::string& config_path() const { return config_path_; }
  uint64_t reloads_ok() const { return reloads_ok_; }
  uint64_t reloads_failed() const { return reloads_failed_; }
  // The TLS contexts in force (certificates served, upstream TLS settings).
  const tls::Contexts& tls() const { return tls_; }
  const tls::TicketKeys& ticket_keys() const { return *ticket_keys_; }
  // Looks at the TLS files now, as the tls_reload_interval timer does: rebuilds the contexts
  // when one changed. Returns what happened ("" nothing changed).
  std::string check_tls_files();

  // Operations. `done` runs on the control thread after every worker applied the change.
  void set_weights(const std::string& route,
                   const std::vector<std::pair<std::string, uint32_t>>& weights, Done done);
  // What is wrong with weights for a route ("" when nothing): an unknown route or backend.
  std::string weights_error(const std::string& route,
                            const std::vector<std::pair<std::string, uint32_t>>& weights) const;
  // The weights a route's rollout gives it (live_.rollout_weights); an operator's set weight
  // stays on top of them until cleared.
  void set_rollout_weights(const std::string& route,
                           const std::vector<std::pair<std::string, uint32_t>>& weights, Done done);
  void clear_rollout_weights(const std::string& route, Done done);
  // The live mirror a route's rollout sets (set_mirror: the canary at a percent): wins over the
  // route's `mirror` until cleared, on every worker from the next snapshot. Not in the state
  // file: the rollout manager keeps it with its own state and sets it again after a restart.
  void set_rollout_mirror(const std::string& route, const std::string& service, double percent,
                          bool safe_methods_only = false);
  void clear_rollout_mirror(const std::string& route);
  // The header routes a route's rollout sets (set_header_route; empty routes clears them): on
  // every worker from the next snapshot. Not in the state file either: the rollout manager keeps
  // them with its own state and sets them again after a restart or an upgrade.
  void set_rollout_header_routes(const std::string& route,
                                 runtime::Snapshot::Overrides::HeaderRoutes routes);
  // Who decides the route's weights now: "operator" (a `set weight` override), "rollout" or
  // "config".
  const char* weights_owner(const std::string& route) const;
  void clear_weights(const std::string& route, Done done);
  // Asked before an operator's `set weight` / `clear weight` on `route` ("" = go on, else the
  // refusal). `force` is the operator's --force; `command` the command line, for the record.
  using WeightGuard =
      std::function<std::string(const std::string& route, bool force, const std::string& command)>;
  void set_weight_guard(WeightGuard guard) { weight_guard_ = std::move(guard); }
  // What /metrics and /stats.json add for rollouts: Prometheus text, and a route's status JSON
  // ("" when the route has no rollout plan).
  void set_rollout_reporters(std::function<void(std::string&)> metrics,
                             std::function<std::string(const std::string&)> status) {
    rollout_metrics_ = std::move(metrics);
    rollout_status_ = std::move(status);
  }
  void write_rollout_metrics(std::string& out) const {
    if (rollout_metrics_) rollout_metrics_(out);
  }
  std::string rollout_status(const std::string& route) const {
    return rollout_status_ ? rollout_status_(route) : std::string();
  }
  // For `show services`: whether a service a promotion replaced is safe to delete yet (JSON;
  // "" when no rollout tracks it).
  void set_cleanup_reporter(std::function<std::string(const std::string&)> f) {
    cleanup_status_ = std::move(f);
  }
  std::string cleanup_status(const std::string& service) const {
    return cleanup_status_ ? cleanup_status_(service) : std::string();
  }
  void set_drained(const std::string& service, const std::string& endpoint, bool drained,
                   Done done);
  void set_health(const std::string& service, const std::string& endpoint,
                  health::Override override_state, Done done);
  void reload(Done done);
  // systemd hears RELOADING=1 when a reload starts and READY=1 when it ended (either way).
  void set_notifier(SystemdNotifier* notifier) { notifier_ = notifier; }
  // A named section of the state file owned by another module (e.g. "rollouts"): saved now.
  void set_extra(const std::string& key, std::string json);
  // Called on the control thread when the workers' runs of errors from one of a rollout's
  // versions add up to the route's fast-abort threshold (rollout/fast_abort.h). Set before
  // start().
  using FastAbortHandler = std::function<void(const rollout::FastAbort::Trip& trip)>;
  void set_fast_abort_handler(FastAbortHandler h) { fast_abort_handler_ = std::move(h); }
  // A rollout of `route` starts: a new fast-abort epoch, the runs counted so far dropped, and
  // a snapshot published so every worker starts its run anew (errors from before the start, or
  // from requests still on the old snapshot, never count toward this rollout's abort).
  void reset_fast_abort(const std::string& route);
  // The route's rollout ended: its workers stop reporting errors for fast abort.
  void stop_fast_abort(const std::string& route);
  const rollout::FastAbort& fast_abort() const { return fast_abort_; }
  // What `watch` adds for a route with a rollout: a JSON object with its status and the events
  // after `cursor` (which it advances); "" when the route has none.
  using RolloutFeed = std::function<std::string(const std::string& route, uint64_t& cursor)>;
  void set_rollout_feed(RolloutFeed feed) { rollout_feed_ = std::move(feed); }
  // Asked before every reload: "" to go on, else why not (an upgrade under way).
  void set_reload_refusal(std::function<std::string()> f) { reload_refusal_ = std::move(f); }
  // Runs after every successful reload (new config in force), on the control thread.
  void set_reload_listener(std::function<void()> f) { reload_listener_ = std::move(f); }

  // --- a fleet of replicas (cluster/fleet.h) ---
  // What changed in live(), for the fleet to write (cluster/fleet.h): one route's weights or
  // rollout weights, one service's drains, one extra section (by an operation here); or
  // `republished`: a reload, discovery or an adoption published, whose pruning must not be
  // written (another replica's config may have what this one's lacks).
  struct LiveChange {
    enum class Kind { weights, rollout_weights, drained, extra, republished } kind;
    std::string name; // the route, service or extra section
  };
  void set_live_listener(std::function<void(const LiveChange&)> f) {
    live_listener_ = std::move(f);
  }
  // Runs after every operator's health override (`set health`), with the new override.
  using HealthListener = std::function<void(const std::string& service, const std::string& endpoint,
                                            health::Override)>;
  void set_health_listener(HealthListener f) { health_listener_ = std::move(f); }
  // The fleet's live state replaces this replica's: weight overrides, rollout weights, drains
  // and the extra sections `shared` has (names the running config lacks are kept aside by
  // prune, as after a reload). Published like any change; nothing when it is the same.
  void adopt_live(const LiveState& shared);
  // Asked by not_ready(): "" or why not ready as far as the fleet goes (not caught up yet).
  void set_fleet_readiness(std::function<std::string()> f) { fleet_readiness_ = std::move(f); }
  // Prometheus text the fleet adds to /metrics.
  void set_fleet_metrics(std::function<void(std::string&)> f) { fleet_metrics_ = std::move(f); }
  void write_fleet_metrics(std::string& out) const {
    if (fleet_metrics_) fleet_metrics_(out);
  }
  // The other replicas' figures of a route × version over the last `length`, added to `into`;
  // true when any replica had the key.
  using RemoteWindows = std::function<bool(
      const metrics::BackendKey& key, std::chrono::seconds length, metrics::WindowTotals& into)>;
  void set_remote_windows(RemoteWindows f) { remote_windows_ = std::move(f); }
  // This replica's user traffic plus the other replicas' (the same as aggregator() alone
  // without a fleet); with `synthetic`, this replica's synthetic traffic too.
  std::optional<metrics::WindowTotals>
  fleet_window(const metrics::BackendKey& key, std::chrono::seconds length, bool synthetic) const;

  // --- tunnels, and what still uses a service (controller_tunnels.cc) ---
  // Read from every worker's cells now (relaxed atomics; a worker's map under its lock).
  // Tunnels (WebSocket and other Upgrades after their 101) of a route × service, or of a
  // service over every route.
  uint64_t tunnels_open(const std::string& route, const std::string& service) const;
  uint64_t tunnels_open(const std::string& service) const;
  // Upstream connections open to the service's endpoints in the running config (connecting, in
  // use, a tunnel's or idle in a pool); a plain endpoint that two services share counts for both.
  uint64_t upstream_connections_open(const std::string& service) const;
  // Requests sent to the service's endpoints and not answered yet (a tunnel's counts till it ends).
  uint64_t requests_in_flight(const std::string& service) const;
  // Every worker closes the route × service's tunnels open now: none before `delay`, then spread
  // over `over` (runtime::Worker::drain_tunnels), replacing a drain of the same route × service.
  // `done` hears how many tunnels the workers picked, on the control thread, once all have.
  void drain_tunnels(const std::string& route, const std::string& service,
                     std::chrono::milliseconds delay, std::chrono::milliseconds over,
                     std::function<void(uint64_t)> done = nullptr);
  // The route × service's drain closes no more tunnels (those closing finish their handshake).
  void stop_tunnel_drain(const std::string& route, const std::string& service,
                         std::function<void()> done = nullptr);
  // Every worker closes its idle connections to `service`'s endpoints.
  void close_idle_connections(const std::string& service);

  const health::Checker& checker() const { return checker_; }
  const health::Prober& prober() const { return prober_; }
  // An outlier report from a worker (posted to the control thread).
  void on_outlier(const std::string& service, const std::string& endpoint);
  using Ejection = Ejections::Entry;
  const Ejection* ejection(const std::string& service, const std::string& endpoint) const {
    return ejections_.find(service, endpoint);
  }
  uint64_t ejections_total() const { return ejections_.total(); }

  void register_commands(CommandTable& table);
  // The rollout's word on an operator's weight command (`command` as typed; who sent it is
  // added): "" to go on, else the refusal.
  std::string ask_weight_guard(const std::string& route, bool force, std::string command,
                               const Responder& who) const;

private:
  class Watch;
  void register_tunnel_commands(CommandTable& table);
  // Discovery (controller_discovery.cc): what it found for a service replaces what was found
  // before, in a config in force built from the file's and published like any change.
  void set_discovered(const std::string& service, const discovery::Found& found);
  std::shared_ptr<const config::Config> with_discovered(const config::Config& file) const;
  // Terminating pods drained; endpoints waiting for their first check allowed when nothing
  // else of their service can take a request.
  void apply_discovery(const config::Config& config, runtime::Snapshot::Overrides& o) const;
  // Drops what was found for services discovery no longer has (a reload took them out): one
  // added back later starts from its own answers, not from pods long gone.
  void forget_undiscovered();
  // The Gateway API controller (controller_gateway.cc): started, kept or stopped to match the
  // file's `gateway` and `kubernetes`; the routes it found are added to the file's (with_gateway)
  // and published like any change.
  void configure_gateway();
  std::string set_gateway_routes(std::shared_ptr<const gateway::ClusterRoutes> routes);
  void with_gateway(config::Config& config) const;
  // `tls`: new TLS contexts to publish with (they replace tls_ once published); null keeps tls_.
  Result<bool> publish(std::shared_ptr<const config::Config> config, LiveState live,
                       std::function<void()> applied, const tls::Contexts* tls = nullptr);
  // TLS (controller_tls.cc): the file watch and the session ticket key rotation.
  void schedule_tls_check();
  void schedule_ticket_rotation();
  std::string persist();
  void sample_metrics();
  // Health, readiness or ejections changed: publish a snapshot with the same config and state.
  void republish();
  runtime::Snapshot::Overrides overrides(const config::Config& config, const LiveState& live) const;
  // Points ejection_timer_ at the next ejection's end; end_ejections() runs what is over.
  void schedule_ejection_end();
  void end_ejections();
  void on_fast_abort_report(const runtime::FastAbortReport& report);

  boost::asio::io_context& io_;
  Clock& clock_;
  std::string config_path_;
  std::shared_ptr<const config::Config> file_config_;
  std::shared_ptr<const config::Config> config_;
  std::map<std::string, discovery::Found> discovered_; // by service id
  std::shared_ptr<const runtime::Snapshot> snapshot_;
  LiveState live_;
  uint64_t generation_ = 0;
  runtime::WorkerGroup workers_;
  metrics::Aggregator aggregator_;
  metrics::Registry synthetic_metrics_;
  metrics::Aggregator synthetic_aggregator_;
  boost::asio::steady_timer metrics_timer_;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
  health::Checker checker_;
  health::Prober prober_;
  Ejections ejections_;
  boost::asio::steady_timer ejection_timer_;
  bool started_ = false;
  bool handed_off_ = false;
  bool taking_over_ = false; // an upgrade's new process until finish_takeover()
  rollout::FastAbort fast_abort_;
  std::set<std::string> fast_abort_routes_; // routes whose rollout runs (reset_fast_abort)
  std::map<std::string, runtime::Snapshot::Overrides::Mirror> rollout_mirrors_; // by route
  std::map<std::string, runtime::Snapshot::Overrides::HeaderRoutes> rollout_header_routes_;
  FastAbortHandler fast_abort_handler_;
  std::function<void()> reload_listener_;
  std::function<std::string(const std::string&)> cleanup_status_;
  std::function<void(const LiveChange&)> live_listener_;
  void live_changed(LiveChange::Kind kind, const std::string& name) {
    if (live_listener_) live_listener_({kind, name});
  }
  HealthListener health_listener_;
  std::function<std::string()> fleet_readiness_;
  std::function<void(std::string&)> fleet_metrics_;
  RemoteWindows remote_windows_;
  std::function<std::string()> reload_refusal_;
  RolloutFeed rollout_feed_;
  WeightGuard weight_guard_;
  std::function<void(std::string&)> rollout_metrics_;
  std::function<std::string(const std::string&)> rollout_status_;
  SystemdNotifier* notifier_ = nullptr;
  std::shared_ptr<tls::TicketKeys> ticket_keys_;
  tls::Contexts tls_;
  std::vector<std::string> tls_stamps_; // what tls_'s files looked like when it was built
  boost::asio::steady_timer tls_timer_;
  boost::asio::steady_timer ticket_timer_;
  discovery::Discovery discovery_; // its callbacks reach the members above
  std::shared_ptr<const gateway::ClusterRoutes> gateway_routes_;
  std::string gateway_key_; // the API access and class gateway_ was made for
  std::unique_ptr<gateway::GatewayController> gateway_; // last: its callbacks reach the above
};

// What a file looks like (device, inode, size, modification time): a changed certificate, even
// one swapped in by a symlink as Kubernetes secrets are, looks different. "" if it is missing.
std::vector<std::string> stamp_files(const std::vector<std::string>& files);

// The weight overrides and drains of `live` that still name something in `config`.
LiveState prune(const LiveState& live, const config::Config& config);

} // namespace weir::control
