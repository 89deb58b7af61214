#pragma once

#include <string>

namespace weir {

// The running binary's GNU build id (the linker's hash of its contents, as `file` and
// `readelf -n` show it), in hex: two builds of other sources differ, so an operator sees which
// binary runs after an upgrade. "unknown" when the binary carries none.
const std::string& build_id();

} // namespace weir
