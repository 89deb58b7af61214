#include "rollout_reader.h"

#include "blue_green_reader.h"
#include "cutover_reader.h"
#include "filter_reader.h"
#include "route_reader.h"
#include "weir/net/url.h"
#include "weir/rollout/condition.h"
#include "weir/rollout/query_template.h"

#include <cerrno>
#include <system_error>
#include <unistd.h>

namespace weir::config::yaml {
namespace {

class RolloutReader {
public:
  explicit RolloutReader(Checker& checker) : c_(checker) {}

  void read_rollout(const Item& item, Rollout& rollout, RouteMarks& marks) {
    if (!c_.expect_map(item)) return;
    rollout.enabled = true;
    Fields f(c_, item,
             {"strategy", "stable", "canary", "steps", "analysis", "fast_abort", "require_ready",
              "affinity", "override", "notify", "max_canary_share_of_capacity", "hooks",
              kBlueGreenKeys[0], kBlueGreenKeys[1], kBlueGreenKeys[2], kCutoverKeys[0],
              kCutoverKeys[1], kCutoverKeys[2], kCutoverKeys[3]});
    if (auto s = f.require("stable")) {
      if (auto v = c_.service_id(*s)) {
        rollout.stable = *v;
        marks.rollout_stable = *s;
      }
    }
    if (auto s = f.require("canary")) {
      if (auto v = c_.service_id(*s)) {
        rollout.canary = *v;
        if (marks.rollout_stable && *v == rollout.stable) {
          c_.fail(*s, "must be a different service than stable, got " + quote(*v) + " for both");
        } else {
          marks.rollout_canary = *s;
        }
      }
    }
    bool blue_green = false;
    if (auto s = f.get("strategy")) {
      if (auto v = c_.string(*s)) {
        if (*v == "blue_green")
          blue_green = true;
        else if (*v != "canary")
          c_.fail(*s, "unknown strategy " + quote(*v) + did_you_mean(*v, {"canary", "blue_green"}) +
                          " (expected canary or blue_green)");
      }
    }
    read_cutover(c_, f, rollout);
    if (blue_green) {
      read_blue_green(c_, f, rollout);
    } else {
      refuse_blue_green_keys(c_, f);
      if (auto s = f.require("steps")) read_rollout_steps(*s, rollout.steps);
    }
    if (auto a = f.get("analysis")) {
      read_rollout_analysis(*a, rollout.analysis);
      const YAML::Node& map = a->node; // const: a lookup must not add the key
      if (map.IsMap() && map["max_divergence"]) {
        const YAML::Node node = map["max_divergence"];
        marks.max_divergence = Item{node, pos_of(node, a->pos), join(a->path, "max_divergence")};
      }
    }
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
    // Any override header sent turns header routes off (runtime/backend_choice.cc): a preview
    // keyed on it could never be reached.
    if (blue_green && !rollout.preview_header.empty() && !rollout.override_header.empty()) {
      std::string o = rollout.override_header;
      std::transform(o.begin(), o.end(), o.begin(),
                     [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
      if (o == rollout.preview_header)
        c_.fail(*f.get("preview"), "the preview header must differ from the override header " +
                                       quote(rollout.override_header));
    }
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
    // Checked now, not at the first call: a rollback hook that cannot verify its server would
    // otherwise never fire, silently.
    if (::access(v->c_str(), R_OK) != 0) {
      c_.fail(item, "cannot read " + quote(*v) + ": " + std::generic_category().message(errno));
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
    auto list = c_.nonempty_list(item, "step");
    if (!list) return;
    for (const Item& element : *list) {
      if (auto step = rollout_step(element)) steps.push_back(*step);
    }
  }

  // A map with exactly one key naming the kind: { set_weight: 10 }, { pause: {} } or
  // { analysis: { duration: 60s } }.
  std::optional<RolloutStep> rollout_step(const Item& item) {
    constexpr std::string_view kExpected =
        "expected a map with one key (set_weight, pause, analysis, set_header_route or "
        "set_mirror), got ";
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
    } else if (kind == "set_header_route") {
      // { set_header_route: { name: testers, match: { headers: [...] } } } (Argo Rollouts'
      // setHeaderRoute): requests with every header go to the canary, whatever its weight, until
      // the rollout ends; the same name without headers removes it.
      step.kind = RolloutStep::Kind::set_header_route;
      if (!c_.expect_map(value)) return std::nullopt;
      Fields f(c_, value, {"name", "match"});
      auto n = f.require("name");
      if (!n) return std::nullopt;
      auto name = c_.name(*n);
      if (!name) return std::nullopt;
      step.header_route_name = *name;
      if (auto m = f.get("match")) {
        if (!c_.expect_map(*m)) return std::nullopt;
        Fields mf(c_, *m, {"headers"});
        if (auto h = mf.get("headers")) {
          if (!read_value_matches(c_, *h, true, step.header_route)) return std::nullopt;
        }
      }
    } else if (kind == "set_mirror") {
      // { set_mirror: { percent: 10% } }: that share of the route's requests is mirrored to the
      // canary until a later set_mirror changes it or the rollout ends; 0 stops.
      step.kind = RolloutStep::Kind::set_mirror;
      if (!value.node.IsMap()) {
        c_.fail(value, "expected a map like { percent: 10% }, got " + describe(value.node));
        return std::nullopt;
      }
      Fields f(c_, value, {"percent"});
      auto p = f.require("percent");
      if (!p) return std::nullopt;
      auto v = read_mirror_percent(c_, *p);
      if (!v) return std::nullopt;
      step.mirror_percent = *v;
    } else {
      std::string hint =
          did_you_mean(kind, {"set_weight", "pause", "analysis", "set_header_route", "set_mirror"});
      if (hint.empty())
        hint = " (expected set_weight, pause, analysis, set_header_route or set_mirror)";
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
              "top_up", "metrics", "max_divergence"});
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
    if (auto m = f.get("max_divergence")) {
      if (auto v = c_.ratio(*m, 100, true)) analysis.max_divergence = *v;
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

private:
  Checker& c_;
};

} // namespace

void read_rollout(Checker& checker, const Item& item, Rollout& rollout, RouteMarks& marks) {
  RolloutReader(checker).read_rollout(item, rollout, marks);
}

} // namespace weir::config::yaml
