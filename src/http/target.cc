#include "weir/http/target.h"

#include "weir/http/scan.h"

#include <arpa/inet.h>
#include <cstring>

namespace weir::http {

namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// pchar (RFC 3986 3.3) or pct-encoded, plus '/' and '?' (path and query), plus '[' and ']'.
// Plain bytes are skipped many at a time (http/scan.h); each '%' is checked for its two digits.
bool valid_path(std::string_view path) {
  const char* p = path.data();
  const char* end = p + path.size();
  for (;;) {
    p = scan::find_non_path(p, end);
    if (p == end) return true;
    if (*p != '%' || end - p < 3 || !is_hex(p[1]) || !is_hex(p[2])) return false;
    p += 3;
  }
}

bool valid_port(std::string_view port) {
  if (port.empty() || port.size() > 5) return false;
  uint32_t n = 0;
  for (char c : port) {
    if (!is_digit(c)) return false;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  return n <= 65535;
}

bool valid_name(std::string_view host) {
  if (host.empty() || host.size() > 253 + 1) return false; // a trailing dot is allowed
  for (char c : host)
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '.' && c != '_' && c != '~') return false;
  return true;
}

bool valid_ipv6_literal(std::string_view literal) {
  // "[...]" with an address inet_pton accepts; zone ids ("%25eth0") are not for HTTP hosts.
  if (literal.size() < 4 || literal.size() > 47 || literal.front() != '[' || literal.back() != ']')
    return false;
  char buf[48];
  std::memcpy(buf, literal.data() + 1, literal.size() - 2);
  buf[literal.size() - 2] = '\0';
  unsigned char addr[16];
  return inet_pton(AF_INET6, buf, addr) == 1;
}

} // namespace

bool valid_authority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == std::string_view::npos) return false;
    std::string_view rest = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (!valid_port(port)) return false;
    }
    return valid_ipv6_literal(host);
  }
  size_t colon = host.find(':');
  if (colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (!valid_port(port)) return false;
  }
  return valid_name(host);
}

bool parse_target(std::string_view target, Target& out) {
  out = Target{};
  if (target.empty()) return false;
  if (target == "*") {
    out.form = Target::Form::asterisk;
    out.path = target;
    return true;
  }
  if (target.front() == '/') {
    out.form = Target::Form::origin;
    out.path = target;
    return valid_path(target);
  }
  // absolute-form: scheme "://" authority path-abempty [ "?" query ]
  size_t sep = target.find("://");
  if (sep == std::string_view::npos) return false;
  std::string_view scheme = target.substr(0, sep);
  auto lower_equals = [](std::string_view s, std::string_view lower) {
    if (s.size() != lower.size()) return false;
    for (size_t i = 0; i < s.size(); ++i) {
      char c = s[i];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      if (c != lower[i]) return false;
    }
    return true;
  };
  if (!lower_equals(scheme, "http") && !lower_equals(scheme, "https")) return false;
  std::string_view rest = target.substr(sep + 3);
  size_t end = rest.find_first_of("/?");
  out.form = Target::Form::absolute;
  out.authority = rest.substr(0, end);
  out.path = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  return valid_authority(out.authority) && valid_path(out.path);
}

} // namespace weir::http
