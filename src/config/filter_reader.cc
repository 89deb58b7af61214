// The HTTPRoute filters a route (or one backend) takes as its own keys: request_headers and
// response_headers (HeaderModifier), redirect (RequestRedirect) and rewrite (URLRewrite). The
// mirror is read apart (mirror_reader.cc).
#include "filter_reader.h"

#include <set>

namespace weir::config::yaml {
namespace {

constexpr size_t kMaxHeaderName = 256;
constexpr size_t kMaxHeaderValue = 4096;
constexpr size_t kMaxModifierEntries = 64; // per list, as HTTPRoute's CRD allows 16
constexpr size_t kMaxPath = 1024;

enum class Direction { request, response };

// Why weir refuses to let a filter touch the header `lower` ("" when it may). Framing and
// routing rest on some, weir states others itself; a filter changing them would make the
// message say two things at once, or undo what trusted_proxies guards.
std::string owned_header_problem(const std::string& lower, Direction direction) {
  if (lower == "host")
    return "weir sets Host from the request (use rewrite.hostname to change what the backend "
           "sees)";
  if (lower == "content-length" || lower == "transfer-encoding")
    return "weir states the message's framing itself";
  if (lower == "connection" || lower == "keep-alive" || lower == "upgrade" || lower == "te" ||
      lower == "trailer" || lower.starts_with("proxy-"))
    return "it is hop-by-hop: it describes one connection and weir writes its own";
  if (lower == "via") return "weir adds itself to Via on every message";
  if (direction == Direction::request) {
    if (lower.starts_with("x-forwarded-") || lower == "forwarded")
      return "weir sets the forwarding headers itself (trusted_proxies says whose it keeps)";
    if (lower == "x-request-id") return "weir sets x-request-id itself when the client sent none";
    if (lower == "expect") return "weir answers Expect itself";
  }
  return "";
}

// A header name a filter may touch; `lower` gets its lower-case spelling.
std::optional<std::string> header_name(Checker& c, const Item& item, Direction direction,
                                       std::string& lower) {
  auto name = c.string(item);
  if (!name) return std::nullopt;
  if (!is_token(*name) || name->size() > kMaxHeaderName) {
    c.fail(item, "expected a header name made of letters, digits and !#$%&'*+-.^_`|~ (at most " +
                     std::to_string(kMaxHeaderName) + " bytes), got " + quote(*name));
    return std::nullopt;
  }
  lower = ascii_lower(*name);
  if (std::string why = owned_header_problem(lower, direction); !why.empty()) {
    c.fail(item, "header " + quote(*name) + " cannot be changed by a filter: " + why);
    return std::nullopt;
  }
  return name;
}

std::optional<std::string> header_value(Checker& c, const Item& item) {
  auto value = c.string(item);
  if (!value) return std::nullopt;
  // Tabs are field whitespace; every other control character (CR, LF and NUL above all) would
  // end the line or the head early: header injection.
  const bool control = std::any_of(value->begin(), value->end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return (u < 0x20 && ch != '\t') || u == 0x7f;
  });
  if (control || value->size() > kMaxHeaderValue) {
    c.fail(item, "expected a header value without control characters (at most " +
                     std::to_string(kMaxHeaderValue) + " bytes), got " + quote(*value));
    return std::nullopt;
  }
  return value;
}

std::optional<std::vector<Item>> bounded_list(Checker& c, const Item& item, std::string_view what) {
  auto list = c.nonempty_list(item, what);
  if (list && list->size() > kMaxModifierEntries) {
    c.fail(item, "must list at most " + std::to_string(kMaxModifierEntries) + " " +
                     std::string(what) + "s, got " + std::to_string(list->size()));
    return std::nullopt;
  }
  return list;
}

// set: / add: [{name, value}], each name once per list (without regard to case).
void read_header_values(Checker& c, const Item& item, Direction direction,
                        std::vector<HeaderValue>& out, std::set<std::string>& names) {
  auto list = bounded_list(c, item, "header");
  if (!list) return;
  for (const Item& element : *list) {
    if (!c.expect_map(element)) continue;
    Fields f(c, element, {"name", "value"});
    HeaderValue header;
    std::string lower;
    bool ok = true;
    if (auto n = f.require("name")) {
      if (auto v = header_name(c, *n, direction, lower)) {
        if (!names.insert(lower).second) {
          c.fail(*n, "header " + quote(*v) + " is listed twice");
          ok = false;
        }
        header.name = *v;
      } else {
        ok = false;
      }
    } else {
      ok = false;
    }
    if (auto v = f.require("value")) {
      if (auto s = header_value(c, *v))
        header.value = *s;
      else
        ok = false;
    } else {
      ok = false;
    }
    if (ok) out.push_back(std::move(header));
  }
}

// request_headers / response_headers: {set: [{name, value}], add: [...], remove: [name]}.
void read_header_modifier(Checker& c, const Item& item, Direction direction,
                          HeaderModifier& modifier) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"set", "add", "remove"});
  std::set<std::string> set_names;
  std::set<std::string> add_names;
  if (auto s = f.get("set")) read_header_values(c, *s, direction, modifier.set, set_names);
  if (auto a = f.get("add")) read_header_values(c, *a, direction, modifier.add, add_names);
  if (auto r = f.get("remove")) {
    auto list = bounded_list(c, *r, "header name");
    std::set<std::string> seen;
    for (const Item& element : list ? *list : std::vector<Item>{}) {
      std::string lower;
      auto name = header_name(c, element, direction, lower);
      if (!name) continue;
      if (!seen.insert(lower).second) {
        c.fail(element, "header " + quote(*name) + " is listed twice");
      } else if (set_names.contains(lower)) {
        // Which one wins would depend on an order HTTPRoute does not define.
        c.fail(element, "header " + quote(*name) + " is both set and removed");
      } else {
        modifier.remove.push_back(lower);
      }
    }
  }
  if (!f.get("set") && !f.get("add") && !f.get("remove"))
    c.fail(item, "expected at least one of set, add or remove");
}

// A path as a rewrite or redirect writes it: "/" and what may follow in a path, no query.
bool path_ok(std::string_view path, bool may_be_empty) {
  if (path.empty()) return may_be_empty;
  if (path.front() != '/' || path.size() > kMaxPath) return false;
  return std::none_of(path.begin(), path.end(), [](char ch) {
    const auto u = static_cast<unsigned char>(ch);
    return u <= 0x20 || u >= 0x7f || ch == '?' || ch == '#';
  });
}

// path: {replace_full: /x} or {replace_prefix: /x}. `matches` (when the route's match was read
// cleanly): replace_prefix needs every alternative to be a PathPrefix, the part it replaces.
void read_path_modifier(Checker& c, const Item& item, PathModifier& modifier,
                        const std::vector<Match>* matches) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"replace_full", "replace_prefix"});
  auto full = f.get("replace_full");
  auto prefix = f.get("replace_prefix");
  if (full && prefix) {
    c.fail(item, "give either replace_full or replace_prefix, not both");
    return;
  }
  if (!full && !prefix) {
    c.fail(item, "expected replace_full or replace_prefix");
    return;
  }
  const Item& at = full ? *full : *prefix;
  auto value = c.string(at);
  if (!value) return;
  if (!path_ok(*value, prefix.has_value())) {
    c.fail(at, "expected a path starting with \"/\" (at most " + std::to_string(kMaxPath) +
                   " bytes, without spaces, control characters, \"?\" or \"#\"), got " +
                   quote(*value));
    return;
  }
  if (prefix && matches) {
    for (size_t i = 0; i < matches->size(); ++i) {
      if ((*matches)[i].path.type == PathMatch::Type::prefix) continue;
      const char* type =
          (*matches)[i].path.type == PathMatch::Type::exact ? "Exact" : "RegularExpression";
      c.fail(at, "replace_prefix replaces the part of the path a PathPrefix matched, but the "
                 "route's match" +
                     (matches->size() > 1 ? "[" + std::to_string(i) + "]" : std::string()) +
                     " is " + type + " (use replace_full)");
      return;
    }
  }
  modifier.type = full ? PathModifier::Type::replace_full : PathModifier::Type::replace_prefix;
  modifier.value = *value;
}

// A hostname as HTTPRoute's PreciseHostname: lower case, no wildcard, no port.
std::optional<std::string> precise_hostname(Checker& c, const Item& item) {
  auto s = c.string(item);
  if (!s) return std::nullopt;
  auto host = normalize_host(*s);
  if (!host || host->empty() || host->starts_with("*.")) {
    c.fail(item, "expected a host name like example.com (no wildcard, no port), got " + quote(*s));
    return std::nullopt;
  }
  return host;
}

// rewrite: {hostname, path}.
void read_rewrite(Checker& c, const Item& item, Rewrite& rewrite,
                  const std::vector<Match>* matches) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"hostname", "path"});
  if (auto h = f.get("hostname")) {
    if (auto v = precise_hostname(c, *h)) rewrite.hostname = *v;
  }
  if (auto p = f.get("path")) read_path_modifier(c, *p, rewrite.path, matches);
  if (!f.get("hostname") && !f.get("path")) c.fail(item, "expected hostname, path or both");
}

// redirect: {scheme, hostname, port, path, status}.
void read_redirect(Checker& c, const Item& item, Redirect& redirect,
                   const std::vector<Match>* matches) {
  if (!c.expect_map(item)) return;
  Fields f(c, item, {"scheme", "hostname", "port", "path", "status"});
  redirect.enabled = true;
  if (auto s = f.get("scheme")) {
    if (auto v = c.string(*s)) {
      if (*v == "http" || *v == "https")
        redirect.scheme = *v;
      else
        c.fail(*s, "expected http or https, got " + quote(*v));
    }
  }
  if (auto h = f.get("hostname")) {
    if (auto v = precise_hostname(c, *h)) redirect.hostname = *v;
  }
  if (auto p = f.get("port")) {
    if (auto v = c.integer(*p, 1, 65535)) redirect.port = static_cast<uint16_t>(*v);
  }
  if (auto p = f.get("path")) read_path_modifier(c, *p, redirect.path, matches);
  if (auto s = f.get("status")) {
    if (auto v = c.integer(*s, 0, 999)) {
      if (*v == 301 || *v == 302 || *v == 303 || *v == 307 || *v == 308)
        redirect.status = static_cast<int>(*v);
      else
        c.fail(*s, "expected 301, 302, 303, 307 or 308, got " + std::to_string(*v));
    }
  }
}

} // namespace

void read_filters(Checker& c, const Fields& fields, Filters& filters, bool backend,
                  const std::vector<Match>* matches) {
  if (auto h = fields.get("request_headers"))
    read_header_modifier(c, *h, Direction::request, filters.request_headers);
  if (auto h = fields.get("response_headers"))
    read_header_modifier(c, *h, Direction::response, filters.response_headers);
  if (auto r = fields.get("rewrite")) read_rewrite(c, *r, filters.rewrite, matches);
  if (backend) return; // a backend's Fields know no redirect key
  if (auto r = fields.get("redirect")) {
    if (fields.get("rewrite")) {
      // HTTPRoute: a rule may not have both; the request would go nowhere and somewhere.
      c.fail(*r, "a route cannot both redirect and rewrite: a redirect answers the client "
                 "itself, a rewrite changes what a backend sees");
      return;
    }
    read_redirect(c, *r, filters.redirect, matches);
  }
}

} // namespace weir::config::yaml
