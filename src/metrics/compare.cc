#include "weir/metrics/compare.h"

namespace weir::metrics {

int baseline_index(const std::vector<BackendWindow>& backends) {
  int best = -1;
  for (size_t i = 0; i < backends.size(); ++i)
    if (best < 0 ||
        backends[i].configured_weight > backends[static_cast<size_t>(best)].configured_weight)
      best = static_cast<int>(i);
  return best;
}

std::vector<BackendComparison> compare_backends(const std::vector<BackendWindow>& backends) {
  std::vector<BackendComparison> out;
  if (backends.size() < 2) return out;
  const BackendWindow& base = backends[static_cast<size_t>(baseline_index(backends))];
  for (const BackendWindow& b : backends) {
    if (&b == &base) continue;
    BackendComparison c;
    c.service = b.service;
    c.baseline = base.service;
    c.comparable = b.stats.requests > 0 && base.stats.requests > 0;
    if (c.comparable) {
      c.error_rate_diff = b.stats.error_rate - base.stats.error_rate;
      if (base.stats.error_rate > 0)
        c.error_rate_ratio = b.stats.error_rate / base.stats.error_rate;
      else if (b.stats.error_rate == 0)
        c.error_rate_ratio = 1.0;
      c.p99_diff_ms = b.stats.p99_ms - base.stats.p99_ms;
      if (base.stats.p99_ms > 0) c.p99_ratio = b.stats.p99_ms / base.stats.p99_ms;
    }
    out.push_back(std::move(c));
  }
  return out;
}

} // namespace weir::metrics
