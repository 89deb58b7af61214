#pragma once

// Drives weir::http::Parser over one received byte stream the way a connection does: the bytes
// arrive in pieces (sizes drawn from a seed), consumed bytes stay in place, every event is
// handled (head, body, done, then reset for the next pipelined message) and finish() runs when
// the stream ends. Checks the parser's contract on every call and records what it reported, so
// that runs over different splits of the same bytes can be compared.

#include "fuzz_target.h"
#include "weir/http/parser.h"

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::fuzz {

// Sizes of the pieces a stream arrives in. Seed 0: all of it at once.
class Splitter {
public:
  explicit Splitter(uint8_t seed) : max_(seed), state_(0x9e3779b9u ^ (seed * 2654435761u)) {}

  size_t next(size_t rest) {
    if (max_ == 0) return rest;
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    size_t n = 1 + state_ % max_;
    return n < rest ? n : rest;
  }

private:
  uint32_t max_;
  uint32_t state_;
};

// An owned copy of a head: the runs being compared no longer share views.
struct HeadCopy {
  std::string method_name, target, reason, host;
  int status = 0;
  uint8_t version_minor = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  http::Framing framing = http::Framing::none;
  uint64_t content_length = 0;
  bool keep_alive = false, upgrade = false, expect_continue = false;
  uint32_t wire_size = 0;

  bool operator==(const HeadCopy&) const = default;

  static HeadCopy of(const http::Head& h) {
    HeadCopy c;
    c.method_name = std::string(h.method_name);
    c.target = std::string(h.target);
    c.reason = std::string(h.reason);
    c.host = std::string(h.host);
    c.status = h.status;
    c.version_minor = h.version_minor;
    for (const http::Header& x : h.headers)
      c.headers.emplace_back(std::string(x.name), std::string(x.value));
    c.framing = h.framing;
    c.content_length = h.content_length;
    c.keep_alive = h.keep_alive;
    c.upgrade = h.upgrade;
    c.expect_continue = h.expect_continue;
    c.wire_size = h.wire_size;
    return c;
  }
};

struct MessageTrace {
  HeadCopy head;
  std::string body; // de-chunked
  bool done = false;
  size_t end = 0; // stream offset just past the message, when done

  bool operator==(const MessageTrace&) const = default;
};

struct Trace {
  std::vector<MessageTrace> messages;
  bool error = false;
  http::ParseError error_kind = http::ParseError::none;

  // Where an error stops the stream depends on how much of it had arrived (a head over the
  // size limit is refused as soon as the limit is crossed, or as malformed if its end came
  // first), so only whether one happened is compared, not its kind. For the same reason a
  // message cut short by an error may have delivered more of its body when its bytes arrived
  // in pieces (they were passed on before the bad framing after them came in): one body must
  // be a prefix of the other.
  bool same_outcome(const Trace& other) const {
    if (error != other.error || messages.size() != other.messages.size()) return false;
    for (size_t i = 0; i < messages.size(); ++i) {
      const MessageTrace& a = messages[i];
      const MessageTrace& b = other.messages[i];
      if (a.done || b.done || i + 1 < messages.size()) {
        if (!(a == b)) return false;
        continue;
      }
      if (!(a.head == b.head)) return false;
      const std::string& shorter = a.body.size() < b.body.size() ? a.body : b.body;
      const std::string& longer = a.body.size() < b.body.size() ? b.body : a.body;
      if (longer.compare(0, shorter.size(), shorter) != 0) return false;
    }
    return true;
  }
};

inline bool inside(std::string_view part, std::string_view whole) {
  return part.empty() ||
         (part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size());
}

// The rewritten head a proxy sends on: CRLF-terminated lines without other control bytes
// (HTAB aside), ending in the one empty line that ends the head.
inline void check_head_text(std::string_view out) {
  WEIR_FUZZ_CHECK(out.size() >= 4 && out.substr(out.size() - 4) == "\r\n\r\n");
  WEIR_FUZZ_CHECK(out.find("\r\n\r\n") == out.size() - 4);
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(out[i]);
    if (c == '\r') {
      WEIR_FUZZ_CHECK(i + 1 < out.size() && out[i + 1] == '\n');
    } else if (c == '\n') {
      WEIR_FUZZ_CHECK(i > 0 && out[i - 1] == '\r');
    } else {
      WEIR_FUZZ_CHECK(c >= 0x20 || c == '\t');
      WEIR_FUZZ_CHECK(c != 0x7f);
    }
  }
}

// Called once per head event, with the message's index on the connection.
using HeadHook = std::function<void(const http::Head& head, size_t index)>;

struct DriveOptions {
  http::Parser::Kind kind = http::Parser::Kind::request;
  uint8_t split_seed = 0;
  // Responses: bit i set says message i answers a HEAD request (reset(true)).
  uint32_t head_mask = 0;
  HeadHook on_head;
};

inline Trace drive(std::string_view wire, const DriveOptions& o) {
  using Event = http::Parser::Event;
  const bool response = o.kind == http::Parser::Kind::response;
  auto answers_head = [&](size_t index) {
    return response && index < 32 && ((o.head_mask >> index) & 1) != 0;
  };

  http::Parser parser(o.kind, http::ParserLimits{});
  parser.reset(answers_head(0));
  Splitter split(o.split_seed);
  Trace t;
  MessageTrace* current = nullptr;
  size_t pos = 0;      // consumed
  size_t received = 0; // [0, received) has arrived
  size_t body_total = 0;
  int idle_calls = 0;

  // A message ends: its body must be what its framing said.
  auto complete = [&](size_t end) {
    WEIR_FUZZ_CHECK(current != nullptr);
    current->done = true;
    current->end = end;
    const HeadCopy& h = current->head;
    bool bodiless = response && (answers_head(t.messages.size() - 1) || h.status < 200 ||
                                 h.status == 204 || h.status == 304);
    if (bodiless || h.framing == http::Framing::none) WEIR_FUZZ_CHECK(current->body.empty());
    if (!bodiless && h.framing == http::Framing::length)
      WEIR_FUZZ_CHECK(current->body.size() == h.content_length);
    if (!response) WEIR_FUZZ_CHECK(h.framing != http::Framing::until_close);
    current = nullptr;
  };

  for (;;) {
    if (pos == received) {
      if (received == wire.size()) break;
      received += split.next(wire.size() - received);
    }
    const char* at = wire.data() + pos;
    const size_t len = received - pos;
    size_t consumed = len + 1;
    Event ev = parser.execute(at, len, consumed);
    WEIR_FUZZ_CHECK(consumed <= len);
    std::string_view fed(at, consumed);
    for (std::string_view piece : parser.body()) {
      WEIR_FUZZ_CHECK(inside(piece, fed));
      WEIR_FUZZ_CHECK(current != nullptr);
      current->body.append(piece);
      body_total += piece.size();
    }
    WEIR_FUZZ_CHECK(parser.body_bytes() <= consumed);
    pos += consumed;
    WEIR_FUZZ_CHECK(body_total <= pos);
    // Events that consume nothing must not repeat: a caller that calls again would spin.
    idle_calls = consumed == 0 ? idle_calls + 1 : 0;
    WEIR_FUZZ_CHECK(idle_calls < 3);

    switch (ev) {
    case Event::need_more:
      WEIR_FUZZ_CHECK(consumed == len);
      WEIR_FUZZ_CHECK(parser.body().empty());
      break;
    case Event::head: {
      WEIR_FUZZ_CHECK(current == nullptr);
      WEIR_FUZZ_CHECK(!parser.in_head());
      const http::Head& h = parser.head();
      std::string_view seen = wire.substr(0, pos);
      WEIR_FUZZ_CHECK(inside(h.method_name, seen) && inside(h.target, seen));
      WEIR_FUZZ_CHECK(inside(h.reason, seen) && inside(h.host, seen));
      for (const http::Header& x : h.headers)
        WEIR_FUZZ_CHECK(inside(x.name, seen) && inside(x.value, seen) && !x.name.empty());
      WEIR_FUZZ_CHECK(h.wire_size > 0 && h.wire_size <= pos);
      if (!response) WEIR_FUZZ_CHECK(!h.method_name.empty() && !h.target.empty());
      if (response) WEIR_FUZZ_CHECK(h.status >= 100 && h.status <= 999);
      WEIR_FUZZ_CHECK(h.version_minor <= 1);
      t.messages.push_back({HeadCopy::of(h), {}, false, 0});
      current = &t.messages.back();
      if (o.on_head) o.on_head(h, t.messages.size() - 1);
      break;
    }
    case Event::body:
      WEIR_FUZZ_CHECK(current != nullptr);
      WEIR_FUZZ_CHECK(!parser.body().empty());
      break;
    case Event::done:
      complete(pos);
      parser.reset(answers_head(t.messages.size()));
      break;
    case Event::error:
      WEIR_FUZZ_CHECK(parser.error() != http::ParseError::none);
      WEIR_FUZZ_CHECK(consumed == 0 && parser.body().empty());
      t.error = true;
      t.error_kind = parser.error();
      return t;
    }
  }

  Event ev = parser.finish();
  WEIR_FUZZ_CHECK(parser.body().empty());
  if (ev == Event::done) {
    complete(pos);
  } else if (ev == Event::error) {
    WEIR_FUZZ_CHECK(parser.error() != http::ParseError::none);
    t.error = true;
    t.error_kind = parser.error();
  } else {
    // Nothing of a next message arrived.
    WEIR_FUZZ_CHECK(ev == Event::need_more && current == nullptr);
  }
  return t;
}

} // namespace weir::fuzz
