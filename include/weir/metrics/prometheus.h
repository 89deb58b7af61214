#pragma once

#include "weir/metrics/cells.h"
#include "weir/metrics/histogram.h"
#include "weir/metrics/registry.h"

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <vector>

// The Prometheus text exposition format (0.0.4) of weir's metrics. Control thread only: the
// admin listener merges every worker's cells into an Exposition and writes it per scrape.
namespace weir::metrics {

inline constexpr std::string_view kPrometheusContentType =
    "text/plain; version=0.0.4; charset=utf-8";

// Upper bounds (`le`) of the exported latency histograms, in nanoseconds and as written; +Inf
// follows them. An observation counts under the first bound that its whole fine bucket lies
// within, so a count may land one bound later than the exact value would (fine buckets are at
// most 1/64 of their value wide).
struct LatencyBound {
  uint64_t ns;
  std::string_view text;
};
inline constexpr LatencyBound kLatencyBounds[] = {
    {1'000'000, "0.001"},   {2'500'000, "0.0025"},  {5'000'000, "0.005"},   {10'000'000, "0.01"},
    {25'000'000, "0.025"},  {50'000'000, "0.05"},   {100'000'000, "0.1"},   {250'000'000, "0.25"},
    {500'000'000, "0.5"},   {1'000'000'000, "1"},   {2'500'000'000, "2.5"}, {5'000'000'000, "5"},
    {10'000'000'000, "10"}, {30'000'000'000, "30"}, {60'000'000'000, "60"},
};

// A latency histogram summed over every worker and folded onto kLatencyBounds: what the text
// format needs, a few hundred bytes instead of the fine buckets' 16 KiB.
struct LatencyTotals {
  uint64_t buckets[std::size(kLatencyBounds) + 1] = {}; // per interval, not cumulative; last: +Inf
  uint64_t sum_ns = 0;
  void add(const Histogram& h);
};

// One route × backend's cells summed over every worker.
struct BackendSums {
  uint64_t requests = 0;
  uint64_t upstream_errors = 0;
  uint64_t client_errors = 0;
  uint64_t retries = 0;
  uint64_t forced_requests = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t tunnels = 0; // open now (a gauge)
  LatencyTotals total;  // request duration
  LatencyTotals ttfb;
  void add(const BackendCells& c);
};

// One endpoint's cells summed over every worker.
struct EndpointTotals {
  uint64_t status[5] = {}; // 1xx..5xx
  uint64_t failures[static_cast<size_t>(UpstreamFailure::kCount)] = {};
  uint64_t active = 0;
  void add(const EndpointCells& c);
};

// Everything /metrics exposes at one instant. Counters come from the workers' cells, which are
// keyed by names and live as long as their worker, so a reload never makes one go backwards (a
// backend a reload removed keeps its last values). Gauges about configuration come from the
// snapshot in force.
struct Exposition {
  struct Weight {
    std::string route;
    std::string service; // "namespace/name"
    uint32_t weight = 0; // live: the operator's override if any, else the configured weight
    uint32_t configured_weight = 0;
  };
  struct EndpointState {
    std::string service;
    std::string endpoint; // "host:port"
    bool up = true;       // false: drained
  };

  std::map<BackendKey, BackendSums> backends;
  // Rollout top-up traffic (weir's own synthetic requests), never in `backends`.
  std::map<BackendKey, BackendSums> synthetic;
  std::map<EndpointKey, EndpointTotals> endpoints;
  uint64_t client_connections = 0;
  uint64_t accept_errors = 0;
  uint64_t access_log_dropped = 0;
  std::vector<Weight> weights;
  std::vector<EndpointState> endpoint_states;
  struct TlsHandshakes {
    uint64_t full = 0;
    uint64_t resumed = 0;
    uint64_t failed = 0;
    uint64_t timedout = 0;
  };
  std::map<std::string, TlsHandshakes> tls_handshakes; // by listener
  struct Certificate {
    std::string listener;
    std::string name;      // the certificate's first name
    int64_t not_after = 0; // Unix seconds
  };
  std::vector<Certificate> certificates;
  uint64_t reloads_ok = 0;
  uint64_t reloads_failed = 0;
  std::string version;

  // Sums one worker's cells into this (takes the registry's lock while it reads).
  void add(const Registry& registry);
  // Sums the control thread's synthetic-traffic cells into `synthetic`.
  void add_synthetic(const Registry& registry);
};

// Appends the whole exposition of `e` to `out` (no iostreams; `out` is meant to be reused).
void write_prometheus(const Exposition& e, std::string& out);

// Appends `value` escaped as a label value: backslash, double quote and newline.
void append_label_value(std::string& out, std::string_view value);

} // namespace weir::metrics
