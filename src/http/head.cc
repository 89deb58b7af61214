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
