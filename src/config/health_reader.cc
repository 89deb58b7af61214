#include "health_reader.h"

namespace weir::config::yaml {

namespace {

// A service's health settings: active checks, probes and outlier detection. The methods read
// with the loader's Checker, which collects every error with its place.
class HealthReader {
public:
  explicit HealthReader(Checker& checker) : c_(checker) {}

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
    auto list = c_.nonempty_list(item, "status code or range");
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

private:
  Checker& c_;
};

} // namespace

void read_health_check(Checker& checker, const Item& item, HealthCheck& check) {
  HealthReader(checker).read_health_check(item, check);
}

void read_probes(Checker& checker, const Item& item, std::vector<Probe>& probes) {
  HealthReader(checker).read_probes(item, probes);
}

void read_outlier_detection(Checker& checker, const Item& item, OutlierDetection& outlier) {
  HealthReader(checker).read_outlier_detection(item, outlier);
}

} // namespace weir::config::yaml
