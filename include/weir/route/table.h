#pragma once

#include "weir/config/config.h"
#include "weir/http/head.h"
#include "weir/route/matchers.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace weir::route {

// Which route of one listener takes a request: every alternative (config::Match) of every
// route, ranked as Gateway API HTTPRoute ranks matches.
//
// Built on the control thread while a snapshot is assembled; immutable afterwards, so worker
// threads call match() concurrently without locks. match() never allocates unless a regex
// condition is tested.
//
// Precedence, most specific first:
//   1. the host: exact ("example.com"), then wildcards ("*.example.com"; the longest suffix
//      first), then any host (""). A request whose host matches but which matches none of that
//      host's alternatives falls through to the next, less specific host.
//   2. within one host, the alternative with: an Exact path; else a PathPrefix with the most
//      characters; else a RegularExpression path; then a method condition; then the most header
//      conditions; then the most query conditions; then config order (the earlier route, then
//      its earlier alternative), which stands for HTTPRoute's creation order.
class Table {
public:
  // What matched: the route (an index into the routes given to build(), -1 for none), which of
  // its alternatives, and for a PathPrefix the characters of the path it covered without a
  // trailing '/' (so path.substr(prefix_length) is "" or starts with '/'; 0 for "/", Exact and
  // RegularExpression), what ReplacePrefixMatch replaces.
  struct Hit {
    int route = -1;
    uint32_t alternative = 0;
    uint32_t prefix_length = 0;
  };

  // What a request offers to match on; views, nothing is copied.
  struct Request {
    // The Host as received: any case, optional ":port", IPv6 literal in brackets, optional
    // trailing dot, or empty.
    std::string_view host;
    std::string_view target; // the origin-form target: path, query included
    std::string_view method; // "" matches only alternatives without a method
    std::span<const http::Header> headers;
  };

  Table() = default;

  // Index the routes of one listener; routes of other listeners are skipped. An alternative
  // whose regex does not compile (the loader refuses those) never matches.
  static Table build(const std::vector<config::Route>& routes, std::string_view listener);

  Hit match(const Request& request) const;
  Hit match(const http::Head& head) const {
    return match(Request{head.authority, head.path, head.method_name, head.headers});
  }
  // Host and target only: a request without method or headers.
  Hit match(std::string_view host, std::string_view target) const {
    return match(Request{host, target, {}, {}});
  }

  bool empty() const { return entries_.empty(); }

private:
  // One alternative, compact (a match walks them in order): strings live in text_.
  struct Entry {
    uint32_t path_offset = 0; // text_[path_offset, +path_length): exact value, or prefix without
    uint32_t path_length = 0; // its trailing '/'
    int32_t path_regex = -1;  // index into regexes_ for a RegularExpression path
    config::PathMatch::Type path_type = config::PathMatch::Type::prefix;
    uint8_t method_length = 0; // text_[method_offset, +method_length); 0: any method
    uint16_t headers = 0;      // conditions_[first_condition, +headers) are header conditions,
    uint16_t query = 0;        // the next `query` ones query conditions
    uint32_t method_offset = 0;
    uint32_t first_condition = 0;
    int32_t route = -1;
    uint32_t alternative = 0;
  };
  // A run of entries_, in precedence order.
  struct Group {
    std::string host; // exact: lowercase name; wildcard: lowercase suffix with its dot
    uint32_t first = 0;
    uint32_t count = 0;
  };

  // Appends the alternative's entry (false: a regex of it does not compile; it is left out).
  bool add_entry(const config::Match& m, int route, uint32_t alternative);
  bool group_match(const Group& group, const Request& request, std::string_view path,
                   Hit& hit) const;
  // The path characters `e` covers when it matches `path`, else nullopt.
  std::optional<uint32_t> path_match(const Entry& e, std::string_view path) const;

  std::vector<Entry> entries_;
  std::string text_; // entries' paths and methods
  std::vector<Regex> regexes_;
  std::vector<ValueMatcher> conditions_;
  std::vector<Group> exact_;    // sorted by host for binary search
  std::vector<Group> wildcard_; // sorted by suffix length descending
  Group any_;
};

} // namespace weir::route
