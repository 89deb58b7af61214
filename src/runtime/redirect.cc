#include "weir/runtime/redirect.h"

#include "weir/http/path_modifier.h"

#include <algorithm>
#include <charconv>

namespace weir::runtime {

namespace {

uint16_t default_port(std::string_view scheme) {
  return scheme == "https" ? 443 : 80;
}

// Splits "host:port" / "[v6]:port" / "host"; false when the host holds anything a Location
// cannot carry unescaped or the port is no port.
bool split_authority(std::string_view authority, std::string_view& host, uint16_t& port) {
  port = 0;
  std::string_view port_text;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(0, close + 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '[' || c == ']' || c == ':';
      }))
    return false;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 ||
        value > 65535)
      return false;
    port = static_cast<uint16_t>(value);
  }
  return true;
}

} // namespace

bool append_redirect_location(const config::Redirect& redirect, const RedirectRequest& request,
                              std::string& out) {
  std::string_view request_host;
  uint16_t request_port = 0;
  const bool usable = split_authority(request.authority, request_host, request_port);
  if (redirect.hostname.empty() && !usable) return false;
  const std::string_view scheme = !redirect.scheme.empty()
                                      ? std::string_view(redirect.scheme)
                                      : (request.https ? std::string_view("https") : "http");
  uint16_t port = redirect.port;
  if (port == 0) port = !redirect.scheme.empty() ? default_port(scheme) : request_port;
  out.append("Location: ").append(scheme).append("://");
  out.append(redirect.hostname.empty() ? request_host : std::string_view(redirect.hostname));
  if (port != 0 && port != default_port(scheme)) {
    char digits[8];
    auto r = std::to_chars(digits, digits + sizeof digits, port);
    out.push_back(':');
    out.append(digits, r.ptr);
  }
  http::append_modified_path(out, request.target, redirect.path, request.prefix_length);
  out.append("\r\n");
  return true;
}

} // namespace weir::runtime
