#include "weir/mirror/fingerprint.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <charconv>

namespace weir::mirror {

namespace json = boost::json;

namespace {

constexpr std::string_view kAbsent = "(absent)";
// Deeper JSON is refused (no JSON): the canonical writer recurses.
constexpr unsigned kMaxDepth = 64;

// The next segment of a dotted path ("a.b.0" → "a", then "b", then "0").
std::string_view next_segment(std::string_view& path) {
  size_t dot = path.find('.');
  std::string_view seg = path.substr(0, dot);
  path = dot == std::string_view::npos ? std::string_view() : path.substr(dot + 1);
  return seg;
}

bool array_index(std::string_view seg, size_t& index) {
  if (seg.empty()) return false;
  auto [end, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
  return ec == std::errc() && end == seg.data() + seg.size();
}

// The value at a dotted path (object keys, array indices), or nullptr.
const json::value* find_path(const json::value& root, std::string_view path) {
  const json::value* v = &root;
  while (!path.empty()) {
    std::string_view seg = next_segment(path);
    if (const json::object* o = v->if_object()) {
      auto it = o->find(seg);
      if (it == o->end()) return nullptr;
      v = &it->value();
    } else if (const json::array* a = v->if_array()) {
      size_t i = 0;
      if (!array_index(seg, i) || i >= a->size()) return nullptr;
      v = &(*a)[i];
    } else {
      return nullptr;
    }
  }
  return v;
}

void erase_path(json::value& root, std::string_view path) {
  json::value* v = &root;
  while (!path.empty()) {
    std::string_view seg = next_segment(path);
    const bool last = path.empty();
    if (json::object* o = v->if_object()) {
      auto it = o->find(seg);
      if (it == o->end()) return;
      if (last) {
        o->erase(it);
        return;
      }
      v = &it->value();
    } else if (json::array* a = v->if_array()) {
      size_t i = 0;
      if (!array_index(seg, i) || i >= a->size()) return;
      if (last) {
        // Nulled, not erased: the elements after it keep their indices, so a second ignored
        // index of the same array ("a.0", "a.1") still names the element it meant.
        (*a)[i] = nullptr;
        return;
      }
      v = &(*a)[i];
    } else {
      return;
    }
  }
}

// Keys sorted, so two answers that only order their keys differently agree.
bool write_canonical(const json::value& v, std::string& out, unsigned depth) {
  if (depth > kMaxDepth) return false;
  if (const json::object* o = v.if_object()) {
    std::vector<const json::key_value_pair*> members;
    members.reserve(o->size());
    for (const auto& kv : *o)
      members.push_back(&kv);
    std::sort(members.begin(), members.end(),
              [](const auto* a, const auto* b) { return a->key() < b->key(); });
    out.push_back('{');
    for (size_t i = 0; i < members.size(); ++i) {
      if (i) out.push_back(',');
      out += json::serialize(json::string_view(members[i]->key()));
      out.push_back(':');
      if (!write_canonical(members[i]->value(), out, depth + 1)) return false;
    }
    out.push_back('}');
    return true;
  }
  if (const json::array* a = v.if_array()) {
    out.push_back('[');
    for (size_t i = 0; i < a->size(); ++i) {
      if (i) out.push_back(',');
      if (!write_canonical((*a)[i], out, depth + 1)) return false;
    }
    out.push_back(']');
    return true;
  }
  out += json::serialize(v);
  return true;
}

bool parse(std::string_view text, json::value& out) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = kMaxDepth;
  out = json::parse(json::string_view(text.data(), text.size()), ec, {}, options);
  return !ec;
}

const char* kClass[] = {"none", "1xx", "2xx", "3xx", "4xx", "5xx"};

} // namespace

uint64_t fnv1a(std::string_view bytes, uint64_t seed) {
  uint64_t h = seed;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

bool canonical_json(std::string_view text, const std::vector<std::string>& ignored,
                    std::string& out) {
  json::value v;
  if (!parse(text, v)) return false;
  for (const std::string& path : ignored)
    erase_path(v, path);
  out.clear();
  return write_canonical(v, out, 0);
}

Fingerprint fingerprint(const config::Compare& compare, const Answer& answer) {
  Fingerprint f;
  f.status_class = answer.status >= 100 && answer.status < 600 ? answer.status / 100 : 0;
  f.headers = answer.headers;
  f.headers.resize(compare.headers.size());
  if (compare.body == config::Compare::Body::none) return f;
  if (answer.body_too_large) {
    f.body = Fingerprint::Body::too_large;
    return f;
  }
  const bool json_wanted =
      compare.body == config::Compare::Body::json_fields || !compare.ignore_json_fields.empty();
  if (!json_wanted) {
    f.body = Fingerprint::Body::hash;
    f.hash = fnv1a(answer.body);
    return f;
  }
  json::value v;
  std::string canonical;
  if (!parse(answer.body, v)) {
    f.body = Fingerprint::Body::not_json;
    f.hash = fnv1a(answer.body);
    return f;
  }
  if (compare.body == config::Compare::Body::json_fields) {
    f.body = Fingerprint::Body::fields;
    for (const std::string& path : compare.json_fields) {
      const json::value* field = find_path(v, path);
      canonical.clear();
      if (!field || !write_canonical(*field, canonical, 0)) canonical = kAbsent;
      f.fields.push_back(canonical);
    }
    return f;
  }
  for (const std::string& path : compare.ignore_json_fields)
    erase_path(v, path);
  if (!write_canonical(v, canonical, 0)) {
    f.body = Fingerprint::Body::not_json;
    f.hash = fnv1a(answer.body);
    return f;
  }
  f.body = Fingerprint::Body::hash;
  f.hash = fnv1a(canonical);
  return f;
}

Difference differences(const config::Compare& compare, const Fingerprint& client,
                       const Fingerprint& other) {
  Difference d;
  if (client.body == Fingerprint::Body::too_large || other.body == Fingerprint::Body::too_large) {
    d.comparable = false;
    return d;
  }
  auto add = [&](std::string_view what) {
    if (!d.what.empty()) d.what += ", ";
    d.what += what;
  };
  if (client.status_class == 0 || other.status_class == 0) {
    // No answer on one side (the mirror failed or timed out): that differs whatever else does.
    if (client.status_class != other.status_class) add("no answer");
    return d;
  }
  if (compare.status_class && client.status_class != other.status_class)
    add(std::string("status ") + kClass[client.status_class] + " vs " + kClass[other.status_class]);
  for (size_t i = 0; i < compare.headers.size(); ++i)
    if (client.headers[i] != other.headers[i]) add("header " + compare.headers[i]);
  if (client.body != other.body) {
    add(other.body == Fingerprint::Body::not_json || client.body == Fingerprint::Body::not_json
            ? "body not JSON"
            : "body");
    return d;
  }
  switch (client.body) {
  case Fingerprint::Body::hash:
  case Fingerprint::Body::not_json:
    if (client.hash != other.hash) add("body");
    break;
  case Fingerprint::Body::fields:
    for (size_t i = 0; i < compare.json_fields.size() && i < client.fields.size(); ++i)
      if (client.fields[i] != other.fields[i]) add("json field " + compare.json_fields[i]);
    break;
  case Fingerprint::Body::none:
  case Fingerprint::Body::too_large:
    break;
  }
  return d;
}

} // namespace weir::mirror
