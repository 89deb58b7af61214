#pragma once

#include "weir/base/clock.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace weir::rollout {

// Rollout fast abort, counted on the control thread from what the workers report: every upstream
// error of a rollout's version, and the first success of that version that ends a worker's run
// of errors. A run is one worker's errors from one version with no success of that version in
// between on that worker; the abort fires when the runs of a route × version add up to the
// threshold, and tells how many errors there really were, over what time, from which worker.
//
// Why runs per worker and not one route-wide run: a worker reports a success only when it ends
// one of its own runs (reporting every success would post once per request), so the control
// thread cannot order one worker's successes against another's errors. A success therefore ends
// the run of its own worker only; a version failing half its requests keeps each worker's run
// at one or two errors, while a version failing everything trips after exactly `threshold`
// errors, however they spread over the workers.
//
// Epochs: a route's epoch changes when a rollout starts (reset()); workers stamp each report with
// the epoch of the snapshot the request ran on, and reports of another epoch are dropped, so
// errors from before the start (or still in flight on an older snapshot) never count toward
// the new rollout's abort.
//
// Time comes from the caller (the injectable weir::Clock). Control thread only.
class FastAbort {
public:
  using TimePoint = Clock::Steady::time_point;

  // What a trip reports to the rollout manager.
  struct Trip {
    std::string route;
    std::string service;
    uint32_t errors = 0;                 // the sum of the runs: upstream errors that happened
    std::chrono::milliseconds window{0}; // from the first error of the runs to the last
    std::vector<uint32_t> per_worker;    // each worker's run, by worker index
  };

  // The route's current epoch: 0 until its first reset().
  uint64_t epoch(const std::string& route) const;
  // Epochs of the routes that have one other than 0 (what the snapshot carries to the workers).
  const std::map<std::string, uint64_t>& epochs() const { return epochs_; }
  // A rollout of `route` starts: a new epoch, and every run of the route is dropped. Returns the
  // new epoch.
  uint64_t reset(const std::string& route);

  // An upstream error of `service` on `route`, reported by `worker` under `epoch`, received at
  // `now`. A Trip when the runs of route × service reach `threshold` (0 = off); the runs are
  // then cleared, so a further trip needs a full new run. nullopt otherwise, and for reports of
  // another epoch than the route's.
  std::optional<Trip> error(const std::string& route, const std::string& service, unsigned worker,
                            uint64_t epoch, uint32_t threshold, TimePoint now);
  // A success of `service` that ended `worker`'s run.
  void success(const std::string& route, const std::string& service, unsigned worker,
               uint64_t epoch);
  // The sum of the current runs of route × service.
  uint32_t errors(const std::string& route, const std::string& service) const;

private:
  struct Run {
    uint32_t errors = 0;
    TimePoint first{};
    TimePoint last{};
  };
  // route → service → runs by worker index
  std::map<std::string, std::map<std::string, std::vector<Run>>> runs_;
  std::map<std::string, uint64_t> epochs_;
};

} // namespace weir::rollout
