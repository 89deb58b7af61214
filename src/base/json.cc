#include "weir/base/json.h"

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <system_error>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace weir::json {

namespace {

// Length of the well-formed UTF-8 sequence starting at s[i] (Unicode table 3-7: no overlongs,
// no surrogates, nothing above U+10FFFF), or 0 when the bytes there are not one.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF; // allowed range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c == 0xE0) {
    n = 3;
    lo = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    n = 3;
  } else if (c == 0xED) {
    n = 3;
    hi = 0x9F;
  } else if (c == 0xF0) {
    n = 4;
    lo = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    n = 4;
  } else if (c == 0xF4) {
    n = 4;
    hi = 0x8F;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  return n;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

class Parser {
public:
  explicit Parser(std::string_view text) : t_(text) {}

  ParseResult run() {
    ParseResult result;
    Value v;
    skip_ws();
    if (parse_value(v, 0)) {
      skip_ws();
      if (pos_ == t_.size()) {
        result.value = std::move(v);
        return result;
      }
      fail(pos_, "unexpected data after the JSON value");
    }
    result.error = std::move(error_);
    return result;
  }

private:
  bool fail(size_t at, std::string_view message) {
    error_ = "offset " + std::to_string(at) + ": ";
    error_.append(message);
    return false;
  }

  bool fail_unexpected() {
    if (pos_ >= t_.size()) return fail(pos_, "unexpected end of input");
    const auto c = static_cast<unsigned char>(t_[pos_]);
    char buf[48];
    if (c > 0x20 && c < 0x7F)
      std::snprintf(buf, sizeof buf, "unexpected character '%c'", c);
    else
      std::snprintf(buf, sizeof buf, "unexpected byte 0x%02X", c);
    return fail(pos_, buf);
  }

  bool at(char c) const { return pos_ < t_.size() && t_[pos_] == c; }

  void skip_ws() {
    while (pos_ < t_.size() &&
           (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r'))
      ++pos_;
  }

  bool parse_value(Value& out, int depth) {
    if (pos_ >= t_.size()) return fail_unexpected();
    switch (t_[pos_]) {
    case '{':
      return parse_object(out, depth);
    case '[':
      return parse_array(out, depth);
    case '"': {
      std::string s;
      if (!parse_string(s)) return false;
      out = Value(std::move(s));
      return true;
    }
    case 't':
      return parse_literal("true", Value(true), out);
    case 'f':
      return parse_literal("false", Value(false), out);
    case 'n':
      return parse_literal("null", Value(), out);
    default:
      if (t_[pos_] == '-' || is_digit(t_[pos_])) return parse_number(out);
      return fail_unexpected();
    }
  }

  bool parse_literal(std::string_view word, Value v, Value& out) {
    if (t_.substr(pos_, word.size()) != word) return fail(pos_, "invalid literal");
    pos_ += word.size();
    out = std::move(v);
    return true;
  }

  bool enter(int depth) {
    if (depth >= kMaxDepth) return fail(pos_, "nesting deeper than 64 levels");
    ++pos_;
    skip_ws();
    return true;
  }

  bool parse_array(Value& out, int depth) {
    if (!enter(depth)) return false;
    Value::Array items;
    if (at(']')) {
      ++pos_;
      out = Value(std::move(items));
      return true;
    }
    for (;;) {
      Value item;
      if (!parse_value(item, depth + 1)) return false;
      items.push_back(std::move(item));
      skip_ws();
      if (at(']')) {
        ++pos_;
        break;
      }
      if (!at(','))
        return pos_ >= t_.size() ? fail_unexpected() : fail(pos_, "expected ',' or ']'");
      ++pos_;
      skip_ws();
      if (at(']')) return fail(pos_, "trailing comma in array");
    }
    out = Value(std::move(items));
    return true;
  }

  bool parse_object(Value& out, int depth) {
    if (!enter(depth)) return false;
    Value::Object members;
    if (at('}')) {
      ++pos_;
      out = Value(std::move(members));
      return true;
    }
    for (;;) {
      if (at('}')) return fail(pos_, "trailing comma in object");
      if (!at('"'))
        return pos_ >= t_.size() ? fail_unexpected() : fail(pos_, "expected a string key");
      std::string key;
      if (!parse_string(key)) return false;
      skip_ws();
      if (!at(':')) return pos_ >= t_.size() ? fail_unexpected() : fail(pos_, "expected ':'");
      ++pos_;
      skip_ws();
      Value v;
      if (!parse_value(v, depth + 1)) return false;
      members.emplace_back(std::move(key), std::move(v));
      skip_ws();
      if (at('}')) {
        ++pos_;
        break;
      }
      if (!at(','))
        return pos_ >= t_.size() ? fail_unexpected() : fail(pos_, "expected ',' or '}'");
      ++pos_;
      skip_ws();
    }
    out = Value(std::move(members));
    return true;
  }

  bool parse_hex4(uint32_t& cp) {
    if (t_.size() - pos_ < 4) return fail(pos_, "truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = t_[pos_];
      uint32_t d;
      if (c >= '0' && c <= '9')
        d = static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        d = static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        d = static_cast<uint32_t>(c - 'A' + 10);
      else
        return fail(pos_, "invalid hex digit in \\u escape");
      cp = cp * 16 + d;
      ++pos_;
    }
    return true;
  }

  // At the character after the backslash.
  bool parse_escape(std::string& out) {
    if (pos_ >= t_.size()) return fail(pos_, "unterminated string");
    const size_t start = pos_ - 1;
    const char c = t_[pos_++];
    switch (c) {
    case '"':
    case '\\':
    case '/':
      out.push_back(c);
      return true;
    case 'b':
      out.push_back('\b');
      return true;
    case 'f':
      out.push_back('\f');
      return true;
    case 'n':
      out.push_back('\n');
      return true;
    case 'r':
      out.push_back('\r');
      return true;
    case 't':
      out.push_back('\t');
      return true;
    case 'u':
      break;
    default:
      return fail(start, "invalid escape sequence");
    }
    uint32_t cp = 0;
    if (!parse_hex4(cp)) return false;
    if (cp >= 0xDC00 && cp <= 0xDFFF) return fail(start, "unpaired low surrogate");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      if (t_.substr(pos_, 2) != "\\u") return fail(start, "unpaired high surrogate");
      pos_ += 2;
      uint32_t low = 0;
      if (!parse_hex4(low)) return false;
      if (low < 0xDC00 || low > 0xDFFF) return fail(start, "unpaired high surrogate");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    append_utf8(out, cp);
    return true;
  }

  // At the opening quote.
  bool parse_string(std::string& out) {
    const size_t start = pos_++;
    for (;;) {
      const size_t run = pos_;
      while (pos_ < t_.size()) {
        const auto c = static_cast<unsigned char>(t_[pos_]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++pos_;
      }
      out.append(t_.substr(run, pos_ - run));
      if (pos_ >= t_.size()) return fail(start, "unterminated string");
      const auto c = static_cast<unsigned char>(t_[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c == '\\') {
        ++pos_;
        if (!parse_escape(out)) return false;
      } else if (c < 0x20) {
        return fail(pos_, "unescaped control character in string");
      } else {
        const size_t n = utf8_sequence_length(t_, pos_);
        if (n == 0) return fail(pos_, "invalid UTF-8 in string");
        out.append(t_.substr(pos_, n));
        pos_ += n;
      }
    }
  }

  size_t skip_digits() {
    const size_t start = pos_;
    while (pos_ < t_.size() && is_digit(t_[pos_]))
      ++pos_;
    return pos_ - start;
  }

  bool parse_number(Value& out) {
    const size_t start = pos_;
    const bool negative = at('-');
    if (negative) ++pos_;
    const size_t int_start = pos_;
    if (!(pos_ < t_.size() && is_digit(t_[pos_]))) return fail(start, "invalid number");
    if (t_[pos_] == '0') {
      ++pos_;
      if (pos_ < t_.size() && is_digit(t_[pos_])) return fail(start, "leading zero in number");
    } else {
      skip_digits();
    }
    const size_t int_end = pos_;
    size_t frac_start = pos_, frac_end = pos_;
    if (at('.')) {
      ++pos_;
      frac_start = pos_;
      if (skip_digits() == 0) return fail(pos_, "expected a digit after '.'");
      frac_end = pos_;
    }
    long exponent = 0;
    if (at('e') || at('E')) {
      ++pos_;
      bool exp_negative = false;
      if (at('+') || at('-')) exp_negative = t_[pos_++] == '-';
      const size_t exp_start = pos_;
      if (skip_digits() == 0) return fail(pos_, "expected a digit in exponent");
      for (size_t i = exp_start; i < pos_ && exponent < 1000000; ++i)
        exponent = exponent * 10 + (t_[i] - '0');
      if (exp_negative) exponent = -exponent;
    }
    double d = 0;
    const char* first = t_.data() + start;
    const char* last = t_.data() + pos_;
    const auto [ptr, ec] = std::from_chars(first, last, d);
    if (ec == std::errc::result_out_of_range) {
      // Decimal exponent of the leading significant digit tells overflow from underflow.
      long magnitude = 0;
      bool found = false;
      for (size_t i = int_start; i < int_end && !found; ++i)
        if (t_[i] != '0') {
          magnitude = static_cast<long>(int_end - i) - 1;
          found = true;
        }
      for (size_t i = frac_start; i < frac_end && !found; ++i)
        if (t_[i] != '0') {
          magnitude = -static_cast<long>(i - frac_start) - 1;
          found = true;
        }
      if (found && magnitude + exponent > 0) return fail(start, "number out of range");
      d = negative ? -0.0 : 0.0;
    } else if (ec != std::errc() || ptr != last || !std::isfinite(d)) {
      return fail(start, "invalid number");
    }
    out = Value(d);
    return true;
  }

  std::string_view t_;
  size_t pos_ = 0;
  std::string error_;
};

const Value kNull;
const std::string kEmptyString;
const Value::Array kEmptyArray;
const Value::Object kEmptyObject;

} // namespace

// ---- Value ----

bool Value::as_bool() const {
  const bool* b = std::get_if<bool>(&v_);
  return b ? *b : false;
}

double Value::as_number() const {
  const double* d = std::get_if<double>(&v_);
  return d ? *d : 0;
}

const std::string& Value::as_string() const {
  const std::string* s = std::get_if<std::string>(&v_);
  return s ? *s : kEmptyString;
}

const Value::Array& Value::as_array() const {
  const Array* a = std::get_if<Array>(&v_);
  return a ? *a : kEmptyArray;
}

const Value::Object& Value::as_object() const {
  const Object* o = std::get_if<Object>(&v_);
  return o ? *o : kEmptyObject;
}

const Value* Value::find(std::string_view key) const {
  const Object* o = std::get_if<Object>(&v_);
  if (!o) return nullptr;
  for (auto it = o->rbegin(); it != o->rend(); ++it)
    if (it->first == key) return &it->second;
  return nullptr;
}

const Value& Value::operator[](std::string_view key) const {
  const Value* v = find(key);
  return v ? *v : kNull;
}

std::string Value::get_string(std::string_view key, std::string_view def) const {
  const Value* v = find(key);
  return v && v->is_string() ? v->as_string() : std::string(def);
}

double Value::get_number(std::string_view key, double def) const {
  const Value* v = find(key);
  return v && v->is_number() ? v->as_number() : def;
}

bool Value::get_bool(std::string_view key, bool def) const {
  const Value* v = find(key);
  return v && v->is_bool() ? v->as_bool() : def;
}

bool operator==(const Value& a, const Value& b) {
  return a.v_ == b.v_;
}

// ---- escaping ----

namespace {
// Escapes the byte (or UTF-8 sequence) at s[i] into out; returns where the next one starts.
size_t escape_one(std::string& out, std::string_view s, size_t i) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto c = static_cast<unsigned char>(s[i]);
  if (c >= 0x80) {
    const size_t n = utf8_sequence_length(s, i);
    if (n == 0) {
      out.append("\\ufffd");
      return i + 1;
    }
    out.append(s.substr(i, n));
    return i + n;
  }
  switch (c) {
  case '"':
    out.append("\\\"");
    break;
  case '\\':
    out.append("\\\\");
    break;
  case '\n':
    out.append("\\n");
    break;
  case '\r':
    out.append("\\r");
    break;
  case '\t':
    out.append("\\t");
    break;
  case '\b':
    out.append("\\b");
    break;
  case '\f':
    out.append("\\f");
    break;
  default:
    if (c < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  return i + 1;
}
} // namespace

void escape_to_bytewise(std::string& out, std::string_view s) {
  out.push_back('"');
  for (size_t i = 0; i < s.size();)
    i = escape_one(out, s, i);
  out.push_back('"');
}

namespace {
// Bytes escape_to copies as they are: 0x20..0x7f except '"' and '\\'. The length of the run of
// them at `p`, 16 bytes a step with SSE2 (a signed compare below 0x20 also catches 0x80..0xff).
size_t plain_run(const char* p, size_t n) {
  size_t i = 0;
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  for (; i + 16 <= n; i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i));
    __m128i special =
        _mm_or_si128(_mm_cmplt_epi8(v, space),
                     _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)));
    unsigned m = static_cast<unsigned>(_mm_movemask_epi8(special));
    if (m) return i + static_cast<size_t>(std::countr_zero(m));
  }
#endif
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\') break;
  }
  return i;
}
} // namespace

void escape_to(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t i = 0;
  while (i < s.size()) {
    // Most bytes need nothing: copy the run of them in one append.
    const size_t plain = plain_run(s.data() + i, s.size() - i);
    if (plain) {
      out.append(s.data() + i, plain);
      i += plain;
      if (i == s.size()) break;
    }
    i = escape_one(out, s, i);
  }
  out.push_back('"');
}

std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  escape_to(out, s);
  return out;
}

// ---- Writer ----

void Writer::before_value() {
  if (after_key_)
    after_key_ = false;
  else if (need_comma_)
    out_.push_back(',');
  need_comma_ = true;
}

Writer& Writer::begin_object() {
  before_value();
  out_.push_back('{');
  need_comma_ = false;
  return *this;
}

Writer& Writer::end_object() {
  out_.push_back('}');
  need_comma_ = true;
  after_key_ = false;
  return *this;
}

Writer& Writer::begin_array() {
  before_value();
  out_.push_back('[');
  need_comma_ = false;
  return *this;
}

Writer& Writer::end_array() {
  out_.push_back(']');
  need_comma_ = true;
  after_key_ = false;
  return *this;
}

Writer& Writer::key(std::string_view k) {
  if (need_comma_) out_.push_back(',');
  escape_to(out_, k);
  out_.push_back(':');
  need_comma_ = false;
  after_key_ = true;
  return *this;
}

Writer& Writer::value(std::string_view s) {
  before_value();
  escape_to(out_, s);
  return *this;
}

Writer& Writer::value(const char* s) {
  if (s == nullptr) return null();
  return value(std::string_view(s));
}

Writer& Writer::value(const std::string& s) {
  return value(std::string_view(s));
}

Writer& Writer::value(bool b) {
  before_value();
  out_.append(b ? "true" : "false");
  return *this;
}

Writer& Writer::value(int64_t n) {
  before_value();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, r.ptr);
  return *this;
}

Writer& Writer::value(uint64_t n) {
  before_value();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, n);
  out_.append(buf, r.ptr);
  return *this;
}

Writer& Writer::value(int n) {
  return value(static_cast<int64_t>(n));
}

Writer& Writer::value(unsigned n) {
  return value(static_cast<uint64_t>(n));
}

Writer& Writer::value(double d) {
  if (!std::isfinite(d)) return null();
  before_value();
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out_.append(buf, r.ptr);
  return *this;
}

Writer& Writer::value(const Value& v) {
  switch (v.type()) {
  case Value::Type::null:
    return null();
  case Value::Type::boolean:
    return value(v.as_bool());
  case Value::Type::number:
    return value(v.as_number());
  case Value::Type::string:
    return value(std::string_view(v.as_string()));
  case Value::Type::array:
    begin_array();
    for (const Value& item : v.as_array())
      value(item);
    return end_array();
  case Value::Type::object:
    begin_object();
    for (const auto& [k, item] : v.as_object())
      key(k).value(item);
    return end_object();
  }
  return null();
}

Writer& Writer::null() {
  before_value();
  out_.append("null");
  return *this;
}

Writer& Writer::raw(std::string_view json) {
  before_value();
  out_.append(json);
  return *this;
}

std::string Writer::take() {
  std::string s = std::move(out_);
  out_.clear();
  need_comma_ = false;
  after_key_ = false;
  return s;
}

ParseResult parse(std::string_view text) {
  return Parser(text).run();
}

} // namespace weir::json
