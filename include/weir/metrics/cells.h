#pragma once

#include "weir/metrics/histogram.h"

#include <atomic>
#include <cstdint>
#include <string>

namespace weir::metrics {

// Why an upstream exchange failed. Only these (and 5xx answers) count as a version's errors.
enum class UpstreamFailure : uint8_t {
  connect_refused,
  connect_timeout,
  reset,
  response_timeout,
  bad_response,
  tls, // the TLS handshake failed: the endpoint's certificate did not verify, or no agreement
  kCount
};
const char* failure_name(UpstreamFailure f);

// A single-writer counter: the owning worker increments with a relaxed load+store (a plain add
// on x86, no locked instruction); other threads read it at any time.
class Counter {
public:
  void add(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(uint64_t n = 1) {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  uint64_t get() const { return v_.load(std::memory_order_relaxed); }

private:
  std::atomic<uint64_t> v_{0};
};

// Per worker, per route × backend × endpoint. Aligned like BackendCells: written on every
// request, and the first snapshot's cells of every worker are allocated by the control thread
// one after another, so unaligned cells of two workers could share a cache line.
struct alignas(64) EndpointCells {
  Counter status[5]; // 1xx..5xx answered to the client for requests sent to this endpoint
  Counter failures[static_cast<size_t>(UpstreamFailure::kCount)];
  Counter active; // upstream requests in flight (gauge)
  // Outlier detection: this worker's runs of upstream errors and of gateway failures (see
  // config::OutlierDetection). Worker thread only.
  uint32_t consecutive_failures = 0;
  uint32_t consecutive_gateway_failures = 0;
};

// Per worker, per TLS listener: its clients' handshakes by result.
struct alignas(64) TlsListenerCells {
  Counter full;     // completed with a full handshake
  Counter resumed;  // completed by resuming a session (a ticket or the cache)
  Counter failed;   // refused or broken off: a bad ClientHello, no common version, no client cert
  Counter timedout; // not done within limits.tls_handshake_timeout
};

// Per worker, per upstream connection pool (an endpoint, or a TLS service's endpoint).
struct alignas(64) UpstreamPoolCells {
  Counter open; // connections open: connecting, lent to a request or a tunnel, or idle (gauge)
};

// Per worker, per route × backend: what the canary analysis reads.
struct alignas(64) BackendCells {
  Counter requests;
  Counter upstream_errors; // 5xx from upstream + failures to connect/read: the version's errors
  Counter client_errors;   // 4xx, client resets: counted apart, never a version's fault
  Counter retries;         // retry attempts sent to this backend (an earlier attempt failed)
  Counter forced_requests; // forced by the rollout override: in none of the counters above
  Counter bytes_in;
  Counter bytes_out;
  Counter tunnels; // WebSocket and other Upgrade tunnels open now, after their 101 (gauge)
  // Rollout fast abort: this worker's run of upstream errors (no success in between) and the
  // rollout epoch it belongs to; the control thread adds up the workers' runs. Worker thread only.
  uint32_t fast_abort_run = 0;
  uint64_t fast_abort_epoch = 0;
  Histogram ttfb;  // request start → first upstream response byte
  Histogram total; // request start → response complete
};

} // namespace weir::metrics
