#pragma once

#include "weir/http/head.h"

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

struct llhttp__internal_s;

namespace weir::http {

struct ParserLimits {
  uint32_t max_head_bytes = 16384;
  uint32_t max_line_bytes = 8192; // request line, without its CRLF
  uint32_t max_headers = 100;
};

// Why a message was refused; the HTTP status a proxy answers a client with.
enum class ParseError : uint8_t {
  none,
  bad_request,     // 400: malformed or ambiguous framing
  line_too_long,   // 414
  head_too_large,  // 431: head bytes or header count
  bad_version,     // 505
  not_implemented, // 501: unknown transfer coding
};

int status_for(ParseError error);

// Incremental, strict HTTP/1.x parser (the only code that talks to llhttp). It stops after the
// head, so the caller can route before any body byte is consumed, and after each message, so
// pipelined bytes stay unread until the caller is ready. Body bytes are reported as views into
// the caller's buffer (no copy). Worker thread only; one per stream, reused across messages.
class Parser {
public:
  enum class Kind : uint8_t { request, response };
  enum class Event : uint8_t {
    need_more, // every byte consumed; feed more
    head,      // head() is complete; the body (if any) follows
    body,      // body bytes were consumed into body(); call again with the rest
    done,      // message complete (body() may hold its last bytes); bytes after it are the next
               // message
    error,     // see error()
  };

  Parser(Kind kind, ParserLimits limits);
  ~Parser();
  Parser(const Parser&) = delete;
  Parser& operator=(const Parser&) = delete;

  // A new connection: forget everything, including a previous connection's close state.
  void start_connection();
  // Prepare for the next message on the same connection. `response_without_body`: a response
  // to HEAD carries no body whatever its framing headers say.
  void reset(bool response_without_body = false);

  // Consumes a prefix of [data, data+len), at most up to the next event; `consumed` says how much.
  // Buffer contents already consumed must stay in place while the head is being read (head
  // views point into them).
  Event execute(const char* data, size_t len, size_t& consumed);
  // The peer closed: completes an until-close body, or reports a truncated message.
  Event finish();

  const Head& head() const { return head_; }
  Head& head() { return head_; }
  // Body bytes consumed by the last execute() call (chunk framing removed).
  const std::vector<std::string_view>& body() const { return body_; }
  uint64_t body_bytes() const;
  bool in_head() const { return !head_done_; }
  bool started() const { return started_; }
  ParseError error() const { return error_; }
  std::string_view error_reason() const { return error_reason_; }

private:
  struct Callbacks;
  friend struct Callbacks;
  Event fail(ParseError error, std::string_view reason);
  int on_head_complete();
  bool check_request_head();
  bool check_line_ends(const char* begin, const char* end);

  Kind kind_;
  ParserLimits limits_;
  std::unique_ptr<::llhttp__internal_s> llhttp_;
  Head head_;
  std::vector<std::string_view> body_;
  // Span being accumulated by the llhttp data callbacks.
  const char* field_begin_ = nullptr;
  size_t field_len_ = 0;
  const char* value_begin_ = nullptr;
  size_t value_len_ = 0;
  uint32_t head_bytes_ = 0;
  // Line-ending state of the framing bytes seen so far (check_line_ends).
  bool last_cr_ = false;
  bool line_start_ = false;
  bool head_done_ = false;
  bool message_done_ = false;
  bool started_ = false;
  bool no_body_ = false;
  bool pending_done_ = false;
  bool host_seen_ = false;
  bool te_seen_ = false;
  ParseError error_ = ParseError::none;
  std::string_view error_reason_;
};

} // namespace weir::http
