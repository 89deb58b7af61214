#include "limits_reader.h"

namespace weir::config::yaml {

void read_limits(Checker& c, const Item& item, Limits& limits) {
  if (!c.expect_map(item)) return;
  Fields f(c, item,
           {"max_request_head_bytes", "max_request_line_bytes", "max_headers",
            "max_response_head_bytes", "buffer_bytes", "client_header_timeout",
            "client_body_timeout", "request_timeout", "max_client_connections",
            "max_upstream_connections", "queue_timeout", "max_access_log_queue_bytes",
            "max_admin_connections", "admin_idle_timeout", "tls_handshake_timeout"});
  bool head_ok = true;
  if (auto i = f.get("max_request_head_bytes")) {
    if (auto v = c.integer(*i, kMinHeadBytes, kMaxHeadBytes)) {
      limits.max_request_head_bytes = *v;
    } else {
      head_ok = false;
    }
  }
  if (auto i = f.get("max_request_line_bytes")) {
    if (auto v = c.integer(*i, 1, kMaxHeadBytes)) {
      limits.max_request_line_bytes = *v;
      if (head_ok && *v > limits.max_request_head_bytes) {
        c.fail(*i, "must not exceed max_request_head_bytes (" +
                       std::to_string(limits.max_request_head_bytes) + "), got " +
                       std::to_string(*v));
      }
    }
  } else if (head_ok && limits.max_request_line_bytes > limits.max_request_head_bytes) {
    // Only the head limit was lowered: keep the line limit inside it.
    limits.max_request_line_bytes = limits.max_request_head_bytes;
  }
  if (auto i = f.get("max_headers")) {
    if (auto v = c.integer(*i, 1, kMaxHeaders)) limits.max_headers = *v;
  }
  if (auto i = f.get("max_response_head_bytes")) {
    if (auto v = c.integer(*i, kMinHeadBytes, kMaxHeadBytes)) limits.max_response_head_bytes = *v;
  }
  if (auto i = f.get("buffer_bytes")) {
    if (auto v = c.integer(*i, kMinBufferBytes, kMaxHeadBytes)) limits.buffer_bytes = *v;
  }
  if (auto i = f.get("client_header_timeout")) {
    if (auto v = c.duration(*i, true)) limits.client_header_timeout = *v;
  }
  if (auto i = f.get("client_body_timeout")) {
    if (auto v = c.duration(*i, true)) limits.client_body_timeout = *v;
  }
  if (auto i = f.get("request_timeout")) {
    if (auto v = c.duration(*i, true)) limits.request_timeout = *v;
  }
  if (auto i = f.get("max_client_connections")) {
    if (auto v = c.integer(*i, 1, 1000000)) limits.max_client_connections = *v;
  }
  if (auto i = f.get("max_upstream_connections")) {
    if (auto v = c.integer(*i, 1, 1000000)) limits.max_upstream_connections = *v;
  }
  if (auto i = f.get("queue_timeout")) {
    if (auto v = c.duration(*i, true)) limits.queue_timeout = *v;
  }
  if (auto i = f.get("max_access_log_queue_bytes")) {
    if (auto v = c.integer(*i, 4096, 1u << 30)) limits.max_access_log_queue_bytes = *v;
  }
  if (auto i = f.get("max_admin_connections")) {
    if (auto v = c.integer(*i, 1, 100000)) limits.max_admin_connections = *v;
  }
  if (auto i = f.get("admin_idle_timeout")) {
    if (auto v = c.duration(*i, true)) limits.admin_idle_timeout = *v;
  }
  if (auto i = f.get("tls_handshake_timeout")) {
    if (auto v = c.duration(*i, true)) limits.tls_handshake_timeout = *v;
  }
}

} // namespace weir::config::yaml
