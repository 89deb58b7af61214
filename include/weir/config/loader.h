#pragma once

#include "weir/config/config.h"

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace weir::config {

// One problem found in a config, positioned in its source.
struct ConfigError {
  std::string file;     // as given to the loader
  int line = 0;         // 1-based; 0 when unknown (e.g. missing file)
  int column = 0;       // 1-based
  std::string key_path; // e.g. "routes[0].backends[1].weight"; "" for whole-file problems
  std::string message;
  // "FILE:LINE:COL: key.path: message" (position / key parts omitted when unknown).
  std::string format() const;
};

// Either a complete, validated Config or every error found (never a partial config).
using LoadResult = std::variant<Config, std::vector<ConfigError>>;

// Parses and validates. yaml-cpp exceptions never escape. Thread-safe (no shared state).
LoadResult load_file(const std::string& path);
LoadResult load_string(std::string_view yaml, const std::string& file_name);

// One formatted error per line, each ending in '\n', in the order given (the loaders return
// them sorted by position).
std::string format_errors(const std::vector<ConfigError>& errors);

} // namespace weir::config
