#include "weir/control/weight_history.h"

#include <algorithm>
#include <cmath>

namespace weir::control {

void WeightHistory::record(const std::string& route, const Weights& weights, int64_t at_ms) {
  auto& changes = routes_[route];
  if (changes.empty() || changes.back().weights != weights) changes.push_back({at_ms, weights});
  // The oldest change is kept while it is the one in force at the start of the window kept.
  while (changes.size() > 1 && changes[1].at_ms <= at_ms - kKeepMs)
    changes.pop_front();
}

void WeightHistory::keep_only(const std::vector<std::string>& routes) {
  for (auto it = routes_.begin(); it != routes_.end();) {
    if (std::find(routes.begin(), routes.end(), it->first) == routes.end())
      it = routes_.erase(it);
    else
      ++it;
  }
}

std::optional<uint32_t> WeightHistory::at(const std::string& route, const std::string& service,
                                          int64_t at_ms) const {
  auto it = routes_.find(route);
  if (it == routes_.end()) return std::nullopt;
  const Change* in_force = nullptr;
  for (const Change& c : it->second) {
    if (c.at_ms > at_ms) break;
    in_force = &c;
  }
  if (!in_force) return std::nullopt;
  for (const auto& [s, w] : in_force->weights)
    if (s == service) return w;
  return std::nullopt;
}

size_t WeightHistory::changes(const std::string& route) const {
  auto it = routes_.find(route);
  return it == routes_.end() ? 0 : it->second.size();
}

void write_series(json::Writer& w, const std::string& route,
                  const std::vector<std::string>& services, const metrics::Aggregator& aggregator,
                  const WeightHistory& weights, metrics::Aggregator::Clock::time_point steady_now,
                  int64_t wall_now_ms, size_t points) {
  using namespace std::chrono;
  auto wall_ms = [&](metrics::Aggregator::Clock::time_point t) {
    return wall_now_ms - duration_cast<milliseconds>(steady_now - t).count();
  };
  // The grid ends at the newest sample of any backend of the route (else now), so the last
  // point is a whole one.
  int64_t end_ms = wall_now_ms;
  std::vector<std::vector<metrics::Aggregator::SeriesPoint>> series;
  bool any = false;
  for (const std::string& s : services) {
    series.push_back(aggregator.series({route, s}, 5));
    if (!series.back().empty()) {
      const int64_t last = wall_ms(series.back().back().at);
      end_ms = any ? std::max(end_ms, last) : last;
      any = true;
    }
  }
  const int64_t step = 1000;
  const int64_t start_ms = end_ms - static_cast<int64_t>(points - 1) * step;
  // The slot of a wall time: the nearest second of the grid.
  auto slot_of = [&](int64_t t) {
    return static_cast<int64_t>(std::llround(static_cast<double>(t - start_ms) / step));
  };
  w.begin_object();
  w.key("step_ms").value(step).key("end_ms").value(end_ms);
  w.key("points").value(static_cast<uint64_t>(points));
  w.key("backends").begin_object();
  for (size_t b = 0; b < services.size(); ++b) {
    std::vector<const metrics::WindowStats*> at(points, nullptr);
    for (const auto& p : series[b]) {
      const int64_t from = slot_of(wall_ms(p.from)), to = slot_of(wall_ms(p.at));
      // A one-second point fills its own slot; a ten-second span every slot it covers that
      // nothing finer filled.
      const int64_t first = p.at - p.from > seconds(2) ? from + 1 : to;
      for (int64_t i = std::max<int64_t>(first, 0); i <= to && i < static_cast<int64_t>(points);
           ++i)
        if (!at[static_cast<size_t>(i)] || first == to) at[static_cast<size_t>(i)] = &p.stats;
    }
    w.key(services[b]).begin_object();
    // An error rate or a p99 of no request is not 0: it is unknown (null), as before the
    // history starts; requests/s is 0 then.
    auto column = [&](const char* name, bool of_requests, auto field) {
      w.key(name).begin_array();
      for (const metrics::WindowStats* s : at) {
        if (s && (!of_requests || s->requests > 0))
          w.value(field(*s));
        else
          w.null();
      }
      w.end_array();
    };
    column("rps", false,
           [](const metrics::WindowStats& s) { return std::round(s.rps * 100) / 100; });
    column("error_rate", true,
           [](const metrics::WindowStats& s) { return std::round(s.error_rate * 1e5) / 1e5; });
    column("p99_ms", true,
           [](const metrics::WindowStats& s) { return std::round(s.p99_ms * 1000) / 1000; });
    w.key("weight").begin_array();
    for (size_t i = 0; i < points; ++i) {
      if (auto v = weights.at(route, services[b], start_ms + static_cast<int64_t>(i) * step))
        w.value(*v);
      else
        w.null();
    }
    w.end_array();
    w.end_object();
  }
  w.end_object();
  w.end_object();
}

} // namespace weir::control
