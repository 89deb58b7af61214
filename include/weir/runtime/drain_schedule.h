#pragma once

#include <chrono>
#include <cstddef>

namespace weir::runtime {

// When each of a drain's tunnels closes: none before `delay`, then one after another spread
// evenly over `over` (all at once when it is 0). Tunnel k of `count` closes at
//   start + delay + over × (k + phase) / count,
// where `phase` (0 ≤ phase < 1) shifts one worker's slots against another's: each worker spreads
// its own tunnels, and with phase = worker index / workers the workers' slots interleave instead
// of closing in pairs. Pure: the worker's timer asks it what is due at the time it reads, and
// tests give it explicit times. Any thread.
class DrainSchedule {
public:
  using Clock = std::chrono::steady_clock;

  DrainSchedule() = default;
  DrainSchedule(Clock::time_point start, Clock::duration delay, Clock::duration over, size_t count,
                double phase = 0);

  size_t count() const { return count_; }
  // When tunnel k (< count) closes.
  Clock::time_point at(size_t k) const;
  // How many tunnels are due by `now` (the first due() ones, in slot order).
  size_t due(Clock::time_point now) const;

private:
  Clock::time_point first_; // start + delay
  Clock::duration over_{};
  size_t count_ = 0;
  double phase_ = 0;
};

} // namespace weir::runtime
