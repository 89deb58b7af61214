#include "route_reader.h"

#include <algorithm>

namespace weir::config::yaml {

bool read_match(Checker& c_, const Item& item, std::vector<Match>& matches) {
  Match& match = matches.emplace_back();
  if (!c_.expect_map(item)) return false;
  Fields f(c_, item, {"host", "path_prefix"});
  bool ok = true;
  if (auto h = f.get("host")) {
    auto s = c_.string(*h);
    std::optional<std::string> host;
    if (s) host = normalize_host(*s);
    if (s && !host) {
      c_.fail(*h, "expected a host name like example.com or *.example.com (or none for any "
                  "host), got " +
                      quote(*s));
    }
    if (host) {
      match.host = *host;
    } else {
      ok = false;
    }
  }
  if (auto p = f.get("path_prefix")) {
    auto s = c_.string(*p);
    if (!s) {
      ok = false;
    } else if (!s->starts_with('/')) {
      c_.fail(*p, "must start with \"/\", got " + quote(*s));
      ok = false;
    } else if (std::any_of(s->begin(), s->end(), [](char ch) {
                 const auto u = static_cast<unsigned char>(ch);
                 return u <= 0x20 || u == 0x7f || ch == '?' || ch == '#';
               })) {
      c_.fail(*p, "must not contain spaces, control characters, \"?\" or \"#\", got " + quote(*s));
      ok = false;
    } else {
      match.path.value = *s;
    }
  }
  return ok;
}

} // namespace weir::config::yaml
