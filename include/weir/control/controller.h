#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"
#include "weir/control/command_table.h"
#include "weir/control/state_file.h"
#include "weir/metrics/aggregator.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/worker_group.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
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

  Controller(boost::asio::io_context& io, std::string config_path,
             std::shared_ptr<const config::Config> config);

  // Restores the state file, starts the workers and the once-a-second metrics merge.
  Result<bool> start();
  void stop();

  runtime::WorkerGroup& workers() { return workers_; }
  const metrics::Aggregator& aggregator() const { return aggregator_; }
  const config::Config& config() const { return *config_; }
  const std::shared_ptr<const runtime::Snapshot>& snapshot() const { return snapshot_; }
  const LiveState& live() const { return live_; }
  const std::string& config_path() const { return config_path_; }
  uint64_t reloads_ok() const { return reloads_ok_; }
  uint64_t reloads_failed() const { return reloads_failed_; }

  // Operations. `done` runs on the control thread after every worker applied the change.
  void set_weights(const std::string& route,
                   const std::vector<std::pair<std::string, uint32_t>>& weights, Done done);
  void clear_weights(const std::string& route, Done done);
  void set_drained(const std::string& service, const std::string& endpoint, bool drained,
                   Done done);
  void reload(Done done);

  void register_commands(CommandTable& table);

private:
  class Watch;
  Result<bool> publish(std::shared_ptr<const config::Config> config, LiveState live,
                       std::function<void()> applied);
  std::string persist();
  void sample_metrics();

  boost::asio::io_context& io_;
  std::string config_path_;
  std::shared_ptr<const config::Config> config_;
  std::shared_ptr<const runtime::Snapshot> snapshot_;
  LiveState live_;
  uint64_t generation_ = 0;
  runtime::WorkerGroup workers_;
  metrics::Aggregator aggregator_;
  boost::asio::steady_timer metrics_timer_;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_failed_ = 0;
};

} // namespace weir::control
