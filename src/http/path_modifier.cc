#include "weir/http/path_modifier.h"

namespace weir::http {

void append_modified_path(std::string& out, std::string_view target,
                          const config::PathModifier& modifier, size_t prefix_length) {
  const size_t question = target.find('?');
  const std::string_view path = target.substr(0, question);
  const std::string_view query =
      question == std::string_view::npos ? std::string_view() : target.substr(question);
  const size_t start = out.size();
  switch (modifier.type) {
  case config::PathModifier::Type::none:
    out.append(path);
    break;
  case config::PathModifier::Type::replace_full:
    out.append(modifier.value);
    break;
  case config::PathModifier::Type::replace_prefix: {
    std::string_view replacement = modifier.value;
    // "/xyz/" and "/xyz" replace alike: the rest of the path brings its own '/'.
    while (!replacement.empty() && replacement.back() == '/')
      replacement.remove_suffix(1);
    const std::string_view rest = prefix_length < path.size() ? path.substr(prefix_length) : "";
    out.append(replacement);
    if (!rest.empty() && rest.front() != '/') out.push_back('/');
    out.append(rest);
    break;
  }
  }
  if (out.size() == start) out.push_back('/');
  out.append(query);
}

} // namespace weir::http
