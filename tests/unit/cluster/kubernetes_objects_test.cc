// The Kubernetes objects the cluster store keeps its state in: ConfigMap data keys that encode the
// store's keys reversibly and only in the characters the API server allows, Leases and the state
// ConfigMap written and read back, and a replace that keeps what others wrote in the object.
#include "weir/cluster/kubernetes_objects.h"

#include <gtest/gtest.h>
#include <random>
#include <regex>

namespace weir::cluster::kubernetes {
namespace {

using namespace std::chrono_literals;

json::Value parsed(const std::string& text) {
  auto p = json::parse(text);
  EXPECT_TRUE(p.value) << p.error << ": " << text;
  return p.value ? *p.value : json::Value();
}

// What the API server accepts as a ConfigMap key (IsConfigMapKey).
bool valid_data_key(const std::string& key) {
  static const std::regex allowed("[-._a-zA-Z0-9]+");
  return !key.empty() && key.size() <= 253 && std::regex_match(key, allowed) && key != "." &&
         key != ".." && !key.starts_with("..");
}

TEST(KubernetesObjects, DataKeysAreValidAndDecodeToTheStoresKeys) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"live/weights/web", "live_2fweights_2fweb"},
      {"a_b", "a_5fb"},
      {".hidden", "_2ehidden"},
      {"..", "_2e."},
      {"v1.2-x", "v1.2-x"},
      {"", "_"},
      {"caf\xc3\xa9 x", "caf_c3_a9_20x"},
  };
  for (const auto& [key, data_key] : cases) {
    EXPECT_EQ(encode_data_key(key), data_key) << key;
    EXPECT_TRUE(valid_data_key(data_key)) << data_key;
    EXPECT_EQ(decode_data_key(data_key), key) << data_key;
  }
  std::mt19937 random(16);
  for (int i = 0; i < 2000; ++i) {
    std::string key(random() % 12, '\0');
    for (char& c : key)
      c = static_cast<char>(random() % 256);
    const std::string encoded = encode_data_key(key);
    EXPECT_TRUE(valid_data_key(encoded)) << encoded;
    EXPECT_EQ(decode_data_key(encoded), key) << encoded;
  }
}

TEST(KubernetesObjects, KeysOfOtherWritersDoNotDecode) {
  // One spelling per key: an escaped plain character, upper-case hex, a cut escape, a leading
  // '.' are not the store's, so two data keys never name one store key.
  for (const char* other : {"a_61", "live_2Fweights", "x_2", "x_", "_zz", ".profile", "a/b"})
    EXPECT_FALSE(decode_data_key(other)) << other;
}

TEST(KubernetesObjects, NamesOfTheFleetsObjects) {
  EXPECT_EQ(leader_lease_name("edge-eu"), "weir-edge-eu-leader");
  EXPECT_EQ(state_config_map_name("edge-eu"), "weir-edge-eu-state");
  EXPECT_EQ(replica_lease_name("edge-eu", "weir-0"), "weir-edge-eu-replica-weir-0");
  EXPECT_EQ(replica_of("edge-eu", "weir-edge-eu-replica-weir-0"), "weir-0");
  EXPECT_FALSE(replica_of("edge-eu", "weir-edge-eu-leader"));
  EXPECT_FALSE(replica_of("edge-eu", "weir-edge-eu-replica-"));
  EXPECT_FALSE(replica_of("edge", "weir-edge-eu-replica-weir-0"));
}

TEST(KubernetesObjects, MicroTimeIsRfc3339InUtcWithMicroseconds) {
  const auto t = std::chrono::system_clock::time_point(1714557600123456us);
  EXPECT_EQ(micro_time(t), "2024-05-01T10:00:00.123456Z");
  EXPECT_EQ(micro_time(std::chrono::system_clock::time_point(1714557600s)),
            "2024-05-01T10:00:00.000000Z");
}

TEST(KubernetesObjects, LeaseWrittenAndReadBack) {
  Lease lease;
  lease.name = "weir-c-replica-r1";
  lease.resource_version = "95012";
  lease.holder = "r1";
  lease.duration_seconds = 2;
  lease.ttl = 1500ms;
  lease.acquire_time = "2024-05-01T10:00:00.000000Z";
  lease.renew_time = "2024-05-01T10:00:01.500000Z";
  lease.transitions = 3;
  lease.entries = {{"replicas/r1/window", R"({"n":1})"}, {"x", "line\nbreak"}};
  const std::string text = lease_json(lease, "weir", "c");
  EXPECT_TRUE(text.starts_with(R"({"apiVersion":"coordination.k8s.io/v1","kind":"Lease",)"
                               R"("metadata":{"name":"weir-c-replica-r1","namespace":"weir",)"
                               R"("resourceVersion":"95012","labels":{"weir.dev/cluster":"c"},)"))
      << text;
  EXPECT_NE(text.find(R"("spec":{"holderIdentity":"r1","leaseDurationSeconds":2,)"
                      R"("acquireTime":"2024-05-01T10:00:00.000000Z",)"
                      R"("renewTime":"2024-05-01T10:00:01.500000Z","leaseTransitions":3}})"),
            std::string::npos)
      << text;
  std::string error;
  auto back = parse_lease(parsed(text), error);
  ASSERT_TRUE(back);
  EXPECT_EQ(error, "");
  EXPECT_EQ(*back, lease);

  // No resourceVersion to send: none written (a create, or an unconditional replace).
  lease.resource_version.clear();
  lease.entries.clear();
  const std::string fresh = lease_json(lease, "weir", "c");
  EXPECT_EQ(fresh.find("resourceVersion"), std::string::npos) << fresh;
  EXPECT_EQ(fresh.find("weir.dev/entries"), std::string::npos) << fresh;
}

TEST(KubernetesObjects, LeaseOfAnotherWriterIsReadWithItsDurationAndWithoutBadEntries) {
  std::string error;
  auto lease = parse_lease(parsed(R"({"metadata":{"name":"l","resourceVersion":"7",)"
                                  R"("annotations":{"weir.dev/entries":"[1]"}},)"
                                  R"("spec":{"holderIdentity":"x","leaseDurationSeconds":15}})"),
                           error);
  ASSERT_TRUE(lease);
  EXPECT_NE(error, "");
  EXPECT_EQ(lease->holder, "x");
  EXPECT_EQ(lease->ttl, 15s);
  EXPECT_TRUE(lease->entries.empty());
  error.clear();
  lease = parse_lease(parsed(R"({"metadata":{"name":"l","annotations":)"
                             R"({"weir.dev/entries":"{\"a\":1}"}},"spec":{}})"),
                      error);
  ASSERT_TRUE(lease);
  EXPECT_NE(error, "");
  EXPECT_TRUE(lease->entries.empty());
  EXPECT_EQ(lease->holder, "");
  EXPECT_FALSE(parse_lease(parsed(R"({"metadata":{}})"), error));
}

TEST(KubernetesObjects, ConfigMapReplaceKeepsTheObjectAndOthersKeys) {
  const std::string created =
      new_config_map_json("weir-c-state", "weir", "c", {{"live/weights/web", "{}"}});
  EXPECT_EQ(created, R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"weir-c-state",)"
                     R"("namespace":"weir","labels":{"weir.dev/cluster":"c"}},)"
                     R"("data":{"live_2fweights_2fweb":"{}"}})");
  auto map = parse_config_map(
      parsed(R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"weir-c-state",)"
             R"("resourceVersion":"95100","annotations":{"note":"kept"}},)"
             R"("data":{"live_2fweights_2fweb":"{}","their_key":"theirs"},"immutable":false})"));
  ASSERT_TRUE(map);
  EXPECT_EQ(map->resource_version, "95100");
  EXPECT_EQ(map->data, (std::map<std::string, std::string>{{"live/weights/web", "{}"}}));
  const std::string replaced = replaced_config_map_json(*map, {{"a/b", "1"}});
  EXPECT_EQ(replaced, R"({"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"weir-c-state",)"
                      R"("resourceVersion":"95100","annotations":{"note":"kept"}},)"
                      R"("data":{"a_2fb":"1","their_key":"theirs"},"immutable":false})");
  // A ConfigMap without data (all keys removed) is read as empty and gets data when replaced.
  auto empty = parse_config_map(parsed(R"({"metadata":{"name":"s","resourceVersion":"1"}})"));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->data.empty());
  EXPECT_EQ(replaced_config_map_json(*empty, {{"k", "v"}}),
            R"({"metadata":{"name":"s","resourceVersion":"1"},"data":{"k":"v"}})");
}

TEST(KubernetesObjects, VersionsCompareAsNumbersOnlyWhenBothAreNumbers) {
  EXPECT_TRUE(older_version("99999", "100000")); // not as text
  EXPECT_FALSE(older_version("100000", "99999"));
  EXPECT_FALSE(older_version("5", "5"));
  EXPECT_FALSE(older_version("abc", "100"));
  EXPECT_FALSE(older_version("", "100"));
}

} // namespace
} // namespace weir::cluster::kubernetes
