// The store tests' Kubernetes backend: the fake API server (fake_kube_api.h) and
// cluster::KubernetesStore on it, in namespace "weir". stop_server/start_server: set_down().
#include "fake_kube_api.h"
#include "store_backend.h"
#include "weir/cluster/kubernetes_store.h"

#include <gtest/gtest.h>

namespace weir::test {
namespace {

constexpr const char* kNamespace = "weir";

class KubernetesBackend final : public StoreBackend {
public:
  explicit KubernetesBackend(std::unique_ptr<FakeKubeApi> api) : api_(std::move(api)) {}

  const char* kind() const override { return "kubernetes"; }

  std::unique_ptr<cluster::Store> make_store(boost::asio::io_context& io,
                                             const std::string& cluster, const std::string& replica,
                                             std::chrono::milliseconds lease_ttl) override {
    return std::make_unique<cluster::KubernetesStore>(
        io, cluster::StoreOptions{cluster, replica, lease_ttl},
        config::Kubernetes{api_->url(), api_->token_file(), api_->ca_file()}, kNamespace);
  }

  std::string weir_yaml(const std::string& cluster, const std::string& replica,
                        const std::string& lease_ttl) override {
    return "kubernetes:\n  api_server: " + api_->url() + "\n  token_file: " + api_->token_file() +
           "\n  ca_file: " + api_->ca_file() + "\ncluster:\n  name: " + cluster +
           "\n  replica: " + replica + "\n  lease_ttl: " + lease_ttl +
           "\n  store:\n    kubernetes: { namespace: " + kNamespace + " }\n";
  }

  void stop_server() override { api_->set_down(true); }
  void start_server() override { api_->set_down(false); }

private:
  std::unique_ptr<FakeKubeApi> api_;
};

} // namespace

std::unique_ptr<StoreBackend> start_kubernetes_store_backend() {
  auto api = FakeKubeApi::start();
  if (!api) return nullptr;
  return std::make_unique<KubernetesBackend>(std::move(api));
}

} // namespace weir::test
