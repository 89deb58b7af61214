#include "weir/runtime/backend_choice.h"

#include <charconv>

namespace weir::runtime {

bool same_secret(std::string_view given, std::string_view secret) {
  unsigned diff = given.size() == secret.size() ? 0u : 1u;
  for (size_t i = 0; i < secret.size(); ++i)
    diff |= static_cast<unsigned char>(secret[i]) ^
            static_cast<unsigned char>(i < given.size() ? given[i] : 0);
  return diff == 0;
}

std::string_view cookie_value(const http::Head& head, std::string_view name) {
  for (const http::Header& h : head.headers) {
    if (!http::iequals(h.name, "cookie")) continue;
    std::string_view v = h.value;
    while (!v.empty()) {
      size_t semi = v.find(';');
      std::string_view pair = v.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      size_t eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
      if (semi == std::string_view::npos) break;
      v.remove_prefix(semi + 1);
    }
  }
  return {};
}

std::optional<uint32_t> parse_bucket(std::string_view v) {
  if (v.empty() || v.size() > 4 || v.find_first_not_of("0123456789") != std::string_view::npos)
    return std::nullopt;
  uint32_t bucket = 0;
  std::from_chars(v.data(), v.data() + v.size(), bucket);
  return bucket; // at most 4 digits: 0..9999
}

int bucket_backend(const Snapshot::Route& route, uint32_t bucket) {
  const auto& canary = route.backends[static_cast<size_t>(route.sticky_canary)];
  const auto& stable = route.backends[static_cast<size_t>(route.sticky_stable)];
  uint64_t sum = uint64_t{canary.effective_weight} + stable.effective_weight;
  uint64_t threshold = sum == 0 ? 0 : uint64_t{canary.effective_weight} * 10000 / sum;
  return bucket < threshold ? route.sticky_canary : route.sticky_stable;
}

void append_bucket_cookie(const Snapshot::Route& route, uint32_t bucket, std::string& out) {
  char num[24];
  out.append(route.set_cookie_prefix);
  out.append(num, static_cast<size_t>(std::to_chars(num, num + sizeof num, bucket).ptr - num));
  out.append("; Max-Age=");
  out.append(num, static_cast<size_t>(
                      std::to_chars(num, num + sizeof num, route.affinity_max_age_s).ptr - num));
  out.append("; Path=/; HttpOnly; SameSite=Lax\r\n");
}

BackendChoice choose_backend(const Snapshot& snap, const Snapshot::Route& route,
                             const http::Head& head, bool peer_trusted) {
  BackendChoice split;
  if (route.header_route_backend >= 0) {
    // A rollout's header route (set_header_route) sends its requests to the canary at any
    // weight, before the weights or a sticky bucket are asked; an operator's override (below)
    // is not a header route's business, so only when none is sent.
    const auto& target = route.backends[static_cast<size_t>(route.header_route_backend)];
    const bool overridden =
        !route.override_header.empty() && (head.find(route.override_header) != nullptr ||
                                           !cookie_value(head, route.override_header).empty());
    if (!overridden && !snap.services[target.service].available.empty()) {
      for (const auto& conditions : route.header_routes) {
        bool all = true;
        for (const route::ValueMatcher& c : conditions)
          all = all && c.matches_header(head.headers);
        if (all) return {BackendChoice::Kind::fixed, route.header_route_backend, false};
      }
    }
  }
  if (route.sticky_canary < 0 || route.sticky_stable < 0) return split;
  const auto& canary = route.backends[static_cast<size_t>(route.sticky_canary)];
  const auto& stable = route.backends[static_cast<size_t>(route.sticky_stable)];
  // Operators force a version with the override header (or a cookie of the same name):
  // "always:SECRET" / "never:SECRET", or the plain verb from a trusted proxy. Anyone else's
  // value is ignored, so an outsider can neither pick the canary nor steer its figures.
  if (!route.override_header.empty()) {
    std::string_view o;
    if (const http::Header* h = head.find(route.override_header)) o = h->value;
    if (o.empty()) o = cookie_value(head, route.override_header);
    std::string_view verb = o.substr(0, o.find(':'));
    std::string_view secret = verb.size() < o.size() ? o.substr(verb.size() + 1) : "";
    bool allowed =
        !o.empty() &&
        ((!route.override_secret.empty() && same_secret(secret, route.override_secret)) ||
         (secret.empty() && peer_trusted));
    if (allowed && verb == "always" && !snap.services[canary.service].available.empty())
      return {BackendChoice::Kind::fixed, route.sticky_canary, true};
    if (allowed && verb == "never" && !snap.services[stable.service].available.empty())
      return {BackendChoice::Kind::fixed, route.sticky_stable, true};
  }
  if (route.affinity_cookie.empty()) return split;
  if (uint64_t{canary.effective_weight} + stable.effective_weight == 0) return split;
  std::optional<uint32_t> bucket = parse_bucket(cookie_value(head, route.affinity_cookie));
  if (!bucket) return {BackendChoice::Kind::new_bucket, -1, false};
  return {BackendChoice::Kind::fixed, bucket_backend(route, *bucket), false};
}

} // namespace weir::runtime
