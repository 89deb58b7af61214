#pragma once

#include <string_view>

namespace weir::log {

enum class Level { debug, info, warn, error };

// Writes one line to stderr with a timestamp and level. Control thread and start-up only:
// workers never log on the request path (their access log goes through AccessLog).
void write(Level level, std::string_view message);
inline void info(std::string_view m) {
  write(Level::info, m);
}
inline void warn(std::string_view m) {
  write(Level::warn, m);
}
inline void error(std::string_view m) {
  write(Level::error, m);
}

} // namespace weir::log
