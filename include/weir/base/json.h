#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

// Small JSON reader and writer for the control plane: the state file, the control socket,
// /stats.json. Control thread (or any single thread); nothing here is used on the request path.
namespace weir::json {

// A parsed document. Accessors of the wrong type return false / 0 / empty rather than asserting,
// because a Value usually comes from outside (a file, a socket).
class Value {
public:
  enum class Type { null, boolean, number, string, array, object };
  using Array = std::vector<Value>;
  using Object = std::vector<std::pair<std::string, Value>>; // keeps key order and duplicates

  Value() = default;
  explicit Value(std::nullptr_t) {}
  explicit Value(bool b) : v_(b) {}
  explicit Value(double d) : v_(d) {}
  explicit Value(int n) : v_(static_cast<double>(n)) {}
  explicit Value(std::string s) : v_(std::move(s)) {}
  explicit Value(const char* s) : v_(std::string(s)) {}
  explicit Value(Array a) : v_(std::move(a)) {}
  explicit Value(Object o) : v_(std::move(o)) {}

  Type type() const { return static_cast<Type>(v_.index()); }
  bool is_null() const { return type() == Type::null; }
  bool is_bool() const { return type() == Type::boolean; }
  bool is_number() const { return type() == Type::number; }
  bool is_string() const { return type() == Type::string; }
  bool is_array() const { return type() == Type::array; }
  bool is_object() const { return type() == Type::object; }

  bool as_bool() const;
  double as_number() const;
  const std::string& as_string() const;
  const Array& as_array() const;
  const Object& as_object() const;

  // The member named `key` (the last one if the key is repeated), or nullptr when missing or
  // when this is not an object.
  const Value* find(std::string_view key) const;
  // Like find(), but yields a null Value instead of nullptr, so lookups can be chained.
  const Value& operator[](std::string_view key) const;

  // The member's value, or `def` when it is missing or of another type.
  std::string get_string(std::string_view key, std::string_view def = {}) const;
  double get_number(std::string_view key, double def = 0) const;
  bool get_bool(std::string_view key, bool def = false) const;

  friend bool operator==(const Value& a, const Value& b);

private:
  // Alternative order matches Type.
  std::variant<std::monostate, bool, double, std::string, Array, Object> v_;
};

// Streaming writer producing compact one-line JSON. Commas and colons are inserted
// automatically; inside an object call key() before each value. Misuse (a value without a key
// inside an object, unbalanced end_*) is a programming error and produces invalid JSON.
class Writer {
public:
  Writer& begin_object();
  Writer& end_object();
  Writer& begin_array();
  Writer& end_array();
  Writer& key(std::string_view k);
  Writer& value(std::string_view s);
  Writer& value(const char* s); // nullptr writes null
  Writer& value(const std::string& s);
  Writer& value(bool b);
  Writer& value(int64_t n);
  Writer& value(uint64_t n);
  Writer& value(int n);
  Writer& value(unsigned n);
  Writer& value(double d); // finite: shortest round-trip form; NaN and infinities: null
  Writer& value(const Value& v);
  Writer& null();
  Writer& raw(std::string_view json); // an already-encoded value, written as is

  const std::string& str() const { return out_; }
  std::string take(); // returns the text and resets the writer

private:
  void before_value();

  std::string out_;
  bool need_comma_ = false;
  bool after_key_ = false;
};

// The JSON string literal for `s`, quotes included. Escapes " \ and control characters (\n \r
// \t \b \f, others as \u00XX); each byte that is not part of valid UTF-8 becomes \ufffd.
std::string escape(std::string_view s);
// Appends escape(s) to `out`.
void escape_to(std::string& out, std::string_view s);
// escape_to one byte at a time: the definition the tests hold escape_to's fast path to.
void escape_to_bytewise(std::string& out, std::string_view s);

struct ParseResult {
  std::optional<Value> value;
  std::string error; // "offset N: message" when value is empty
};

// Strict RFC 8259: one value (any type) with optional surrounding whitespace, nothing after it.
// Strings must be valid UTF-8; \uXXXX escapes (surrogate pairs included) decode to UTF-8; lone
// surrogates are rejected. Arrays and objects nest at most 64 deep. Numbers are doubles; a
// magnitude beyond double's range is rejected, one too small for it becomes 0.
ParseResult parse(std::string_view text);

inline constexpr int kMaxDepth = 64;

} // namespace weir::json
