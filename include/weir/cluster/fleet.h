#pragma once

#include "weir/cluster/store.h"
#include "weir/config/config.h"
#include "weir/control/command_table.h"
#include "weir/control/controller.h"
#include "weir/metrics/aggregator.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>

namespace weir::rollout {
class Manager;
}

namespace weir::cluster {

// A fleet of weir replicas that behave as one (the config's `cluster`), on a Store:
// - live state: every live change a replica makes (set weight, drains, health overrides, the
//   rollout weights and the rollouts' state) is written to the store; every replica applies
//   what the store holds (cluster/live_entries.h). The store is the truth: a replica that
//   starts adopts it, and is not ready until it did.
// - rollouts: the store's leader runs them (rollout::Manager::Role::lead); the others follow the
//   state it saves, send their rollout commands to it through the store and wait for its answer,
//   and on a fast abort of their own set the canary to 0 at once and ask it to abort.
// - analysis: every replica publishes its cumulative per route × version figures once a second
//   (an ephemeral entry, gone with the replica); each replica samples the others' into an
//   Aggregator of their own, so a window is the sum of the replicas' windows, histograms merged
//   bucket by bucket.
// - the store unreachable: every replica serves what it last knew; nobody leads, so rollouts
//   hold (status: `held`) until it answers again, and then go on with the time they have left.
// Control thread only.
class Fleet {
public:
  Fleet(boost::asio::io_context& io, control::Controller& controller, rollout::Manager& rollouts,
        control::CommandTable& commands);
  ~Fleet();
  Fleet(const Fleet&) = delete;
  Fleet& operator=(const Fleet&) = delete;

  // With the config's `cluster` (nothing without one): registers `fleet` / `show fleet`, routes
  // the rollout commands, starts the store and the heartbeat. Before rollouts.start().
  void start();
  void stop();
  bool enabled() const { return store_ != nullptr; }

  // The fleet's figures (cluster/fleet_report.cc): `show fleet`, /metrics.
  void write_status(json::Writer& w) const;
  void write_metrics(std::string& out) const;

private:
  // Another replica as this one sees it: its heartbeat and its figures.
  struct Remote {
    std::string started; // its process start: a restart starts its counters anew
    std::string version; // weir's build
    bool leader = false; // what it said of itself
    int64_t heartbeat_unix_ms = 0;
    bool present = false; // its entry is in the store (gone: its lease ended)
    std::chrono::steady_clock::time_point last_heard;
    struct Rate {
      std::string route, service;
      double rps = 0;
    };
    std::vector<Rate> rates; // as it published them (every route's)
    std::map<metrics::BackendKey, metrics::BackendTotals> totals; // cumulative, as published
    metrics::Aggregator windows; // sampled once a second from `totals`
  };
  // A command sent to the leader, waiting for its answer.
  struct Pending {
    std::shared_ptr<control::Responder> responder;
    boost::asio::steady_timer timer;
    explicit Pending(boost::asio::io_context& io) : timer(io) {}
  };

  void on_changes(const std::vector<StoreChange>& changes);
  void on_status();
  // Applies the store's live entries to the controller (and the followed rollouts).
  void adopt();
  // The controller's live state changed: what differs from the store is written.
  void on_live_changed(const control::Controller::LiveChange& change);
  // The first full read: the store's live state adopted, or this replica's written to a store
  // that has none (a new fleet).
  void catch_up();
  // Whether rollouts are held now (nobody can lead), not just run elsewhere.
  bool holding() const;
  void on_health_changed(const std::string& service, const std::string& endpoint, int override);
  void apply_health(const std::string& key, const std::optional<std::string>& value);
  void heartbeat();
  void schedule_heartbeat(std::chrono::milliseconds after);
  std::string heartbeat_json() const;
  void on_replica(const std::string& name, const std::optional<std::string>& value);
  bool remote_windows(const metrics::BackendKey& key, std::chrono::seconds length,
                      metrics::WindowTotals& into) const;

  // cluster/fleet_commands.cc
  void route_commands();
  void forward(const std::string& line, std::shared_ptr<control::Responder> r);
  void to_leader(const std::string& route, const std::string& op, const std::string& why);
  void run_command(const std::string& id, const std::string& value);
  void run_waiting_commands();
  void on_reply(const std::string& id, const std::string& value);
  bool leading() const;
  std::string held_reason() const;

  boost::asio::io_context& io_;
  control::Controller& controller_;
  rollout::Manager& rollouts_;
  control::CommandTable& commands_;
  config::Cluster cluster_;
  std::unique_ptr<Store> store_;
  boost::asio::steady_timer heartbeat_timer_;
  std::string started_;    // this process's start, unix ms as text
  bool caught_up_ = false; // the store was read and adopted once
  bool adopting_ = false;
  bool was_leading_ = false;
  bool was_reachable_ = false;
  const config::Config* adopted_config_ = nullptr; // the config in force at the last adopt()
  std::chrono::steady_clock::time_point started_at_;
  std::chrono::steady_clock::time_point last_published_;    // this replica's entry, last written
  std::map<std::string, Remote> remotes_;                   // by replica name
  std::map<std::string, std::unique_ptr<Pending>> pending_; // by command id
  std::deque<std::string> ops_run_; // command ids the leader took (a repeated event: once)
  struct ReplyOut {
    std::string id;
    std::chrono::steady_clock::time_point at;
  };
  std::deque<ReplyOut> replies_out_; // answers written, removed after a while if nobody read them
  uint64_t next_command_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

// The store the config's `cluster` names, or an error.
std::unique_ptr<Store> make_store(boost::asio::io_context& io, const config::Config& config,
                                  std::string& error);

} // namespace weir::cluster
