// cluster::KubernetesStore against the fake Kubernetes API server: the store contract's tests
// (store_test.cc) instantiated for it, and what is the Kubernetes store's own: the objects it
// writes are well-formed Leases and a ConfigMap with the fleet's label, a 409 on the state
// ConfigMap is retried without losing a key, a replica's Lease left unrenewed takes its entries
// along after its TTL, and writes wait while the API server is down.
#include "store_contract.h"
#include "support/fake_kube_api.h"
#include "support/wait.h"
#include "weir/base/json.h"
#include "weir/cluster/kubernetes_store.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <iostream>
#include <regex>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using cluster::Store;

INSTANTIATE_TEST_SUITE_P(Kubernetes, StoreContract, ::testing::Values(std::string("kubernetes")),
                         [](const auto& info) { return info.param; });

const std::string kLeases = "/apis/coordination.k8s.io/v1/leases";
const std::string kConfigMaps = "/api/v1/configmaps";
const std::string kStatePath = "/api/v1/namespaces/weir/configmaps/weir-edge-state";

// One replica's store, with what its callbacks reported.
struct Replica {
  std::unique_ptr<cluster::KubernetesStore> store;
  std::vector<cluster::StoreChange> changes;
  int status_changes = 0;

  const std::map<std::string, std::string>& data() const { return store->data(); }
  bool has(const std::string& key, const std::string& value) const {
    auto it = data().find(key);
    return it != data().end() && it->second == value;
  }
};

// The fake API server and replicas of the fleet "edge" in namespace "weir", all on one
// io_context run by the test's thread.
class KubernetesFleet {
public:
  KubernetesFleet() : api_(FakeKubeApi::start()) {}

  FakeKubeApi& api() { return *api_; }
  bool ok() const { return api_ != nullptr; }

  std::unique_ptr<Replica> start(const std::string& name, std::chrono::milliseconds ttl) {
    auto r = std::make_unique<Replica>();
    r->store = std::make_unique<cluster::KubernetesStore>(
        io_, cluster::StoreOptions{"edge", name, ttl},
        config::Kubernetes{api_->url(), api_->token_file(), api_->ca_file()}, "weir");
    Replica* raw = r.get();
    r->store->start({[raw](const std::vector<cluster::StoreChange>& changes) {
                       raw->changes.insert(raw->changes.end(), changes.begin(), changes.end());
                     },
                     [raw] { ++raw->status_changes; }});
    return r;
  }

  // Runs the io_context until `cond` holds (true) or `timeout` passes (false).
  bool run_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!cond()) {
      if (std::chrono::steady_clock::now() >= deadline) return cond();
      if (io_.stopped()) io_.restart();
      io_.run_for(5ms);
    }
    return true;
  }
  void run_for(std::chrono::milliseconds d) {
    run_until([] { return false; }, d);
  }

  // The number of answered requests whose line holds `what`.
  int requests_with(const std::string& what) const {
    int n = 0;
    for (const auto& line : api_->requests())
      n += line.find(what) != std::string::npos;
    return n;
  }

private:
  boost::asio::io_context io_{1};
  std::unique_ptr<FakeKubeApi> api_;
};

json::Value object_of(const std::string& text) {
  auto parsed = json::parse(text);
  return parsed.value ? *parsed.value : json::Value();
}

bool micro_time(const std::string& text) {
  static const std::regex form(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  return std::regex_match(text, form);
}

TEST(KubernetesStore, WritesWellFormedLeasesAndAConfigMapWithTheFleetsLabel) {
  KubernetesFleet fleet;
  ASSERT_TRUE(fleet.ok());
  auto a = fleet.start("r1", 1000ms);
  ASSERT_TRUE(fleet.run_until([&] { return a->store->status().leader; }, 5s))
      << a->store->status().error;
  EXPECT_TRUE(a->store->status().synced);
  EXPECT_EQ(a->store->status().leader_name, "r1");
  a->store->put("live/weights/web", R"({"app-v1/web":90})");
  a->store->put("replicas/r1/window", "w1", Store::Lifetime::ephemeral);
  EXPECT_TRUE(a->has("live/weights/web", R"({"app-v1/web":90})")); // read your writes
  EXPECT_TRUE(a->has("replicas/r1/window", "w1"));
  ASSERT_TRUE(fleet.run_until(
      [&] {
        return object_of(fleet.api().object(kConfigMaps, "weir", "weir-edge-state"))["data"]
                       .get_string("live_2fweights_2fweb") == R"({"app-v1/web":90})" &&
               fleet.api().object(kLeases, "weir", "weir-edge-replica-r1").find("w1") !=
                   std::string::npos;
      },
      5s))
      << fleet.api().object(kConfigMaps, "weir", "weir-edge-state");

  const json::Value leader = object_of(fleet.api().object(kLeases, "weir", "weir-edge-leader"));
  EXPECT_EQ(leader.get_string("apiVersion"), "coordination.k8s.io/v1");
  EXPECT_EQ(leader.get_string("kind"), "Lease");
  EXPECT_EQ(leader["metadata"].get_string("namespace"), "weir");
  EXPECT_EQ(leader["metadata"]["labels"].get_string("weir.dev/cluster"), "edge");
  EXPECT_EQ(leader["metadata"]["annotations"].get_string("weir.dev/lease-ttl-ms"), "1000");
  EXPECT_EQ(leader["spec"].get_string("holderIdentity"), "r1");
  EXPECT_EQ(leader["spec"].get_number("leaseDurationSeconds"), 1);
  EXPECT_EQ(leader["spec"].get_number("leaseTransitions", -1), 0);
  EXPECT_TRUE(micro_time(leader["spec"].get_string("acquireTime")))
      << fleet.api().object(kLeases, "weir", "weir-edge-leader");
  EXPECT_TRUE(micro_time(leader["spec"].get_string("renewTime")))
      << fleet.api().object(kLeases, "weir", "weir-edge-leader");

  const json::Value replica =
      object_of(fleet.api().object(kLeases, "weir", "weir-edge-replica-r1"));
  EXPECT_EQ(replica["metadata"]["labels"].get_string("weir.dev/cluster"), "edge");
  EXPECT_EQ(replica["spec"].get_string("holderIdentity"), "r1");
  EXPECT_TRUE(micro_time(replica["spec"].get_string("renewTime")));
  EXPECT_EQ(replica["metadata"]["annotations"].get_string("weir.dev/entries"),
            R"({"replicas/r1/window":"w1"})");

  const json::Value state = object_of(fleet.api().object(kConfigMaps, "weir", "weir-edge-state"));
  EXPECT_EQ(state.get_string("kind"), "ConfigMap");
  EXPECT_EQ(state["metadata"]["labels"].get_string("weir.dev/cluster"), "edge");
  EXPECT_EQ(state["data"].as_object().size(), 1u);

  // Renewed every lease_ttl/3, by PUT with the resourceVersion last seen.
  const int renewals = fleet.requests_with("PUT /apis/coordination.k8s.io/v1/namespaces/weir/"
                                           "leases/weir-edge-leader status=200");
  fleet.run_for(1000ms);
  EXPECT_GE(fleet.requests_with("PUT /apis/coordination.k8s.io/v1/namespaces/weir/leases/"
                                "weir-edge-leader status=200"),
            renewals + 2);

  // stop(): the leadership released, the replica Lease deleted.
  a->store->stop();
  EXPECT_EQ(object_of(fleet.api().object(kLeases, "weir", "weir-edge-leader"))["spec"].get_string(
                "holderIdentity", "none"),
            "");
  EXPECT_EQ(fleet.api().object(kLeases, "weir", "weir-edge-replica-r1"), "");
}

TEST(KubernetesStore, AConflictOnTheStateIsRetriedAndLosesNoKey) {
  KubernetesFleet fleet;
  ASSERT_TRUE(fleet.ok());
  auto a = fleet.start("r1", 2000ms);
  auto b = fleet.start("r2", 2000ms);
  a->store->put("first", "1");
  ASSERT_TRUE(fleet.run_until([&] { return b->has("first", "1"); }, 5s));
  // Another client writes the ConfigMap meanwhile: its key stays through every merge.
  fleet.api().put_object(kConfigMaps,
                         R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":)"
                         R"("weir-edge-state","namespace":"weir","labels":)"
                         R"({"weir.dev/cluster":"edge"}},"data":{"first":"1","other":"o"}})");
  // Both replicas write from the same version in the same turn: one of each pair gets 409.
  for (int i = 0; i < 10; ++i) {
    a->store->put("a/" + std::to_string(i), "x");
    b->store->put("b/" + std::to_string(i), "y");
    fleet.run_for(20ms);
  }
  auto complete = [&](const Replica& r) {
    for (int i = 0; i < 10; ++i)
      if (!r.has("a/" + std::to_string(i), "x") || !r.has("b/" + std::to_string(i), "y"))
        return false;
    return r.has("first", "1") && r.has("other", "o");
  };
  ASSERT_TRUE(fleet.run_until([&] { return complete(*a) && complete(*b); }, 10s))
      << fleet.api().object(kConfigMaps, "weir", "weir-edge-state");
  EXPECT_EQ(a->data(), b->data());
  EXPECT_EQ(a->data().size(), 22u);
  EXPECT_GE(fleet.requests_with(kStatePath + " status=409"), 1);
  const json::Value state = object_of(fleet.api().object(kConfigMaps, "weir", "weir-edge-state"));
  EXPECT_EQ(state["data"].as_object().size(), 22u);
}

TEST(KubernetesStore, AKilledReplicasEntriesVanishAndItsLeadershipPassesAfterTheTtl) {
  KubernetesFleet fleet;
  ASSERT_TRUE(fleet.ok());
  constexpr auto kTtl = 1000ms;
  auto a = fleet.start("r1", kTtl);
  ASSERT_TRUE(fleet.run_until([&] { return a->store->status().leader; }, 5s));
  auto b = fleet.start("r2", kTtl);
  a->store->put("replicas/r1/window", "w", Store::Lifetime::ephemeral);
  ASSERT_TRUE(fleet.run_until([&] { return b->has("replicas/r1/window", "w"); }, 5s));
  EXPECT_EQ(b->store->status().leader_name, "r1");
  EXPECT_FALSE(b->store->status().leader);

  // Killed: nothing released, nothing deleted; its Leases just stop moving.
  const auto killed = std::chrono::steady_clock::now();
  a.reset();
  ASSERT_TRUE(fleet.run_until([&] { return b->store->status().leader; }, 5s));
  const auto took_over = std::chrono::steady_clock::now() - killed;
  ASSERT_TRUE(fleet.run_until([&] { return !b->data().count("replicas/r1/window"); }, 5s));
  const auto vanished = std::chrono::steady_clock::now() - killed;
  std::cout << "leadership passed after " << took_over / 1ms << " ms, entries vanished after "
            << vanished / 1ms << " ms (lease_ttl " << kTtl / 1ms << " ms)\n";
  EXPECT_LE(took_over, kTtl + 1s);
  EXPECT_GE(took_over, kTtl - kTtl / 3); // not before the Lease could have expired
  EXPECT_LE(vanished, kTtl + 1s + 200ms);
  EXPECT_NE(fleet.api().object(kLeases, "weir", "weir-edge-replica-r1"), ""); // still there
  // The view changes at once; watchers hear of it on the next turn of the loop (the change is
  // posted), so the removal is waited for, not looked for at the same instant.
  EXPECT_TRUE(fleet.run_until(
      [&] {
        return std::any_of(b->changes.begin(), b->changes.end(),
                           [](const auto& c) { return c.key == "replicas/r1/window" && !c.value; });
      },
      1s))
      << "the removal reached the watcher";
  EXPECT_EQ(object_of(fleet.api().object(kLeases, "weir", "weir-edge-leader"))["spec"].get_number(
                "leaseTransitions"),
            1);
}

TEST(KubernetesStore, StopHandsOverAtOnce) {
  KubernetesFleet fleet;
  ASSERT_TRUE(fleet.ok());
  auto a = fleet.start("r1", 5000ms);
  ASSERT_TRUE(fleet.run_until([&] { return a->store->status().leader; }, 5s));
  auto b = fleet.start("r2", 5000ms);
  a->store->put("replicas/r1/window", "w", Store::Lifetime::ephemeral);
  ASSERT_TRUE(fleet.run_until([&] { return b->has("replicas/r1/window", "w"); }, 5s));
  const int a_changes = a->status_changes;
  const auto stopped = std::chrono::steady_clock::now();
  a->store->stop();
  EXPECT_FALSE(a->store->status().leader);
  ASSERT_TRUE(fleet.run_until(
      [&] { return b->store->status().leader && !b->data().count("replicas/r1/window"); }, 2s));
  const auto handed_over = std::chrono::steady_clock::now() - stopped;
  std::cout << "handed over " << handed_over / 1ms << " ms after stop() (lease_ttl 5000 ms)\n";
  EXPECT_LT(handed_over, 1500ms);
  EXPECT_EQ(a->status_changes, a_changes); // no callback after stop()
}

TEST(KubernetesStore, WritesWaitWhileTheApiServerIsDownAndAreMadeWhenItIsBack) {
  KubernetesFleet fleet;
  ASSERT_TRUE(fleet.ok());
  auto a = fleet.start("r1", 1500ms);
  ASSERT_TRUE(fleet.run_until([&] { return a->store->status().leader; }, 5s));
  auto b = fleet.start("r2", 1500ms);
  a->store->put("k", "0");
  ASSERT_TRUE(fleet.run_until([&] { return b->has("k", "0"); }, 5s));

  fleet.api().set_down(true);
  ASSERT_TRUE(fleet.run_until(
      [&] { return !a->store->status().reachable && !b->store->status().reachable; }, 3s));
  EXPECT_FALSE(a->store->status().leader);
  EXPECT_NE(a->store->status().error, "");
  a->store->put("k", "1");
  a->store->put("later", "2");
  a->store->put("replicas/r1/window", "w", Store::Lifetime::ephemeral);
  EXPECT_TRUE(a->has("k", "1"));
  fleet.run_for(500ms);
  EXPECT_TRUE(b->has("k", "0")); // the last known state stays

  const auto back = std::chrono::steady_clock::now();
  fleet.api().set_down(false);
  ASSERT_TRUE(fleet.run_until(
      [&] {
        return b->has("k", "1") && b->has("later", "2") && b->has("replicas/r1/window", "w") &&
               a->store->status().reachable && b->store->status().reachable &&
               (a->store->status().leader || b->store->status().leader);
      },
      5s));
  std::cout << "caught up " << (std::chrono::steady_clock::now() - back) / 1ms
            << " ms after the API server came back\n";
  EXPECT_FALSE(a->store->status().leader && b->store->status().leader);
  EXPECT_EQ(a->data(), b->data());
  EXPECT_EQ(a->store->status().error, "");
}

} // namespace
} // namespace weir::test
