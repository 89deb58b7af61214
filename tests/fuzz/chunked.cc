// Fuzz target `chunked`: only the chunked body framing of a request (the head is fixed and
// prepended; the first input byte picks the splits). Whenever the parser completes the message,
// an independent strict de-chunker must agree on where it ended and on every body byte: a
// disagreement is a body weir reads differently from a careful upstream (request smuggling).

#include "fuzz_target.h"
#include "http_driver.h"

#include <optional>

namespace {

using namespace weir;

constexpr std::string_view kHead = "POST /upload HTTP/1.1\r\n"
                                   "Host: a.test\r\n"
                                   "Transfer-Encoding: chunked\r\n"
                                   "\r\n";

struct Dechunked {
  std::string body;
  size_t end = 0; // offset just past the trailer section's empty line
};

bool hex_digit(char c, uint64_t& v) {
  if (c >= '0' && c <= '9')
    v = static_cast<uint64_t>(c - '0');
  else if (c >= 'a' && c <= 'f')
    v = static_cast<uint64_t>(c - 'a' + 10);
  else if (c >= 'A' && c <= 'F')
    v = static_cast<uint64_t>(c - 'A' + 10);
  else
    return false;
  return true;
}

// RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk = 1*"0"
// [ chunk-ext ] CRLF; then trailer fields and CRLF. Extensions and trailer lines are skipped
// up to their CRLF (their syntax is not what frames the body); a CR or LF inside them, a size
// that overflows 64 bits or data not followed by CRLF means the framing is broken.
std::optional<Dechunked> dechunk(std::string_view s, size_t at) {
  Dechunked d;
  auto line_end = [&](size_t from) -> std::optional<size_t> {
    for (size_t i = from; i < s.size(); ++i) {
      if (s[i] == '\n') return std::nullopt; // bare LF
      if (s[i] == '\r') {
        if (i + 1 < s.size() && s[i + 1] == '\n') return i + 2;
        return std::nullopt;
      }
    }
    return std::nullopt;
  };
  for (;;) {
    uint64_t size = 0, digit = 0;
    size_t digits = 0;
    while (at < s.size() && hex_digit(s[at], digit)) {
      if (size >> 60) return std::nullopt; // would overflow
      size = size * 16 + digit;
      ++at, ++digits;
    }
    if (digits == 0) return std::nullopt;
    auto next = line_end(at);
    if (!next) return std::nullopt;
    at = *next;
    if (size == 0) break;
    if (s.size() - at < size || s.size() - at - size < 2) return std::nullopt;
    d.body.append(s.substr(at, size));
    at += size;
    if (s.substr(at, 2) != "\r\n") return std::nullopt;
    at += 2;
  }
  for (;;) { // trailer section
    if (s.substr(at, 2) == "\r\n") {
      d.end = at + 2;
      return d;
    }
    auto next = line_end(at);
    if (!next) return std::nullopt;
    at = *next;
  }
}

} // namespace

WEIR_FUZZ_TARGET(chunked) {
  if (size < 1) return 0;
  std::string wire(kHead);
  wire.append(reinterpret_cast<const char*>(data) + 1, size - 1);

  fuzz::DriveOptions o;
  o.kind = http::Parser::Kind::request;
  o.split_seed = data[0];
  fuzz::Trace t = fuzz::drive(wire, o);
  WEIR_FUZZ_CHECK(!t.messages.empty()); // the head is valid
  const fuzz::MessageTrace& m = t.messages[0];
  WEIR_FUZZ_CHECK(m.head.framing == http::Framing::chunked);
  WEIR_FUZZ_CHECK(m.body.size() <= size - 1);
  if (!m.done) return 0;
  std::optional<Dechunked> ref = dechunk(wire, kHead.size());
  WEIR_FUZZ_CHECK(ref.has_value());
  WEIR_FUZZ_CHECK(m.end == ref->end);
  WEIR_FUZZ_CHECK(m.body.size() == ref->body.size());
  WEIR_FUZZ_CHECK(m.body == ref->body);
  return 0;
}
