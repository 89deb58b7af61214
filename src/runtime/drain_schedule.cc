#include "weir/runtime/drain_schedule.h"

#include <algorithm>

namespace weir::runtime {

DrainSchedule::DrainSchedule(Clock::time_point start, Clock::duration delay, Clock::duration over,
                             size_t count, double phase)
    : first_(start + std::max(delay, Clock::duration::zero())),
      over_(std::max(over, Clock::duration::zero())), count_(count),
      phase_(std::clamp(phase, 0.0, 1.0)) {}

DrainSchedule::Clock::time_point DrainSchedule::at(size_t k) const {
  if (count_ == 0 || over_ == Clock::duration::zero()) return first_;
  const double share = (static_cast<double>(k) + phase_) / static_cast<double>(count_);
  return first_ +
         std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double, Clock::period>(
             static_cast<double>(over_.count()) * std::min(share, 1.0)));
}

size_t DrainSchedule::due(Clock::time_point now) const {
  // The slots' times never decrease: the first slot not due yet, by bisection over at() itself,
  // so due() and at() never disagree by a rounding.
  size_t lo = 0, hi = count_;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (at(mid) <= now)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

} // namespace weir::runtime
