#include "weir/base/log.h"

#include "weir/base/clock.h"

#include <chrono>
#include <cstdio>
#include <string>

namespace weir::log {

void write(Level level, std::string_view message) {
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  char stamp[32];
  size_t n = format_utc(std::chrono::system_clock::now(), stamp);
  std::string line;
  line.reserve(message.size() + 48);
  line.append(stamp, n).append(" ");
  line.append(kNames[static_cast<int>(level)]).append(" ").append(message);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

} // namespace weir::log
