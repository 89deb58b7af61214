#include "weir/cluster/live_entries.h"

#include "weir/base/json.h"

namespace weir::cluster {

namespace {

constexpr std::string_view kWeights = "live/weights/";
constexpr std::string_view kRolloutWeights = "live/rollout_weights/";
constexpr std::string_view kDrained = "live/drained/";
constexpr std::string_view kRollouts = "rollouts";

std::string weights_json(const std::map<std::string, uint32_t>& weights) {
  json::Writer w;
  w.begin_object();
  for (const auto& [service, weight] : weights)
    w.key(service).value(weight);
  w.end_object();
  return w.take();
}

bool read_weights(const std::string& text, std::map<std::string, uint32_t>& out) {
  auto parsed = json::parse(text);
  if (!parsed.value || !parsed.value->is_object()) return false;
  for (const auto& [service, v] : parsed.value->as_object()) {
    if (!v.is_number() || v.as_number() < 0 || v.as_number() > 1e9) return false;
    out[service] = static_cast<uint32_t>(v.as_number());
  }
  return true;
}

} // namespace

bool is_live_key(const std::string& key) {
  return key.starts_with(kWeights) || key.starts_with(kRolloutWeights) ||
         key.starts_with(kDrained) || key == kRollouts;
}

std::map<std::string, std::string> live_entries(const control::LiveState& live) {
  std::map<std::string, std::string> out;
  for (const auto& [route, weights] : live.weight_overrides)
    if (!weights.empty()) out[std::string(kWeights) + route] = weights_json(weights);
  for (const auto& [route, weights] : live.rollout_weights)
    if (!weights.empty()) out[std::string(kRolloutWeights) + route] = weights_json(weights);
  for (const auto& [service, endpoints] : live.drained) {
    if (endpoints.empty()) continue;
    json::Writer w;
    w.begin_array();
    for (const auto& e : endpoints)
      w.value(e);
    w.end_array();
    out[std::string(kDrained) + service] = w.take();
  }
  if (auto it = live.extra.find(std::string(kRollouts)); it != live.extra.end())
    out[std::string(kRollouts)] = it->second;
  return out;
}

control::LiveState live_from_entries(const std::map<std::string, std::string>& data,
                                     std::vector<std::string>* errors) {
  control::LiveState live;
  auto bad = [&](const std::string& key, const std::string& why) {
    if (errors) errors->push_back(key + ": " + why);
  };
  for (const auto& [key, value] : data) {
    if (key.starts_with(kWeights) || key.starts_with(kRolloutWeights)) {
      bool rollout = key.starts_with(kRolloutWeights);
      std::string route = key.substr(rollout ? kRolloutWeights.size() : kWeights.size());
      std::map<std::string, uint32_t> weights;
      if (route.empty() || !read_weights(value, weights) || weights.empty()) {
        bad(key, "expected {\"ns/svc\": weight, ...}");
        continue;
      }
      (rollout ? live.rollout_weights : live.weight_overrides)[route] = std::move(weights);
    } else if (key.starts_with(kDrained)) {
      std::string service = key.substr(kDrained.size());
      auto parsed = json::parse(value);
      if (service.empty() || !parsed.value || !parsed.value->is_array()) {
        bad(key, "expected [\"host:port\", ...]");
        continue;
      }
      std::set<std::string> endpoints;
      for (const auto& e : parsed.value->as_array())
        if (e.is_string()) endpoints.insert(e.as_string());
      if (!endpoints.empty()) live.drained[service] = std::move(endpoints);
    } else if (key == kRollouts) {
      auto parsed = json::parse(value);
      if (!parsed.value || !parsed.value->is_object()) {
        bad(key, "expected the rollouts' state (a JSON object)");
        continue;
      }
      live.extra[std::string(kRollouts)] = value;
    }
  }
  return live;
}

} // namespace weir::cluster
