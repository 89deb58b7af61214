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
      const config::Match& m = *items[j].match;
      std::optional<PathMatcher> path = PathMatcher::compile(m.path, nullptr);
      if (!path) continue;
      Entry e{std::move(*path),
              m.method,
              static_cast<uint32_t>(t.conditions_.size()),
              0,
              0,
              items[j].route,
              items[j].alternative};
      bool compiled = true;
      for (const auto* list : {&m.headers, &m.query})
        for (const config::ValueMatch& v : *list) {
          std::optional<ValueMatcher> c = ValueMatcher::compile(v, nullptr);
          if (!c) {
            compiled = false;
            continue;
          }
          t.conditions_.push_back(std::move(*c));
        }
      if (!compiled) {
        t.conditions_.resize(e.first_condition);
        continue;
      }
      e.headers = static_cast<uint16_t>(m.headers.size());
      e.query = static_cast<uint16_t>(m.query.size());
      t.entries_.push_back(std::move(e));
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

bool Table::group_match(const Group& group, const Request& request, std::string_view path,
                        std::string_view query, Hit& hit) const {
  for (uint32_t i = group.first, end = group.first + group.count; i < end; ++i) {
    const Entry& e = entries_[i];
    if (!e.method.empty() && e.method != request.method) continue;
    const std::optional<uint32_t> covered = e.path.match(path);
    if (!covered) continue;
    const ValueMatcher* c = conditions_.data() + e.first_condition;
    bool all = true;
    for (uint32_t k = 0; all && k < e.headers; ++k)
      all = c[k].matches_header(request.headers);
    for (uint32_t k = e.headers; all && k < e.headers + e.query; ++k)
      all = c[k].matches_query(query);
    if (!all) continue;
    hit = Hit{e.route, e.alternative, *covered};
    return true;
  }
  return false;
}

Table::Hit Table::match(const Request& request) const {
  const std::string_view host = strip_host(request.host);
  const std::string_view path = path_of(request.target);
  const std::string_view query = query_of(request.target);
  Hit hit;

  if (!host.empty()) {
    const auto it = std::lower_bound(
        exact_.begin(), exact_.end(), host,
        [](const Group& g, std::string_view h) { return compare_folded(g.host, h) < 0; });
    if (it != exact_.end() && compare_folded(it->host, host) == 0 &&
        group_match(*it, request, path, query, hit))
      return hit;
    for (const Group& g : wildcard_) {
      if (host.size() > g.host.size() &&
          compare_folded(g.host, host.substr(host.size() - g.host.size())) == 0 &&
          group_match(g, request, path, query, hit))
        return hit;
    }
  }
  group_match(any_, request, path, query, hit);
  return hit;
}

} // namespace weir::route
