#include "weir/http/head.h"

namespace weir::http {

namespace {
inline char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}
} // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view target_path(std::string_view target, std::string_view* authority) {
  if (!target.empty() && target[0] == '/') return target;
  size_t scheme = target.find("://");
  if (scheme == std::string_view::npos) return "/";
  std::string_view rest = target.substr(scheme + 3);
  size_t slash = rest.find_first_of("/?");
  if (authority) *authority = rest.substr(0, slash);
  return slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
}

const Header* Head::find(std::string_view name) const {
  for (const Header& h : headers)
    if (iequals(h.name, name)) return &h;
  return nullptr;
}

void Head::clear() {
  method = 0;
  method_name = {};
  target = {};
  status = 0;
  reason = {};
  version_minor = 1;
  headers.clear();
  framing = Framing::none;
  content_length = 0;
  keep_alive = true;
  upgrade = false;
  expect_continue = false;
  host = {};
  authority = {};
  path = {};
  absolute_form = false;
  wire_size = 0;
}

} // namespace weir::http
