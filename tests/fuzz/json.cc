// Fuzz target `json`: the input as a JSON document through json::parse (the state file and the
// control socket read documents from outside). A document that parses must survive writing and
// parsing again unchanged; a refused one must say where; and escape() must turn any bytes into
// a string literal the reader accepts.

#include "weir/base/json.h"

#include "fuzz_target.h"

#include <algorithm>
#include <string>
#include <string_view>

namespace {

using namespace weir;

int depth(const json::Value& v) {
  int deepest = 0;
  if (v.is_array()) {
    for (const json::Value& e : v.as_array())
      deepest = std::max(deepest, depth(e));
    return deepest + 1;
  }
  if (v.is_object()) {
    for (const auto& [key, e] : v.as_object())
      deepest = std::max(deepest, depth(e));
    return deepest + 1;
  }
  return 0;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    if (len == 0 || i + len > s.size()) return false;
    uint32_t cp = len == 1 ? c : c & (0x7f >> len);
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and code points past U+10FFFF are not UTF-8.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff) return false;
    i += len;
  }
  return true;
}

} // namespace

WEIR_FUZZ_TARGET(json) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  json::ParseResult r = json::parse(text);
  if (r.value) {
    WEIR_FUZZ_CHECK(r.error.empty());
    WEIR_FUZZ_CHECK(depth(*r.value) <= json::kMaxDepth);
    json::Writer w;
    w.value(*r.value);
    std::string written = w.take();
    json::ParseResult again = json::parse(written);
    WEIR_FUZZ_CHECK(again.value.has_value());
    WEIR_FUZZ_CHECK(*again.value == *r.value);
    json::Writer w2;
    w2.value(*again.value);
    WEIR_FUZZ_CHECK(w2.str() == written); // the writer's form is a fixed point
  } else {
    WEIR_FUZZ_CHECK(r.error.rfind("offset ", 0) == 0);
  }

  // Any bytes as a string value: valid UTF-8 comes back as is, the rest as U+FFFD.
  std::string literal = json::escape(text);
  json::ParseResult s = json::parse(literal);
  WEIR_FUZZ_CHECK(s.value.has_value() && s.value->is_string());
  if (valid_utf8(text)) WEIR_FUZZ_CHECK(s.value->as_string() == text);
  return 0;
}
