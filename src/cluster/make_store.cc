// The store the config names: one place that knows both implementations.
#include "weir/cluster/etcd_store.h"
#include "weir/cluster/fleet.h"
#include "weir/cluster/kubernetes_store.h"

namespace weir::cluster {

std::unique_ptr<Store> make_store(boost::asio::io_context& io, const config::Config& config,
                                  std::string& error) {
  const config::Cluster& c = config.cluster;
  StoreOptions options{c.name, c.replica, c.lease_ttl};
  if (c.etcd) return std::make_unique<EtcdStore>(io, options, c.etcd->endpoints, c.etcd->prefix);
  if (c.kubernetes)
    return std::make_unique<KubernetesStore>(io, options, config.kubernetes, c.kubernetes->ns);
  error = "the cluster has no store";
  return nullptr;
}

} // namespace weir::cluster
