#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace weir {

// "2026-11-26T08:02:41.216Z": UTC with milliseconds, as logs, the access log and the control
// socket print time. Writes at most 24 bytes plus a NUL into `out` (give it 32); returns the
// length. No allocation, so a worker may call it.
size_t format_utc(std::chrono::system_clock::time_point t, char* out);
std::string utc_now();

// format_utc for a caller that formats many times a second (a worker's access log lines): the
// date and time of day are formatted once per second and kept, only the milliseconds per call.
// Same output as format_utc. One thread at a time.
class UtcFormatter {
public:
  size_t format(std::chrono::system_clock::time_point t, char* out);

private:
  long long second_ = -1; // the second prefix_ holds, -1 before the first call
  char prefix_[32] = {};  // "2026-11-26T08:02:41."
  size_t prefix_len_ = 0;
};

// Where the control plane's time-driven decisions (rollout steps, analysis intervals, ejection
// ends, health check rounds, metric samples) read the time. A seam so that their cases are unit
// tests with a ManualClock instead of real-time waits; the timers that wake the code up stay
// asio timers, and only ask "what is due now?" of code that reads this clock. The data plane
// reads std::chrono directly (no virtual call per request).
class Clock {
public:
  using Steady = std::chrono::steady_clock;
  using Wall = std::chrono::system_clock;

  virtual ~Clock() = default;
  // Monotonic time: deadlines and intervals.
  virtual Steady::time_point now() const = 0;
  // Calendar time: what is saved across restarts and printed in events.
  virtual Wall::time_point wall_now() const = 0;

  // The process's real clock (steady_clock and system_clock). Thread-safe.
  static Clock& system();
};

// A clock that moves only when told: both times advance together, as real time does. For tests;
// one thread at a time.
class ManualClock final : public Clock {
public:
  ManualClock()
      : now_(Steady::time_point{} + std::chrono::hours(1000)),
        wall_(Wall::time_point{} + std::chrono::hours(500'000)) {}
  Steady::time_point now() const override { return now_; }
  Wall::time_point wall_now() const override { return wall_; }
  void advance(Steady::duration d) {
    now_ += d;
    wall_ += std::chrono::duration_cast<Wall::duration>(d);
  }
  // Moves forward to `t` (never back: monotonic time does not go back).
  void advance_to(Steady::time_point t) {
    if (t > now_) advance(t - now_);
  }
  // A process restarted: monotonic time starts from another origin, wall time goes on.
  void restart_monotonic(Steady::time_point origin) { now_ = origin; }

private:
  Steady::time_point now_;
  Wall::time_point wall_;
};

} // namespace weir
