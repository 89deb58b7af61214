#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace weir::http {

// Case-insensitive ASCII comparison for header names and tokens.
bool iequals(std::string_view a, std::string_view b);

struct Header {
  std::string_view name;
  std::string_view value; // optional whitespace trimmed
};

// How a message body is delimited on the wire, as parsed.
enum class Framing : uint8_t { none, length, chunked, until_close };

// A parsed request or response head. Every view points into the connection's read buffer,
// which stays in place until the message's head has been forwarded.
struct Head {
  // Request only.
  uint8_t method = 0; // llhttp method number; see method_name
  std::string_view method_name;
  std::string_view target;
  // Response only.
  int status = 0;
  std::string_view reason;

  uint8_t version_minor = 1; // HTTP/1.<minor>
  std::vector<Header> headers;
  Framing framing = Framing::none;
  uint64_t content_length = 0;
  bool keep_alive = true; // what the peer asked for (Connection header and version)
  bool upgrade = false;   // Upgrade requested (request) or 101 Switching Protocols (response)
  bool expect_continue = false;
  std::string_view host; // the Host header's value
  // Request only, set by the parser once the head is valid: the authority the request is routed
  // on (an absolute-form target's, else Host's) and the path with query to forward (origin-form).
  std::string_view authority;
  std::string_view path;
  bool absolute_form = false; // forwarded with Host rewritten to `authority`
  uint32_t wire_size = 0;     // bytes of the head on the wire, CRLFs included

  const Header* find(std::string_view name) const;
  void clear();
};

} // namespace weir::http
