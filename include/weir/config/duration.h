#pragma once

#include "weir/config/config.h"

#include <optional>
#include <string>
#include <string_view>

namespace weir::config {

// Parses an integer followed by a unit: ms, s, m or h ("500ms", "10s", "2m", "1h"). The unit is
// required so a bare "30" can never be mistaken for seconds. nullopt on any other text or on
// overflow. Pure function; any thread.
std::optional<Duration> parse_duration(std::string_view text);

// The inverse of parse_duration, using the largest unit that divides evenly ("1500ms", "2m").
std::string format_duration(Duration d);

} // namespace weir::config
