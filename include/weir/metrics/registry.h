#pragma once

#include "weir/metrics/cells.h"

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>

namespace weir::metrics {

// Identity of a backend's metrics: stable across reloads, so counters never go backwards.
struct BackendKey {
  std::string route;
  std::string service; // "namespace/name"
  auto operator<=>(const BackendKey&) const = default;
};
struct EndpointKey {
  std::string route;
  std::string service;
  std::string endpoint; // "host:port"
  auto operator<=>(const EndpointKey&) const = default;
};

// One worker's metric cells. The worker looks cells up when it installs a snapshot (under the
// mutex, rarely) and then writes them through raw pointers without any lock; readers on the
// control thread walk the maps under the mutex and read the cells' relaxed atomics.
class Registry {
public:
  BackendCells* backend(const BackendKey& key);
  EndpointCells* endpoint(const EndpointKey& key);
  TlsListenerCells* tls_listener(const std::string& listener);
  // A worker's upstream pool's cells, by the pool's key (runtime::pool_key).
  UpstreamPoolCells* upstream_pool(const std::string& pool);
  // Control thread: the cells of a key if the worker has them (null otherwise; none is made).
  const BackendCells* find_backend(const BackendKey& key) const;
  const UpstreamPoolCells* find_upstream_pool(const std::string& pool) const;

  Counter client_connections;   // open downstream connections (gauge)
  Counter upstream_connections; // open upstream connections (gauge)
  Counter accept_errors;        // accept() failures (EMFILE, ENFILE, ...): accepting backs off
  Counter access_log_dropped;   // access log lines dropped because the writer fell behind

  // Control thread: visits every cell under the lock.
  void
  visit(const std::function<void(const BackendKey&, const BackendCells&)>& backend_fn,
        const std::function<void(const EndpointKey&, const EndpointCells&)>& endpoint_fn) const;
  void visit_tls(
      const std::function<void(const std::string&, const TlsListenerCells&)>& listener_fn) const;

private:
  mutable std::mutex mutex_;
  std::map<BackendKey, std::unique_ptr<BackendCells>> backends_;
  std::map<EndpointKey, std::unique_ptr<EndpointCells>> endpoints_;
  std::map<std::string, std::unique_ptr<TlsListenerCells>> tls_listeners_;
  std::map<std::string, std::unique_ptr<UpstreamPoolCells>> upstream_pools_;
};

} // namespace weir::metrics
