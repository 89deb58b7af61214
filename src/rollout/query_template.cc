#include "weir/rollout/query_template.h"

#include <algorithm>

namespace weir::rollout {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// Calls f(name, begin, end) for every "{{...}}" of `query`, [begin, end) covering the braces.
template <typename F> void for_each_placeholder(std::string_view query, F f) {
  size_t pos = 0;
  while ((pos = query.find("{{", pos)) != std::string_view::npos) {
    const size_t close = query.find("}}", pos + 2);
    if (close == std::string_view::npos) return;
    f(trim(query.substr(pos + 2, close - pos - 2)), pos, close + 2);
    pos = close + 2;
  }
}

} // namespace

std::map<std::string, std::string> query_variables(const std::string& route,
                                                   const std::string& stable_id,
                                                   const std::string& canary_id) {
  const auto name_of = [](const std::string& id) {
    const size_t slash = id.find('/');
    return slash == std::string::npos ? id : id.substr(slash + 1);
  };
  return {{"route", route},
          {"stable", stable_id},
          {"canary", canary_id},
          {"stable_service", name_of(stable_id)},
          {"canary_service", name_of(canary_id)}};
}

std::string render_query(const std::string& query, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t copied = 0;
  for_each_placeholder(query, [&](std::string_view name, size_t begin, size_t end) {
    auto it = vars.find(std::string(name));
    if (it == vars.end()) return;
    out.append(query, copied, begin - copied);
    out += it->second;
    copied = end;
  });
  out.append(query, copied);
  return out;
}

std::vector<std::string> unknown_query_variables(std::string_view query) {
  std::vector<std::string> unknown;
  for_each_placeholder(query, [&](std::string_view name, size_t, size_t) {
    if (std::find(std::begin(kQueryVariables), std::end(kQueryVariables), name) ==
        std::end(kQueryVariables))
      unknown.emplace_back(name);
  });
  return unknown;
}

} // namespace weir::rollout
