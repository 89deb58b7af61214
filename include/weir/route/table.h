#pragma once

#include "weir/config/config.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace weir::route {

// Host/path routing for one listener.
//
// Built on the control thread while a snapshot is assembled; immutable afterwards, so worker
// threads call match() concurrently without locks. match() never allocates.
//
// Precedence, most specific first (as Gateway API HTTPRoute):
//   1. exact host ("example.com"),
//   2. wildcard host ("*.example.com"; the longest suffix first),
//   3. any host ("").
// Within one host the longest path prefix wins; equal prefixes keep config order. A request
// whose host matches but whose path matches none of that host's prefixes falls through to the
// next, less specific host.
class Table {
public:
  Table() = default;

  // Index the routes of one listener. Route indices returned by match() are indices into
  // `routes`; routes of other listeners are skipped.
  static Table build(const std::vector<config::Route>& routes, std::string_view listener);

  // `host` is the Host header as received: any case, optional ":port", IPv6 literal in brackets,
  // optional trailing dot, or empty. `path` is the origin-form target, query included.
  // Returns the matched route index, or -1.
  int match(std::string_view host, std::string_view path) const;

  bool empty() const { return entries_.empty(); }

private:
  struct Entry {
    std::string prefix; // "/" matches every path
    int route = -1;
  };
  // A run of entries_, sorted by prefix length descending.
  struct Group {
    std::string host; // exact: lowercase name; wildcard: lowercase suffix with its dot
    uint32_t first = 0;
    uint32_t count = 0;
  };

  int match_group(const Group& group, std::string_view path) const;

  std::vector<Entry> entries_;
  std::vector<Group> exact_;    // sorted by host for binary search
  std::vector<Group> wildcard_; // sorted by suffix length descending
  Group any_;
};

} // namespace weir::route
