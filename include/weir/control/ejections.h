#pragma once

#include "weir/base/clock.h"
#include "weir/config/config.h"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace weir::control {

// Passive outlier ejection as decisions over a time the caller gives: which endpoints are out
// and until when, the growing ejection time (base_ejection_time × the endpoint's ejections so
// far) and the max_ejection_percent cap. The controller feeds it workers' outlier reports, wakes
// it at next_end() with a timer, and publishes a snapshot whenever the set changed. Control
// thread only.
class Ejections {
public:
  using TimePoint = Clock::Steady::time_point;

  struct Entry {
    TimePoint until;
    uint32_t count = 0; // ejections so far; each lasts base_ejection_time × count
    bool active = false;
  };

  struct Outcome {
    bool ejected = false;                 // now out (false: out already, or refused)
    std::chrono::milliseconds duration{}; // of this ejection
    std::string refused;                  // why not, when the cap holds it back
  };

  // A worker saw `consecutive_failures` in a row from `endpoint` of `service`.
  Outcome eject(const config::Service& service, const std::string& endpoint, TimePoint now);
  // Ends every ejection whose time is over at `now`: the (service, endpoint)s back in rotation.
  std::vector<std::pair<std::string, std::string>> expire(TimePoint now);
  // When the next active ejection ends (nullopt: none active).
  std::optional<TimePoint> next_end() const;

  // nullptr when the endpoint was never ejected.
  const Entry* find(const std::string& service, const std::string& endpoint) const;
  bool ejected(const std::string& service, const std::string& endpoint) const;
  uint64_t total() const { return total_; }

private:
  std::map<std::string, Entry> entries_; // "service|endpoint"
  uint64_t total_ = 0;
};

} // namespace weir::control
