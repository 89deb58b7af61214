#include "weir/base/clock.h"

#include <cstdio>
#include <cstring>
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

size_t UtcFormatter::format(std::chrono::system_clock::time_point t, char* out) {
  long long secs = static_cast<long long>(std::chrono::system_clock::to_time_t(t));
  long long ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  if (secs != second_ || ms < 0) {
    // A new second (or a time before 1970, which format_utc alone gets right).
    size_t n = format_utc(t, out);
    if (ms < 0) return n;
    second_ = secs;
    prefix_len_ = n - 4; // up to and with the '.' before "mmmZ"
    std::memcpy(prefix_, out, prefix_len_);
    return n;
  }
  std::memcpy(out, prefix_, prefix_len_);
  char* p = out + prefix_len_;
  p[0] = static_cast<char>('0' + ms / 100);
  p[1] = static_cast<char>('0' + ms / 10 % 10);
  p[2] = static_cast<char>('0' + ms % 10);
  p[3] = 'Z';
  p[4] = '\0';
  return prefix_len_ + 4;
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
