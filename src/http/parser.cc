#include "weir/http/parser.h"

#include "weir/http/scan.h"
#include "weir/http/target.h"

#include <llhttp.h>

namespace weir::http {

int status_for(ParseError error) {
  switch (error) {
  case ParseError::none:
    return 200;
  case ParseError::bad_request:
    return 400;
  case ParseError::line_too_long:
    return 414;
  case ParseError::head_too_large:
    return 431;
  case ParseError::bad_version:
    return 505;
  case ParseError::not_implemented:
    return 501;
  }
  return 400;
}

namespace {

constexpr int kFail = -1;

Parser* self(llhttp_t* p) {
  return static_cast<Parser*>(p->data);
}

// Appends a span reported by llhttp to an accumulating view. llhttp reports a token split
// across reads as adjacent pieces of the same buffer; a gap means the bytes between them were
// not part of the token (obs-fold continuation lines), which is refused.
bool extend(const char*& begin, size_t& len, const char* at, size_t n) {
  // llhttp flushes an open span at the end of every execute(), with zero length when no byte of
  // it arrived; such a piece says nothing about where the token continues.
  if (n == 0) return true;
  if (begin == nullptr) {
    begin = at;
    len = n;
    return true;
  }
  if (begin + len != at) return false;
  len += n;
  return true;
}

std::string_view trim_ows(std::string_view v) {
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t'))
    v.remove_suffix(1);
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
    v.remove_prefix(1);
  return v;
}

// Last element of a comma-separated list.
std::string_view last_token(std::string_view v) {
  size_t comma = v.rfind(',');
  return trim_ows(comma == std::string_view::npos ? v : v.substr(comma + 1));
}

// A request's Transfer-Encoding must be exactly "chunked". A list where chunked is not the one
// final coding, or with a token that names no transfer coding, leaves the body length to
// interpretation (RFC 9112 6.3: 400); a real coding the proxy does not decode is 501 (6.1).
ParseError request_coding_error(std::string_view list) {
  bool chunked_seen = false;
  for (;;) {
    size_t comma = list.find(',');
    std::string_view coding = trim_ows(list.substr(0, comma));
    if (chunked_seen) return ParseError::bad_request;
    if (iequals(coding, "chunked")) {
      chunked_seen = true;
    } else if (!iequals(coding, "gzip") && !iequals(coding, "x-gzip") &&
               !iequals(coding, "deflate") && !iequals(coding, "compress") &&
               !iequals(coding, "x-compress")) {
      return ParseError::bad_request;
    }
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  // Without a final chunked the length cannot be known at all (RFC 9112 6.3: 400); with it,
  // the body is framed but carries a coding weir does not decode (6.1: 501).
  return chunked_seen ? ParseError::not_implemented : ParseError::bad_request;
}

} // namespace

struct Parser::Callbacks {
  static int on_message_begin(llhttp_t* p) {
    self(p)->started_ = true;
    return 0;
  }
  static int on_method(llhttp_t* p, const char* at, size_t n) {
    Parser* s = self(p);
    size_t len = s->head_.method_name.size();
    const char* begin = len ? s->head_.method_name.data() : nullptr;
    if (!extend(begin, len, at, n)) return kFail;
    s->head_.method_name = {begin, len};
    return 0;
  }
  static int on_url(llhttp_t* p, const char* at, size_t n) {
    Parser* s = self(p);
    size_t len = s->head_.target.size();
    const char* begin = len ? s->head_.target.data() : nullptr;
    if (!extend(begin, len, at, n)) return kFail;
    s->head_.target = {begin, len};
    // method SP target SP HTTP/1.x; the CRLF is not part of the line.
    if (len + s->head_.method_name.size() + 10 > s->limits_.max_line_bytes) {
      s->fail(ParseError::line_too_long, "request line too long");
      return kFail;
    }
    return 0;
  }
  static int on_status(llhttp_t* p, const char* at, size_t n) {
    Parser* s = self(p);
    size_t len = s->head_.reason.size();
    const char* begin = len ? s->head_.reason.data() : nullptr;
    if (!extend(begin, len, at, n)) return kFail;
    s->head_.reason = {begin, len};
    return 0;
  }
  static int on_version_complete(llhttp_t* p) {
    if (p->http_major != 1 || p->http_minor > 1) {
      self(p)->fail(ParseError::bad_version, "unsupported HTTP version");
      return kFail;
    }
    return 0;
  }
  // Trailer fields (after the head) reach the same callbacks. They are discarded, not checked:
  // they are no part of the head, and the head's buffer may already have been released.
  static int on_header_field(llhttp_t* p, const char* at, size_t n) {
    Parser* s = self(p);
    if (s->head_done_) return 0;
    if (!extend(s->field_begin_, s->field_len_, at, n)) {
      s->fail(ParseError::bad_request, "malformed header name");
      return kFail;
    }
    return 0;
  }
  static int on_header_field_complete(llhttp_t* p) {
    Parser* s = self(p);
    if (s->head_done_) return 0;
    std::string_view name(s->field_begin_ ? s->field_begin_ : "", s->field_len_);
    if (name.empty()) {
      s->fail(ParseError::bad_request, "empty header name");
      return kFail;
    }
    // llhttp accepts "Name :" — a classic request smuggling vector (RFC 9112 5.1 says reject).
    if (scan::find_space_tab(name.data(), name.data() + name.size()) != name.data() + name.size()) {
      s->fail(ParseError::bad_request, "whitespace in header name");
      return kFail;
    }
    return 0;
  }
  static int on_header_value(llhttp_t* p, const char* at, size_t n) {
    Parser* s = self(p);
    if (s->head_done_) return 0;
    if (!extend(s->value_begin_, s->value_len_, at, n)) {
      s->fail(ParseError::bad_request, "obsolete line folding");
      return kFail;
    }
    return 0;
  }
  static int on_header_value_complete(llhttp_t* p) {
    Parser* s = self(p);
    if (s->head_done_) return 0;
    Head& h = s->head_;
    if (h.headers.size() >= s->limits_.max_headers) {
      s->fail(ParseError::head_too_large, "too many headers");
      return kFail;
    }
    Header header{{s->field_begin_, s->field_len_},
                  trim_ows({s->value_begin_ ? s->value_begin_ : "", s->value_len_})};
    s->field_begin_ = nullptr;
    s->field_len_ = 0;
    s->value_begin_ = nullptr;
    s->value_len_ = 0;
    h.headers.push_back(header);
    if (iequals(header.name, "host")) {
      if (s->host_seen_) {
        s->fail(ParseError::bad_request, "duplicate Host header");
        return kFail;
      }
      s->host_seen_ = true;
      h.host = header.value;
    } else if (iequals(header.name, "transfer-encoding")) {
      s->te_seen_ = true;
      // Requests: only "chunked" is understood; anything else would leave the body length to
      // interpretation. Responses: the final coding must be chunked (see on_headers_complete).
      if (s->kind_ == Kind::request && !iequals(header.value, "chunked")) {
        ParseError error = request_coding_error(header.value);
        s->fail(error, error == ParseError::not_implemented ? "unsupported Transfer-Encoding"
                                                            : "invalid Transfer-Encoding");
        return kFail;
      }
      if (s->kind_ == Kind::response && !iequals(last_token(header.value), "chunked")) {
        s->fail(ParseError::bad_request, "Transfer-Encoding does not end in chunked");
        return kFail;
      }
    } else if (iequals(header.name, "expect") && iequals(header.value, "100-continue")) {
      h.expect_continue = true;
    }
    return 0;
  }
  static int on_headers_complete(llhttp_t* p) { return self(p)->on_head_complete(); }
  static int on_body(llhttp_t* p, const char* at, size_t n) {
    // Zero-length flushes (execute() on an empty remainder) would turn into a body event that
    // consumed nothing, and a caller that calls again with the rest would spin.
    if (n == 0) return 0;
    self(p)->body_.emplace_back(at, n);
    return 0;
  }
  static int on_message_complete(llhttp_t* p) {
    self(p)->message_done_ = true;
    return HPE_PAUSED;
  }

  static const llhttp_settings_t& settings() {
    static const llhttp_settings_t s = [] {
      llhttp_settings_t st;
      llhttp_settings_init(&st);
      st.on_message_begin = on_message_begin;
      st.on_method = on_method;
      st.on_url = on_url;
      st.on_status = on_status;
      st.on_version_complete = on_version_complete;
      st.on_header_field = on_header_field;
      st.on_header_field_complete = on_header_field_complete;
      st.on_header_value = on_header_value;
      st.on_header_value_complete = on_header_value_complete;
      st.on_headers_complete = on_headers_complete;
      st.on_body = on_body;
      st.on_message_complete = on_message_complete;
      return st;
    }();
    return s;
  }
};

Parser::Parser(Kind kind, ParserLimits limits)
    : kind_(kind), limits_(limits), llhttp_(std::make_unique<llhttp_t>()) {
  head_.headers.reserve(limits_.max_headers < 64 ? limits_.max_headers : 64);
  start_connection();
}

Parser::~Parser() = default;

void Parser::start_connection() {
  llhttp_init(llhttp_.get(), kind_ == Kind::request ? HTTP_REQUEST : HTTP_RESPONSE,
              &Callbacks::settings());
  llhttp_->data = this;
  // llhttp refuses HTTP/1.2 or HTTP/3.0 as malformed; let them through to on_version_complete,
  // which answers 505. Malformed versions ("HTTP/1.x") are still refused by llhttp.
  llhttp_->lenient_flags |= LENIENT_VERSION;
  reset();
}

void Parser::reset(bool response_without_body) {
  head_.clear();
  body_.clear();
  field_begin_ = value_begin_ = nullptr;
  field_len_ = value_len_ = 0;
  head_bytes_ = 0;
  last_cr_ = line_start_ = false;
  head_done_ = message_done_ = started_ = pending_done_ = host_seen_ = te_seen_ = false;
  no_body_ = response_without_body;
  error_ = ParseError::none;
  error_reason_ = {};
}

Parser::Event Parser::fail(ParseError error, std::string_view reason) {
  // Nothing is consumed by a failing execute(); body() must not report bytes either.
  body_.clear();
  if (error_ == ParseError::none) {
    error_ = error;
    error_reason_ = reason;
  }
  return Event::error;
}

int Parser::on_head_complete() {
  llhttp_t* p = llhttp_.get();
  head_done_ = true;
  head_.version_minor = p->http_minor;
  if (p->http_major != 1) {
    // "GET /" without a version: llhttp takes it for HTTP/0.9 (on_version_complete never ran).
    fail(ParseError::bad_request, "missing HTTP version");
    return kFail;
  }
  if (kind_ == Kind::request) {
    head_.method = p->method;
    if (p->method == HTTP_CONNECT) {
      fail(ParseError::not_implemented, "CONNECT is not supported");
      return kFail;
    }
    if (!check_request_head()) return kFail;
  } else {
    head_.status = p->status_code;
    if (head_.status < 100 || head_.status > 599) {
      fail(ParseError::bad_request, "invalid status code");
      return kFail;
    }
    // reason-phrase = *( HTAB / SP / VCHAR / obs-text ) (RFC 9112 4): a control byte would be
    // relayed to the client inside weir's own status line.
    const char* reason_end = head_.reason.data() + head_.reason.size();
    if (scan::find_control(head_.reason.data(), reason_end) != reason_end) {
      fail(ParseError::bad_request, "control character in the reason phrase");
      return kFail;
    }
  }
  head_.keep_alive = llhttp_should_keep_alive(p) != 0;
  head_.upgrade = p->upgrade != 0;
  if (p->flags & F_CHUNKED) {
    head_.framing = Framing::chunked;
  } else if (p->flags & F_CONTENT_LENGTH) {
    head_.framing = Framing::length;
    head_.content_length = p->content_length;
  } else if (kind_ == Kind::response && llhttp_message_needs_eof(p) && !no_body_) {
    head_.framing = Framing::until_close;
  }
  if (kind_ == Kind::response &&
      (no_body_ || head_.status < 200 || head_.status == 204 || head_.status == 304)) {
    // The framing headers describe the body the request would have had, not this one. llhttp
    // leaves that to the caller: it would read a 204's Content-Length bytes as a body.
    // Returning 1 makes llhttp complete the message; execute() reports head, then done.
    return 1;
  }
  return HPE_PAUSED;
}

// What the request names, checked before anything routes on it (RFC 9112 3.2, 3.3, 6.1).
bool Parser::check_request_head() {
  // HTTP/1.0 knows no Transfer-Encoding: a 1.0 recipient would read the body by its length or
  // until close, so the framing is faulty whatever weir makes of it (RFC 9112 6.1).
  if (head_.version_minor == 0 && te_seen_) {
    fail(ParseError::bad_request, "Transfer-Encoding in an HTTP/1.0 request");
    return false;
  }
  Target target;
  if (!parse_target(head_.target, target)) {
    fail(ParseError::bad_request, "invalid request-target");
    return false;
  }
  if (target.form == Target::Form::asterisk && head_.method_name != "OPTIONS") {
    fail(ParseError::bad_request, "asterisk-form target on a method other than OPTIONS");
    return false;
  }
  // A 1.1 request names its authority in Host, exactly once and well formed (RFC 9112 3.2);
  // 1.0 may leave it out.
  if (!host_seen_ && head_.version_minor == 1) {
    fail(ParseError::bad_request, "missing Host header");
    return false;
  }
  if (host_seen_ && !(head_.host.empty() && head_.version_minor == 0) &&
      !valid_authority(head_.host)) {
    fail(ParseError::bad_request, "invalid Host header");
    return false;
  }
  head_.path = target.path;
  if (target.form == Target::Form::absolute) {
    // The target's authority wins over Host (RFC 9112 3.2.2): routed on it, and forwarded with
    // Host rewritten to it, so the upstream never sees a name weir did not route on.
    head_.authority = target.authority;
    head_.absolute_form = true;
  } else {
    head_.authority = head_.host;
  }
  return true;
}

Parser::Event Parser::execute(const char* data, size_t len, size_t& consumed) {
  body_.clear();
  consumed = 0;
  if (pending_done_) {
    pending_done_ = false;
    return Event::done;
  }
  if (error_ != ParseError::none) return Event::error;
  llhttp_t* p = llhttp_.get();
  llhttp_errno_t err = llhttp_execute(p, data, len);
  if (err == HPE_PAUSED_UPGRADE) {
    // The previous message asked for an upgrade and the caller parses on: the upgrade was
    // declined (no 101) and the connection carries on as HTTP/1.
    llhttp_resume_after_upgrade(p);
    err = llhttp_execute(p, data, len);
  }
  if (err == HPE_OK) {
    if (!check_line_ends(data, data + len))
      return fail(ParseError::bad_request, "bare CR or LF, or obsolete line folding");
    consumed = len;
    if (!head_done_) {
      head_bytes_ += static_cast<uint32_t>(len);
      if (head_bytes_ > limits_.max_head_bytes)
        return fail(ParseError::head_too_large, "request head too large");
      return Event::need_more;
    }
    return body_.empty() ? Event::need_more : Event::body;
  }
  if (err == HPE_PAUSED) {
    consumed = static_cast<size_t>(llhttp_get_error_pos(p) - data);
    llhttp_resume(p);
    if (!check_line_ends(data, data + consumed)) {
      consumed = 0;
      return fail(ParseError::bad_request, "bare CR or LF, or obsolete line folding");
    }
    if (head_done_ && head_.wire_size == 0) {
      head_bytes_ += static_cast<uint32_t>(consumed);
      head_.wire_size = head_bytes_;
      if (head_bytes_ > limits_.max_head_bytes)
        return fail(ParseError::head_too_large, "head too large");
      if (message_done_) pending_done_ = true; // a body-less response to HEAD
      return Event::head;
    }
    return message_done_ ? Event::done : Event::body;
  }
  if (error_ != ParseError::none) return Event::error;
  switch (err) {
  case HPE_INVALID_METHOD:
  case HPE_INVALID_CONSTANT:
  case HPE_INVALID_VERSION:
    if (!head_done_ && head_bytes_ + (llhttp_get_error_pos(p) - data) > limits_.max_line_bytes)
      return fail(ParseError::line_too_long, "request line too long");
    return fail(ParseError::bad_request, llhttp_get_error_reason(p));
  default:
    return fail(ParseError::bad_request, llhttp_get_error_reason(p));
  }
}

// llhttp 8 takes a bare LF for a line end and folds continuation lines into the previous value;
// a server or proxy on the other side may read those bytes differently, which is how requests
// are smuggled (RFC 9112 2.2, 5.2). Every byte llhttp consumed outside body data (head,
// chunk-size lines, trailers) passes through here once, in order; body_ holds the body views
// of [begin, end), in order.
bool Parser::check_line_ends(const char* begin, const char* end) {
  size_t next_body = 0;
  const char* at = begin;
  while (at < end) {
    const char* stop = next_body < body_.size() ? body_[next_body].data() : end;
    while (at < stop) {
      // Between line ends only CR and LF matter: skip to the next one many bytes at a time.
      // The byte after a line end is looked at alone (a leading SP or HTAB is a fold).
      if (!last_cr_ && !line_start_) {
        at = scan::find_cr_lf(at, stop);
        if (at == stop) break;
      }
      char c = *at++;
      if (last_cr_) {
        if (c != '\n') return false;
        last_cr_ = false;
        line_start_ = true;
      } else if (c == '\r') {
        last_cr_ = true;
      } else if (c == '\n') {
        return false;
      } else {
        if (line_start_ && (c == ' ' || c == '\t')) return false;
        line_start_ = false;
      }
    }
    if (next_body < body_.size()) {
      if (last_cr_) return false;
      at += body_[next_body].size();
      ++next_body;
      line_start_ = false;
    }
  }
  return true;
}

Parser::Event Parser::finish() {
  body_.clear();
  if (error_ != ParseError::none) return Event::error;
  if (message_done_) return Event::done;
  llhttp_errno_t err = llhttp_finish(llhttp_.get());
  if ((err == HPE_OK || err == HPE_PAUSED) && message_done_) return Event::done;
  if (!started_) return Event::need_more;
  return fail(ParseError::bad_request, "connection closed before the message was complete");
}

uint64_t Parser::body_bytes() const {
  uint64_t n = 0;
  for (auto s : body_)
    n += s.size();
  return n;
}

} // namespace weir::http
