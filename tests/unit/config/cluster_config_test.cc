// The `cluster` block: a fleet's name, the replica's, the lease TTL and its one store, with the
// errors a user sees for each mistake.
#include "load_helpers.h"

#include <gtest/gtest.h>

namespace weir::config {
namespace {

using testing_support::errors_of;
using testing_support::load_ok;

std::string with_cluster(const std::string& cluster) {
  return testing_support::one_route_config() + cluster;
}

TEST(ClusterConfig, EtcdStoreAsTheIssueWritesIt) {
  Config c = load_ok(with_cluster(R"(
cluster:
  name: edge-eu
  replica: weir-0
  lease_ttl: 5s
  store:
    etcd: { endpoints: [http://10.0.0.2:2379, http://10.0.0.3:2379], prefix: /weir/ }
)"));
  EXPECT_TRUE(c.cluster.enabled());
  EXPECT_EQ(c.cluster.name, "edge-eu");
  EXPECT_EQ(c.cluster.replica, "weir-0");
  EXPECT_EQ(c.cluster.lease_ttl, std::chrono::seconds(5));
  ASSERT_TRUE(c.cluster.etcd);
  EXPECT_EQ(c.cluster.etcd->endpoints,
            (std::vector<std::string>{"http://10.0.0.2:2379", "http://10.0.0.3:2379"}));
  EXPECT_EQ(c.cluster.etcd->prefix, "/weir/");
  EXPECT_FALSE(c.cluster.kubernetes);
}

TEST(ClusterConfig, KubernetesStoreAndTheHostNameAsReplica) {
  Config c = load_ok(with_cluster(R"(
cluster:
  name: edge
  store: { kubernetes: { namespace: weir } }
)"));
  ASSERT_TRUE(c.cluster.kubernetes);
  EXPECT_EQ(c.cluster.kubernetes->ns, "weir");
  EXPECT_FALSE(c.cluster.replica.empty()) << "the host name";
  EXPECT_EQ(c.cluster.lease_ttl, std::chrono::seconds(5)) << "the default";
}

TEST(ClusterConfig, WithoutClusterAWeirIsAloneAsBefore) {
  Config c = load_ok(with_cluster(""));
  EXPECT_FALSE(c.cluster.enabled());
}

TEST(ClusterConfig, MistakesAreNamed) {
  auto e = errors_of(with_cluster("cluster: { name: Edge_EU, store: { kubernetes: { namespace: "
                                  "w } } }\n"));
  EXPECT_NE(e.find("expected a fleet name (a DNS label)"), std::string::npos) << e;
  e = errors_of(with_cluster("cluster: { name: e, replica: r, store: {} }\n"));
  EXPECT_NE(e.find("expected `etcd: {endpoints, prefix}` or `kubernetes: {namespace}`"),
            std::string::npos)
      << e;
  e = errors_of(with_cluster("cluster: { name: e, replica: r, store: { etcd: { endpoints: "
                             "[http://a:1] }, kubernetes: { namespace: w } } }\n"));
  EXPECT_NE(e.find("one store: etcd or kubernetes, not both"), std::string::npos) << e;
  e = errors_of(with_cluster("cluster: { name: e, replica: r, store: { etcd: { endpoints: "
                             "[https://a:1] } } }\n"));
  EXPECT_NE(e.find("https to etcd is not supported"), std::string::npos) << e;
  e = errors_of(with_cluster("cluster: { name: e, replica: r, lease_ttl: 100ms, store: { etcd: "
                             "{ endpoints: [http://a:1], prefix: weir } } }\n"));
  EXPECT_NE(e.find("lease TTL from 1s to 60s"), std::string::npos) << e;
  EXPECT_NE(e.find("starts and ends with \"/\""), std::string::npos) << e;
  e = errors_of(with_cluster("cluster: { name: e, replica: r, store: { etcd: {} } }\n"));
  EXPECT_NE(e.find("endpoints"), std::string::npos) << e;
}

} // namespace
} // namespace weir::config
