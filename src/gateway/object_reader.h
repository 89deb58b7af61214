#pragma once

#include "weir/gateway/translate.h"

#include <optional>
#include <string_view>
#include <vector>

// Helpers of the gateway module shared between its files; not part of its interface.
namespace weir::gateway {

// A Gateway API duration (GEP-2257): "10s", "500ms", "1h30m"; nullopt when malformed.
std::optional<config::Duration> parse_duration_text(std::string_view text);

// Moves the problems that only say a document was ignored (another kind) into `notes`.
void split_notes(std::vector<Problem>& found, std::vector<Problem>& problems,
                 std::vector<Problem>& notes);

} // namespace weir::gateway
