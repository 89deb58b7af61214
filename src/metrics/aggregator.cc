#include "weir/metrics/aggregator.h"

namespace weir::metrics {

namespace {
constexpr size_t kFineSamples = 61;   // 60 s of one-second windows
constexpr size_t kCoarseSamples = 31; // 300 s of ten-second windows
constexpr auto kCoarseEvery = std::chrono::seconds(10);
} // namespace

void BackendTotals::add(const BackendCells& c) {
  requests += c.requests.get();
  upstream_errors += c.upstream_errors.get();
  client_errors += c.client_errors.get();
  bytes_in += c.bytes_in.get();
  bytes_out += c.bytes_out.get();
  total.add(c.total);
  ttfb.add(c.ttfb);
}

void BackendTotals::subtract(const BackendTotals& o) {
  requests -= o.requests;
  upstream_errors -= o.upstream_errors;
  client_errors -= o.client_errors;
  bytes_in -= o.bytes_in;
  bytes_out -= o.bytes_out;
  total.subtract(o.total);
  ttfb.subtract(o.ttfb);
}

void Aggregator::sample(const std::vector<const Registry*>& registries, Clock::time_point now) {
  std::map<BackendKey, std::shared_ptr<BackendTotals>> sums;
  for (const Registry* r : registries) {
    r->visit(
        [&](const BackendKey& key, const BackendCells& cells) {
          auto& t = sums[key];
          if (!t) t = std::make_shared<BackendTotals>();
          t->add(cells);
        },
        nullptr);
  }
  for (auto& [key, totals] : sums) {
    History& h = history_[key];
    h.fine.push_back({now, totals});
    if (h.fine.size() > kFineSamples) h.fine.pop_front();
    if (h.coarse.empty() || now - h.coarse.back().at >= kCoarseEvery) {
      h.coarse.push_back({now, totals});
      if (h.coarse.size() > kCoarseSamples) h.coarse.pop_front();
    }
  }
}

std::optional<WindowStats> Aggregator::window(const BackendKey& key,
                                              std::chrono::seconds window) const {
  auto it = history_.find(key);
  if (it == history_.end() || it->second.fine.empty()) return std::nullopt;
  const History& h = it->second;
  const Sample& newest = h.fine.back();
  // The oldest sample at least `window` before the newest; else the oldest we have.
  const Sample* base = nullptr;
  auto pick = [&](const std::deque<Sample>& samples) {
    for (auto s = samples.rbegin(); s != samples.rend(); ++s) {
      if (newest.at - s->at >= window) {
        base = &*s;
        return;
      }
    }
  };
  pick(h.fine);
  if (!base) pick(h.coarse);
  if (!base)
    base = h.coarse.empty() || h.coarse.front().at > h.fine.front().at ? &h.fine.front()
                                                                       : &h.coarse.front();
  WindowStats w;
  BackendTotals delta = *newest.totals;
  if (base != &newest) delta.subtract(*base->totals);
  w.seconds = std::chrono::duration<double>(newest.at - base->at).count();
  w.requests = delta.requests;
  w.errors = delta.upstream_errors;
  w.client_errors = delta.client_errors;
  w.rps = w.seconds > 0 ? static_cast<double>(w.requests) / w.seconds : 0;
  w.error_rate = w.requests ? static_cast<double>(w.errors) / static_cast<double>(w.requests) : 0;
  w.p50_ms = delta.total.quantile_ns(0.50) / 1e6;
  w.p90_ms = delta.total.quantile_ns(0.90) / 1e6;
  w.p99_ms = delta.total.quantile_ns(0.99) / 1e6;
  w.p999_ms = delta.total.quantile_ns(0.999) / 1e6;
  w.mean_ms = delta.total.count ? static_cast<double>(delta.total.sum_ns) /
                                      static_cast<double>(delta.total.count) / 1e6
                                : 0;
  return w;
}

const BackendTotals* Aggregator::latest(const BackendKey& key) const {
  auto it = history_.find(key);
  if (it == history_.end() || it->second.fine.empty()) return nullptr;
  return it->second.fine.back().totals.get();
}

std::vector<BackendKey> Aggregator::keys() const {
  std::vector<BackendKey> out;
  for (const auto& [key, h] : history_)
    out.push_back(key);
  return out;
}

} // namespace weir::metrics
