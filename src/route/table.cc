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

// Segment-boundary prefix match (Gateway API PathPrefix): "/api" matches "/api", "/api/x" but not
// "/apix". A prefix ending in '/' is a plain string prefix. `path` has its query removed.
bool prefix_matches(std::string_view prefix, std::string_view path) {
  if (prefix.size() <= 1) // "/" (or an unset prefix) matches every target, even "*"
    return true;
  if (!path.starts_with(prefix)) return false;
  return path.size() == prefix.size() || prefix.back() == '/' || path[prefix.size()] == '/';
}

enum class HostClass { exact, wildcard, any };

struct Item {
  HostClass cls;
  std::string host; // normalised key, see Table::Group
  std::string prefix;
  int route;
};

Item make_item(const config::Route& r, int index) {
  std::string host = lowercase(r.match.host);
  if (!host.empty() && host.back() == '.') host.pop_back();
  Item item{HostClass::exact, {}, r.match.path_prefix.empty() ? "/" : r.match.path_prefix, index};
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
  std::vector<Item> items;
  for (size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].listener == listener) items.push_back(make_item(routes[i], static_cast<int>(i)));
  }
  // Exact hosts ascending (binary search), wildcards longest suffix first, then any-host; inside
  // one host the longest prefix first. Stable, so equal prefixes keep config order.
  std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
    const auto suffix_rank = [](const Item& it) {
      return it.cls == HostClass::wildcard ? -static_cast<long>(it.host.size()) : 0L;
    };
    return std::make_tuple(a.cls, suffix_rank(a), std::string_view(a.host),
                           -static_cast<long>(a.prefix.size())) <
           std::make_tuple(b.cls, suffix_rank(b), std::string_view(b.host),
                           -static_cast<long>(b.prefix.size()));
  });

  Table t;
  t.entries_.reserve(items.size());
  for (size_t i = 0; i < items.size();) {
    size_t j = i;
    Group g{items[i].host, static_cast<uint32_t>(t.entries_.size()), 0};
    for (; j < items.size() && items[j].cls == items[i].cls && items[j].host == items[i].host;
         ++j) {
      t.entries_.push_back(Entry{std::move(items[j].prefix), items[j].route});
    }
    g.count = static_cast<uint32_t>(j - i);
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

int Table::match_group(const Group& group, std::string_view path) const {
  for (uint32_t i = group.first, end = group.first + group.count; i < end; ++i) {
    if (prefix_matches(entries_[i].prefix, path)) return entries_[i].route;
  }
  return -1;
}

int Table::match(std::string_view host, std::string_view path) const {
  host = strip_host(host);
  path = path.substr(0, path.find_first_of("?#"));

  if (!host.empty()) {
    const auto it = std::lower_bound(
        exact_.begin(), exact_.end(), host,
        [](const Group& g, std::string_view h) { return compare_folded(g.host, h) < 0; });
    if (it != exact_.end() && compare_folded(it->host, host) == 0) {
      if (const int r = match_group(*it, path); r >= 0) return r;
    }
    for (const Group& g : wildcard_) {
      if (host.size() > g.host.size() &&
          compare_folded(g.host, host.substr(host.size() - g.host.size())) == 0) {
        if (const int r = match_group(g, path); r >= 0) return r;
      }
    }
  }
  return match_group(any_, path);
}

} // namespace weir::route
