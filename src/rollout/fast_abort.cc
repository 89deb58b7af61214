#include "weir/rollout/fast_abort.h"

#include <algorithm>

namespace weir::rollout {

uint64_t FastAbort::epoch(const std::string& route) const {
  auto it = epochs_.find(route);
  return it == epochs_.end() ? 0 : it->second;
}

uint64_t FastAbort::reset(const std::string& route) {
  runs_.erase(route);
  return ++epochs_[route];
}

std::optional<FastAbort::Trip> FastAbort::error(const std::string& route,
                                                const std::string& service, unsigned worker,
                                                uint64_t epoch, uint32_t threshold, TimePoint now) {
  if (threshold == 0 || epoch != this->epoch(route)) return std::nullopt;
  std::vector<Run>& runs = runs_[route][service];
  if (runs.size() <= worker) runs.resize(worker + 1);
  Run& run = runs[worker];
  if (run.errors == 0) run.first = now;
  ++run.errors;
  run.last = now;

  uint64_t sum = 0;
  for (const Run& r : runs)
    sum += r.errors;
  if (sum < threshold) return std::nullopt;

  Trip trip;
  trip.route = route;
  trip.service = service;
  trip.errors = static_cast<uint32_t>(sum);
  TimePoint first = now;
  TimePoint last = now;
  for (const Run& r : runs) {
    trip.per_worker.push_back(r.errors);
    if (r.errors == 0) continue;
    first = std::min(first, r.first);
    last = std::max(last, r.last);
  }
  trip.window = std::chrono::duration_cast<std::chrono::milliseconds>(last - first);
  runs.clear();
  return trip;
}

void FastAbort::success(const std::string& route, const std::string& service, unsigned worker,
                        uint64_t epoch) {
  if (epoch != this->epoch(route)) return;
  auto r = runs_.find(route);
  if (r == runs_.end()) return;
  auto s = r->second.find(service);
  if (s == r->second.end() || s->second.size() <= worker) return;
  s->second[worker] = Run{};
}

uint32_t FastAbort::errors(const std::string& route, const std::string& service) const {
  auto r = runs_.find(route);
  if (r == runs_.end()) return 0;
  auto s = r->second.find(service);
  if (s == r->second.end()) return 0;
  uint32_t sum = 0;
  for (const Run& run : s->second)
    sum += run.errors;
  return sum;
}

} // namespace weir::rollout
