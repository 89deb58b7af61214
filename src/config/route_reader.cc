// A route's `match`: HTTPRoute's HTTPRouteMatch list in weir's YAML. Everything the data plane
// would have to guess about is refused here, with its place: a regex that does not compile, a
// header name that is no token, a name given twice, a method HTTP does not have.
#include "route_reader.h"

#include "weir/route/regex.h"

#include <algorithm>
#include <array>

namespace weir::config::yaml {
namespace {

constexpr std::array<std::string_view, 9> kMethods{"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                   "CONNECT", "OPTIONS", "TRACE", "PATCH"};
constexpr size_t kMaxHeaderValueLength = 4096;

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  });
  return s;
}

// Compiled as the data plane compiles it (route/regex.h): ECMAScript, linear-time matching, so
// a pattern that would need backtracking (back-references, lookahead) or expands too far is
// refused here rather than let a request stall or crash a worker.
bool regex_compiles(Checker& c, const Item& item, const std::string& pattern) {
  std::string why;
  if (route::Regex::compile(pattern, &why)) return true;
  c.fail(item, "regular expression " + quote(pattern) + " " + why);
  return false;
}

bool too_long(Checker& c, const Item& item, const std::string& s, size_t max) {
  if (s.size() <= max) return false;
  c.fail(item,
         "must be at most " + std::to_string(max) + " characters, got " + std::to_string(s.size()));
  return true;
}

// An Exact or PathPrefix value: what a request's path can be.
bool check_path_value(Checker& c, const Item& item, const std::string& s) {
  if (!s.starts_with('/')) {
    c.fail(item, "must start with \"/\", got " + quote(s));
    return false;
  }
  if (std::any_of(s.begin(), s.end(), [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return u <= 0x20 || u == 0x7f || ch == '?' || ch == '#';
      })) {
    c.fail(item, "must not contain spaces, control characters, \"?\" or \"#\", got " + quote(s));
    return false;
  }
  return !too_long(c, item, s, kMaxMatchValueLength);
}

bool read_path(Checker& c, const Item& item, PathMatch& path) {
  if (!c.expect_map(item)) return false;
  Fields f(c, item, {"type", "value"});
  bool ok = true;
  if (auto t = f.get("type")) {
    auto s = c.string(*t);
    if (!s) {
      ok = false;
    } else if (*s == "Exact") {
      path.type = PathMatch::Type::exact;
    } else if (*s == "PathPrefix") {
      path.type = PathMatch::Type::prefix;
    } else if (*s == "RegularExpression") {
      path.type = PathMatch::Type::regex;
    } else {
      std::string hint = did_you_mean(*s, {"Exact", "PathPrefix", "RegularExpression"});
      if (hint.empty()) hint = " (expected Exact, PathPrefix or RegularExpression)";
      c.fail(*t, "unknown path match type " + quote(*s) + hint);
      ok = false;
    }
  }
  auto v = f.get("value");
  if (!v) {
    if (ok && path.type == PathMatch::Type::regex) {
      c.fail(item, "missing required key \"value\" (a RegularExpression has no default)");
      return false;
    }
    return ok;
  }
  auto s = c.string(*v);
  if (!s) return false;
  if (!ok) return false;
  if (path.type == PathMatch::Type::regex) {
    if (s->empty()) {
      c.fail(*v, "must not be empty");
      return false;
    }
    if (too_long(c, *v, *s, kMaxMatchValueLength) || !regex_compiles(c, *v, *s)) return false;
  } else if (!check_path_value(c, *v, *s)) {
    return false;
  }
  path.value = *s;
  return true;
}

bool read_method(Checker& c, const Item& item, std::string& method) {
  auto s = c.string(item);
  if (!s) return false;
  if (std::find(kMethods.begin(), kMethods.end(), *s) != kMethods.end()) {
    method = *s;
    return true;
  }
  std::string hint;
  if (std::find(kMethods.begin(), kMethods.end(), upper(*s)) != kMethods.end())
    hint = " (methods are upper case: " + quote(upper(*s)) + ")";
  else
    hint = did_you_mean(*s, kMethods);
  c.fail(item, "unknown method " + quote(*s) + hint +
                   "; expected GET, HEAD, POST, PUT, DELETE, CONNECT, OPTIONS, TRACE or PATCH");
  return false;
}

bool read_value_match(Checker& c, const Item& item, bool header, ValueMatch& out) {
  if (!c.expect_map(item)) return false;
  Fields f(c, item, {"name", "value", "type"});
  bool ok = true;
  if (auto n = f.require("name")) {
    auto s = c.string(*n);
    if (!s) {
      ok = false;
    } else if (!is_token(*s)) {
      c.fail(*n, std::string(header ? "a header" : "a query parameter") +
                     " name must be a token (letters, digits and !#$%&'*+-.^_`|~), got " +
                     quote(*s));
      ok = false;
    } else if (too_long(c, *n, *s, 256)) {
      ok = false;
    } else {
      out.name = header ? ascii_lower(*s) : *s;
    }
  } else {
    ok = false;
  }
  if (auto t = f.get("type")) {
    auto s = c.string(*t);
    if (!s) {
      ok = false;
    } else if (*s == "Exact") {
      out.type = ValueMatch::Type::exact;
    } else if (*s == "RegularExpression") {
      out.type = ValueMatch::Type::regex;
    } else {
      std::string hint = did_you_mean(*s, {"Exact", "RegularExpression"});
      if (hint.empty()) hint = " (expected Exact or RegularExpression)";
      c.fail(*t, "unknown match type " + quote(*s) + hint);
      ok = false;
    }
  }
  auto v = f.require("value");
  if (!v) return false;
  auto s = c.string(*v);
  if (!s || !ok) return false;
  if (std::any_of(s->begin(), s->end(), [](char ch) {
        const auto u = static_cast<unsigned char>(ch);
        return (u < 0x20 && ch != '\t') || u == 0x7f;
      })) {
    c.fail(*v, "must not contain control characters, got " + quote(*s));
    return false;
  }
  if (too_long(c, *v, *s, header ? kMaxHeaderValueLength : kMaxMatchValueLength)) return false;
  if (out.type == ValueMatch::Type::regex && !regex_compiles(c, *v, *s)) return false;
  out.value = *s;
  return true;
}

bool read_alternative(Checker& c, const Item& item, Match& match) {
  if (!c.expect_map(item)) return false;
  Fields f(c, item, {"host", "path_prefix", "path", "method", "headers", "query"});
  bool ok = true;
  if (auto h = f.get("host")) {
    auto s = c.string(*h);
    std::optional<std::string> host;
    if (s) host = normalize_host(*s);
    if (s && !host) {
      c.fail(*h, "expected a host name like example.com or *.example.com (or none for any "
                 "host), got " +
                     quote(*s));
    }
    if (host) {
      match.host = *host;
    } else {
      ok = false;
    }
  }
  auto prefix = f.get("path_prefix");
  auto path = f.get("path");
  if (prefix && path) {
    c.fail(*path, "give either path_prefix or path, not both (path_prefix: X is path: "
                  "{type: PathPrefix, value: X})");
    ok = false;
  } else if (prefix) {
    auto s = c.string(*prefix);
    if (!s || !check_path_value(c, *prefix, *s)) {
      ok = false;
    } else {
      match.path.value = *s;
    }
  } else if (path) {
    ok = read_path(c, *path, match.path) && ok;
  }
  if (auto m = f.get("method")) ok = read_method(c, *m, match.method) && ok;
  if (auto h = f.get("headers")) ok = read_value_matches(c, *h, true, match.headers) && ok;
  if (auto q = f.get("query")) ok = read_value_matches(c, *q, false, match.query) && ok;
  return ok;
}

} // namespace

bool read_value_matches(Checker& c, const Item& item, bool header, std::vector<ValueMatch>& out) {
  if (!c.expect_list(item)) return false;
  const std::vector<Item> elements = c.elements(item);
  if (elements.size() > kMaxValueMatches) {
    c.fail(item, "must list at most " + std::to_string(kMaxValueMatches) +
                     (header ? " headers" : " query parameters") + ", got " +
                     std::to_string(elements.size()));
    return false;
  }
  bool ok = true;
  for (size_t i = 0; i < elements.size(); ++i) {
    ValueMatch m;
    if (!read_value_match(c, elements[i], header, m)) {
      ok = false;
      continue;
    }
    // Every condition must hold: one name twice is either redundant or never true.
    auto same = std::find_if(out.begin(), out.end(),
                             [&](const ValueMatch& other) { return other.name == m.name; });
    if (same != out.end()) {
      c.fail(elements[i], std::string(header ? "header " : "query parameter ") + quote(m.name) +
                              " is already matched by " +
                              index(item.path, static_cast<size_t>(same - out.begin())) +
                              " (each name once per alternative)");
      ok = false;
      continue;
    }
    out.push_back(std::move(m));
  }
  return ok;
}

bool read_match(Checker& c, const Item& item, std::vector<Match>& matches) {
  if (item.node.IsMap()) return read_alternative(c, item, matches.emplace_back());
  if (!item.node.IsSequence()) {
    c.fail(item, "expected a map or a list of maps, got " + describe(item.node));
    return false;
  }
  if (item.node.size() == 0) {
    c.fail(item, "must list at least one alternative (or leave `match` out to match everything)");
    return false;
  }
  if (item.node.size() > kMaxMatchAlternatives) {
    c.fail(item, "must list at most " + std::to_string(kMaxMatchAlternatives) +
                     " alternatives, got " + std::to_string(item.node.size()));
    return false;
  }
  bool ok = true;
  for (const Item& element : c.elements(item))
    ok = read_alternative(c, element, matches.emplace_back()) && ok;
  return ok;
}

std::string match_key(const Match& m) {
  std::string key = m.host;
  key.push_back('\0');
  key.push_back(static_cast<char>('0' + static_cast<int>(m.path.type)));
  std::string_view value = m.path.value;
  if (m.path.type == PathMatch::Type::prefix)
    while (!value.empty() && value.back() == '/')
      value.remove_suffix(1);
  key.append(value).push_back('\0');
  key.append(m.method).push_back('\0');
  for (const auto* list : {&m.headers, &m.query}) {
    std::vector<const ValueMatch*> sorted;
    for (const ValueMatch& v : *list)
      sorted.push_back(&v);
    std::sort(sorted.begin(), sorted.end(),
              [](const ValueMatch* a, const ValueMatch* b) { return a->name < b->name; });
    for (const ValueMatch* v : sorted) {
      key.push_back(static_cast<char>('0' + static_cast<int>(v->type)));
      // Lengths keep "a","bc" apart from "ab","c".
      key.append(std::to_string(v->name.size())).append(":").append(v->name);
      key.append(std::to_string(v->value.size())).append(":").append(v->value);
    }
    key.push_back('\0');
  }
  return key;
}

} // namespace weir::config::yaml
