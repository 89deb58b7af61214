#pragma once

#include "weir/base/json.h"
#include "weir/metrics/aggregator.h"

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weir::control {

// The weights each route's backends had over the last minutes, as changes: what the
// dashboard's charts draw as a weight line and as markers where it moved. The snapshot is
// looked at once a second (record()); only a change is kept. Control thread only.
class WeightHistory {
public:
  using Weights = std::vector<std::pair<std::string, uint32_t>>; // service → weight, in order
  static constexpr int64_t kKeepMs = 6 * 60 * 1000;

  // The weights of `route` at wall time `at_ms` (ms since the epoch).
  void record(const std::string& route, const Weights& weights, int64_t at_ms);
  // Routes not in `routes` are forgotten (a reload removed them).
  void keep_only(const std::vector<std::string>& routes);
  // The weight `service` had on `route` at `at_ms`; nullopt when not known then.
  std::optional<uint32_t> at(const std::string& route, const std::string& service,
                             int64_t at_ms) const;
  size_t changes(const std::string& route) const;

private:
  struct Change {
    int64_t at_ms;
    Weights weights;
  };
  std::map<std::string, std::deque<Change>> routes_;
};

// A route's chart data as state.json carries it: `points` one-second points ending at `end_ms`,
// oldest first, per backend the requests/s, error rate and p99 of the 5 s ending at each point
// (before the one-second history starts, the 10 s span that holds it), and its weight; null
// where nothing is known (the error rate and p99 of a window without requests too).
//   {"step_ms":1000,"end_ms":…,"points":300,"backends":{"ns/svc":{"rps":[…],"error_rate":[…],
//    "p99_ms":[…],"weight":[…]}}}
// `steady_now`/`wall_now_ms` map the aggregator's time points onto the wall clock.
void write_series(json::Writer& w, const std::string& route,
                  const std::vector<std::string>& services, const metrics::Aggregator& aggregator,
                  const WeightHistory& weights, metrics::Aggregator::Clock::time_point steady_now,
                  int64_t wall_now_ms, size_t points = 300);

} // namespace weir::control
