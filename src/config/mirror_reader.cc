// A route's `mirror` (HTTPRoute's RequestMirror) and the shadow comparison of its answers.
#include "filter_reader.h"

#include <set>

namespace weir::config::yaml {
namespace {

constexpr uint32_t kMaxMirrorBody = 16 * kMiB;
constexpr uint32_t kMaxMirrorInFlight = 10000;
constexpr size_t kMaxCompareEntries = 64;
constexpr size_t kMaxJsonPath = 256;

// The hop-by-hop headers: weir writes or drops them on each hop, so the client's answer and the
// mirror's never carry them as their servers sent them.
constexpr std::string_view kHopByHop[] = {"connection", "keep-alive",        "proxy-connection",
                                          "te",         "trailer",           "transfer-encoding",
                                          "upgrade",    "proxy-authenticate"};

// "10%", "10", "0.5%" or "0.5": a percentage of the route's requests, 0 to 100. A bare number is
// a percentage too, as HTTPRoute's `percent` is.
std::optional<double> mirror_percent(Checker& c, const Item& item) {
  std::string_view text = item.node.IsScalar() ? std::string_view(item.node.Scalar()) : "";
  if (text.ends_with('%')) text.remove_suffix(1);
  const auto value = item.node.IsScalar() ? parse_decimal(text, 0) : std::nullopt;
  if (!value) {
    c.fail(item, "expected a percentage like 10%, 10 or 0.5%, got " + describe(item.node));
    return std::nullopt;
  }
  if (*value > 100) {
    c.fail(item, "must be between 0% and 100%, got " + quote(item.node.Scalar()));
    return std::nullopt;
  }
  return value;
}

// A list of distinct strings, each checked by `check` ("" when fine, else why not).
template <typename Check>
std::vector<std::string> distinct_list(Checker& c, const Item& item, std::string_view what,
                                       Check check) {
  std::vector<std::string> out;
  auto list = c.nonempty_list(item, what);
  if (!list) return out;
  if (list->size() > kMaxCompareEntries) {
    c.fail(item, "must list at most " + std::to_string(kMaxCompareEntries) + " " +
                     std::string(what) + "s, got " + std::to_string(list->size()));
    return out;
  }
  std::set<std::string> seen;
  for (const Item& element : *list) {
    auto v = c.string(element);
    if (!v) continue;
    std::string value = *v;
    if (std::string why = check(value); !why.empty()) {
      c.fail(element, why);
      continue;
    }
    if (!seen.insert(value).second) {
      c.fail(element, std::string(what) + " " + quote(value) + " is listed twice");
      continue;
    }
    out.push_back(std::move(value));
  }
  return out;
}

// A header name, lower-cased in place.
std::string header_problem(std::string& name) {
  if (!is_token(name))
    return "expected a header name made of letters, digits and !#$%&'*+-.^_`|~, got " + quote(name);
  name = ascii_lower(name);
  for (std::string_view hop : kHopByHop)
    if (name == hop)
      return "header " + quote(name) +
             " is hop-by-hop: weir rewrites it on each connection, so it cannot be compared";
  return "";
}

// A dotted path into a JSON object ("price", "order.total"): non-empty names between the dots.
std::string json_path_problem(std::string& path) {
  const bool bad_dots = path.empty() || path.front() == '.' || path.back() == '.' ||
                        path.find("..") != std::string::npos;
  const bool control = std::any_of(path.begin(), path.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u < 0x20 || u == 0x7f;
  });
  if (bad_dots || control || path.size() > kMaxJsonPath)
    return "expected a JSON field as a dotted path like price or order.total (at most " +
           std::to_string(kMaxJsonPath) + " bytes, no control characters), got " + quote(path);
  return "";
}

// compare: {status_class, headers, body: hash | none, json_fields, ignore_json_fields}.
// `json_fields` alone means body: json_fields; `ignore_json_fields` alone means body: hash (of
// the JSON without them).
void read_compare(Checker& c, const Item& item, Compare& compare) {
  if (!c.expect_map(item)) return;
  compare.enabled = true;
  Fields f(c, item, {"status_class", "headers", "body", "json_fields", "ignore_json_fields"});
  if (auto s = f.get("status_class")) {
    if (auto v = c.boolean(*s)) compare.status_class = *v;
  }
  if (auto h = f.get("headers")) compare.headers = distinct_list(c, *h, "header", header_problem);
  const auto fields = f.get("json_fields");
  const auto ignored = f.get("ignore_json_fields");
  if (fields) compare.json_fields = distinct_list(c, *fields, "JSON field", json_path_problem);
  if (ignored)
    compare.ignore_json_fields = distinct_list(c, *ignored, "JSON field", json_path_problem);
  std::optional<Compare::Body> body;
  const auto b = f.get("body");
  if (b) {
    auto v = c.string(*b);
    if (v && *v == "hash") {
      body = Compare::Body::hash;
    } else if (v && *v == "none") {
      body = Compare::Body::none;
    } else if (v && *v == "json_fields") {
      body = Compare::Body::json_fields;
    } else if (v) {
      c.fail(*b, "unknown body comparison " + quote(*v) +
                     did_you_mean(*v, {"hash", "none", "json_fields"}) +
                     " (expected hash, none or json_fields)");
    }
  }
  if (body == Compare::Body::json_fields && !fields) {
    c.fail(*b, "body: json_fields needs the list of fields: json_fields: [price, ...]");
  } else if (fields && body && *body != Compare::Body::json_fields) {
    c.fail(*fields, "json_fields compares only the fields listed, which body: " + b->node.Scalar() +
                        " contradicts (leave body out)");
  } else if (ignored && body == Compare::Body::none) {
    c.fail(*ignored, "ignore_json_fields needs a body comparison, but body is none");
  }
  if (fields)
    compare.body = Compare::Body::json_fields;
  else if (body)
    compare.body = *body;
  else if (ignored)
    compare.body = Compare::Body::hash;
  if (!compare.status_class && compare.headers.empty() && compare.body == Compare::Body::none)
    c.fail(item, "compares nothing: set status_class: true, headers or a body comparison (or "
                 "leave compare out)");
}

} // namespace

void read_mirror(Checker& c, const Item& item, Mirror& mirror) {
  if (!c.expect_map(item)) return;
  mirror.enabled = true;
  Fields f(c, item, {"service", "percent", "max_body_bytes", "max_in_flight", "compare"});
  if (auto s = f.require("service")) {
    if (auto v = c.service_id(*s)) mirror.service = *v;
  }
  if (auto p = f.get("percent")) {
    if (auto v = mirror_percent(c, *p)) mirror.percent = *v;
  }
  if (auto m = f.get("max_body_bytes")) {
    if (auto v = c.byte_size(*m, kMaxMirrorBody)) mirror.max_body_bytes = *v;
  }
  if (auto m = f.get("max_in_flight")) {
    if (auto v = c.integer(*m, 1, kMaxMirrorInFlight)) mirror.max_in_flight = *v;
  }
  if (auto cmp = f.get("compare")) read_compare(c, *cmp, mirror.compare);
}

std::optional<double> read_mirror_percent(Checker& checker, const Item& item) {
  return mirror_percent(checker, item);
}

} // namespace weir::config::yaml
