#include "weir/runtime/access_line.h"

#include "weir/base/json.h"

#include <cstdio>

namespace weir::runtime {

void append_access_line(const AccessLine& l, std::string& out) {
  out.append("{\"time\":\"").append(l.time).append("\",\"route\":");
  if (l.routed) {
    json::escape_to(out, l.route);
    if (l.has_backend) {
      out.append(",\"backend\":");
      json::escape_to(out, l.backend);
      out.append(",\"endpoint\":");
      json::escape_to(out, l.endpoint);
    } else {
      out.append(",\"backend\":null,\"endpoint\":null");
    }
  } else {
    out.append("null,\"backend\":null,\"endpoint\":null");
  }
  out.append(",\"method\":");
  json::escape_to(out, l.method);
  out.append(",\"path\":");
  json::escape_to(out, l.target);
  char num[96];
  std::snprintf(num, sizeof num,
                ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f}\n",
                l.status, static_cast<unsigned long long>(l.bytes_in),
                static_cast<unsigned long long>(l.bytes_out), l.duration_ms);
  out.append(num);
}

} // namespace weir::runtime
