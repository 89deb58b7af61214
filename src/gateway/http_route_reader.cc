// Reading an HTTPRoute's spec: parentRefs, hostnames, rules with their matches, filters,
// backendRefs and timeouts, into the structs of gateway/translate.h.
#include "object_reader.h"

namespace weir::gateway {

// Gateway API durations (GEP-2257): up to four groups of 1-5 digits and h, m, s or ms.
std::optional<config::Duration> parse_duration_text(std::string_view s) {
  if (s.empty()) return std::nullopt;
  int64_t total_ms = 0;
  int groups = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t digits = 0;
    int64_t n = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && digits < 6) {
      n = n * 10 + (s[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0 || digits > 5 || i >= s.size() || ++groups > 4) return std::nullopt;
    if (s.substr(i).starts_with("ms")) {
      total_ms += n;
      i += 2;
    } else if (s[i] == 'h') {
      total_ms += n * 3600000;
      ++i;
    } else if (s[i] == 'm') {
      total_ms += n * 60000;
      ++i;
    } else if (s[i] == 's') {
      total_ms += n * 1000;
      ++i;
    } else {
      return std::nullopt;
    }
  }
  return config::Duration(total_ms);
}

namespace {

std::optional<ParentRef> read_parent_ref(ObjectReader& r, const YAML::Node& p,
                                         const std::string& f) {
  if (!r.map(p, f)) return std::nullopt;
  ParentRef ref;
  if (get(p, "group").IsScalar()) ref.group = get(p, "group").Scalar();
  if (get(p, "kind").IsScalar()) ref.kind = get(p, "kind").Scalar();
  if (get(p, "namespace").IsScalar()) ref.ns = get(p, "namespace").Scalar();
  if (auto n = r.string(get(p, "name"), f + ".name")) ref.name = *n;
  if (get(p, "sectionName").IsScalar()) ref.section_name = get(p, "sectionName").Scalar();
  if (!get(p, "port").IsNull())
    if (auto port = r.integer(get(p, "port"), f + ".port", 1, 65535))
      ref.port = static_cast<uint16_t>(*port);
  return ref;
}

void read_backend_ref(ObjectReader& r, const YAML::Node& b, const std::string& f, BackendRef& ref,
                      bool with_weight);
void read_filter_list(ObjectReader& r, const YAML::Node& node, const std::string& f,
                      std::vector<Filter>& out, bool backend_level);

void read_value_matches(ObjectReader& r, const YAML::Node& node, const std::string& f, bool headers,
                        std::vector<config::ValueMatch>& out) {
  const auto list = r.list(node, f);
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string ef = at(f, i);
    if (!r.map(list[i], ef)) continue;
    config::ValueMatch m;
    if (!get(list[i], "type").IsNull()) {
      auto t = r.string(get(list[i], "type"), ef + ".type");
      if (t == "RegularExpression")
        m.type = config::ValueMatch::Type::regex;
      else if (t && t != "Exact")
        r.fail(ef + ".type", "expected Exact or RegularExpression");
    }
    if (auto n = r.string(get(list[i], "name"), ef + ".name")) m.name = headers ? lower(*n) : *n;
    if (auto v = r.string(get(list[i], "value"), ef + ".value")) m.value = *v;
    out.push_back(std::move(m));
  }
}

void read_match(ObjectReader& r, const YAML::Node& node, const std::string& f,
                config::Match& match) {
  if (!r.map(node, f)) return;
  const YAML::Node path = get(node, "path");
  if (!path.IsNull() && r.map(path, f + ".path")) {
    if (!get(path, "type").IsNull()) {
      auto t = r.string(get(path, "type"), f + ".path.type");
      if (t == "Exact")
        match.path.type = config::PathMatch::Type::exact;
      else if (t == "RegularExpression")
        match.path.type = config::PathMatch::Type::regex;
      else if (t && t != "PathPrefix")
        r.fail(f + ".path.type", "expected Exact, PathPrefix or RegularExpression");
    }
    if (!get(path, "value").IsNull())
      if (auto v = r.string(get(path, "value"), f + ".path.value")) match.path.value = *v;
  }
  read_value_matches(r, get(node, "headers"), f + ".headers", true, match.headers);
  read_value_matches(r, get(node, "queryParams"), f + ".queryParams", false, match.query);
  if (!get(node, "method").IsNull())
    if (auto m = r.string(get(node, "method"), f + ".method")) match.method = *m;
}

void read_header_modifier(ObjectReader& r, const YAML::Node& node, const std::string& f,
                          config::HeaderModifier& out) {
  if (!r.map(node, f)) return;
  for (auto [key, into] : {std::pair{"set", &out.set}, std::pair{"add", &out.add}}) {
    const auto list = r.list(get(node, key), f + "." + key);
    for (size_t i = 0; i < list.size(); ++i) {
      if (!r.map(list[i], at(f + "." + key, i))) continue;
      config::HeaderValue h;
      if (auto n = r.string(get(list[i], "name"), at(f + "." + key, i) + ".name")) h.name = *n;
      if (auto v = r.string(get(list[i], "value"), at(f + "." + key, i) + ".value")) h.value = *v;
      into->push_back(std::move(h));
    }
  }
  for (const auto& n : r.list(get(node, "remove"), f + ".remove"))
    if (n.IsScalar()) out.remove.push_back(lower(n.Scalar()));
}

void read_path_modifier(ObjectReader& r, const YAML::Node& node, const std::string& f,
                        config::PathModifier& out) {
  if (node.IsNull() || !r.map(node, f)) return;
  auto type = r.string(get(node, "type"), f + ".type");
  if (type == "ReplaceFullPath") {
    out.type = config::PathModifier::Type::replace_full;
    if (auto v = r.string(get(node, "replaceFullPath"), f + ".replaceFullPath")) out.value = *v;
  } else if (type == "ReplacePrefixMatch") {
    out.type = config::PathModifier::Type::replace_prefix;
    if (auto v = r.string(get(node, "replacePrefixMatch"), f + ".replacePrefixMatch"))
      out.value = *v;
  } else if (type) {
    r.fail(f + ".type", "expected ReplaceFullPath or ReplacePrefixMatch");
  }
}

void read_filter(ObjectReader& r, const YAML::Node& node, const std::string& f, Filter& out) {
  out.field = f;
  if (!r.map(node, f)) return;
  auto type = r.string(get(node, "type"), f + ".type");
  if (!type) return;
  out.type = *type;
  if (*type == "RequestHeaderModifier") {
    read_header_modifier(r, get(node, "requestHeaderModifier"), f + ".requestHeaderModifier",
                         out.headers);
  } else if (*type == "ResponseHeaderModifier") {
    read_header_modifier(r, get(node, "responseHeaderModifier"), f + ".responseHeaderModifier",
                         out.headers);
  } else if (*type == "RequestRedirect") {
    const YAML::Node rr = get(node, "requestRedirect");
    const std::string rf = f + ".requestRedirect";
    if (!r.map(rr, rf)) return;
    out.redirect.enabled = true;
    if (!get(rr, "scheme").IsNull())
      if (auto s = r.string(get(rr, "scheme"), rf + ".scheme")) out.redirect.scheme = lower(*s);
    if (!get(rr, "hostname").IsNull())
      if (auto h = r.string(get(rr, "hostname"), rf + ".hostname"))
        out.redirect.hostname = lower(*h);
    if (!get(rr, "port").IsNull())
      if (auto p = r.integer(get(rr, "port"), rf + ".port", 1, 65535))
        out.redirect.port = static_cast<uint16_t>(*p);
    if (!get(rr, "statusCode").IsNull())
      if (auto s = r.integer(get(rr, "statusCode"), rf + ".statusCode", 100, 599))
        out.redirect.status = static_cast<int>(*s);
    read_path_modifier(r, get(rr, "path"), rf + ".path", out.redirect.path);
  } else if (*type == "URLRewrite") {
    const YAML::Node u = get(node, "urlRewrite");
    const std::string uf = f + ".urlRewrite";
    if (!r.map(u, uf)) return;
    if (!get(u, "hostname").IsNull())
      if (auto h = r.string(get(u, "hostname"), uf + ".hostname")) out.rewrite.hostname = lower(*h);
    read_path_modifier(r, get(u, "path"), uf + ".path", out.rewrite.path);
  } else if (*type == "RequestMirror") {
    const YAML::Node m = get(node, "requestMirror");
    const std::string mf = f + ".requestMirror";
    if (!r.map(m, mf)) return;
    read_backend_ref(r, get(m, "backendRef"), mf + ".backendRef", out.mirror_backend, false);
    if (!get(m, "percent").IsNull()) {
      if (auto p = r.integer(get(m, "percent"), mf + ".percent", 0, 100))
        out.mirror_percent = static_cast<double>(*p);
    } else if (get(m, "fraction").IsMap()) {
      auto num =
          r.integer(get(get(m, "fraction"), "numerator"), mf + ".fraction.numerator", 0, 1000000);
      int64_t den = 100;
      if (!get(get(m, "fraction"), "denominator").IsNull())
        if (auto d = r.integer(get(get(m, "fraction"), "denominator"), mf + ".fraction.denominator",
                               1, 1000000))
          den = *d;
      if (num && *num > den)
        r.fail(mf + ".fraction", "the numerator is larger than the denominator");
      else if (num)
        out.mirror_percent = 100.0 * static_cast<double>(*num) / static_cast<double>(den);
    }
  }
  // Other types (ExtensionRef, CORS, ExternalAuth, ...) are kept by name; the translator
  // decides whether the rule can do without them.
}

void read_filter_list(ObjectReader& r, const YAML::Node& node, const std::string& f,
                      std::vector<Filter>& out, bool) {
  const auto list = r.list(node, f);
  for (size_t i = 0; i < list.size(); ++i)
    read_filter(r, list[i], at(f, i), out.emplace_back());
}

void read_backend_ref(ObjectReader& r, const YAML::Node& b, const std::string& f, BackendRef& ref,
                      bool with_weight) {
  if (!r.map(b, f)) return;
  if (get(b, "group").IsScalar()) ref.group = get(b, "group").Scalar();
  if (get(b, "kind").IsScalar()) ref.kind = get(b, "kind").Scalar();
  if (auto n = r.string(get(b, "name"), f + ".name")) ref.name = *n;
  if (get(b, "namespace").IsScalar()) ref.ns = get(b, "namespace").Scalar();
  if (!get(b, "port").IsNull())
    if (auto p = r.integer(get(b, "port"), f + ".port", 1, 65535))
      ref.port = static_cast<uint16_t>(*p);
  if (with_weight && !get(b, "weight").IsNull())
    if (auto w = r.integer(get(b, "weight"), f + ".weight", 0, 1000000))
      ref.weight = static_cast<uint32_t>(*w);
  read_filter_list(r, get(b, "filters"), f + ".filters", ref.filters, true);
}

} // namespace

void read_http_route(ObjectReader& r, const YAML::Node& spec, HTTPRoute& out) {
  const auto parents = r.list(get(spec, "parentRefs"), "spec.parentRefs");
  for (size_t i = 0; i < parents.size(); ++i)
    if (auto p = read_parent_ref(r, parents[i], at("spec.parentRefs", i)))
      out.parent_refs.push_back(std::move(*p));
  const auto hostnames = r.list(get(spec, "hostnames"), "spec.hostnames");
  for (size_t i = 0; i < hostnames.size(); ++i)
    if (auto h = r.string(hostnames[i], at("spec.hostnames", i)))
      out.hostnames.push_back(lower(*h));
  const auto rules = r.list(get(spec, "rules"), "spec.rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    const std::string f = at("spec.rules", i);
    const YAML::Node& node = rules[i];
    HTTPRouteRule& rule = out.rules.emplace_back();
    if (!r.map(node, f)) continue;
    if (get(node, "name").IsScalar()) rule.name = get(node, "name").Scalar();
    const auto matches = r.list(get(node, "matches"), f + ".matches");
    for (size_t m = 0; m < matches.size(); ++m)
      read_match(r, matches[m], at(f + ".matches", m), rule.matches.emplace_back());
    read_filter_list(r, get(node, "filters"), f + ".filters", rule.filters, false);
    const auto backends = r.list(get(node, "backendRefs"), f + ".backendRefs");
    for (size_t b = 0; b < backends.size(); ++b)
      read_backend_ref(r, backends[b], at(f + ".backendRefs", b), rule.backend_refs.emplace_back(),
                       true);
    const YAML::Node timeouts = get(node, "timeouts");
    if (!timeouts.IsNull() && r.map(timeouts, f + ".timeouts")) {
      for (auto [key, into] : {std::pair{"request", &rule.request_timeout},
                               std::pair{"backendRequest", &rule.backend_request_timeout}}) {
        if (get(timeouts, key).IsNull()) continue;
        auto text = r.string(get(timeouts, key), f + ".timeouts." + key);
        if (!text) continue;
        if (auto d = parse_duration_text(*text))
          *into = *d;
        else
          r.fail(f + ".timeouts." + key, "expected a duration such as 10s, 500ms or 1h30m, got \"" +
                                             text->substr(0, 40) + "\"");
      }
    }
    for (const char* key : {"sessionPersistence", "retry"})
      if (!get(node, key).IsNull()) rule.unsupported_fields.push_back(f + "." + key);
  }
}

} // namespace weir::gateway
