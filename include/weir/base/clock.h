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

} // namespace weir
