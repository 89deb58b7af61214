#include "weir/metrics/registry.h"

namespace weir::metrics {

BackendCells* Registry::backend(const BackendKey& key) {
  std::lock_guard lock(mutex_);
  auto& cells = backends_[key];
  if (!cells) cells = std::make_unique<BackendCells>();
  return cells.get();
}

EndpointCells* Registry::endpoint(const EndpointKey& key) {
  std::lock_guard lock(mutex_);
  auto& cells = endpoints_[key];
  if (!cells) cells = std::make_unique<EndpointCells>();
  return cells.get();
}

TlsListenerCells* Registry::tls_listener(const std::string& listener) {
  std::lock_guard lock(mutex_);
  auto& cells = tls_listeners_[listener];
  if (!cells) cells = std::make_unique<TlsListenerCells>();
  return cells.get();
}

UpstreamPoolCells* Registry::upstream_pool(const std::string& pool) {
  std::lock_guard lock(mutex_);
  auto& cells = upstream_pools_[pool];
  if (!cells) cells = std::make_unique<UpstreamPoolCells>();
  return cells.get();
}

const BackendCells* Registry::find_backend(const BackendKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = backends_.find(key);
  return it == backends_.end() ? nullptr : it->second.get();
}

const UpstreamPoolCells* Registry::find_upstream_pool(const std::string& pool) const {
  std::lock_guard lock(mutex_);
  auto it = upstream_pools_.find(pool);
  return it == upstream_pools_.end() ? nullptr : it->second.get();
}

void Registry::visit_tls(
    const std::function<void(const std::string&, const TlsListenerCells&)>& listener_fn) const {
  std::lock_guard lock(mutex_);
  for (const auto& [name, cells] : tls_listeners_)
    listener_fn(name, *cells);
}

void Registry::visit(
    const std::function<void(const BackendKey&, const BackendCells&)>& backend_fn,
    const std::function<void(const EndpointKey&, const EndpointCells&)>& endpoint_fn) const {
  std::lock_guard lock(mutex_);
  if (backend_fn)
    for (const auto& [key, cells] : backends_)
      backend_fn(key, *cells);
  if (endpoint_fn)
    for (const auto& [key, cells] : endpoints_)
      endpoint_fn(key, *cells);
}

} // namespace weir::metrics
