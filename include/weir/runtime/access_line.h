#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace weir::runtime {

// What one access log line says, and the JSON object that says it: a pure function, so the
// format is tested without a worker or a file. Any thread.
struct AccessLine {
  std::string_view time; // RFC 3339 UTC (base/clock.h format_utc)
  bool routed = false;   // false: "route", "backend" and "endpoint" are null
  std::string_view route;
  bool has_backend = false; // false: "backend" and "endpoint" are null
  std::string_view backend;
  std::string_view endpoint;
  std::string_view method;
  std::string_view target;
  int status = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t duration_ns = 0; // written in milliseconds with 3 decimals
  // A TLS connection's: "tls_version" and "sni" are written only then ("sni" null without one).
  bool tls = false;
  std::string_view tls_version;
  std::string_view sni;
};

// Appends the line, newline included, to `out`.
void append_access_line(const AccessLine& line, std::string& out);

} // namespace weir::runtime
