#pragma once
// How src/config reads YAML: positions, items, the Checker that collects every error with its
// place, the Fields of one map, and the marks kept for the cross-reference checks. Private to
// src/config (yaml-cpp stays inside it, and its exceptions stop in loader.cc: house rule 3).
// Validation collects every problem it can find rather than stopping at the first, so a user
// fixes a config in one pass.
#include "weir/config/address.h"
#include "weir/config/config.h"
#include "weir/config/duration.h"
#include "weir/config/loader.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>
#include <yaml-cpp/yaml.h>

namespace weir::config::yaml {

constexpr unsigned kMaxWorkers = 1024;
constexpr uint32_t kMaxWeight = 1000000;
constexpr uint32_t kMaxIdleConnections = 65536;
constexpr uint32_t kMinHeadBytes = 1024;
constexpr uint32_t kMaxHeadBytes = 1048576;
constexpr uint32_t kMinBufferBytes = 4096; // limits.buffer_bytes; at most kMaxHeadBytes
constexpr uint32_t kMaxHeaders = 10000;
constexpr Duration kMaxDuration = std::chrono::hours(24);
constexpr size_t kMaxHostLength = 253;
constexpr size_t kMaxLabelLength = 63;
constexpr uint32_t kMaxThreshold = 100;
constexpr uint32_t kMaxConsecutiveFailures = 1000;
constexpr uint32_t kMaxRetryAttempts = 10;
constexpr uint32_t kMaxRetryMinConcurrency = 10000;
constexpr uint32_t kKiB = 1024;
constexpr uint32_t kMiB = 1024 * 1024;
constexpr uint32_t kMaxRetryBody = 16 * kMiB;
constexpr uint32_t kMaxMinRequests = 1000000000;
constexpr uint32_t kMaxFailureLimit = 100;
constexpr uint32_t kMaxInconclusiveLimit = 1000;
constexpr uint32_t kMaxFastAbortErrors = 100000;
constexpr uint32_t kMaxP99IncreasePercent = 1000;
constexpr uint32_t kMaxHookRetries = 10;
constexpr uint32_t kMaxTopUpRate = 1000; // synthetic requests per second, both versions
constexpr uint32_t kMaxTopUpBody = 64 * 1024;

struct Pos {
  int line = 0; // 1-based; 0 unknown
  int column = 0;
};

// yaml-cpp marks are 0-based, and -1 when unknown.
inline Pos pos_of_mark(const YAML::Mark& mark, Pos fallback = {}) {
  if (mark.line < 0 || mark.column < 0) return fallback;
  return {mark.line + 1, mark.column + 1};
}

inline Pos pos_of(const YAML::Node& node, Pos fallback = {}) {
  return pos_of_mark(node.Mark(), fallback);
}

// A node to check, with where it is and how to name it in a message.
struct Item {
  YAML::Node node;
  Pos pos;
  std::string path;
};

inline std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

inline std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

inline std::string quote(std::string_view s) {
  constexpr size_t kMaxShown = 80;
  std::string out = "\"";
  size_t shown = 0;
  for (char c : s) {
    if (shown++ == kMaxShown) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (u < 0x20 || u == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

inline std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Scalar:
    return quote(node.Scalar());
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Map:
    return "a map";
  default:
    return "an empty value";
  }
}

// Optimal string alignment distance (Levenshtein plus adjacent transpositions), for
// "did you mean" hints on unknown keys.
inline size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.size()][b.size()];
}

inline bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

inline bool is_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_name_char);
}

// RFC 9110 token characters, as in a header name.
inline bool is_token(std::string_view s) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// Digits only, no sign. Values past 2^40 saturate there, which every caller's range rejects.
inline std::optional<uint64_t> parse_digits(std::string_view s) {
  constexpr uint64_t kSaturate = uint64_t{1} << 40;
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  uint64_t value = 0;
  for (char c : s) {
    value = std::min(kSaturate, value * 10 + static_cast<uint64_t>(c - '0'));
  }
  return value;
}

// "12", "0.5", "12.25": digits, then optionally "." and one to nine more digits. Computed as one
// exact integer divided by an exact power of ten (both below 2^53), so "0.5%" reads as the same
// double as the literal 0.005. `extra_scale` divides by a further power of ten (2 for a percent).
// Integer parts past six digits come back as 1e9, which every caller's range rejects.
inline std::optional<double> parse_decimal(std::string_view s, int extra_scale) {
  const size_t dot = s.find('.');
  const std::string_view whole = s.substr(0, dot);
  const std::string_view fraction = dot == std::string_view::npos ? "" : s.substr(dot + 1);
  const auto whole_value = parse_digits(whole);
  if (!whole_value) return std::nullopt;
  if (dot != std::string_view::npos &&
      (fraction.empty() || fraction.size() > 9 || !parse_digits(fraction)))
    return std::nullopt;
  if (whole.size() > 6) return 1e9;
  uint64_t mantissa = *whole_value;
  for (char c : fraction)
    mantissa = mantissa * 10 + static_cast<uint64_t>(c - '0');
  double divisor = 1;
  for (size_t i = 0; i < fraction.size() + static_cast<size_t>(extra_scale); ++i)
    divisor *= 10;
  return static_cast<double>(mantissa) / divisor;
}

// A whole percent as a ratio: 100 → "1", 1000 → "10", 50 → "0.5".
inline std::string format_ratio(uint32_t percent) {
  std::string out = std::to_string(percent / 100);
  if (uint32_t rest = percent % 100; rest != 0) {
    out += '.';
    out += static_cast<char>('0' + rest / 10);
    if (rest % 10 != 0) out += static_cast<char>('0' + rest % 10);
  }
  return out;
}

inline std::string format_size(uint64_t bytes) {
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes);
}

// " (did you mean \"x\"?)" for the closest candidate within two edits, else "". Not for a
// candidate the edits would replace whole ("foo" is not a typo of "io").
inline std::string did_you_mean(std::string_view text,
                                std::span<const std::string_view> candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const size_t d = edit_distance(text, candidate);
    if (d < best_distance && d < candidate.size()) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? std::string() : " (did you mean " + quote(best) + "?)";
}
inline std::string did_you_mean(std::string_view text,
                                std::initializer_list<std::string_view> candidates) {
  return did_you_mean(text,
                      std::span<const std::string_view>(candidates.begin(), candidates.size()));
}

inline bool is_host_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Lowercased "example.com", "*.example.com" or "" (any host); nullopt when malformed.
inline std::optional<std::string> normalize_host(std::string_view text) {
  std::string host(text);
  std::transform(host.begin(), host.end(), host.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  if (host.empty()) return host;
  if (host.size() > kMaxHostLength) return std::nullopt;
  std::string_view rest = host;
  if (rest.starts_with("*.")) rest.remove_prefix(2);
  if (rest.empty()) return std::nullopt;
  size_t start = 0;
  while (true) {
    const size_t dot = rest.find('.', start);
    if (!is_host_label(rest.substr(start, dot == std::string_view::npos ? dot : dot - start)))
      return std::nullopt;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return host;
}

class Checker {
public:
  explicit Checker(std::string file) : file_(std::move(file)) {}

  void fail(Pos pos, std::string path, std::string message) {
    errors_.push_back(
        ConfigError{file_, pos.line, pos.column, std::move(path), std::move(message)});
  }
  void fail(const Item& item, std::string message) {
    fail(item.pos, item.path, std::move(message));
  }

  bool ok() const { return errors_.empty(); }
  std::vector<ConfigError> take_errors() {
    std::stable_sort(errors_.begin(), errors_.end(), [](const auto& a, const auto& b) {
      return std::pair(a.line, a.column) < std::pair(b.line, b.column);
    });
    return std::move(errors_);
  }

  // --- shape checks ---

  bool expect_map(const Item& item) {
    if (item.node.IsMap()) return true;
    fail(item, "expected a map, got " + describe(item.node));
    return false;
  }

  bool expect_list(const Item& item) {
    if (item.node.IsSequence()) return true;
    fail(item, "expected a list, got " + describe(item.node));
    return false;
  }

  std::vector<Item> elements(const Item& list) {
    std::vector<Item> out;
    size_t i = 0;
    for (const YAML::Node& element : list.node) {
      out.push_back(Item{element, pos_of(element, list.pos), index(list.path, i)});
      ++i;
    }
    return out;
  }

  // --- scalar readers: each reports its own error and returns nullopt ---

  std::optional<std::string> string(const Item& item) {
    if (item.node.IsScalar()) return item.node.Scalar();
    fail(item, "expected a string, got " + describe(item.node));
    return std::nullopt;
  }

  std::optional<std::string> name(const Item& item) {
    auto s = string(item);
    if (!s) return std::nullopt;
    if (!is_name(*s)) {
      fail(item,
           "expected a name made of letters, digits, \".\", \"_\" or \"-\", got " + quote(*s));
      return std::nullopt;
    }
    return s;
  }

  std::optional<uint32_t> integer(const Item& item, uint32_t min, uint32_t max) {
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : std::string();
    const bool digits = !text.empty() && std::all_of(text.begin(), text.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; });
    if (!item.node.IsScalar() || !digits) {
      fail(item, "expected a non-negative integer, got " + describe(item.node));
      return std::nullopt;
    }
    uint64_t value = 0;
    for (char c : text) {
      value = value * 10 + static_cast<uint64_t>(c - '0');
      if (value > max) break;
    }
    if (value < min || value > max) {
      fail(item, "must be between " + std::to_string(min) + " and " + std::to_string(max) +
                     ", got " + text);
      return std::nullopt;
    }
    return static_cast<uint32_t>(value);
  }

  std::optional<Duration> duration(const Item& item, bool positive) {
    std::optional<Duration> d;
    if (item.node.IsScalar()) d = parse_duration(item.node.Scalar());
    if (!d) {
      fail(item, "expected a duration like 500ms, 10s or 2m, got " + describe(item.node));
      return std::nullopt;
    }
    if (*d > kMaxDuration) {
      fail(item, "must be at most " + format_duration(kMaxDuration) + ", got " +
                     quote(item.node.Scalar()));
      return std::nullopt;
    }
    if (positive && d->count() == 0) {
      fail(item, "must be greater than 0");
      return std::nullopt;
    }
    return d;
  }

  // YAML 1.2 booleans only: in YAML 1.2 "yes", "on" and "off" are strings, so accepting them
  // would make the file mean different things to different readers.
  std::optional<bool> boolean(const Item& item) {
    if (item.node.IsScalar()) {
      const std::string& s = item.node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") return true;
      if (s == "false" || s == "False" || s == "FALSE") return false;
    }
    fail(item, "expected true or false, got " + describe(item.node));
    return std::nullopt;
  }

  // "20%" or a plain 20; 0 to 100.
  std::optional<uint32_t> percent(const Item& item) {
    std::string_view text = item.node.IsScalar() ? std::string_view(item.node.Scalar()) : "";
    if (text.ends_with('%')) text.remove_suffix(1);
    const auto value = item.node.IsScalar() ? parse_digits(text) : std::nullopt;
    if (!value) {
      fail(item, "expected a percentage like 20%, got " + describe(item.node));
      return std::nullopt;
    }
    if (*value > 100) {
      fail(item, "must be between 0% and 100%, got " + quote(item.node.Scalar()));
      return std::nullopt;
    }
    return static_cast<uint32_t>(*value);
  }

  // A share: a percentage ("1%", "0.5%") or a ratio with a decimal point ("0.01"), from 0 to
  // max_percent; returned as a ratio. A bare integer other than 0 is refused: "1" could mean 1% or
  // 100%, and the wrong reading would quietly switch a check off. With allow_none, "none" and -1
  // return -1 (the check is off).
  std::optional<double> ratio(const Item& item, uint32_t max_percent, bool allow_none) {
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : std::string();
    if (allow_none && (text == "none" || text == "-1")) return -1.0;
    std::string_view number = text;
    const bool percent = number.ends_with('%');
    if (percent) number.remove_suffix(1);
    const auto value = item.node.IsScalar() ? parse_decimal(number, percent ? 2 : 0) : std::nullopt;
    if (!value) {
      fail(item, "expected a percentage like 1% or 0.5%, or a ratio like 0.01" +
                     std::string(allow_none ? ", or \"none\"" : "") + ", got " +
                     describe(item.node));
      return std::nullopt;
    }
    if (!percent && *value != 0 && number.find('.') == std::string_view::npos) {
      fail(item, "is ambiguous: write " + text + "% for a percentage, or a ratio with a decimal " +
                     "point like 0.01, got " + quote(text));
      return std::nullopt;
    }
    if (*value > max_percent / 100.0) {
      fail(item, percent ? "must be between 0% and " + std::to_string(max_percent) + "%, got " +
                               quote(text)
                         : "must be between 0 and " + format_ratio(max_percent) +
                               " as a ratio, got " + quote(text));
      return std::nullopt;
    }
    return value;
  }

  // Bytes: 65536, 64KiB or 1MiB.
  std::optional<uint32_t> byte_size(const Item& item, uint32_t max) {
    std::string_view text = item.node.IsScalar() ? std::string_view(item.node.Scalar()) : "";
    uint64_t scale = 1;
    if (text.ends_with("KiB")) {
      scale = kKiB;
      text.remove_suffix(3);
    } else if (text.ends_with("MiB")) {
      scale = kMiB;
      text.remove_suffix(3);
    }
    const auto value = item.node.IsScalar() ? parse_digits(text) : std::nullopt;
    if (!value) {
      fail(item, "expected a size in bytes like 65536, 64KiB or 1MiB, got " + describe(item.node));
      return std::nullopt;
    }
    if (*value * scale > max) {
      fail(item, "must be at most " + format_size(max) + ", got " + quote(item.node.Scalar()));
      return std::nullopt;
    }
    return static_cast<uint32_t>(*value * scale);
  }

  std::optional<Address> address(const Item& item, bool allow_port_zero) {
    auto s = string(item);
    if (!s) return std::nullopt;
    auto parsed = parse_address(*s, allow_port_zero);
    if (!parsed) {
      fail(item, parsed.error().message);
      return std::nullopt;
    }
    return *parsed;
  }

  // --- values shared by several sections ---

  // A required list: must be a list and hold at least one element.
  std::optional<std::vector<Item>> nonempty_list(const Item& item, std::string_view what) {
    if (!expect_list(item)) return std::nullopt;
    if (item.node.size() == 0) {
      fail(item, "must list at least one " + std::string(what));
      return std::nullopt;
    }
    return elements(item);
  }

  // "namespace/name" of a service; whether it is defined is checked later.
  std::optional<std::string> service_id(const Item& item) {
    auto v = string(item);
    if (!v) return std::nullopt;
    const size_t slash = v->find('/');
    if (slash == std::string::npos || !is_name(std::string_view(*v).substr(0, slash)) ||
        !is_name(std::string_view(*v).substr(slash + 1))) {
      fail(item, "expected a service as \"namespace/name\", got " + quote(*v));
      return std::nullopt;
    }
    return v;
  }

private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// The entries of one YAML map. Unknown and repeated keys are reported as it is built (yaml-cpp
// itself keeps repeated keys silently).
class Fields {
public:
  Fields(Checker& checker, const Item& map, std::initializer_list<std::string_view> known)
      : Fields(checker, map, std::span<const std::string_view>(known.begin(), known.size())) {}
  Fields(Checker& checker, const Item& map, std::span<const std::string_view> known)
      : checker_(checker), map_(map) {
    for (const auto& entry : map.node) {
      const YAML::Node& key = entry.first;
      const Pos key_pos = pos_of(key, map.pos);
      if (!key.IsScalar()) {
        checker.fail(key_pos, map.path, "expected a string key, got " + describe(key));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string path = join(map.path, name);
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        checker.fail(key_pos, path, unknown_key_message(name, known));
        continue;
      }
      if (auto it = entries_.find(name); it != entries_.end()) {
        checker.fail(key_pos, path,
                     "duplicate key " + quote(name) + " (first given at line " +
                         std::to_string(it->second.key_pos.line) + ")");
        continue;
      }
      // yaml-cpp marks an empty value at the token after it, often on the next line.
      const Pos value_pos = entry.second.IsNull() ? key_pos : pos_of(entry.second, key_pos);
      entries_.emplace(name, Entry{key_pos, Item{entry.second, value_pos, path}});
    }
  }

  std::optional<Item> get(std::string_view key) const {
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) return std::nullopt;
    return it->second.value;
  }

  std::optional<Item> require(std::string_view key) const {
    auto item = get(key);
    if (!item) checker_.fail(map_, "missing required key " + quote(key));
    return item;
  }

private:
  struct Entry {
    Pos key_pos;
    Item value;
  };

  static std::string unknown_key_message(const std::string& name,
                                         std::span<const std::string_view> known) {
    return "unknown key " + quote(name) + did_you_mean(name, known);
  }

  Checker& checker_;
  Item map_;
  std::map<std::string, Entry> entries_;
};

// Positions kept beside the config for the cross-reference checks.
struct ListenerMarks {
  std::string path;
  std::optional<Item> name;
  std::optional<Item> address;
};
struct ServiceMarks {
  Pos pos;
  std::string path;
  bool valid = false;
};
struct BackendMarks {
  std::optional<Item> service;
  bool weight_ok = false;
};
struct RouteMarks {
  std::string path;
  std::optional<Item> name;
  std::optional<Item> listener;
  Item match_at; // the match map, or the route itself when absent
  bool match_ok = true;
  bool backends_ok = false;
  std::vector<BackendMarks> backends;
  // rollout.stable and rollout.canary, when each is a well-formed service id.
  std::optional<Item> rollout_stable;
  std::optional<Item> rollout_canary;
  std::optional<Item> mirror;         // the route's mirror map, when it has one
  std::optional<Item> max_divergence; // rollout.analysis.max_divergence, when given
};

} // namespace weir::config::yaml
