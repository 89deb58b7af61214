#include "weir/base/clock.h"

#include <cstdio>
#include <ctime>

namespace weir {

size_t format_utc(std::chrono::system_clock::time_point t, char* out) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  size_t n = std::strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  int ms = static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000);
  int extra = std::snprintf(out + n, 32 - n, ".%03dZ", ms);
  return n + static_cast<size_t>(extra);
}

namespace {
class SystemClock final : public Clock {
public:
  Steady::time_point now() const override { return Steady::now(); }
  Wall::time_point wall_now() const override { return Wall::now(); }
};
} // namespace

Clock& Clock::system() {
  static SystemClock clock;
  return clock;
}

std::string utc_now() {
  char buf[32];
  size_t n = format_utc(std::chrono::system_clock::now(), buf);
  return std::string(buf, n);
}

} // namespace weir
