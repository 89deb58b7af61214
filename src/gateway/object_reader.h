#pragma once

#include "weir/gateway/translate.h"

#include <algorithm>
#include <charconv>
#include <optional>
#include <string>
#include <string_view>
#include <vector>
#include <yaml-cpp/yaml.h>

// Helpers of the gateway module shared between its files; not part of its interface.
namespace weir::gateway {

// One object being read: where problems go and how they name the object.
class ObjectReader {
public:
  ObjectReader(const ObjectMeta& meta, std::vector<Problem>& problems)
      : meta_(meta), problems_(problems) {}

  void fail(const std::string& field, const std::string& message) {
    problems_.push_back({meta_.kind + " " + meta_.id(), field, message, meta_.source});
    ok_ = false;
  }
  // Recorded as a problem without making the object unreadable.
  void unsupported(const std::string& field, const std::string& message) {
    problems_.push_back({meta_.kind + " " + meta_.id(), field, message, meta_.source});
  }
  bool ok() const { return ok_; }

  std::optional<std::string> string(const YAML::Node& node, const std::string& field) {
    if (node.IsScalar()) return node.Scalar();
    fail(field, "expected a string");
    return std::nullopt;
  }
  std::optional<int64_t> integer(const YAML::Node& node, const std::string& field, int64_t low,
                                 int64_t high) {
    if (node.IsScalar()) {
      const std::string& s = node.Scalar();
      int64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec == std::errc() && end == s.data() + s.size() && v >= low && v <= high) return v;
    }
    fail(field, "expected an integer from " + std::to_string(low) + " to " + std::to_string(high));
    return std::nullopt;
  }
  // A list (absent or null: empty).
  std::vector<YAML::Node> list(const YAML::Node& node, const std::string& field) {
    std::vector<YAML::Node> out;
    if (node.IsNull()) return out;
    if (!node.IsSequence()) {
      fail(field, "expected a list");
      return out;
    }
    for (const auto& element : node)
      out.push_back(element);
    return out;
  }
  bool map(const YAML::Node& node, const std::string& field) {
    if (node.IsMap()) return true;
    fail(field, "expected a map");
    return false;
  }

private:
  const ObjectMeta& meta_;
  std::vector<Problem>& problems_;
  bool ok_ = true;
};

// node[key], or a null node when `node` is no map or has no such key (yaml-cpp throws when a
// missing key's node is looked at).
inline YAML::Node get(const YAML::Node& node, const char* key) {
  if (!node.IsMap()) return YAML::Node();
  const YAML::Node child = node[key];
  return child.IsDefined() ? child : YAML::Node();
}

inline std::string at(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

inline std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return s;
}

// spec of an HTTPRoute (http_route_reader.cc).
void read_http_route(ObjectReader& r, const YAML::Node& spec, HTTPRoute& out);

// A Gateway API duration (GEP-2257): "10s", "500ms", "1h30m"; nullopt when malformed.
std::optional<config::Duration> parse_duration_text(std::string_view text);

// Moves the problems that only say a document was ignored (another kind) into `notes`.
void split_notes(std::vector<Problem>& found, std::vector<Problem>& problems,
                 std::vector<Problem>& notes);

} // namespace weir::gateway
