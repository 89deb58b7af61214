#include "weir/metrics/aggregator.h"

#include <algorithm>

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

std::shared_ptr<const Aggregator::Compact> Aggregator::Compact::of(const BackendTotals& t) {
  auto c = std::make_shared<Compact>();
  c->requests = t.requests;
  c->upstream_errors = t.upstream_errors;
  c->client_errors = t.client_errors;
  c->count = t.total.count;
  c->sum_ns = t.total.sum_ns;
  for (size_t i = 0; i < t.total.buckets.size(); ++i)
    if (t.total.buckets[i]) c->buckets.emplace_back(static_cast<uint16_t>(i), t.total.buckets[i]);
  return c;
}

void Aggregator::Compact::add_to(HistogramData& h, int sign) const {
  for (const auto& [i, n] : buckets)
    h.buckets[i] += sign > 0 ? n : -n;
  h.count += sign > 0 ? count : -count;
  h.sum_ns += sign > 0 ? sum_ns : -sum_ns;
}

void Aggregator::sample(const std::vector<const Registry*>& registries, Clock::time_point now) {
  std::map<BackendKey, BackendTotals> sums;
  for (const Registry* r : registries) {
    r->visit([&](const BackendKey& key, const BackendCells& cells) { sums[key].add(cells); },
             nullptr);
  }
  sample_totals(std::move(sums), now);
}

void Aggregator::sample_totals(std::map<BackendKey, BackendTotals> sums, Clock::time_point now) {
  for (auto& [key, totals] : sums) {
    History& h = history_[key];
    if (h.fine.empty() && last_sample_) {
      // First seen now, but it may have served since the previous sample: count from zero.
      auto zero = std::make_shared<const Compact>();
      h.fine.push_back({*last_sample_, zero});
      h.coarse.push_back({*last_sample_, zero});
    }
    auto compact = Compact::of(totals);
    h.fine.push_back({now, compact});
    if (h.fine.size() > kFineSamples) h.fine.pop_front();
    if (h.coarse.empty() || now - h.coarse.back().at >= kCoarseEvery) {
      h.coarse.push_back({now, compact});
      if (h.coarse.size() > kCoarseSamples) h.coarse.pop_front();
    }
  }
  latest_ = std::move(sums);
  last_sample_ = now;
}

std::optional<WindowStats> Aggregator::window(const BackendKey& key,
                                              std::chrono::seconds window) const {
  auto totals = window_totals(key, window);
  if (!totals) return std::nullopt;
  return totals->stats();
}

std::optional<WindowTotals> Aggregator::window_totals(const BackendKey& key,
                                                      std::chrono::seconds window) const {
  auto it = history_.find(key);
  if (it == history_.end() || it->second.fine.empty()) return std::nullopt;
  const History& h = it->second;
  const Sample& newest = h.fine.back();
  // The newest sample at least `window` before the newest one; else the oldest we have.
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
  WindowTotals w;
  newest.totals->add_to(w.total, +1);
  w.requests = newest.totals->requests;
  w.errors = newest.totals->upstream_errors;
  w.client_errors = newest.totals->client_errors;
  if (base != &newest) {
    base->totals->add_to(w.total, -1);
    w.requests -= base->totals->requests;
    w.errors -= base->totals->upstream_errors;
    w.client_errors -= base->totals->client_errors;
  }
  w.seconds = std::chrono::duration<double>(newest.at - base->at).count();
  return w;
}

std::vector<Aggregator::SeriesPoint> Aggregator::series(const BackendKey& key,
                                                        size_t smooth) const {
  std::vector<SeriesPoint> out;
  auto it = history_.find(key);
  if (it == history_.end() || it->second.fine.empty()) return out;
  const History& h = it->second;
  auto span = [&out](const Sample& older, const Sample& newer) {
    WindowTotals w;
    newer.totals->add_to(w.total, +1);
    older.totals->add_to(w.total, -1);
    w.requests = newer.totals->requests - older.totals->requests;
    w.errors = newer.totals->upstream_errors - older.totals->upstream_errors;
    w.client_errors = newer.totals->client_errors - older.totals->client_errors;
    w.seconds = std::chrono::duration<double>(newer.at - older.at).count();
    out.push_back({older.at, newer.at, w.stats()});
  };
  const auto fine_start = h.fine.front().at;
  size_t last_coarse = 0; // the newest coarse sample at or before the fine history's start
  for (size_t i = 1; i < h.coarse.size() && h.coarse[i].at <= fine_start; ++i) {
    span(h.coarse[i - 1], h.coarse[i]);
    last_coarse = i;
  }
  // From there to the first one-second sample: no time without a figure.
  if (!h.coarse.empty() && h.coarse[last_coarse].at < fine_start)
    span(h.coarse[last_coarse], h.fine.front());
  if (smooth == 0) smooth = 1;
  for (size_t i = 1; i < h.fine.size(); ++i)
    span(h.fine[i >= smooth ? i - smooth : 0], h.fine[i]);
  return out;
}

std::optional<WindowStats> Aggregator::merged_window(const Aggregator& a, const Aggregator& b,
                                                     const BackendKey& key,
                                                     std::chrono::seconds window) {
  auto sum = a.window_totals(key, window);
  auto other = b.window_totals(key, window);
  if (!sum) return other ? std::optional<WindowStats>(other->stats()) : std::nullopt;
  if (other) sum->add(*other);
  return sum->stats();
}

void WindowTotals::add(const WindowTotals& o) {
  seconds = std::max(seconds, o.seconds);
  requests += o.requests;
  errors += o.errors;
  client_errors += o.client_errors;
  total.add(o.total);
}

WindowStats WindowTotals::stats() const {
  WindowStats w;
  w.seconds = seconds;
  w.requests = requests;
  w.errors = errors;
  w.client_errors = client_errors;
  w.rps = w.seconds > 0 ? static_cast<double>(w.requests) / w.seconds : 0;
  w.error_rate = w.requests ? static_cast<double>(w.errors) / static_cast<double>(w.requests) : 0;
  w.p50_ms = total.quantile_ns(0.50) / 1e6;
  w.p90_ms = total.quantile_ns(0.90) / 1e6;
  w.p99_ms = total.quantile_ns(0.99) / 1e6;
  w.p999_ms = total.quantile_ns(0.999) / 1e6;
  w.mean_ms =
      total.count ? static_cast<double>(total.sum_ns) / static_cast<double>(total.count) / 1e6 : 0;
  return w;
}

const BackendTotals* Aggregator::latest(const BackendKey& key) const {
  auto it = latest_.find(key);
  return it == latest_.end() ? nullptr : &it->second;
}

std::vector<BackendKey> Aggregator::keys() const {
  std::vector<BackendKey> out;
  for (const auto& [key, h] : history_)
    out.push_back(key);
  return out;
}

} // namespace weir::metrics
