#include "weir/route/table.h"

#include <algorithm>
#include <tuple>

namespace weir::route {
namespace {

char fold(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = fold(c);
  return out;
}

// Orders a stored lowercase key against a Host of any case, byte-wise after folding.
int compare_folded(std::string_view key, std::string_view host) {
  const size_t n = std::min(key.size(), host.size());
  for (size_t i = 0; i < n; ++i) {
    const auto a = static_cast<unsigned char>(key[i]);
    const auto b = static_cast<unsigned char>(fold(host[i]));
    if (a != b) return a < b ? -1 : 1;
  }
  if (key.size() == host.size()) return 0;
  return key.size() < host.size() ? -1 : 1;
}

// "Example.COM:8080" -> "Example.COM", "[::1]:80" -> "[::1]", "a.example.com." -> "a.example.com".
// Case is left alone: comparisons fold it, so nothing is copied.
std::string_view strip_host(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    const size_t close = host.find(']');
    if (close != std::string_view::npos) host = host.substr(0, close + 1);
  } else {
    const size_t colon = host.find(':');
    if (colon != std::string_view::npos) host = host.substr(0, colon);
  }
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  return host;
}

enum class HostClass { exact, wildcard, any };

// One alternative before it is placed: its host key and its rank within that host.
struct Item {
  HostClass cls;
  std::string host; // normalised key, see Table::Group
  const config::Match* match;
  int route;
  uint32_t alternative;
};

// Orders the alternatives of one host as HTTPRoute ranks them (see table.h); the caller's
// stable sort keeps config order for the rest.
std::tuple<int, long, int, long, long> rank(const config::Match& m) {
  const auto type = m.path.type;
  long length = 0;
  if (type != config::PathMatch::Type::regex) {
    std::string_view v = m.path.value;
    if (type == config::PathMatch::Type::prefix)
      while (!v.empty() && v.back() == '/')
        v.remove_suffix(1);
    length = static_cast<long>(v.size());
  }
  const int type_rank = type == config::PathMatch::Type::exact    ? 0
                        : type == config::PathMatch::Type::prefix ? 1
                                                                  : 2;
  return {type_rank, -length, m.method.empty() ? 1 : 0, -static_cast<long>(m.headers.size()),
          -static_cast<long>(m.query.size())};
}

Item make_item(const config::Match& m, int route, uint32_t alternative) {
  std::string host = lowercase(m.host);
  if (!host.empty() && host.back() == '.') host.pop_back();
  Item item{HostClass::exact, {}, &m, route, alternative};
  if (host.empty() || host == "*") {
    item.cls = HostClass::any;
  } else if (host.starts_with("*.")) {
    item.cls = HostClass::wildcard;
    item.host = host.substr(1); // keep the dot: ".example.com" never matches "example.com"
  } else {
    // A bare IPv6 literal in config is written as the Host header carries it, in brackets.
    if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
    item.host = std::move(host);
  }
  return item;
}

} // namespace

Table Table::build(const std::vector<config::Route>& routes, std::string_view listener) {
  static const config::Match kAny;
  std::vector<Item> items;
  for (size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].listener != listener) continue;
    if (routes[i].matches.empty()) items.push_back(make_item(kAny, static_cast<int>(i), 0));
    for (size_t a = 0; a < routes[i].matches.size(); ++a)
      items.push_back(
          make_item(routes[i].matches[a], static_cast<int>(i), static_cast<uint32_t>(a)));
  }
  // Exact hosts ascending (binary search), wildcards longest suffix first, then any-host; inside
  // one host by precedence. Stable, so ties keep config order (route, then alternative).
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    const auto suffix_rank = [](const Item& it) {
      return it.cls == HostClass::wildcard ? -static_cast<long>(it.host.size()) : 0L;
    };
    const auto host_a = std::make_tuple(a.cls, suffix_rank(a), std::string_view(a.host));
    const auto host_b = std::make_tuple(b.cls, suffix_rank(b), std::string_view(b.host));
    if (host_a != host_b) return host_a < host_b;
    return rank(*a.match) < rank(*b.match);
  });

  Table t;
  t.entries_.reserve(items.size());
  for (size_t i = 0; i < items.size();) {
    size_t j = i;
    Group g{items[i].host, static_cast<uint32_t>(t.entries_.size()), 0};
    for (; j < items.size() && items[j].cls == items[i].cls && items[j].host == items[i].host;
         ++j) {
      if (!t.add_entry(*items[j].match, items[j].route, items[j].alternative)) continue;
    }
    g.count = static_cast<uint32_t>(t.entries_.size() - g.first);
    switch (items[i].cls) {
    case HostClass::exact:
      t.exact_.push_back(std::move(g));
      break;
    case HostClass::wildcard:
      t.wildcard_.push_back(std::move(g));
      break;
    case HostClass::any:
      t.any_ = std::move(g);
      break;
    }
    i = j;
  }
  return t;
}

bool Table::add_entry(const config::Match& m, int route, uint32_t alternative) {
  Entry e;
  e.route = route;
  e.alternative = alternative;
  e.path_type = m.path.type;
  if (m.path.type == config::PathMatch::Type::regex) {
    std::optional<Regex> re = ValueMatcher::compile_regex(m.path.value, nullptr);
    if (!re) return false;
    e.path_regex = static_cast<int32_t>(regexes_.size());
    regexes_.push_back(std::move(*re));
  } else {
    std::string_view v = m.path.value;
    // HTTPRoute: a trailing '/' of a prefix is ignored ("/abc/" matches "/abc" too).
    if (m.path.type == config::PathMatch::Type::prefix)
      while (!v.empty() && v.back() == '/')
        v.remove_suffix(1);
    e.path_offset = static_cast<uint32_t>(text_.size());
    e.path_length = static_cast<uint32_t>(v.size());
    text_.append(v);
  }
  e.method_offset = static_cast<uint32_t>(text_.size());
  e.method_length = static_cast<uint8_t>(std::min<size_t>(m.method.size(), 255));
  text_.append(m.method, 0, e.method_length);
  e.first_condition = static_cast<uint32_t>(conditions_.size());
  for (const auto* list : {&m.headers, &m.query})
    for (const config::ValueMatch& v : *list) {
      std::optional<ValueMatcher> c = ValueMatcher::compile(v, nullptr);
      if (!c) {
        conditions_.resize(e.first_condition);
        return false;
      }
      conditions_.push_back(std::move(*c));
    }
  e.headers = static_cast<uint16_t>(m.headers.size());
  e.query = static_cast<uint16_t>(m.query.size());
  entries_.push_back(e);
  return true;
}

std::optional<uint32_t> Table::path_match(const Entry& e, std::string_view path) const {
  if (e.path_regex >= 0) {
    if (regexes_[static_cast<size_t>(e.path_regex)].matches(path)) return 0;
    return std::nullopt;
  }
  const std::string_view value(text_.data() + e.path_offset, e.path_length);
  if (e.path_type == config::PathMatch::Type::exact) {
    if (path == value) return 0;
    return std::nullopt;
  }
  // Whole segments only: "/api" matches "/api" and "/api/x", never "/apix". "" (written "/")
  // matches every target, even "*" and an empty one.
  if (!path.starts_with(value)) return std::nullopt;
  if (!value.empty() && path.size() != value.size() && path[value.size()] != '/')
    return std::nullopt;
  return e.path_length;
}

bool Table::group_match(const Group& group, const Request& request, std::string_view path,
                        Hit& hit) const {
  for (uint32_t i = group.first, end = group.first + group.count; i < end; ++i) {
    const Entry& e = entries_[i];
    if (e.method_length != 0 &&
        request.method != std::string_view(text_.data() + e.method_offset, e.method_length))
      continue;
    const std::optional<uint32_t> covered = path_match(e, path);
    if (!covered) continue;
    if (e.headers + e.query != 0) {
      const ValueMatcher* c = conditions_.data() + e.first_condition;
      bool all = true;
      for (uint32_t k = 0; all && k < e.headers; ++k)
        all = c[k].matches_header(request.headers);
      const std::string_view query = e.query != 0 ? query_of(request.target) : std::string_view();
      for (uint32_t k = e.headers; all && k < e.headers + e.query; ++k)
        all = c[k].matches_query(query);
      if (!all) continue;
    }
    hit = Hit{e.route, e.alternative, *covered};
    return true;
  }
  return false;
}

Table::Hit Table::match(const Request& request) const {
  const std::string_view host = strip_host(request.host);
  const std::string_view path = path_of(request.target);
  Hit hit;

  if (!host.empty()) {
    const auto it = std::lower_bound(
        exact_.begin(), exact_.end(), host,
        [](const Group& g, std::string_view h) { return compare_folded(g.host, h) < 0; });
    if (it != exact_.end() && compare_folded(it->host, host) == 0 &&
        group_match(*it, request, path, hit))
      return hit;
    for (const Group& g : wildcard_) {
      if (host.size() > g.host.size() &&
          compare_folded(g.host, host.substr(host.size() - g.host.size())) == 0 &&
          group_match(g, request, path, hit))
        return hit;
    }
  }
  group_match(any_, request, path, hit);
  return hit;
}

} // namespace weir::route
