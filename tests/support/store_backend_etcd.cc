// The store tests' etcd backend: one real etcd member (etcd.h) and cluster::EtcdStore on it.
#include "etcd.h"
#include "store_backend.h"
#include "weir/cluster/etcd_store.h"

#include <gtest/gtest.h>

namespace weir::test {
namespace {

constexpr const char* kPrefix = "/weir/";

class EtcdBackend final : public StoreBackend {
public:
  explicit EtcdBackend(std::unique_ptr<Etcd> etcd) : etcd_(std::move(etcd)) {}

  const char* kind() const override { return "etcd"; }

  std::unique_ptr<cluster::Store> make_store(boost::asio::io_context& io,
                                             const std::string& cluster, const std::string& replica,
                                             std::chrono::milliseconds lease_ttl) override {
    return std::make_unique<cluster::EtcdStore>(
        io, cluster::StoreOptions{cluster, replica, lease_ttl}, etcd_->endpoints(), kPrefix);
  }

  std::string weir_yaml(const std::string& cluster, const std::string& replica,
                        const std::string& lease_ttl) override {
    std::string endpoints;
    for (const std::string& e : etcd_->endpoints())
      endpoints += (endpoints.empty() ? "" : ", ") + e;
    return "cluster:\n"
           "  name: " +
           cluster + "\n  replica: " + replica + "\n  lease_ttl: " + lease_ttl +
           "\n  store:\n    etcd: { endpoints: [" + endpoints + "], prefix: " + kPrefix + " }\n";
  }

  void stop_server() override { etcd_->stop_all(); }
  void start_server() override { EXPECT_TRUE(etcd_->start_all()); }

private:
  std::unique_ptr<Etcd> etcd_;
};

} // namespace

std::unique_ptr<StoreBackend> start_etcd_store_backend(size_t members) {
  auto etcd = Etcd::start(members);
  if (!etcd) return nullptr;
  return std::make_unique<EtcdBackend>(std::move(etcd));
}

} // namespace weir::test
