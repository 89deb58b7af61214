#pragma once

#include "weir/base/result.h"
#include "weir/runtime/access_log.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/worker.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir::runtime {

// The workers and the sockets they share by SO_REUSEPORT. Control thread only.
class WorkerGroup {
public:
  WorkerGroup() = default;
  ~WorkerGroup();

  // Opens every listener once per worker, starts the workers. On error nothing keeps running.
  Result<bool> start(std::shared_ptr<const Snapshot> snapshot);
  // Installs a snapshot on every worker; `done` runs (on some worker thread) once all have it.
  void publish(std::shared_ptr<const Snapshot> snapshot, std::function<void()> done);
  // Stop accepting, finish in-flight requests within `timeout`, then return.
  void drain_and_join(std::chrono::milliseconds timeout);

  // "name address" of every listener as bound (the real port when the config said 0).
  const std::vector<std::string>& bound() const { return bound_; }
  size_t size() const { return workers_.size(); }

private:
  std::unique_ptr<AccessLog> access_log_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::string> bound_;
};

} // namespace weir::runtime
