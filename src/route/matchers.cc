#include "weir/route/matchers.h"

namespace weir::route {
std::optional<Regex> ValueMatcher::compile_regex(const std::string& pattern, std::string* error) {
  std::string why;
  std::optional<Regex> re = Regex::compile(pattern, &why);
  if (!re && error) *error = "regular expression \"" + pattern + "\" " + why;
  return re;
}

std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find_first_of("?#"));
}

std::string_view query_of(std::string_view target) {
  const size_t q = target.find_first_of("?#");
  if (q == std::string_view::npos || target[q] == '#') return {};
  target.remove_prefix(q + 1);
  return target.substr(0, target.find('#'));
}

std::optional<ValueMatcher> ValueMatcher::compile(const config::ValueMatch& m, std::string* error) {
  ValueMatcher out;
  out.name_ = m.name;
  out.value_ = m.value;
  if (m.type == config::ValueMatch::Type::regex) {
    out.regex_ = compile_regex(m.value, error);
    if (!out.regex_) return std::nullopt;
  }
  return out;
}

bool ValueMatcher::matches_value(std::string_view value) const {
  return regex_ ? regex_->matches(value) : value == value_;
}

bool ValueMatcher::matches_header(std::span<const http::Header> headers) const {
  const http::Header* first = nullptr;
  size_t count = 0;
  for (const http::Header& h : headers) {
    if (!http::iequals(h.name, name_)) continue;
    if (!first) first = &h;
    ++count;
  }
  if (count == 0) return false;
  if (count == 1) return matches_value(first->value);
  if (regex_) {
    // Several headers of the name: the regex sees them joined, as one field (RFC 9110 5.3).
    std::string joined;
    for (const http::Header& h : headers) {
      if (!http::iequals(h.name, name_)) continue;
      if (&h != first) joined.push_back(',');
      joined.append(h.value);
    }
    return regex_->matches(joined);
  }
  // Exact: walk the expected value piece by piece instead of building the joined one.
  std::string_view rest = value_;
  bool first_piece = true;
  for (const http::Header& h : headers) {
    if (!http::iequals(h.name, name_)) continue;
    if (!first_piece) {
      if (rest.empty() || rest.front() != ',') return false;
      rest.remove_prefix(1);
    }
    first_piece = false;
    if (!rest.starts_with(h.value)) return false;
    rest.remove_prefix(h.value.size());
  }
  return rest.empty();
}

bool ValueMatcher::matches_query(std::string_view query) const {
  while (true) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    const size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name_ && !(pair.empty() && name_.empty()))
      return matches_value(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (amp == std::string_view::npos) return false;
    query.remove_prefix(amp + 1);
  }
}

} // namespace weir::route
