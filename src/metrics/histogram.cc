#include "weir/metrics/histogram.h"

#include "weir/metrics/cells.h"

namespace weir::metrics {

void HistogramData::add(const Histogram& h) {
  for (size_t i = 0; i < buckets.size(); ++i)
    buckets[i] += h.bucket(i);
  count += h.count();
  sum_ns += h.sum_ns();
}

void HistogramData::add(const HistogramData& h) {
  for (size_t i = 0; i < buckets.size(); ++i)
    buckets[i] += h.buckets[i];
  count += h.count;
  sum_ns += h.sum_ns;
}

void HistogramData::subtract(const HistogramData& h) {
  for (size_t i = 0; i < buckets.size(); ++i)
    buckets[i] -= h.buckets[i];
  count -= h.count;
  sum_ns -= h.sum_ns;
}

double HistogramData::quantile_ns(double q) const {
  uint64_t total = 0;
  for (uint64_t b : buckets)
    total += b;
  if (total == 0) return 0.0;
  if (q < 0) q = 0;
  if (q > 1) q = 1;
  // Rank of the q-quantile (nearest-rank, 1-based).
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total) + 0.999999999);
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets.size(); ++i) {
    seen += buckets[i];
    if (seen >= rank) return Histogram::bucket_mid(i);
  }
  return Histogram::bucket_mid(buckets.size() - 1);
}

const char* failure_name(UpstreamFailure f) {
  switch (f) {
  case UpstreamFailure::connect_refused:
    return "connect_refused";
  case UpstreamFailure::connect_timeout:
    return "connect_timeout";
  case UpstreamFailure::reset:
    return "reset";
  case UpstreamFailure::response_timeout:
    return "response_timeout";
  case UpstreamFailure::bad_response:
    return "bad_response";
  case UpstreamFailure::tls:
    return "tls";
  case UpstreamFailure::kCount:
    break;
  }
  return "unknown";
}

} // namespace weir::metrics
