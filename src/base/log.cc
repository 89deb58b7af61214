#include "weir/base/log.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

namespace weir::log {

void write(Level level, std::string_view message) {
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  auto now = std::chrono::system_clock::now();
  std::time_t secs = std::chrono::system_clock::to_time_t(now);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string line;
  line.reserve(message.size() + 48);
  line.append(stamp).append(".");
  char frac[8];
  std::snprintf(frac, sizeof frac, "%03dZ ", static_cast<int>(ms));
  line.append(frac).append(kNames[static_cast<int>(level)]).append(" ").append(message);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace weir::log
