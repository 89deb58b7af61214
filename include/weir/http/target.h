#pragma once

#include <cstdint>
#include <string_view>

// What a request names: the request-target (RFC 9112 3.2) and the authority in Host or in an
// absolute-form target (RFC 9110 7.2). Pure functions over bytes from the network; nothing
// allocates, so the parser calls them on the worker's request path.
namespace weir::http {

// host [ ":" port ]: a DNS-style name (letters, digits, '-', '.', '_', '~'), an IPv4 address or a
// bracketed IPv6 literal; the port 1 to 5 digits, at most 65535. Anything else — userinfo
// ("a.test:1@evil.test"), spaces, commas, slashes, percent-escapes — is refused: a front proxy
// and weir would read such a host differently, which is how host confusion starts.
bool valid_authority(std::string_view authority);

struct Target {
  enum class Form : uint8_t { origin, absolute, asterisk };
  Form form = Form::origin;
  std::string_view authority; // absolute-form only
  // What to route on and forward: the path with its query. For absolute-form it may be empty
  // or start with '?' ("http://a.test?q"); forward it behind a '/' then.
  std::string_view path;
};

// Parses a request-target in origin-form ("/p?q"), absolute-form ("http://host/p?q", http or
// https) or asterisk-form ("*"). Only the bytes RFC 3986 allows in a path and query pass:
// unreserved, sub-delims, ':', '@', '/', '?', and "%HH"; '[' and ']' are let through in paths
// and queries as every browser sends them. CTLs, space, DEL, bytes 0x80-0xFF, '#', '"', '<',
// '>', '\\', '^', '`', '{', '|', '}' and a '%' without two hex digits are refused.
bool parse_target(std::string_view target, Target& out);

} // namespace weir::http
