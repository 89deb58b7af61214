#include "weir/config/loader.h"

#include "weir/config/address.h"
#include "weir/config/duration.h"
#include "weir/net/url.h"
#include "weir/rollout/condition.h"
#include "weir/rollout/query_template.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <exception>
#include <fcntl.h>
#include <initializer_list>
#include <map>
#include <optional>
#include <set>
#include <system_error>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <utility>
#include <yaml-cpp/yaml.h>

// yaml-cpp is used only in this file, and its exceptions stop here (house rule 3). Validation
// collects every problem it can find rather than stopping at the first, so a user fixes a config
// in one pass. A value that fails its own check is left out of the cross-reference checks that
// follow, so one mistake is reported once.
namespace weir::config {
namespace {

constexpr unsigned kMaxWorkers = 1024;
constexpr uint32_t kMaxWeight = 1000000;
constexpr uint32_t kMaxIdleConnections = 65536;
constexpr uint32_t kMinHeadBytes = 1024;
constexpr uint32_t kMaxHeadBytes = 1048576;
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
Pos pos_of_mark(const YAML::Mark& mark, Pos fallback = {}) {
  if (mark.line < 0 || mark.column < 0) return fallback;
  return {mark.line + 1, mark.column + 1};
}

Pos pos_of(const YAML::Node& node, Pos fallback = {}) {
  return pos_of_mark(node.Mark(), fallback);
}

// A node to check, with where it is and how to name it in a message.
struct Item {
  YAML::Node node;
  Pos pos;
  std::string path;
};

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

std::string quote(std::string_view s) {
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

std::string describe(const YAML::Node& node) {
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
size_t edit_distance(std::string_view a, std::string_view b) {
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

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

bool is_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), is_name_char);
}

// RFC 9110 token characters, as in a header name.
bool is_token(std::string_view s) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           kSymbols.find(c) != std::string_view::npos;
  });
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// Digits only, no sign. Values past 2^40 saturate there, which every caller's range rejects.
std::optional<uint64_t> parse_digits(std::string_view s) {
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
std::optional<double> parse_decimal(std::string_view s, int extra_scale) {
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
std::string format_ratio(uint32_t percent) {
  std::string out = std::to_string(percent / 100);
  if (uint32_t rest = percent % 100; rest != 0) {
    out += '.';
    out += static_cast<char>('0' + rest / 10);
    if (rest % 10 != 0) out += static_cast<char>('0' + rest % 10);
  }
  return out;
}

std::string format_size(uint64_t bytes) {
  if (bytes != 0 && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + "MiB";
  if (bytes != 0 && bytes % kKiB == 0) return std::to_string(bytes / kKiB) + "KiB";
  return std::to_string(bytes);
}

// " (did you mean \"x\"?)" for the closest candidate within two edits, else "".
std::string did_you_mean(std::string_view text,
                         std::initializer_list<std::string_view> candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (std::string_view candidate : candidates) {
    const size_t d = edit_distance(text, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best.empty() ? std::string() : " (did you mean " + quote(best) + "?)";
}

bool is_host_label(std::string_view label) {
  if (label.empty() || label.size() > kMaxLabelLength) return false;
  return std::all_of(label.begin(), label.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
  });
}

// Lowercased "example.com", "*.example.com" or "" (any host); nullopt when malformed.
std::optional<std::string> normalize_host(std::string_view text) {
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

private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

// The entries of one YAML map. Unknown and repeated keys are reported as it is built (yaml-cpp
// itself keeps repeated keys silently).
class Fields {
public:
  Fields(Checker& checker, const Item& map, std::initializer_list<std::string_view> known)
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
                                         std::initializer_list<std::string_view> known) {
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
};

class Loader {
public:
  explicit Loader(const std::string& file) : c_(file) {}

  LoadResult load(std::string_view text, const std::string& source_path) {
    YAML::Node root;
    try {
      root = YAML::Load(std::string(text));
    } catch (const YAML::Exception& e) {
      c_.fail(pos_of_mark(e.mark), "", e.msg);
      return c_.take_errors();
    } catch (const std::exception& e) {
      c_.fail({}, "", std::string("cannot parse YAML: ") + e.what());
      return c_.take_errors();
    }
    try {
      check(root);
    } catch (const YAML::Exception& e) {
      // Not expected: every node is type-checked before use. Reported rather than thrown.
      c_.fail(pos_of_mark(e.mark), "", "internal error while reading YAML: " + e.msg);
    } catch (const std::exception& e) {
      c_.fail({}, "", std::string("internal error while checking the config: ") + e.what());
    }
    if (!c_.ok()) return c_.take_errors();
    config_.source_path = source_path;
    return std::move(config_);
  }

private:
  void check(const YAML::Node& root) {
    const Item top{root, pos_of(root, Pos{1, 1}), ""};
    if (!root.IsMap()) {
      if (!root.IsDefined() || root.IsNull()) {
        c_.fail({}, "", "the file is empty; expected a map with listeners, services and routes");
      } else {
        c_.fail(top, "expected a map at the top level, got " + describe(root));
      }
      return;
    }
    Fields f(c_, top,
             {"workers", "listeners", "services", "routes", "limits", "access_log", "drain_timeout",
              "control", "admin", "state_dir", "trusted_proxies"});

    config_.workers = default_workers();
    if (auto w = f.get("workers")) read_workers(*w);
    if (auto l = f.require("listeners")) read_listeners(*l);
    if (auto s = f.require("services")) read_services(*s);
    if (auto r = f.require("routes")) read_routes(*r);
    if (auto l = f.get("limits")) read_limits(*l);
    if (auto a = f.get("access_log")) read_access_log(*a);
    if (auto d = f.get("drain_timeout")) {
      if (auto v = c_.duration(*d, false)) config_.drain_timeout = *v;
    }
    if (auto c = f.get("control")) read_control(*c);
    if (auto a = f.get("admin")) read_admin(*a);
    if (auto d = f.get("state_dir")) {
      if (auto v = c_.string(*d)) {
        if (v->empty() || (*v)[0] != '/')
          c_.fail(*d, "expected an absolute directory path, got " + quote(*v));
        else
          config_.state_dir = *v;
      }
    }

    if (auto t = f.get("trusted_proxies")) read_trusted_proxies(*t);

    check_references();
  }

  void read_trusted_proxies(const Item& item) {
    if (!c_.expect_list(item)) return;
    for (const Item& element : c_.elements(item)) {
      if (auto v = c_.string(element)) {
        auto net = parse_cidr(*v);
        if (!net)
          c_.fail(element, net.error().message);
        else
          config_.trusted_proxies.push_back(std::move(*net));
      }
    }
  }

  static unsigned default_workers() { return std::max(1u, std::thread::hardware_concurrency()); }

  void read_workers(const Item& item) {
    if (item.node.IsScalar() && item.node.Scalar() == "auto") return;
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : std::string();
    const bool digits =
        !text.empty() && text.size() <= 4 &&
        std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    const unsigned value = digits ? static_cast<unsigned>(std::stoul(text)) : 0;
    if (value < 1 || value > kMaxWorkers) {
      c_.fail(item, "expected \"auto\" or an integer between 1 and " + std::to_string(kMaxWorkers) +
                        ", got " + describe(item.node));
      return;
    }
    config_.workers = value;
  }

  // A required list: must be a list and hold at least one element.
  std::optional<std::vector<Item>> nonempty_list(const Item& item, std::string_view what) {
    if (!c_.expect_list(item)) return std::nullopt;
    if (item.node.size() == 0) {
      c_.fail(item, "must list at least one " + std::string(what));
      return std::nullopt;
    }
    return c_.elements(item);
  }

  void read_listeners(const Item& item) {
    auto list = nonempty_list(item, "listener");
    if (!list) return;
    all_listeners_named_ = true;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) {
        all_listeners_named_ = false;
        continue;
      }
      Fields f(c_, element, {"name", "address"});
      Listener listener;
      ListenerMarks marks;
      marks.path = element.path;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          listener.name = *v;
          marks.name = *n;
        }
      }
      if (auto a = f.require("address")) {
        if (auto v = c_.address(*a, true)) {
          listener.address = *v;
          marks.address = *a;
        }
      }
      if (!marks.name) all_listeners_named_ = false;
      config_.listeners.push_back(std::move(listener));
      listener_marks_.push_back(std::move(marks));
    }
  }

  void read_services(const Item& item) {
    auto list = nonempty_list(item, "service");
    if (!list) return;
    all_services_named_ = true;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) {
        all_services_named_ = false;
        continue;
      }
      Fields f(c_, element,
               {"namespace", "name", "endpoints", "health_check", "probes", "outlier_detection",
                "max_idle_connections"});
      Service service;
      ServiceMarks marks{element.pos, element.path, true};
      if (auto n = f.require("namespace")) {
        if (auto v = c_.name(*n)) {
          service.ns = *v;
        } else {
          marks.valid = false;
        }
      } else {
        marks.valid = false;
      }
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          service.name = *v;
        } else {
          marks.valid = false;
        }
      } else {
        marks.valid = false;
      }
      if (auto e = f.require("endpoints")) read_endpoints(*e, service);
      if (auto h = f.get("health_check")) read_health_check(*h, service.health_check);
      if (auto p = f.get("probes")) read_probes(*p, service.probes);
      if (auto o = f.get("outlier_detection"))
        read_outlier_detection(*o, service.outlier_detection);
      if (auto m = f.get("max_idle_connections")) {
        if (auto v = c_.integer(*m, 0, kMaxIdleConnections)) service.max_idle_connections = *v;
      }
      if (!marks.valid) all_services_named_ = false;
      config_.services.push_back(std::move(service));
      service_marks_.push_back(std::move(marks));
    }
  }

  void read_endpoints(const Item& item, Service& service) {
    auto list = nonempty_list(item, "endpoint");
    if (!list) return;
    for (const Item& element : *list) {
      auto address = c_.address(element, false);
      if (!address) continue;
      if (std::find(service.endpoints.begin(), service.endpoints.end(), *address) !=
          service.endpoints.end()) {
        c_.fail(element, "endpoint " + address->text() + " is listed twice");
        continue;
      }
      service.endpoints.push_back(*address);
    }
  }

  void read_health_check(const Item& item, HealthCheck& check) {
    if (!c_.expect_map(item)) return;
    check.enabled = true;
    Fields f(c_, item,
             {"type", "path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold",
              "expected_status"});
    if (auto t = f.get("type")) {
      if (auto v = c_.string(*t)) {
        if (*v == "http") {
          check.type = HealthCheck::Type::http;
        } else if (*v == "tcp") {
          check.type = HealthCheck::Type::tcp;
        } else {
          c_.fail(*t, "expected \"http\" or \"tcp\", got " + quote(*v));
        }
      }
    }
    // A tcp check only connects: an HTTP-only setting there would be silently ignored.
    const bool http = check.type == HealthCheck::Type::http;
    if (auto p = f.get("path")) {
      if (!http) {
        c_.fail(*p, "only applies when type is \"http\"");
      } else if (auto v = request_path(*p)) {
        check.path = *v;
      }
    }
    if (auto s = f.get("expected_status")) {
      if (!http) {
        c_.fail(*s, "only applies when type is \"http\"");
      } else {
        read_status_ranges(*s, check.expected_status);
      }
    }
    bool interval_ok = true;
    if (auto i = f.get("interval")) {
      if (auto v = c_.duration(*i, true)) {
        check.interval = *v;
      } else {
        interval_ok = false;
      }
    }
    if (auto t = f.get("timeout")) {
      if (auto v = c_.duration(*t, true)) {
        if (interval_ok && *v > check.interval) {
          c_.fail(*t, "must not exceed interval (" + format_duration(check.interval) + "), got " +
                          quote(t->node.Scalar()));
        } else {
          check.timeout = *v;
        }
      }
    } else if (interval_ok && check.timeout > check.interval) {
      // Only the interval was shortened: keep the default timeout inside it.
      check.timeout = check.interval;
    }
    if (auto h = f.get("healthy_threshold")) {
      if (auto v = c_.integer(*h, 1, kMaxThreshold)) check.healthy_threshold = *v;
    }
    if (auto u = f.get("unhealthy_threshold")) {
      if (auto v = c_.integer(*u, 1, kMaxThreshold)) check.unhealthy_threshold = *v;
    }
  }

  // A list of status codes (200) and inclusive ranges ("200-399"), 100 to 599. `out` is replaced
  // only when every element is valid.
  void read_status_ranges(const Item& item, std::vector<StatusRange>& out) {
    auto list = nonempty_list(item, "status code or range");
    if (!list) return;
    std::vector<StatusRange> ranges;
    bool ok = true;
    for (const Item& element : *list) {
      if (auto r = status_range(element)) {
        ranges.push_back(*r);
      } else {
        ok = false;
      }
    }
    if (ok) out = std::move(ranges);
  }

  std::optional<StatusRange> status_range(const Item& item) {
    const std::string text = item.node.IsScalar() ? item.node.Scalar() : std::string();
    const size_t dash = text.find('-');
    const auto low = parse_digits(std::string_view(text).substr(0, dash));
    const auto high =
        dash == std::string::npos ? low : parse_digits(std::string_view(text).substr(dash + 1));
    if (!item.node.IsScalar() || !low || !high) {
      c_.fail(item, "expected a status code like 200 or a range like 200-399, got " +
                        describe(item.node));
      return std::nullopt;
    }
    if (*low < 100 || *low > 599 || *high < 100 || *high > 599) {
      c_.fail(item, "status codes must be between 100 and 599, got " + text);
      return std::nullopt;
    }
    if (*low > *high) {
      c_.fail(item, "a range must go from low to high, got " + text);
      return std::nullopt;
    }
    return StatusRange{static_cast<int>(*low), static_cast<int>(*high)};
  }

  // An origin-form request target, sent as written: it must not be able to break the request
  // line.
  std::optional<std::string> request_path(const Item& item) {
    auto s = c_.string(item);
    if (!s) return std::nullopt;
    if (!s->starts_with('/')) {
      c_.fail(item, "must start with \"/\", got " + quote(*s));
      return std::nullopt;
    }
    if (std::any_of(s->begin(), s->end(), [](char ch) {
          const auto u = static_cast<unsigned char>(ch);
          return u <= 0x20 || u == 0x7f || ch == '#';
        })) {
      c_.fail(item, "must not contain spaces, control characters or \"#\", got " + quote(*s));
      return std::nullopt;
    }
    return s;
  }

  void read_probes(const Item& item, std::vector<Probe>& probes) {
    if (!c_.expect_list(item)) return;
    std::map<std::string, int> names; // name → line of its first definition
    for (const Item& element : c_.elements(item)) {
      if (!c_.expect_map(element)) continue;
      Fields f(c_, element, {"name", "request", "expect", "interval", "timeout", "ready_after"});
      Probe probe;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          auto [it, inserted] = names.emplace(*v, n->pos.line);
          if (!inserted) {
            c_.fail(*n, "duplicate probe name " + quote(*v) + " (first defined at line " +
                            std::to_string(it->second) + ")");
          }
          probe.name = *v;
        }
      }
      if (auto r = f.get("request")) read_probe_request(*r, probe);
      if (auto e = f.get("expect")) read_probe_expect(*e, probe);
      if (auto i = f.get("interval")) {
        if (auto v = c_.duration(*i, true)) probe.interval = *v;
      }
      if (auto t = f.get("timeout")) {
        if (auto v = c_.duration(*t, true)) probe.timeout = *v;
      }
      if (auto r = f.get("ready_after")) {
        if (auto v = c_.integer(*r, 1, kMaxThreshold)) probe.ready_after = *v;
      }
      probes.push_back(std::move(probe));
    }
  }

  void read_probe_request(const Item& item, Probe& probe) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item, {"method", "path", "headers", "body"});
    if (auto m = f.get("method")) {
      if (auto v = c_.string(*m)) {
        if (v->empty() ||
            !std::all_of(v->begin(), v->end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; })) {
          c_.fail(*m, "expected an HTTP method in upper-case letters, like GET or POST, got " +
                          quote(*v));
        } else {
          probe.method = *v;
        }
      }
    }
    if (auto p = f.get("path")) {
      if (auto v = request_path(*p)) probe.path = *v;
    }
    if (auto h = f.get("headers")) read_headers(*h, probe.headers, true);
    if (auto b = f.get("body")) {
      if (auto v = c_.string(*b)) probe.body = *v;
    }
  }

  void read_probe_expect(const Item& item, Probe& probe) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item, {"status", "body_contains", "header", "max_latency"});
    if (auto s = f.get("status")) read_status_ranges(*s, probe.expect_status);
    if (auto b = f.get("body_contains")) {
      if (auto v = c_.string(*b)) probe.expect_body_contains = *v;
    }
    if (auto h = f.get("header")) read_headers(*h, probe.expect_headers, false);
    if (auto m = f.get("max_latency")) {
      if (auto v = c_.duration(*m, false)) probe.max_latency = *v;
    }
  }

  // A map of header name → value. Names are compared case-insensitively for duplicates. In a
  // request, the framing headers are weir's to write: a user's copy would contradict the body.
  void read_headers(const Item& item, std::vector<std::pair<std::string, std::string>>& out,
                    bool request) {
    if (!c_.expect_map(item)) return;
    std::map<std::string, int> seen; // lowercased name → line of its first use
    for (const auto& entry : item.node) {
      const YAML::Node& key = entry.first;
      const Pos key_pos = pos_of(key, item.pos);
      if (!key.IsScalar()) {
        c_.fail(key_pos, item.path, "expected a string key, got " + describe(key));
        continue;
      }
      const std::string& name = key.Scalar();
      const std::string path = join(item.path, name);
      if (!is_token(name)) {
        c_.fail(key_pos, path,
                "expected a header name made of letters, digits and !#$%&'*+-.^_`|~, got " +
                    quote(name));
        continue;
      }
      const std::string lower = ascii_lower(name);
      if (request &&
          (lower == "content-length" || lower == "transfer-encoding" || lower == "connection")) {
        c_.fail(key_pos, path, "header " + quote(name) + " is set by weir and cannot be given");
        continue;
      }
      if (auto [it, inserted] = seen.emplace(lower, key_pos.line); !inserted) {
        c_.fail(key_pos, path,
                "duplicate header " + quote(name) + " (first given at line " +
                    std::to_string(it->second) + ")");
        continue;
      }
      const Pos value_pos = entry.second.IsNull() ? key_pos : pos_of(entry.second, key_pos);
      const Item value{entry.second, value_pos, path};
      auto v = c_.string(value);
      if (!v) continue;
      if (std::any_of(v->begin(), v->end(), [](char ch) {
            const auto u = static_cast<unsigned char>(ch);
            return (u < 0x20 && ch != '\t') || u == 0x7f;
          })) {
        c_.fail(value, "must not contain control characters, got " + quote(*v));
        continue;
      }
      out.emplace_back(name, *v);
    }
  }

  void read_outlier_detection(const Item& item, OutlierDetection& outlier) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item,
             {"enabled", "consecutive_failures", "consecutive_gateway_failures",
              "base_ejection_time", "max_ejection_percent"});
    if (auto e = f.get("enabled")) {
      if (auto v = c_.boolean(*e)) outlier.enabled = *v;
    }
    if (auto c = f.get("consecutive_failures")) {
      if (auto v = c_.integer(*c, 1, kMaxConsecutiveFailures)) outlier.consecutive_failures = *v;
    }
    if (auto g = f.get("consecutive_gateway_failures")) {
      if (auto v = c_.integer(*g, 0, kMaxConsecutiveFailures))
        outlier.consecutive_gateway_failures = *v;
    }
    if (auto b = f.get("base_ejection_time")) {
      if (auto v = c_.duration(*b, true)) outlier.base_ejection_time = *v;
    }
    if (auto m = f.get("max_ejection_percent")) {
      if (auto v = c_.percent(*m)) outlier.max_ejection_percent = *v;
    }
  }

  void read_retries(const Item& item, Retries& retries) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item,
             {"attempts", "on", "budget", "max_body", "retry_other_backend", "per_try_timeout",
              "min_concurrency"});
    if (auto a = f.get("attempts")) {
      if (auto v = c_.integer(*a, 0, kMaxRetryAttempts)) retries.attempts = *v;
    }
    if (auto o = f.get("on")) read_retry_on(*o, retries);
    if (auto b = f.get("budget")) {
      if (auto v = c_.percent(*b)) retries.budget_percent = *v;
    }
    if (auto m = f.get("max_body")) {
      if (auto v = c_.byte_size(*m, kMaxRetryBody)) retries.max_body_bytes = *v;
    }
    if (auto r = f.get("retry_other_backend")) {
      if (auto v = c_.boolean(*r)) retries.retry_other_backend = *v;
    }
    if (auto t = f.get("per_try_timeout")) {
      if (auto v = c_.duration(*t, false)) retries.per_try_timeout = *v;
    }
    if (auto m = f.get("min_concurrency")) {
      if (auto v = c_.integer(*m, 0, kMaxRetryMinConcurrency)) retries.min_concurrency = *v;
    }
  }

  // The conditions listed replace the defaults entirely; an empty list retries on nothing.
  void read_retry_on(const Item& item, Retries& retries) {
    if (!c_.expect_list(item)) return;
    retries.on_connect_failure = false;
    retries.on_reset = false;
    retries.on_status.clear();
    std::set<std::string> seen;
    for (const Item& element : c_.elements(item)) {
      const std::string text = element.node.IsScalar() ? element.node.Scalar() : std::string();
      const auto code = parse_digits(text);
      if (!element.node.IsScalar() || (!code && text != "connect-failure" && text != "reset")) {
        std::string message =
            "expected \"connect-failure\", \"reset\" or a status code from 500 to 599, got " +
            describe(element.node);
        if (element.node.IsScalar()) message += did_you_mean(text, {"connect-failure", "reset"});
        c_.fail(element, message);
        continue;
      }
      if (code && (*code < 500 || *code > 599)) {
        c_.fail(element, "status codes must be between 500 and 599, got " + text);
        continue;
      }
      if (!seen.insert(code ? std::to_string(*code) : text).second) {
        c_.fail(element, quote(text) + " is listed twice");
        continue;
      }
      if (code) {
        retries.on_status.push_back(static_cast<int>(*code));
      } else if (text == "reset") {
        retries.on_reset = true;
      } else {
        retries.on_connect_failure = true;
      }
    }
  }

  void read_routes(const Item& item) {
    auto list = nonempty_list(item, "route");
    if (!list) return;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) continue;
      Fields f(c_, element,
               {"name", "listener", "match", "backends", "timeouts", "retries", "rollout"});
      Route route;
      RouteMarks marks;
      marks.path = element.path;
      marks.match_at = element;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          route.name = *v;
          marks.name = *n;
        }
      }
      if (auto l = f.require("listener")) {
        if (auto v = c_.name(*l)) {
          route.listener = *v;
          marks.listener = *l;
        }
      }
      if (auto m = f.get("match")) {
        marks.match_at = *m;
        marks.match_ok = read_match(*m, route.match);
      }
      if (auto b = f.require("backends")) marks.backends_ok = read_backends(*b, route, marks);
      if (auto t = f.get("timeouts")) read_timeouts(*t, route.timeouts);
      if (auto r = f.get("retries")) read_retries(*r, route.retries);
      if (auto r = f.get("rollout")) read_rollout(*r, route.rollout, marks);
      config_.routes.push_back(std::move(route));
      route_marks_.push_back(std::move(marks));
    }
  }

  bool read_match(const Item& item, Match& match) {
    if (!c_.expect_map(item)) return false;
    Fields f(c_, item, {"host", "path_prefix"});
    bool ok = true;
    if (auto h = f.get("host")) {
      auto s = c_.string(*h);
      std::optional<std::string> host;
      if (s) host = normalize_host(*s);
      if (s && !host) {
        c_.fail(*h, "expected a host name like example.com or *.example.com (or none for any "
                    "host), got " +
                        quote(*s));
      }
      if (host) {
        match.host = *host;
      } else {
        ok = false;
      }
    }
    if (auto p = f.get("path_prefix")) {
      auto s = c_.string(*p);
      if (!s) {
        ok = false;
      } else if (!s->starts_with('/')) {
        c_.fail(*p, "must start with \"/\", got " + quote(*s));
        ok = false;
      } else if (std::any_of(s->begin(), s->end(), [](char ch) {
                   const auto u = static_cast<unsigned char>(ch);
                   return u <= 0x20 || u == 0x7f || ch == '?' || ch == '#';
                 })) {
        c_.fail(*p,
                "must not contain spaces, control characters, \"?\" or \"#\", got " + quote(*s));
        ok = false;
      } else {
        match.path_prefix = *s;
      }
    }
    return ok;
  }

  bool read_backends(const Item& item, Route& route, RouteMarks& marks) {
    auto list = nonempty_list(item, "backend");
    if (!list) return false;
    bool all_ok = true;
    for (const Item& element : *list) {
      if (!c_.expect_map(element)) {
        all_ok = false;
        continue;
      }
      Fields f(c_, element, {"service", "weight"});
      Backend backend;
      BackendMarks bm;
      if (auto s = f.require("service")) {
        if (auto v = service_id(*s)) {
          backend.service = *v;
          bm.service = *s;
        }
      }
      bm.weight_ok = true;
      if (auto w = f.get("weight")) {
        if (auto v = c_.integer(*w, 0, kMaxWeight)) {
          backend.weight = *v;
        } else {
          bm.weight_ok = false;
        }
      }
      if (!bm.service || !bm.weight_ok) all_ok = false;
      route.backends.push_back(std::move(backend));
      marks.backends.push_back(std::move(bm));
    }
    // Every weight 0 is allowed: the route answers 503 (an operator's way to stop traffic).
    return all_ok;
  }

  // "namespace/name" of a service; whether it is defined is checked later.
  std::optional<std::string> service_id(const Item& item) {
    auto v = c_.string(item);
    if (!v) return std::nullopt;
    const size_t slash = v->find('/');
    if (slash == std::string::npos || !is_name(std::string_view(*v).substr(0, slash)) ||
        !is_name(std::string_view(*v).substr(slash + 1))) {
      c_.fail(item, "expected a service as \"namespace/name\", got " + quote(*v));
      return std::nullopt;
    }
    return v;
  }

  void read_timeouts(const Item& item, Timeouts& timeouts) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item, {"connect", "request", "idle"});
    if (auto i = f.get("connect")) {
      if (auto v = c_.duration(*i, true)) timeouts.connect = *v;
    }
    if (auto i = f.get("request")) {
      if (auto v = c_.duration(*i, true)) timeouts.request = *v;
    }
    if (auto i = f.get("idle")) {
      if (auto v = c_.duration(*i, false)) timeouts.idle = *v;
    }
  }

  // --- rollout ---

  void read_rollout(const Item& item, Rollout& rollout, RouteMarks& marks) {
    if (!c_.expect_map(item)) return;
    rollout.enabled = true;
    Fields f(c_, item,
             {"stable", "canary", "steps", "analysis", "fast_abort", "require_ready", "affinity",
              "override", "notify", "max_canary_share_of_capacity", "hooks"});
    if (auto s = f.require("stable")) {
      if (auto v = service_id(*s)) {
        rollout.stable = *v;
        marks.rollout_stable = *s;
      }
    }
    if (auto s = f.require("canary")) {
      if (auto v = service_id(*s)) {
        rollout.canary = *v;
        if (marks.rollout_stable && *v == rollout.stable) {
          c_.fail(*s, "must be a different service than stable, got " + quote(*v) + " for both");
        } else {
          marks.rollout_canary = *s;
        }
      }
    }
    if (auto s = f.require("steps")) read_rollout_steps(*s, rollout.steps);
    if (auto a = f.get("analysis")) read_rollout_analysis(*a, rollout.analysis);
    if (auto a = f.get("fast_abort")) {
      if (c_.expect_map(*a)) {
        Fields fa(c_, *a, {"consecutive_errors"});
        if (auto e = fa.require("consecutive_errors")) {
          if (auto v = c_.integer(*e, 1, kMaxFastAbortErrors))
            rollout.fast_abort_consecutive_errors = *v;
        }
      }
    }
    if (auto r = f.get("require_ready")) {
      if (auto v = c_.boolean(*r)) rollout.require_ready = *v;
    }
    if (auto a = f.get("affinity")) {
      if (c_.expect_map(*a)) {
        Fields fa(c_, *a, {"cookie", "max_age"});
        if (auto c = fa.require("cookie")) {
          if (auto v = token(*c, "cookie name")) rollout.affinity_cookie = *v;
        }
        if (auto m = fa.get("max_age")) {
          // Set-Cookie's Max-Age counts whole seconds: 1500ms would quietly become 1s, and
          // 500ms would expire the cookie at once.
          if (auto v = c_.duration(*m, true)) {
            if (v->count() % 1000 != 0) {
              c_.fail(*m, "must be a whole number of seconds (a cookie's Max-Age), got " +
                              quote(m->node.Scalar()));
            } else {
              rollout.affinity_max_age = *v;
            }
          }
        }
      }
    }
    if (auto o = f.get("override")) {
      if (c_.expect_map(*o)) {
        Fields fo(c_, *o, {"header", "secret"});
        if (auto h = fo.require("header")) {
          if (auto v = token(*h, "header name")) rollout.override_header = *v;
        }
        if (auto sec = fo.get("secret")) {
          // Carried as "always:SECRET" in a header or cookie value: visible ASCII, no ';' or ','.
          if (auto v = c_.string(*sec)) {
            bool ok = v->size() >= 8 && v->size() <= 256 &&
                      std::all_of(v->begin(), v->end(), [](char ch) {
                        return ch > 0x20 && ch < 0x7f && ch != ';' && ch != ',' && ch != '"';
                      });
            if (!ok)
              c_.fail(*sec, "expected 8 to 256 visible characters without ';', ',' or '\"'");
            else
              rollout.override_secret = *v;
          }
        }
      }
    }
    if (auto n = f.get("notify")) {
      if (c_.expect_map(*n)) {
        Fields fn(c_, *n, {"webhook"});
        if (auto w = fn.require("webhook")) {
          if (auto v = webhook_url(*w)) rollout.notify_webhook = *v;
        }
      }
    }
    if (auto m = f.get("max_canary_share_of_capacity")) {
      if (auto v = c_.percent(*m)) {
        if (*v == 0) {
          c_.fail(*m, "must be between 1% and 100%, got " + quote(m->node.Scalar()));
        } else {
          rollout.max_canary_share_of_capacity = *v;
        }
      }
    }
    if (auto h = f.get("hooks")) read_rollout_hooks(*h, rollout.hooks);
  }

  // rollout.hooks: [{ name, type, url, timeout, retries, ca_file }]
  void read_rollout_hooks(const Item& item, std::vector<RolloutHook>& hooks) {
    if (!c_.expect_list(item)) return;
    std::map<std::string, int> names; // name → line of its first definition
    for (const Item& element : c_.elements(item)) {
      if (!c_.expect_map(element)) continue;
      Fields f(c_, element, {"name", "type", "url", "timeout", "retries", "ca_file"});
      RolloutHook hook;
      bool ok = true;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          if (auto [it, inserted] = names.emplace(*v, n->pos.line); !inserted) {
            c_.fail(*n, "duplicate hook name " + quote(*v) + " (first defined at line " +
                            std::to_string(it->second) + ")");
          }
          hook.name = *v;
        }
      } else {
        ok = false;
      }
      if (auto t = f.require("type")) {
        if (auto v = hook_type(*t)) {
          hook.type = *v;
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      if (auto u = f.require("url")) {
        if (auto v = client_url(*u, false)) {
          hook.url = *v;
        } else {
          ok = false;
        }
      } else {
        ok = false;
      }
      if (auto t = f.get("timeout")) {
        if (auto v = c_.duration(*t, true)) hook.timeout = *v;
      }
      if (auto r = f.get("retries")) {
        if (auto v = c_.integer(*r, 0, kMaxHookRetries)) hook.retries = *v;
      }
      if (auto a = f.get("ca_file")) {
        if (auto v = ca_file(*a)) hook.ca_file = *v;
      }
      if (ok) hooks.push_back(std::move(hook));
    }
  }

  std::optional<RolloutHook::Type> hook_type(const Item& item) {
    static constexpr RolloutHook::Type kTypes[] = {
        RolloutHook::Type::pre_rollout,     RolloutHook::Type::rollout,
        RolloutHook::Type::confirm_rollout, RolloutHook::Type::confirm_promotion,
        RolloutHook::Type::post_rollout,    RolloutHook::Type::rollback};
    auto v = c_.string(item);
    if (!v) return std::nullopt;
    for (auto type : kTypes)
      if (*v == hook_type_name(type)) return type;
    std::string hint = did_you_mean(*v, {"pre_rollout", "rollout", "confirm_rollout",
                                         "confirm_promotion", "post_rollout", "rollback"});
    c_.fail(item, "unknown hook type " + quote(*v) + hint +
                      " (expected pre_rollout, rollout, confirm_rollout, confirm_promotion, "
                      "post_rollout or rollback)");
    return std::nullopt;
  }

  // An http:// or https:// URL for weir's HTTP client (hooks, Prometheus). A base address (of
  // Prometheus) takes no query: weir appends the API's path and query to it.
  std::optional<std::string> client_url(const Item& item, bool base_address) {
    auto v = c_.string(item);
    if (!v) return std::nullopt;
    auto url = net::parse_url(*v);
    if (!url) {
      c_.fail(item, url.error().message);
      return std::nullopt;
    }
    if (base_address && url->target.find('?') != std::string::npos) {
      c_.fail(item,
              "expected an address like http://127.0.0.1:9090 without a query, got " + quote(*v));
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> ca_file(const Item& item) {
    auto v = c_.string(item);
    if (!v) return std::nullopt;
    if (v->empty() || (*v)[0] != '/') {
      c_.fail(item, "expected the absolute path of a PEM file, got " + quote(*v));
      return std::nullopt;
    }
    return v;
  }

  // analysis.metrics: [{ name, prometheus: { address, query, ca_file }, success_condition,
  // failure_limit, timeout }]
  void read_analysis_metrics(const Item& item, const RolloutAnalysis& analysis, bool interval_ok,
                             std::vector<AnalysisMetric>& metrics) {
    if (!c_.expect_list(item)) return;
    std::map<std::string, int> names; // name → line of its first definition
    for (const Item& element : c_.elements(item)) {
      if (!c_.expect_map(element)) continue;
      Fields f(c_, element,
               {"name", "prometheus", "success_condition", "failure_limit", "timeout"});
      AnalysisMetric metric;
      bool ok = true;
      if (auto n = f.require("name")) {
        if (auto v = c_.name(*n)) {
          if (auto [it, inserted] = names.emplace(*v, n->pos.line); !inserted) {
            c_.fail(*n, "duplicate metric name " + quote(*v) + " (first defined at line " +
                            std::to_string(it->second) + ")");
          }
          metric.name = *v;
        }
      } else {
        ok = false;
      }
      if (auto p = f.require("prometheus")) {
        ok = read_prometheus(*p, metric) && ok;
      } else {
        ok = false;
      }
      if (auto s = f.require("success_condition")) {
        if (auto v = c_.string(*s)) {
          if (auto parsed = rollout::Condition::parse(*v); !parsed) {
            c_.fail(*s, "cannot parse " + quote(*v) + ": " + parsed.error().message);
            ok = false;
          } else {
            metric.success_condition = *v;
          }
        }
      } else {
        ok = false;
      }
      if (auto l = f.get("failure_limit")) {
        if (auto v = c_.integer(*l, 1, kMaxFailureLimit)) metric.failure_limit = *v;
      }
      if (auto t = f.get("timeout")) {
        if (auto v = c_.duration(*t, true)) {
          if (interval_ok && *v > analysis.interval) {
            c_.fail(*t, "must not exceed analysis.interval (" + format_duration(analysis.interval) +
                            "), got " + quote(t->node.Scalar()));
          } else {
            metric.timeout = *v;
          }
        }
      } else if (interval_ok && metric.timeout > analysis.interval) {
        // A query still running when the next interval is judged would be a verdict late.
        metric.timeout = analysis.interval;
      }
      if (ok) metrics.push_back(std::move(metric));
    }
  }

  bool read_prometheus(const Item& item, AnalysisMetric& metric) {
    if (!c_.expect_map(item)) return false;
    Fields f(c_, item, {"address", "query", "ca_file"});
    bool ok = true;
    if (auto a = f.require("address")) {
      if (auto v = client_url(*a, true)) {
        metric.prometheus_address = *v;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto q = f.require("query")) {
      if (auto v = c_.string(*q)) {
        const auto unknown = rollout::unknown_query_variables(*v);
        if (v->empty()) {
          c_.fail(*q, "must not be empty");
          ok = false;
        } else if (!unknown.empty()) {
          c_.fail(*q, "unknown placeholder {{" + unknown.front() +
                          "}} (expected {{route}}, {{stable}}, {{canary}}, {{stable_service}} "
                          "or {{canary_service}})");
          ok = false;
        } else {
          metric.query = *v;
        }
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto a = f.get("ca_file")) {
      if (auto v = ca_file(*a)) metric.ca_file = *v;
    }
    return ok;
  }

  void read_rollout_steps(const Item& item, std::vector<RolloutStep>& steps) {
    auto list = nonempty_list(item, "step");
    if (!list) return;
    for (const Item& element : *list) {
      if (auto step = rollout_step(element)) steps.push_back(*step);
    }
  }

  // A map with exactly one key naming the kind: { set_weight: 10 }, { pause: {} } or
  // { analysis: { duration: 60s } }.
  std::optional<RolloutStep> rollout_step(const Item& item) {
    constexpr std::string_view kExpected =
        "expected a map with one key (set_weight, pause or analysis), got ";
    if (!item.node.IsMap() || item.node.size() != 1) {
      std::string got = describe(item.node);
      if (item.node.IsMap() && item.node.size() == 0) {
        got = "an empty map";
      } else if (item.node.IsMap()) {
        std::vector<std::string> keys;
        for (const auto& entry : item.node)
          keys.push_back(describe(entry.first));
        got = std::to_string(keys.size()) + " keys: ";
        for (size_t k = 0; k < keys.size(); ++k)
          got += std::string(k == 0 ? "" : k + 1 == keys.size() ? " and " : ", ") + keys[k];
      }
      c_.fail(item, std::string(kExpected) + got);
      return std::nullopt;
    }
    const auto entry = *item.node.begin();
    const Pos key_pos = pos_of(entry.first, item.pos);
    if (!entry.first.IsScalar()) {
      c_.fail(key_pos, item.path, "expected a string key, got " + describe(entry.first));
      return std::nullopt;
    }
    const std::string& kind = entry.first.Scalar();
    const Pos value_pos = entry.second.IsNull() ? key_pos : pos_of(entry.second, key_pos);
    const Item value{entry.second, value_pos, join(item.path, kind)};
    RolloutStep step;
    if (kind == "set_weight") {
      step.kind = RolloutStep::Kind::set_weight;
      auto v = c_.integer(value, 0, 100);
      if (!v) return std::nullopt;
      step.weight = *v;
    } else if (kind == "pause") {
      step.kind = RolloutStep::Kind::pause;
      if (value.node.IsNull()) return step; // a manual gate
      if (!value.node.IsMap()) {
        c_.fail(value, "expected a map like { duration: 30s }, or {} for a manual gate, got " +
                           describe(value.node));
        return std::nullopt;
      }
      Fields f(c_, value, {"duration"});
      if (auto d = f.get("duration")) {
        auto v = c_.duration(*d, false);
        if (!v) return std::nullopt;
        if (v->count() == 0) {
          c_.fail(*d, "must be greater than 0 (a manual gate is written pause: {})");
          return std::nullopt;
        }
        step.duration = *v;
      }
    } else if (kind == "analysis") {
      step.kind = RolloutStep::Kind::analysis;
      if (!value.node.IsMap()) {
        c_.fail(value, "expected a map like { duration: 60s }, got " + describe(value.node));
        return std::nullopt;
      }
      Fields f(c_, value, {"duration"});
      auto d = f.require("duration");
      if (!d) return std::nullopt;
      auto v = c_.duration(*d, true);
      if (!v) return std::nullopt;
      step.duration = *v;
    } else {
      std::string hint = did_you_mean(kind, {"set_weight", "pause", "analysis"});
      if (hint.empty()) hint = " (expected set_weight, pause or analysis)";
      c_.fail(key_pos, value.path, "unknown step " + quote(kind) + hint);
      return std::nullopt;
    }
    return step;
  }

  void read_rollout_analysis(const Item& item, RolloutAnalysis& analysis) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item,
             {"interval", "min_requests", "max_error_rate", "max_error_rate_increase",
              "max_p99_latency", "max_p99_increase", "failure_limit", "inconclusive_limit",
              "top_up", "metrics"});
    bool interval_ok = true;
    if (auto i = f.get("interval")) {
      if (auto v = c_.duration(*i, true)) {
        analysis.interval = *v;
      } else {
        interval_ok = false;
      }
    }
    if (auto m = f.get("min_requests")) {
      if (auto v = c_.integer(*m, 0, kMaxMinRequests)) analysis.min_requests = *v;
    }
    if (auto m = f.get("max_error_rate")) {
      if (auto v = c_.ratio(*m, 100, false)) analysis.max_error_rate = *v;
    }
    if (auto m = f.get("max_error_rate_increase")) {
      if (auto v = c_.ratio(*m, 100, false)) analysis.max_error_rate_increase = *v;
    }
    if (auto m = f.get("max_p99_latency")) {
      if (auto v = c_.duration(*m, false)) analysis.max_p99_latency = *v;
    }
    if (auto m = f.get("max_p99_increase")) {
      if (auto v = c_.ratio(*m, kMaxP99IncreasePercent, true)) analysis.max_p99_increase = *v;
    }
    if (auto l = f.get("failure_limit")) {
      if (auto v = c_.integer(*l, 1, kMaxFailureLimit)) analysis.failure_limit = *v;
    }
    if (auto l = f.get("inconclusive_limit")) {
      if (auto v = c_.integer(*l, 1, kMaxInconclusiveLimit)) analysis.inconclusive_limit = *v;
    }
    if (auto t = f.get("top_up")) read_top_up(*t, analysis.top_up);
    if (auto m = f.get("metrics"))
      read_analysis_metrics(*m, analysis, interval_ok, analysis.metrics);
  }

  // rollout.analysis.top_up: synthetic requests while real traffic is too thin to judge.
  void read_top_up(const Item& item, TopUp& top_up) {
    if (!c_.expect_map(item)) return;
    top_up.enabled = true;
    Fields f(c_, item, {"rate", "request", "timeout"});
    if (auto r = f.get("rate")) {
      // "20/s": the unit is required, so a bare number cannot be misread as per minute.
      std::string_view text = r->node.IsScalar() ? std::string_view(r->node.Scalar()) : "";
      const bool per_second = text.ends_with("/s");
      if (per_second) text.remove_suffix(2);
      const auto value = per_second ? parse_decimal(text, 0) : std::nullopt;
      if (!value) {
        c_.fail(*r, "expected requests per second like 20/s, got " + describe(r->node));
      } else if (*value <= 0 || *value > kMaxTopUpRate) {
        c_.fail(*r, "must be greater than 0/s and at most " + std::to_string(kMaxTopUpRate) +
                        "/s, got " + quote(r->node.Scalar()));
      } else {
        top_up.rate = *value;
      }
    }
    if (auto t = f.get("timeout")) {
      if (auto v = c_.duration(*t, true)) top_up.timeout = *v;
    }
    auto request = f.get("request");
    if (!request || !c_.expect_map(*request)) return;
    Fields fr(c_, *request, {"method", "path", "host", "headers", "body"});
    if (auto m = fr.get("method")) {
      if (auto v = token(*m, "method")) top_up.method = *v;
    }
    if (auto p = fr.get("path")) {
      if (auto v = c_.string(*p)) {
        if (!v->starts_with('/') || std::any_of(v->begin(), v->end(), [](char ch) {
              const auto u = static_cast<unsigned char>(ch);
              return u <= 0x20 || u >= 0x7f || ch == '#';
            })) {
          c_.fail(*p, "expected a path starting with \"/\" without spaces, control characters "
                      "or \"#\", got " +
                          quote(*v));
        } else {
          top_up.path = *v;
        }
      }
    }
    if (auto h = fr.get("host")) {
      if (auto v = c_.string(*h)) {
        if (v->empty() || v->size() > 255 || std::any_of(v->begin(), v->end(), [](char ch) {
              const auto u = static_cast<unsigned char>(ch);
              return u <= 0x20 || u >= 0x7f || ch == '/' || ch == '?' || ch == '#' || ch == '@';
            })) {
          c_.fail(*h, "expected a host like shop.example or shop.example:8080, got " + quote(*v));
        } else {
          top_up.host = *v;
        }
      }
    }
    if (auto hs = fr.get("headers")) {
      if (c_.expect_map(*hs)) {
        for (const auto& entry : hs->node) {
          const Pos key_pos = pos_of(entry.first, hs->pos);
          const Item name{entry.first, key_pos, hs->path};
          auto n = token(name, "header name");
          if (!n) continue;
          const Item value{entry.second,
                           entry.second.IsNull() ? key_pos : pos_of(entry.second, key_pos),
                           join(hs->path, *n)};
          // weir writes these itself: the framing, the connection's end and the tag that keeps
          // synthetic requests apart.
          const std::string lower = ascii_lower(*n);
          if (lower == "host" || lower == "content-length" || lower == "transfer-encoding" ||
              lower == "connection" || lower == "x-weir-synthetic") {
            c_.fail(value, "header " + quote(*n) + " is set by weir" +
                               (lower == "host" ? " (use request.host)" : ""));
            continue;
          }
          auto v = c_.string(value);
          if (!v) continue;
          if (std::any_of(v->begin(), v->end(),
                          [](char ch) { return ch == '\r' || ch == '\n' || ch == '\0'; })) {
            c_.fail(value, "a header value must not contain CR, LF or NUL");
            continue;
          }
          top_up.headers.emplace_back(*n, *v);
        }
      }
    }
    if (auto b = fr.get("body")) {
      if (auto v = c_.string(*b)) {
        if (v->size() > kMaxTopUpBody)
          c_.fail(*b, "must be at most " + format_size(kMaxTopUpBody) + ", got " +
                          std::to_string(v->size()) + " bytes");
        else
          top_up.body = *v;
      }
    }
  }

  // RFC 9110 token characters: a header name, or an RFC 6265 cookie-name (also a token).
  std::optional<std::string> token(const Item& item, std::string_view what) {
    auto v = c_.string(item);
    if (!v) return std::nullopt;
    if (!is_token(*v)) {
      c_.fail(item, "expected a " + std::string(what) +
                        " made of letters, digits and !#$%&'*+-.^_`|~, got " + quote(*v));
      return std::nullopt;
    }
    return v;
  }

  // http://IP:port/path with a numeric host: the control thread resolves no names, and weir has
  // no TLS client. The scheme is stored lower-cased.
  std::optional<std::string> webhook_url(const Item& item) {
    auto v = c_.string(item);
    if (!v) return std::nullopt;
    const std::string lower = ascii_lower(*v);
    if (lower.starts_with("https://")) {
      c_.fail(item, "https webhooks are not supported");
      return std::nullopt;
    }
    if (!lower.starts_with("http://")) {
      c_.fail(item, "expected an http:// URL like http://127.0.0.1:9000/hook, got " + quote(*v));
      return std::nullopt;
    }
    const std::string_view rest = std::string_view(*v).substr(7);
    const size_t slash = rest.find('/');
    const std::string_view authority = rest.substr(0, slash);
    if (auto parsed = parse_address(authority, false); !parsed) {
      c_.fail(item, "in " + quote(authority) + ": " + parsed.error().message);
      return std::nullopt;
    }
    if (slash == std::string_view::npos) {
      c_.fail(item, "expected a path starting with \"/\" after the port, like "
                    "http://127.0.0.1:9000/hook, got " +
                        quote(*v));
      return std::nullopt;
    }
    const std::string_view path = rest.substr(slash);
    if (std::any_of(path.begin(), path.end(), [](char ch) {
          const auto u = static_cast<unsigned char>(ch);
          return u <= 0x20 || u == 0x7f || ch == '#';
        })) {
      c_.fail(item,
              "the path must not contain spaces, control characters or \"#\", got " + quote(*v));
      return std::nullopt;
    }
    return "http://" + std::string(rest);
  }

  void read_limits(const Item& item) {
    if (!c_.expect_map(item)) return;
    Limits& limits = config_.limits;
    Fields f(c_, item,
             {"max_request_head_bytes", "max_request_line_bytes", "max_headers",
              "max_response_head_bytes", "client_header_timeout", "client_body_timeout",
              "request_timeout", "max_client_connections", "max_upstream_connections",
              "queue_timeout", "max_access_log_queue_bytes", "max_admin_connections",
              "admin_idle_timeout"});
    bool head_ok = true;
    if (auto i = f.get("max_request_head_bytes")) {
      if (auto v = c_.integer(*i, kMinHeadBytes, kMaxHeadBytes)) {
        limits.max_request_head_bytes = *v;
      } else {
        head_ok = false;
      }
    }
    if (auto i = f.get("max_request_line_bytes")) {
      if (auto v = c_.integer(*i, 1, kMaxHeadBytes)) {
        limits.max_request_line_bytes = *v;
        if (head_ok && *v > limits.max_request_head_bytes) {
          c_.fail(*i, "must not exceed max_request_head_bytes (" +
                          std::to_string(limits.max_request_head_bytes) + "), got " +
                          std::to_string(*v));
        }
      }
    } else if (head_ok && limits.max_request_line_bytes > limits.max_request_head_bytes) {
      // Only the head limit was lowered: keep the line limit inside it.
      limits.max_request_line_bytes = limits.max_request_head_bytes;
    }
    if (auto i = f.get("max_headers")) {
      if (auto v = c_.integer(*i, 1, kMaxHeaders)) limits.max_headers = *v;
    }
    if (auto i = f.get("max_response_head_bytes")) {
      if (auto v = c_.integer(*i, kMinHeadBytes, kMaxHeadBytes))
        limits.max_response_head_bytes = *v;
    }
    if (auto i = f.get("client_header_timeout")) {
      if (auto v = c_.duration(*i, true)) limits.client_header_timeout = *v;
    }
    if (auto i = f.get("client_body_timeout")) {
      if (auto v = c_.duration(*i, true)) limits.client_body_timeout = *v;
    }
    if (auto i = f.get("request_timeout")) {
      if (auto v = c_.duration(*i, true)) limits.request_timeout = *v;
    }
    if (auto i = f.get("max_client_connections")) {
      if (auto v = c_.integer(*i, 1, 1000000)) limits.max_client_connections = *v;
    }
    if (auto i = f.get("max_upstream_connections")) {
      if (auto v = c_.integer(*i, 1, 1000000)) limits.max_upstream_connections = *v;
    }
    if (auto i = f.get("queue_timeout")) {
      if (auto v = c_.duration(*i, true)) limits.queue_timeout = *v;
    }
    if (auto i = f.get("max_access_log_queue_bytes")) {
      if (auto v = c_.integer(*i, 4096, 1u << 30)) limits.max_access_log_queue_bytes = *v;
    }
    if (auto i = f.get("max_admin_connections")) {
      if (auto v = c_.integer(*i, 1, 100000)) limits.max_admin_connections = *v;
    }
    if (auto i = f.get("admin_idle_timeout")) {
      if (auto v = c_.duration(*i, true)) limits.admin_idle_timeout = *v;
    }
  }

  void read_control(const Item& item) {
    if (!c_.expect_map(item)) return;
    Control& control = config_.control;
    Fields f(c_, item, {"socket", "mode", "group"});
    if (auto p = f.require("socket")) {
      if (auto v = c_.string(*p)) {
        if (v->empty() || (*v)[0] != '/')
          c_.fail(*p, "expected an absolute socket path, got " + quote(*v));
        else if (v->size() > 107)
          c_.fail(*p, "socket path is longer than 107 bytes");
        else
          control.socket = *v;
      }
    }
    if (auto m = f.get("mode")) {
      if (auto v = c_.string(*m)) {
        bool octal =
            !v->empty() && v->size() <= 4 &&
            std::all_of(v->begin(), v->end(), [](char ch) { return ch >= '0' && ch <= '7'; });
        if (!octal)
          c_.fail(*m, "expected an octal file mode like \"0600\", got " + quote(*v));
        else
          control.mode = static_cast<uint32_t>(std::stoul(*v, nullptr, 8));
      }
    }
    if (auto g = f.get("group")) {
      if (auto v = c_.name(*g)) control.group = *v;
    }
    control.enabled = !control.socket.empty();
  }

  void read_admin(const Item& item) {
    if (!c_.expect_map(item)) return;
    Fields f(c_, item, {"address"});
    if (auto a = f.require("address")) {
      if (auto v = c_.address(*a, true)) {
        config_.admin.address = *v;
        config_.admin.enabled = true;
      }
    }
  }

  void read_access_log(const Item& item) {
    if (!c_.expect_map(item)) return;
    AccessLog& log = config_.access_log;
    log.enabled = true;
    log.path = "stdout";
    Fields f(c_, item, {"path", "format"});
    if (auto p = f.get("path")) {
      if (auto v = c_.string(*p)) {
        if (v->empty()) {
          c_.fail(*p, "must be \"stdout\", \"stderr\" or a file path, got \"\"");
        } else {
          log.path = *v;
        }
      }
    }
    if (auto fm = f.get("format")) {
      if (auto v = c_.string(*fm)) {
        if (*v != "json") {
          c_.fail(*fm, "unsupported format " + quote(*v) + " (only \"json\" is supported)");
        } else {
          log.format = *v;
        }
      }
    }
  }

  static std::string at_line(const Item& item) { return "line " + std::to_string(item.pos.line); }

  void check_references() {
    // Listeners: unique names and addresses. Port 0 asks the kernel for a fresh port, so any
    // number of listeners may share it.
    std::map<std::string, const Item*> listener_names;
    std::map<std::pair<std::string, uint16_t>, size_t> listener_addresses;
    for (size_t i = 0; i < config_.listeners.size(); ++i) {
      const Listener& l = config_.listeners[i];
      const ListenerMarks& m = listener_marks_[i];
      if (m.name) {
        auto [it, inserted] = listener_names.emplace(l.name, &*m.name);
        if (!inserted) {
          c_.fail(*m.name, "duplicate listener name " + quote(l.name) + " (first defined at " +
                               at_line(*it->second) + ")");
        }
      }
      if (m.address && l.address.port != 0) {
        auto [it, inserted] =
            listener_addresses.emplace(std::pair(l.address.host, l.address.port), i);
        if (!inserted) {
          const ListenerMarks& first = listener_marks_[it->second];
          const std::string label =
              first.name ? "listener " + quote(config_.listeners[it->second].name) : first.path;
          c_.fail(*m.address, "address " + l.address.text() + " is already used by " + label +
                                  " (" + at_line(*first.address) + ")");
        }
      }
    }

    std::map<std::string, size_t> services;
    for (size_t i = 0; i < config_.services.size(); ++i) {
      const ServiceMarks& m = service_marks_[i];
      if (!m.valid) continue;
      const std::string id = config_.services[i].id();
      auto [it, inserted] = services.emplace(id, i);
      if (!inserted) {
        c_.fail(m.pos, m.path,
                "duplicate service " + quote(id) + " (first defined at line " +
                    std::to_string(service_marks_[it->second].pos.line) + ")");
      }
    }

    std::map<std::string, const Item*> route_names;
    // (listener, host, path_prefix) -> route index
    std::map<std::tuple<std::string, std::string, std::string>, size_t> matches;
    for (size_t i = 0; i < config_.routes.size(); ++i) {
      const Route& r = config_.routes[i];
      const RouteMarks& m = route_marks_[i];
      if (m.name) {
        auto [it, inserted] = route_names.emplace(r.name, &*m.name);
        if (!inserted) {
          c_.fail(*m.name, "duplicate route name " + quote(r.name) + " (first defined at " +
                               at_line(*it->second) + ")");
        }
      }
      if (m.listener && all_listeners_named_ && !listener_names.contains(r.listener))
        c_.fail(*m.listener, "listener " + quote(r.listener) + " is not defined");
      std::set<std::string> seen;
      for (size_t b = 0; b < r.backends.size(); ++b) {
        const BackendMarks& bm = m.backends[b];
        if (!bm.service) continue;
        const std::string& id = r.backends[b].service;
        if (!seen.insert(id).second) {
          c_.fail(*bm.service, "service " + quote(id) + " is listed twice in this route");
          continue;
        }
        if (all_services_named_ && !services.contains(id))
          c_.fail(*bm.service, "service " + quote(id) + " is not defined");
      }
      // A rollout moves traffic between two of the route's own backends. When a backend is
      // malformed, its own error is the one to fix first.
      for (const std::optional<Item>* mark : {&m.rollout_stable, &m.rollout_canary}) {
        if (!*mark || !m.backends_ok) continue;
        const std::string id = (*mark)->node.Scalar();
        if (std::none_of(r.backends.begin(), r.backends.end(),
                         [&](const Backend& b) { return b.service == id; }))
          c_.fail(**mark, "service " + quote(id) + " is not a backend of " + route_label(i));
      }
      if (m.listener && m.match_ok) {
        auto key = std::tuple(r.listener, r.match.host, r.match.path_prefix);
        auto [it, inserted] = matches.emplace(key, i);
        if (!inserted) {
          c_.fail(m.match_at, route_label(i) + " has the same host and path_prefix as " +
                                  route_label(it->second) + " on listener " + quote(r.listener));
        }
      }
    }
  }

  // "route \"name\"", or its key path when it has no usable name.
  std::string route_label(size_t i) const {
    if (route_marks_[i].name) return "route " + quote(config_.routes[i].name);
    return route_marks_[i].path;
  }

  Checker c_;
  Config config_;
  // False when a listener (service) has no usable name: a route naming one that seems undefined
  // may be naming that one, and its own error already says what to fix.
  bool all_listeners_named_ = false;
  bool all_services_named_ = false;
  std::vector<ListenerMarks> listener_marks_;
  std::vector<ServiceMarks> service_marks_;
  std::vector<RouteMarks> route_marks_;
};

} // namespace

std::string ConfigError::format() const {
  std::string out = file.empty() ? "<config>" : file;
  if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
  out += ": ";
  if (!key_path.empty()) out += key_path + ": ";
  out += message;
  return out;
}

std::string format_errors(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) {
    out += e.format();
    out += '\n';
  }
  return out;
}

const char* hook_type_name(RolloutHook::Type t) {
  switch (t) {
  case RolloutHook::Type::pre_rollout:
    return "pre_rollout";
  case RolloutHook::Type::rollout:
    return "rollout";
  case RolloutHook::Type::confirm_rollout:
    return "confirm_rollout";
  case RolloutHook::Type::confirm_promotion:
    return "confirm_promotion";
  case RolloutHook::Type::post_rollout:
    return "post_rollout";
  case RolloutHook::Type::rollback:
    return "rollback";
  }
  return "pre_rollout";
}

LoadResult load_string(std::string_view yaml, const std::string& file_name) {
  return Loader(file_name).load(yaml, "");
}

LoadResult load_file(const std::string& path) {
  const auto cannot_read = [&](int err) {
    return LoadResult(std::vector<ConfigError>{
        ConfigError{path, 0, 0, "", "cannot read file: " + std::generic_category().message(err)}});
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return cannot_read(errno);
  std::string text;
  char buf[65536];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      ::close(fd);
      return cannot_read(err);
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return Loader(path).load(text, path);
}

} // namespace weir::config
