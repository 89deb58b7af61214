// The cluster::Store contract (store.h) against a real store: replicas on threads of their own
// sharing one backend, with the timings the fleet depends on measured — a write seen elsewhere
// within a second, a crashed replica's entries and leadership gone within lease_ttl + 1 s, the
// store's outage survived with every write made when it returns. Each backend instantiates the
// suite (store_contract.h); the etcd-only cases (a member of three killed) follow it.
#include "store_contract.h"
#include "support/etcd.h"
#include "support/wait.h"
#include "weir/base/json.h"
#include "weir/cluster/etcd_store.h"
#include "weir/net/http_client.h"

#include <algorithm>
#include <iostream>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Lifetime = cluster::Store::Lifetime;
using Replicas = std::vector<StoreReplica*>;

std::chrono::milliseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
}

void report(const std::string& what, std::chrono::milliseconds took) {
  std::cout << "[   TIME   ] " << what << ": " << took.count() << " ms" << std::endl;
}

bool ready(StoreReplica& r) {
  auto s = r.status();
  return s.synced && s.reachable;
}

bool all_ready(const Replicas& replicas, std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        return std::all_of(replicas.begin(), replicas.end(), [](auto* r) { return ready(*r); });
      },
      timeout);
}

// The replicas that lead now (status().leader).
Replicas leaders(const Replicas& replicas) {
  Replicas out;
  for (StoreReplica* r : replicas)
    if (r->status().leader) out.push_back(r);
  return out;
}

// Exactly one leads, and every replica names it.
bool one_leader_named_by_all(const Replicas& replicas, std::string* name = nullptr) {
  std::vector<cluster::StoreStatus> all;
  for (StoreReplica* r : replicas)
    all.push_back(r->status());
  size_t leading = 0;
  for (const auto& s : all)
    if (s.leader) ++leading;
  if (leading != 1) return false;
  for (const auto& s : all)
    if (s.leader_name.empty() || s.leader_name != all.front().leader_name) return false;
  if (name) *name = all.front().leader_name;
  return true;
}

std::vector<std::optional<std::string>> values_reported(StoreReplica& r, const std::string& key) {
  std::vector<std::optional<std::string>> out;
  for (const cluster::StoreChange& c : r.changes())
    if (c.key == key) out.push_back(c.value);
  return out;
}

TEST_P(StoreContract, APutIsSeenByAnotherReplicaWithinASecond) {
  auto a = replica("weir-a", 2s);
  auto b = replica("weir-b", 2s);
  ASSERT_TRUE(all_ready({a.get(), b.get()}, 10s));
  const auto start = Clock::now();
  a->put("live/weights/web", "canary=10");
  ASSERT_TRUE(b->wait_value("live/weights/web", "canary=10", 5s));
  const auto took = since(start);
  report("a put on A seen in B's data()", took);
  EXPECT_LT(took, 1000ms);
  const auto seen = values_reported(*b, "live/weights/web");
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0], "canary=10") << "B's changed() reports it";
  EXPECT_FALSE(a->callback_inside_a_call());
  EXPECT_FALSE(b->callback_inside_a_call());
}

TEST_P(StoreContract, ARemoveIsSeenByAnotherReplicaWithinASecond) {
  auto a = replica("weir-a", 2s);
  auto b = replica("weir-b", 2s);
  ASSERT_TRUE(all_ready({a.get(), b.get()}, 10s));
  a->put("live/drains/web/b1", "1");
  ASSERT_TRUE(b->wait_value("live/drains/web/b1", "1", 5s));
  const auto start = Clock::now();
  b->remove("live/drains/web/b1");
  EXPECT_EQ(b->value("live/drains/web/b1"), std::nullopt) << "read your writes";
  ASSERT_TRUE(a->wait_value("live/drains/web/b1", std::nullopt, 5s));
  const auto took = since(start);
  report("a remove on B seen in A's data()", took);
  EXPECT_LT(took, 1000ms);
  EXPECT_EQ(values_reported(*a, "live/drains/web/b1").back(), std::nullopt);
}

TEST_P(StoreContract, ReadsItsOwnWritesAtOnceAndNeverAnOlderValue) {
  auto a = replica("weir-a", 2s);
  auto b = replica("weir-b", 2s);
  ASSERT_TRUE(all_ready({a.get(), b.get()}, 10s));
  EXPECT_EQ(a->put_and_read("live/weights/web", "1")["live/weights/web"], "1");
  // A burst of writes of one key: the store echoes each back late, after the next was made. An
  // echo must never take A's data() back to an older value.
  for (int i = 2; i <= 30; ++i)
    EXPECT_EQ(a->put_and_read("live/weights/web", std::to_string(i))["live/weights/web"],
              std::to_string(i));
  ASSERT_TRUE(b->wait_value("live/weights/web", "30", 5s));
  // B has seen the last write, so the store has answered every write of A's and sent A every echo
  // (one watch stream, in order) or will within a moment: give the echoes that moment.
  a->put("live/marker", "x");
  ASSERT_TRUE(b->wait_value("live/marker", "x", 5s));
  EXPECT_EQ(a->value("live/weights/web"), "30");
  std::vector<std::optional<std::string>> expected;
  for (int i = 1; i <= 30; ++i)
    expected.push_back(std::to_string(i));
  EXPECT_EQ(values_reported(*a, "live/weights/web"), expected)
      << "A's own writes are reported once each, in order, and nothing older after them";
  EXPECT_FALSE(a->callback_inside_a_call());
}

TEST_P(StoreContract, AReplicaThatStartsLaterReadsEverythingThere) {
  auto a = replica("weir-a", 2s);
  ASSERT_TRUE(all_ready({a.get()}, 10s));
  a->put("live/weights/api", "canary=0");
  a->remove("live/weights/api");
  a->put("live/weights/web", "canary=5"); // made last: once it is seen, all of A's are made
  auto b = replica("weir-b", 2s);
  ASSERT_TRUE(b->wait_value("live/weights/web", "canary=5", 5s));
  EXPECT_TRUE(b->status().synced) << "B's data() holds what only the store can have told it";
  const auto data = b->data();
  EXPECT_FALSE(data.contains("live/weights/api"));
  EXPECT_FALSE(data.contains("leader")) << "the leadership is not an entry";
}

TEST_P(StoreContract, EphemeralEntriesOfACrashedReplicaVanishWithinTheTtl) {
  constexpr auto kTtl = 1s;
  auto a = replica("weir-a", kTtl);
  auto b = replica("weir-b", kTtl);
  ASSERT_TRUE(all_ready({a.get(), b.get()}, 10s));
  a->put("replicas/weir-a", "alive", Lifetime::ephemeral);
  a->put("live/weights/web", "canary=20", Lifetime::durable);
  ASSERT_TRUE(b->wait_value("replicas/weir-a", "alive", 5s));
  ASSERT_TRUE(b->wait_value("live/weights/web", "canary=20", 5s));
  a->crash();
  const auto start = Clock::now();
  ASSERT_TRUE(b->wait_value("replicas/weir-a", std::nullopt, 10s));
  const auto took = since(start);
  report("a crashed replica's ephemeral entry gone (lease_ttl 1 s)", took);
  EXPECT_LT(took, kTtl + 1s);
  EXPECT_EQ(b->value("live/weights/web"), "canary=20") << "durable entries stay";
}

TEST_P(StoreContract, StopRemovesEphemeralEntriesAtOnceAndEndsCallbacks) {
  constexpr auto kTtl = 5s; // long: what vanishes at once was removed, not expired
  auto a = replica("weir-a", kTtl);
  auto b = replica("weir-b", kTtl);
  ASSERT_TRUE(all_ready({a.get(), b.get()}, 10s));
  a->put("replicas/weir-a", "alive", Lifetime::ephemeral);
  ASSERT_TRUE(b->wait_value("replicas/weir-a", "alive", 5s));
  const int changes_before = static_cast<int>(a->changes().size());
  const auto start = Clock::now();
  const auto stop_took = a->stop();
  report("stop()", stop_took);
  EXPECT_LT(stop_took, 1500ms);
  ASSERT_TRUE(b->wait_value("replicas/weir-a", std::nullopt, 5s));
  const auto took = since(start);
  report("a stopped replica's ephemeral entry gone (lease_ttl 5 s)", took);
  EXPECT_LT(took, 1000ms);
  b->put("live/after", "1");
  auto c = replica("weir-c", kTtl);
  ASSERT_TRUE(c->wait_value("live/after", "1", 5s));
  EXPECT_EQ(static_cast<int>(a->changes().size()), changes_before) << "a callback after stop()";
}

TEST_P(StoreContract, ExactlyOneOfThreeLeads) {
  auto a = replica("weir-a", 2s);
  auto b = replica("weir-b", 2s);
  auto c = replica("weir-c", 2s);
  const Replicas all{a.get(), b.get(), c.get()};
  ASSERT_TRUE(all_ready(all, 10s));
  std::string name;
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all, &name); }, 5s));
  EXPECT_TRUE(name == "weir-a" || name == "weir-b" || name == "weir-c") << name;
  // And it stays so: never two, never a change of leader while all are well.
  EXPECT_FALSE(wait_until([&] { return leaders(all).size() != 1; }, 1500ms, 20ms));
  std::string again;
  EXPECT_TRUE(one_leader_named_by_all(all, &again));
  EXPECT_EQ(again, name);
}

TEST_P(StoreContract, WhenTheLeaderStopsAnotherLeadsAtOnce) {
  constexpr auto kTtl = 2s;
  auto a = replica("weir-a", kTtl);
  auto b = replica("weir-b", kTtl);
  auto c = replica("weir-c", kTtl);
  Replicas all{a.get(), b.get(), c.get()};
  ASSERT_TRUE(all_ready(all, 10s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, 5s));
  StoreReplica* leader = leaders(all).front();
  const std::string old_name = leader->status().leader_name;
  const auto start = Clock::now();
  leader->stop();
  std::erase(all, leader);
  std::string name;
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all, &name); }, 10s));
  const auto took = since(start);
  report("a new leader after the leader's stop() (lease_ttl 2 s)", took);
  EXPECT_LT(took, kTtl + 1s);
  EXPECT_LT(took, 1000ms) << "stop() gives the leadership up without waiting for the TTL";
  EXPECT_NE(name, old_name);
}

TEST_P(StoreContract, WhenTheLeaderCrashesAnotherLeadsWithinTheTtlAndASecond) {
  constexpr auto kTtl = 1s;
  auto a = replica("weir-a", kTtl);
  auto b = replica("weir-b", kTtl);
  auto c = replica("weir-c", kTtl);
  Replicas all{a.get(), b.get(), c.get()};
  ASSERT_TRUE(all_ready(all, 10s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, 5s));
  StoreReplica* leader = leaders(all).front();
  const std::string old_name = leader->status().leader_name;
  leader->crash();
  const auto start = Clock::now();
  std::erase(all, leader);
  std::string name;
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all, &name); }, 10s));
  const auto took = since(start);
  report("a new leader after the leader crashed (lease_ttl 1 s)", took);
  EXPECT_LT(took, kTtl + 1s);
  EXPECT_NE(name, old_name);
}

TEST_P(StoreContract, WhileTheServerIsDownReplicasKeepTheirDataAndWriteWhenItReturns) {
  constexpr auto kTtl = 1s;
  auto a = replica("weir-a", kTtl);
  auto b = replica("weir-b", kTtl);
  const Replicas all{a.get(), b.get()};
  ASSERT_TRUE(all_ready(all, 10s));
  a->put("live/weights/web", "canary=10");
  a->put("replicas/weir-a", "alive", Lifetime::ephemeral);
  ASSERT_TRUE(b->wait_value("live/weights/web", "canary=10", 5s));
  ASSERT_TRUE(b->wait_value("replicas/weir-a", "alive", 5s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, 5s));
  const auto data_before = b->data();

  backend_->stop_server();
  const auto down = Clock::now();
  for (StoreReplica* r : all)
    ASSERT_TRUE(r->wait_status([](const auto& s) { return !s.reachable; }, 5s));
  report("both replicas see the store unreachable", since(down));
  for (StoreReplica* r : all) {
    const auto s = r->status();
    EXPECT_FALSE(s.leader) << "no leader while the store is out of reach";
    EXPECT_TRUE(s.synced);
    EXPECT_NE(s.error, "");
  }
  EXPECT_EQ(b->data(), data_before) << "the last known state is kept";
  // Writes meanwhile: shown at once, made when the store returns, the last of each key only.
  a->put("live/weights/web", "canary=30");
  a->put("live/drains/web", "b1");
  a->put("live/weights/web", "canary=50");
  EXPECT_EQ(a->value("live/weights/web"), "canary=50");
  // Long enough for A's lease to run out: A must put its ephemeral entry again.
  EXPECT_FALSE(wait_until([&] { return a->status().reachable; }, kTtl + 500ms));

  backend_->start_server();
  const auto up = Clock::now();
  ASSERT_TRUE(b->wait_value("live/weights/web", "canary=50", 10s));
  ASSERT_TRUE(b->wait_value("live/drains/web", "b1", 5s));
  report("writes made during the outage seen after the store returned", since(up));
  ASSERT_TRUE(all_ready(all, 5s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, kTtl + 5s));
  report("a leader again after the store returned", since(up));
  EXPECT_TRUE(b->wait_value("replicas/weir-a", "alive", 5s))
      << "A's ephemeral entry is there again (put again if its lease ended)";
  const auto seen = values_reported(*b, "live/weights/web");
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "canary=30"), 0)
      << "only the last pending write of a key is made";
  // The keys were written in the order of their first pending write: web before drains. On
  // Kubernetes both may land in one write of the ConfigMap, whose changes a watcher hears in
  // key order: the order is etcd's to show (one put per key).
  const auto changes = b->changes();
  auto web = std::find_if(changes.begin(), changes.end(), [](const auto& c) {
    return c.key == "live/weights/web" && c.value == "canary=50";
  });
  auto drains = std::find_if(changes.begin(), changes.end(),
                             [](const auto& c) { return c.key == "live/drains/web"; });
  EXPECT_NE(web, changes.end());
  EXPECT_NE(drains, changes.end());
  if (GetParam() == "etcd") {
    EXPECT_LT(web - changes.begin(), drains - changes.begin());
  }
}

INSTANTIATE_TEST_SUITE_P(Etcd, StoreContract, ::testing::Values("etcd"),
                         [](const auto& info) { return info.param; });

// --- etcd only ---

std::unique_ptr<StoreReplica> etcd_replica(const Etcd& etcd, const std::string& name,
                                           std::chrono::milliseconds lease_ttl) {
  const auto endpoints = etcd.endpoints();
  return std::make_unique<StoreReplica>([&](boost::asio::io_context& io) {
    return std::make_unique<cluster::EtcdStore>(io, cluster::StoreOptions{"edge", name, lease_ttl},
                                                endpoints, "/weir/");
  });
}

// A POST to etcd's JSON gateway behind the stores' backs; the answer's body ("" on failure).
std::string etcd_post(const std::string& endpoint, const std::string& path,
                      const std::string& body) {
  net::HttpRequest r;
  auto url = net::parse_url(endpoint + path);
  EXPECT_TRUE(url.ok());
  if (!url) return "";
  r.method = "POST";
  r.url = *url;
  r.body = body;
  r.timeout = 2s;
  boost::asio::io_context io;
  std::optional<net::HttpResponse> answer;
  net::HttpClient::fetch(io, std::move(r), [&](net::HttpResponse a) { answer = std::move(a); });
  io.run();
  EXPECT_TRUE(answer && answer->status == 200) << path << ": " << (answer ? answer->error : "");
  return answer ? answer->body : "";
}

// Revokes every lease etcd has; how many there were.
size_t revoke_every_lease(const std::string& endpoint) {
  auto leases = json::parse(etcd_post(endpoint, "/v3/lease/leases", "{}"));
  if (!leases.value) return 0;
  size_t n = 0;
  for (const json::Value& lease : (*leases.value)["leases"].as_array()) {
    etcd_post(endpoint, "/v3/lease/revoke", R"({"ID":")" + lease.get_string("ID") + R"("})");
    ++n;
  }
  return n;
}

TEST(EtcdStore, WhenItsLeaseEndsItTakesANewOnePutsItsEntriesAgainAndCampaigns) {
  auto etcd = Etcd::start(1);
  ASSERT_TRUE(etcd);
  constexpr auto kTtl = 1s;
  auto a = etcd_replica(*etcd, "weir-a", kTtl);
  auto b = etcd_replica(*etcd, "weir-b", kTtl);
  const Replicas all{a.get(), b.get()};
  ASSERT_TRUE(all_ready(all, 10s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, 5s));
  a->put("replicas/weir-a", "alive", Lifetime::ephemeral);
  b->put("replicas/weir-b", "alive", Lifetime::ephemeral);
  ASSERT_TRUE(a->wait_value("replicas/weir-b", "alive", 5s));
  ASSERT_TRUE(b->wait_value("replicas/weir-a", "alive", 5s));

  // As when etcd let the leases expire while the replicas were cut off.
  const auto start = Clock::now();
  ASSERT_EQ(revoke_every_lease(etcd->endpoint(0)), 2u);
  // B sees A's entry go with the lease, and come back: A put it again with a new lease.
  ASSERT_TRUE(wait_until(
      [&] {
        const auto seen = values_reported(*b, "replicas/weir-a");
        return std::count(seen.begin(), seen.end(), std::nullopt) == 1 && seen.back() == "alive";
      },
      kTtl + 1s))
      << "B saw A's entry go with the lease and come back";
  ASSERT_TRUE(a->wait_value("replicas/weir-b", "alive", kTtl + 1s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, kTtl + 1s));
  report("entries and a leader back after the leases were revoked", since(start));
}

TEST(EtcdStore, GoesOnWithTheOtherMembersWhenTheOneItTalksToIsKilled) {
  auto etcd = Etcd::start(3);
  ASSERT_TRUE(etcd);
  constexpr auto kTtl = 1s;
  auto a = etcd_replica(*etcd, "weir-a", kTtl);
  auto b = etcd_replica(*etcd, "weir-b", kTtl);
  const Replicas all{a.get(), b.get()};
  ASSERT_TRUE(all_ready(all, 10s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, 5s));
  a->put("replicas/weir-a", "alive", Lifetime::ephemeral);
  ASSERT_TRUE(b->wait_value("replicas/weir-a", "alive", 5s));

  // Both talk to the first endpoint until it fails.
  etcd->kill(0);
  const auto start = Clock::now();
  a->put("live/weights/web", "canary=40");
  ASSERT_TRUE(b->wait_value("live/weights/web", "canary=40", 5s)) << etcd->output();
  report("a put seen after the member both talked to was killed", since(start));
  // Refused at once, or (when it was raft's leader) no answer until the others elect one and
  // the request times out: a second, then a quarter of a second before the next member.
  EXPECT_LT(since(start), 3000ms);
  ASSERT_TRUE(all_ready(all, 5s));
  ASSERT_TRUE(wait_until([&] { return one_leader_named_by_all(all); }, kTtl + 1s));
  // The lease was kept alive through the others: the ephemeral entry never went away.
  EXPECT_FALSE(wait_until([&] { return b->value("replicas/weir-a") != "alive"; }, 2 * kTtl, 20ms));
  const auto seen = values_reported(*b, "replicas/weir-a");
  EXPECT_EQ(std::count(seen.begin(), seen.end(), std::nullopt), 0);
}

} // namespace
} // namespace weir::test
