#include "weir/runtime/access_line.h"

#include "weir/base/json.h"

#include <charconv>

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
  // Integers only (printf's %.3f of a double cost 40 % of the line): microseconds rounded as
  // %.3f of the milliseconds would round them.
  char num[24];
  auto number = [&](uint64_t v) {
    out.append(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, v).ptr - num));
  };
  out.append(",\"status\":");
  out.append(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, l.status).ptr - num));
  out.append(",\"bytes_in\":");
  number(l.bytes_in);
  out.append(",\"bytes_out\":");
  number(l.bytes_out);
  out.append(",\"duration_ms\":");
  uint64_t us = (l.duration_ns + 500) / 1000;
  number(us / 1000);
  char frac[4] = {'.', static_cast<char>('0' + us % 1000 / 100),
                  static_cast<char>('0' + us % 100 / 10), static_cast<char>('0' + us % 10)};
  out.append(frac, 4);
  if (l.tls) {
    out.append(",\"tls_version\":");
    json::escape_to(out, l.tls_version);
    out.append(",\"sni\":");
    if (l.sni.empty())
      out.append("null");
    else
      json::escape_to(out, l.sni);
  }
  out.append("}\n");
}

} // namespace weir::runtime
