#pragma once

// Test harness for weir::http::Parser: simulates a connection's read buffer (one contiguous
// allocation that is appended to and never reallocated, consumed offsets tracked) and records
// what the parser reports, so that runs over different splits of the same bytes can be compared.

#include "weir/http/parser.h"

#include <cstring>
#include <gtest/gtest.h>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weir::http::test {

// llhttp method numbers (tests do not include llhttp.h; only the codec does).
inline constexpr uint8_t kDelete = 0;
inline constexpr uint8_t kGet = 1;
inline constexpr uint8_t kHeadMethod = 2;
inline constexpr uint8_t kPost = 3;
inline constexpr uint8_t kPut = 4;

// An owned copy of a parsed head, comparable across runs whose buffers are gone.
struct HeadCopy {
  uint8_t method = 0;
  std::string method_name;
  std::string target;
  int status = 0;
  std::string reason;
  uint8_t version_minor = 1;
  std::vector<std::pair<std::string, std::string>> headers;
  Framing framing = Framing::none;
  uint64_t content_length = 0;
  bool keep_alive = true;
  bool upgrade = false;
  bool expect_continue = false;
  std::string host;
  uint32_t wire_size = 0;

  bool operator==(const HeadCopy&) const = default;

  static HeadCopy of(const Head& h) {
    HeadCopy c;
    c.method = h.method;
    c.method_name = std::string(h.method_name);
    c.target = std::string(h.target);
    c.status = h.status;
    c.reason = std::string(h.reason);
    c.version_minor = h.version_minor;
    for (const Header& x : h.headers)
      c.headers.emplace_back(std::string(x.name), std::string(x.value));
    c.framing = h.framing;
    c.content_length = h.content_length;
    c.keep_alive = h.keep_alive;
    c.upgrade = h.upgrade;
    c.expect_continue = h.expect_continue;
    c.host = std::string(h.host);
    c.wire_size = h.wire_size;
    return c;
  }
};

inline const char* framing_name(Framing f) {
  switch (f) {
  case Framing::none:
    return "none";
  case Framing::length:
    return "length";
  case Framing::chunked:
    return "chunked";
  case Framing::until_close:
    return "until_close";
  }
  return "?";
}

inline std::ostream& operator<<(std::ostream& os, const HeadCopy& h) {
  os << "{method=" << int(h.method) << " '" << h.method_name << "' target='" << h.target
     << "' status=" << h.status << " reason='" << h.reason << "' HTTP/1." << int(h.version_minor)
     << " framing=" << framing_name(h.framing) << " cl=" << h.content_length
     << " keep_alive=" << h.keep_alive << " upgrade=" << h.upgrade
     << " expect=" << h.expect_continue << " host='" << h.host << "' wire=" << h.wire_size
     << " headers=[";
  for (const auto& [n, v] : h.headers)
    os << "'" << n << "': '" << v << "', ";
  return os << "]}";
}

struct MessageCopy {
  HeadCopy head;
  std::string body;
  bool complete = false;
  size_t end_offset = 0; // connection offset just past the message (when complete)

  bool operator==(const MessageCopy&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const MessageCopy& m) {
  return os << "{head=" << m.head << " body='" << m.body << "' complete=" << m.complete
            << " end=" << m.end_offset << "}";
}

struct RunResult {
  std::vector<MessageCopy> messages;
  // One letter per event: H head, B body, D done, E error. need_more is not logged.
  std::string events;
  ParseError error = ParseError::none;
  std::string reason;   // error_reason()
  size_t consumed = 0;  // total bytes the parser consumed
  std::string problems; // contract violations the harness saw
  bool saw_body_event_with_no_bytes = false;

  // Events with body events removed: how many body events happen depends on the split.
  std::string shape() const {
    std::string s;
    for (char c : events)
      if (c != 'B') s += c;
    return s;
  }
  int status() const { return status_for(error); }
};

struct SimOptions {
  ParserLimits limits{};
  // Response parsers: entry i says message i answers a HEAD request (reset(true)).
  std::vector<bool> no_body;
  // Call finish() once every piece has been fed (the peer closed).
  bool finish = false;
  // Move the unconsumed bytes to the front of the buffer whenever the contract allows it (no
  // head in progress), so stale views into consumed bytes are caught.
  bool compact = false;

  SimOptions& with_limits(ParserLimits l) {
    limits = l;
    return *this;
  }
  SimOptions& with_no_body(std::vector<bool> flags) {
    no_body = std::move(flags);
    return *this;
  }
  SimOptions& with_finish() {
    finish = true;
    return *this;
  }
};

class ConnectionSim {
public:
  ConnectionSim(Parser::Kind kind, SimOptions options, size_t capacity = 1 << 20)
      : parser_(kind, options.limits), options_(std::move(options)) {
    buf_.reserve(capacity);
    base_ = buf_.data();
    parser_.reset(no_body_for(0));
  }

  void feed(std::string_view bytes) {
    if (stopped_) return;
    if (options_.compact && at_boundary()) compact();
    if (buf_.size() + bytes.size() > buf_.capacity()) {
      problem("test buffer too small");
      return;
    }
    buf_.append(bytes);
    if (buf_.data() != base_) problem("test buffer reallocated");
    run();
  }

  void finish() {
    if (stopped_) return;
    Parser::Event ev = parser_.finish();
    if (!parser_.body().empty()) problem("finish() reported body bytes");
    switch (ev) {
    case Parser::Event::done:
      result_.events += 'D';
      complete_message();
      break;
    case Parser::Event::error:
      result_.events += 'E';
      result_.error = parser_.error();
      result_.reason = std::string(parser_.error_reason());
      if (parser_.error() == ParseError::none) problem("error event without error()");
      stopped_ = true;
      break;
    case Parser::Event::need_more:
      break;
    default:
      problem("finish() returned head/body");
    }
  }

  const RunResult& result() const { return result_; }
  Parser& parser() { return parser_; }
  // Bytes received but not consumed yet.
  std::string_view unconsumed() const { return std::string_view(buf_).substr(off_); }

private:
  bool no_body_for(size_t index) const {
    return index < options_.no_body.size() && options_.no_body[index];
  }
  bool at_boundary() const { return !parser_.in_head() || fresh_message_; }

  void compact() {
    // Overwrite the consumed bytes before moving, so a stale view reads garbage.
    std::memset(buf_.data(), '#', off_);
    buf_.erase(0, off_);
    shift_ += off_;
    off_ = 0;
  }

  void problem(const std::string& what) {
    result_.problems += what + "; ";
    stopped_ = true;
  }

  bool in_buffer(std::string_view v) const {
    if (v.empty()) return true;
    return v.data() >= buf_.data() && v.data() + v.size() <= buf_.data() + buf_.size();
  }

  void check_head_views() {
    const Head& h = parser_.head();
    bool ok =
        in_buffer(h.method_name) && in_buffer(h.target) && in_buffer(h.reason) && in_buffer(h.host);
    for (const Header& x : h.headers)
      ok = ok && in_buffer(x.name) && in_buffer(x.value);
    if (!ok) problem("head view outside the connection buffer");
  }

  void complete_message() {
    if (result_.messages.empty() || result_.messages.back().complete) {
      problem("done without head");
      return;
    }
    MessageCopy& m = result_.messages.back();
    m.complete = true;
    m.end_offset = shift_ + off_;
    fresh_message_ = true;
    parser_.reset(no_body_for(result_.messages.size()));
  }

  void run() {
    int stalls = 0;
    while (!stopped_) {
      size_t avail = buf_.size() - off_;
      const char* at = buf_.data() + off_;
      size_t consumed = ~size_t{0};
      Parser::Event ev = parser_.execute(at, avail, consumed);
      if (consumed > avail) {
        problem("consumed more than given");
        return;
      }
      uint64_t n = 0;
      for (std::string_view v : parser_.body()) {
        if (v.data() < at || v.data() + v.size() > at + consumed) {
          problem("body view outside the consumed bytes");
          return;
        }
        n += v.size();
        if (!result_.messages.empty() && !result_.messages.back().complete)
          result_.messages.back().body.append(v);
        else if (!v.empty())
          problem("body bytes outside a message");
      }
      if (n != parser_.body_bytes()) problem("body_bytes() disagrees with body()");
      if (consumed > 0) fresh_message_ = false;
      off_ += consumed;
      result_.consumed += consumed;
      if (consumed == 0 && ev != Parser::Event::need_more) {
        if (++stalls > 3) {
          problem("no progress");
          return;
        }
      } else {
        stalls = 0;
      }
      switch (ev) {
      case Parser::Event::need_more:
        if (consumed != avail) problem("need_more without consuming everything");
        return;
      case Parser::Event::head:
        result_.events += 'H';
        if (!result_.messages.empty() && !result_.messages.back().complete) {
          problem("second head in one message");
          return;
        }
        if (parser_.in_head()) problem("in_head() after head event");
        check_head_views();
        result_.messages.push_back({HeadCopy::of(parser_.head()), {}, false, 0});
        break;
      case Parser::Event::body:
        result_.events += 'B';
        if (n == 0) result_.saw_body_event_with_no_bytes = true;
        break;
      case Parser::Event::done:
        result_.events += 'D';
        complete_message();
        break;
      case Parser::Event::error:
        result_.events += 'E';
        result_.error = parser_.error();
        result_.reason = std::string(parser_.error_reason());
        if (parser_.error() == ParseError::none) problem("error event without error()");
        stopped_ = true;
        return;
      }
    }
  }

  Parser parser_;
  SimOptions options_;
  std::string buf_;
  const char* base_ = nullptr;
  size_t off_ = 0;
  size_t shift_ = 0; // bytes dropped from the front by compact()
  bool fresh_message_ = true;
  bool stopped_ = false;
  RunResult result_;
};

// Feeds `wire` in pieces of the given sizes (which sum to wire.size()).
inline RunResult run_pieces(Parser::Kind kind, std::string_view wire,
                            const std::vector<size_t>& pieces, const SimOptions& options = {}) {
  ConnectionSim sim(kind, options, wire.size() + 64);
  size_t at = 0;
  for (size_t n : pieces) {
    sim.feed(wire.substr(at, n));
    at += n;
  }
  if (at < wire.size()) sim.feed(wire.substr(at));
  if (options.finish) sim.finish();
  return sim.result();
}

inline RunResult run_whole(Parser::Kind kind, std::string_view wire,
                           const SimOptions& options = {}) {
  return run_pieces(kind, wire, {wire.size()}, options);
}

inline RunResult run_bytewise(Parser::Kind kind, std::string_view wire,
                              const SimOptions& options = {}) {
  return run_pieces(kind, wire, std::vector<size_t>(wire.size(), 1), options);
}

// Random piece sizes; the seed also picks how dense the cuts are, from a few big reads to
// mostly single bytes.
inline std::vector<size_t> random_pieces(size_t n, uint32_t seed) {
  static constexpr double kDensity[] = {0.002, 0.01, 0.05, 0.2, 0.5, 0.9};
  std::mt19937 rng(seed);
  std::bernoulli_distribution cut(kDensity[seed % std::size(kDensity)]);
  std::vector<size_t> pieces;
  size_t start = 0;
  for (size_t i = 1; i < n; ++i) {
    if (cut(rng)) {
      pieces.push_back(i - start);
      start = i;
    }
  }
  pieces.push_back(n - start);
  return pieces;
}

inline constexpr uint32_t kRandomSplits = 400;

// Every split of `wire` must produce exactly what a single read produces. Returns that result.
inline RunResult expect_split_invariant(Parser::Kind kind, std::string_view wire,
                                        const SimOptions& options = {}) {
  RunResult whole = run_whole(kind, wire, options);
  EXPECT_EQ(whole.problems, "");
  auto same = [&](const RunResult& r, const std::string& how) {
    SCOPED_TRACE(how);
    EXPECT_EQ(r.problems, "");
    EXPECT_EQ(r.shape(), whole.shape());
    EXPECT_EQ(r.error, whole.error);
    EXPECT_EQ(r.consumed, whole.consumed);
    EXPECT_EQ(r.messages, whole.messages);
    EXPECT_FALSE(r.saw_body_event_with_no_bytes);
  };
  same(run_bytewise(kind, wire, options), "byte by byte");
  for (uint32_t seed = 1; seed <= kRandomSplits && !::testing::Test::HasFailure(); ++seed)
    same(run_pieces(kind, wire, random_pieces(wire.size(), seed), options),
         "random split seed " + std::to_string(seed));
  if (!::testing::Test::HasFailure()) {
    SimOptions compacting = options;
    compacting.compact = true;
    same(run_bytewise(kind, wire, compacting), "byte by byte, compacting");
    for (uint32_t seed = 1; seed <= 50 && !::testing::Test::HasFailure(); ++seed)
      same(run_pieces(kind, wire, random_pieces(wire.size(), seed), compacting),
           "compacting random split seed " + std::to_string(seed));
  }
  return whole;
}

// `wire` must be refused with `status` however it is split. `shape` is the event sequence
// without body events ("E": refused in the head; "HE": refused in the body).
inline void expect_rejected(Parser::Kind kind, std::string_view wire, int status,
                            const SimOptions& options = {}, std::string_view shape = "E") {
  auto check = [&](const RunResult& r, const std::string& how) {
    SCOPED_TRACE(how);
    EXPECT_EQ(r.problems, "");
    EXPECT_EQ(r.shape(), shape);
    EXPECT_EQ(r.status(), status) << "reason: " << r.reason;
  };
  check(run_whole(kind, wire, options), "whole");
  if (::testing::Test::HasFailure()) return;
  check(run_bytewise(kind, wire, options), "byte by byte");
  for (uint32_t seed = 1; seed <= 100 && !::testing::Test::HasFailure(); ++seed)
    check(run_pieces(kind, wire, random_pieces(wire.size(), seed), options),
          "random split seed " + std::to_string(seed));
}

} // namespace weir::http::test
