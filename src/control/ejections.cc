#include "weir/control/ejections.h"

namespace weir::control {

namespace {
std::string key_of(const std::string& service, const std::string& endpoint) {
  return service + "|" + endpoint;
}
} // namespace

Ejections::Outcome Ejections::eject(const config::Service& s, const std::string& endpoint,
                                    TimePoint now) {
  Outcome out;
  Entry& e = entries_[key_of(s.id(), endpoint)];
  if (e.active) return out;
  // Never eject more than max_ejection_percent of a service's endpoints at once.
  size_t ejected = 0;
  for (const auto& ep : s.endpoints)
    ejected += this->ejected(s.id(), ep.text()) ? 1 : 0;
  size_t cap = s.endpoints.size() * s.outlier_detection.max_ejection_percent / 100;
  if (ejected + 1 > cap) {
    out.refused = std::to_string(ejected) + " of " + std::to_string(s.endpoints.size()) +
                  " endpoints ejected already (max_ejection_percent " +
                  std::to_string(s.outlier_detection.max_ejection_percent) + ")";
    return out;
  }
  ++e.count;
  ++total_;
  e.active = true;
  out.ejected = true;
  out.duration = std::chrono::duration_cast<std::chrono::milliseconds>(
      s.outlier_detection.base_ejection_time * e.count);
  e.until = now + out.duration;
  return out;
}

std::vector<std::pair<std::string, std::string>> Ejections::expire(TimePoint now) {
  std::vector<std::pair<std::string, std::string>> back;
  for (auto& [key, e] : entries_) {
    if (!e.active || e.until > now) continue;
    e.active = false;
    size_t bar = key.find('|');
    back.emplace_back(key.substr(0, bar), key.substr(bar + 1));
  }
  return back;
}

std::optional<Ejections::TimePoint> Ejections::next_end() const {
  std::optional<TimePoint> next;
  for (const auto& [key, e] : entries_)
    if (e.active && (!next || e.until < *next)) next = e.until;
  return next;
}

const Ejections::Entry* Ejections::find(const std::string& service,
                                        const std::string& endpoint) const {
  auto it = entries_.find(key_of(service, endpoint));
  return it == entries_.end() ? nullptr : &it->second;
}

bool Ejections::ejected(const std::string& service, const std::string& endpoint) const {
  const Entry* e = find(service, endpoint);
  return e && e->active;
}

} // namespace weir::control
