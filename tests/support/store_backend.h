#pragma once

#include "weir/cluster/store.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <memory>
#include <string>

// A distributed store for the tests of cluster::Store and of weir fleets: a real etcd, or the fake
// Kubernetes API server. The same store tests run against each (tests/integration/store_test.cc).
namespace weir::test {

class StoreBackend {
public:
  virtual ~StoreBackend() = default;
  // "etcd" or "kubernetes".
  virtual const char* kind() const = 0;
  // A new cluster::Store of cluster `cluster` for replica `replica`, running on `io`.
  virtual std::unique_ptr<cluster::Store> make_store(boost::asio::io_context& io,
                                                     const std::string& cluster,
                                                     const std::string& replica,
                                                     std::chrono::milliseconds lease_ttl) = 0;
  // The lines a weir config needs to use this store: the whole `cluster:` section (and, for the
  // Kubernetes API, the top-level `kubernetes:` access), ending with a newline.
  virtual std::string weir_yaml(const std::string& cluster, const std::string& replica,
                                const std::string& lease_ttl) = 0;
  // Every server stops answering (connections refused) / answers again with its data intact.
  virtual void stop_server() = 0;
  virtual void start_server() = 0;
};

// Starts the backend's server ("etcd": one member; "etcd3": three; "kubernetes": the fake API
// server). On failure: ADD_FAILURE and nullptr.
std::unique_ptr<StoreBackend> start_store_backend(const std::string& kind);

// The two backends start_store_backend dispatches to, each in a file of its own
// (store_backend_etcd.cc, store_backend_kubernetes.cc). Same failure contract.
// etcd: `members` real members (1 or 3) on loopback ports; stop_server stops them all.
std::unique_ptr<StoreBackend> start_etcd_store_backend(size_t members = 1);
std::unique_ptr<StoreBackend> start_kubernetes_store_backend();

} // namespace weir::test
