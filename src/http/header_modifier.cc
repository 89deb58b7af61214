#include "weir/http/header_modifier.h"

#include "weir/http/head.h"

#include <algorithm>

namespace weir::http {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
  });
  return out;
}

// The names a modifier replaces or removes: what it drops of what came before it.
std::vector<std::string> dropped_by(const config::HeaderModifier& m) {
  std::vector<std::string> out;
  for (const config::HeaderValue& h : m.set)
    out.push_back(lower(h.name));
  for (const std::string& name : m.remove)
    out.push_back(lower(name));
  return out;
}

bool contains(const std::vector<std::string>& names, std::string_view name) {
  return std::any_of(names.begin(), names.end(),
                     [&](const std::string& n) { return iequals(n, name); });
}

void append_lines(const config::HeaderModifier& m, const std::vector<std::string>& overridden,
                  std::string& out) {
  for (const auto* list : {&m.set, &m.add}) {
    for (const config::HeaderValue& h : *list) {
      if (contains(overridden, h.name)) continue;
      out.append(h.name).append(": ").append(h.value).append("\r\n");
    }
  }
}

} // namespace

HeaderModifier HeaderModifier::compile(const config::HeaderModifier& first,
                                       const config::HeaderModifier& then) {
  HeaderModifier out;
  const std::vector<std::string> by_then = dropped_by(then);
  for (std::string& name : dropped_by(first))
    if (!contains(out.dropped_, name)) out.dropped_.push_back(std::move(name));
  for (const std::string& name : by_then)
    if (!contains(out.dropped_, name)) out.dropped_.push_back(name);
  append_lines(first, by_then, out.lines_);
  append_lines(then, {}, out.lines_);
  return out;
}

bool HeaderModifier::drops(std::string_view name) const {
  for (const std::string& d : dropped_)
    if (d.size() == name.size() && iequals(d, name)) return true;
  return false;
}

} // namespace weir::http
