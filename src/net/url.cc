#include "weir/net/url.h"

#include <algorithm>
#include <arpa/inet.h>
#include <netinet/in.h>

namespace weir::net {
namespace {

constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxLabelLength = 63;

Error fail(std::string message) {
  return Error{ErrorSource::config, std::move(message)};
}

char lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool is_label_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

// RFC 1123 host name: dot-separated labels of letters, digits and '-', no label starting or
// ending with '-'. A trailing dot (fully qualified) is allowed.
bool is_dns_name(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  if (host.back() == '.') host.remove_suffix(1);
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    std::string_view label = host.substr(start, dot - start);
    if (label.empty() || label.size() > kMaxLabelLength || label.front() == '-' ||
        label.back() == '-' || !std::all_of(label.begin(), label.end(), is_label_char))
      return false;
    start = dot + 1;
  }
  return true;
}

bool is_ipv4(const std::string& host) {
  in_addr a{};
  return inet_pton(AF_INET, host.c_str(), &a) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr a{};
  return inet_pton(AF_INET6, host.c_str(), &a) == 1;
}

} // namespace

std::string Url::authority() const {
  // Built by appending: GCC 12 reports a false -Wstringop-overflow for "[" + host + "]".
  const bool v6 = host.find(':') != std::string::npos;
  std::string out;
  out.reserve(host.size() + 8);
  if (v6) out.push_back('[');
  out.append(host);
  if (v6) out.push_back(']');
  if (port != (tls ? 443 : 80)) {
    out.push_back(':');
    out.append(std::to_string(port));
  }
  return out;
}

std::string Url::text() const {
  return (tls ? "https://" : "http://") + authority() + target;
}

Result<Url> parse_url(std::string_view text) {
  Url url;
  std::string_view rest;
  std::string scheme;
  const size_t sep = text.find("://");
  if (sep != std::string_view::npos) {
    for (char c : text.substr(0, sep))
      scheme.push_back(lower(c));
  }
  if (scheme == "http") {
    url.tls = false;
  } else if (scheme == "https") {
    url.tls = true;
  } else {
    return fail("expected an http:// or https:// URL like http://127.0.0.1:9000/hook, got \"" +
                std::string(text) + "\"");
  }
  rest = text.substr(sep + 3);
  const size_t end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, end);
  std::string_view target = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (authority.find('@') != std::string_view::npos)
    return fail("user info (\"user@\") is not supported in a URL; put credentials elsewhere");
  if (target.find('#') != std::string_view::npos)
    return fail("a URL must not have a fragment (\"#...\")");
  if (std::any_of(target.begin(), target.end(), [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return u <= 0x20 || u >= 0x7f;
      }))
    return fail("the path must not contain spaces, control characters or non-ASCII bytes");

  std::string_view host;
  std::string_view port;
  bool bracketed = false;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("missing \"]\" after an IPv6 address");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return fail("expected \":port\" after \"]\"");
      port = after.substr(1);
      if (port.empty()) return fail("empty port after \":\"");
    }
    bracketed = true;
  } else {
    const size_t colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return fail("empty port after \":\"");
    }
    if (host.find(':') != std::string_view::npos)
      return fail("an IPv6 address must be in brackets, e.g. http://[::1]:9000/");
  }
  if (host.empty()) return fail("the URL has no host");

  for (char c : host)
    url.host.push_back(lower(c));
  if (bracketed) {
    if (!is_ipv6(url.host))
      return fail("\"" + std::string(host) + "\" in brackets is not an IPv6 address");
    url.numeric = true;
  } else if (is_ipv4(url.host)) {
    url.numeric = true;
  } else if (std::all_of(url.host.begin(), url.host.end(),
                         [](char c) { return (c >= '0' && c <= '9') || c == '.'; })) {
    return fail("\"" + std::string(host) + "\" is not a valid IPv4 address");
  } else if (!is_dns_name(url.host)) {
    return fail("\"" + std::string(host) +
                "\" is not a valid host name (letters, digits, \"-\" and \".\")");
  }

  if (port.empty()) {
    url.port = url.tls ? 443 : 80;
  } else {
    uint32_t value = 0;
    for (char c : port) {
      if (c < '0' || c > '9')
        return fail("the port must be a number, got \"" + std::string(port) + "\"");
      value = value * 10 + static_cast<uint32_t>(c - '0');
      if (value > 65535) break;
    }
    if (value == 0 || value > 65535)
      return fail("the port must be between 1 and 65535, got " + std::string(port));
    url.port = static_cast<uint16_t>(value);
  }

  if (target.empty()) {
    url.target = "/";
  } else if (target.front() == '?') {
    url.target = "/" + std::string(target);
  } else {
    url.target = std::string(target);
  }
  return url;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

} // namespace weir::net
