// Three real weir replicas sharing one store (a real etcd, or the fake Kubernetes API server):
// live changes reach every replica, the leader runs the rollouts and another takes over when it
// dies, the store's outage holds rollouts but never traffic, and the analysis judges the
// fleet's traffic, not one replica's share.
#include "rollout_helpers.h"
#include "support/client.h"
#include "support/load.h"
#include "support/release_only.h"
#include "support/run.h"
#include "support/store_backend.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <csignal>
#include <gtest/gtest.h>

namespace weir::test {
namespace {

using namespace rollout;

// The fleet "f1" of `n` replicas weir-0.., each with one worker, a control socket and an admin
// listener, over app-v1/app (stable) and app-v2/app (canary) on route "r" with `plan`.
struct FleetRig {
  std::unique_ptr<StoreBackend> store;
  DemoUpstream v1, v2;
  std::vector<std::string> sockets;
  std::vector<Weir> replicas;
  Plan plan;
  std::string lease_ttl = "2s";
  std::map<size_t, std::string> more_routes; // by replica: routes only its config has

  // The store (start_store_backend's `kind`) and the two versions; the canary's upstream with
  // `canary_args` (weir-demo-upstream's options).
  bool prepare(const std::string& kind, std::vector<std::string> canary_args = {}) {
    store = start_store_backend(kind);
    if (!store) return false;
    v1 = DemoUpstream::start("app-v1");
    v2 = DemoUpstream::start("app-v2", std::move(canary_args));
    return true;
  }

  std::string config(size_t i) {
    std::string y = header(sockets[i], 1) + "admin:\n  address: 127.0.0.1:0\n" + "services:\n" +
                    service("app-v1/app", v1.address(), kNoOutliers) +
                    service("app-v2/app", v2.address(), kNoOutliers) + "routes:\n" +
                    route("r", "/", plan) + more_routes[i];
    return y + store->weir_yaml("f1", "weir-" + std::to_string(i), lease_ttl);
  }

  void start(size_t n) {
    for (size_t i = 0; i < n; ++i) {
      sockets.push_back(temp_path("fleet", ".sock"));
      replicas.push_back(Weir::start(config(i)));
    }
  }

  // The replica that leads, as `show fleet` on replica `ask` says; -1 when none.
  int leader(size_t ask = 0) {
    std::string name = control(sockets[ask], "show fleet").value["fleet"].get_string("leader");
    for (size_t i = 0; i < sockets.size(); ++i)
      if (name == "weir-" + std::to_string(i)) return static_cast<int>(i);
    return -1;
  }
  bool wait_leader(std::chrono::milliseconds timeout) {
    return wait_until(
        [&] {
          int l = leader(0);
          if (l < 0) return false;
          for (size_t i = 0; i < replicas.size(); ++i)
            if (replicas[i].proc && leader(i) != l) return false;
          return true;
        },
        timeout, 20ms);
  }
};

class FleetOnStore : public ::testing::TestWithParam<std::string> {};

std::string kinds_name(const ::testing::TestParamInfo<std::string>& info) {
  return info.param == "etcd" ? "Etcd" : "Kubernetes";
}

INSTANTIATE_TEST_SUITE_P(Stores, FleetOnStore,
                         ::testing::Values(std::string("etcd"), std::string("kubernetes")),
                         kinds_name);

// A plan that never judges: a manual gate waits for `rollout promote`.
Plan gated_plan() {
  Plan p;
  p.steps = {"set_weight: 20", "pause: {}", "set_weight: 50", "pause: {}"};
  p.analysis = "{ interval: 1s, min_requests: 1000000, inconclusive_limit: 1000 }";
  return p;
}

TEST_P(FleetOnStore, AWeightSetOnOneReplicaIsAppliedOnTheOthersWithinASecond) {
  FleetRig rig;
  ASSERT_TRUE(rig.prepare(GetParam()));
  rig.plan = gated_plan();
  rig.start(3);
  ASSERT_TRUE(rig.wait_leader(10s)) << control(rig.sockets[0], "show fleet").raw;

  // Every replica sees the fleet: three replicas, one leader, the same on each.
  json::Value fleet = control(rig.sockets[1], "fleet").value["fleet"];
  EXPECT_EQ(fleet.get_string("name"), "f1");
  EXPECT_EQ(fleet.get_string("replica"), "weir-1");
  EXPECT_TRUE(wait_until(
      [&] {
        return control(rig.sockets[1], "show fleet").value["fleet"]["replicas"].as_array().size() ==
               3;
      },
      5s))
      << control(rig.sockets[1], "show fleet").raw;

  auto set_at = Clock::now();
  Reply set = control(rig.sockets[0], "set weight r app-v1/app=30 app-v2/app=70");
  ASSERT_TRUE(set.ok()) << set.raw;
  long seen_b = -1, seen_c = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        if (seen_b < 0 && live_weight(rig.sockets[1], "r", "app-v2/app") == 70)
          seen_b = ms_since(set_at);
        if (seen_c < 0 && live_weight(rig.sockets[2], "r", "app-v2/app") == 70)
          seen_c = ms_since(set_at);
        return seen_b >= 0 && seen_c >= 0;
      },
      5s, 5ms));
  std::printf("[ fleet    ] %s: set weight on weir-0 applied on weir-1 after %ld ms, on weir-2 "
              "after %ld ms\n",
              GetParam().c_str(), seen_b, seen_c);
  EXPECT_LT(seen_b, 1000);
  EXPECT_LT(seen_c, 1000);

  // Drains and clearing go the same way, from another replica.
  ASSERT_TRUE(control(rig.sockets[2], "drain app-v2/app " + rig.v2.address()).ok());
  EXPECT_TRUE(wait_until(
      [&] {
        return control(rig.sockets[0], "show services").raw.find("\"drained\":true") !=
               std::string::npos;
      },
      1s, 5ms))
      << control(rig.sockets[0], "show services").raw;
  ASSERT_TRUE(control(rig.sockets[2], "undrain app-v2/app " + rig.v2.address()).ok());
  // A health override too; `auto` takes it back on every replica.
  ASSERT_TRUE(control(rig.sockets[1], "set health app-v2/app " + rig.v2.address() + " down").ok());
  EXPECT_TRUE(wait_until(
      [&] {
        return control(rig.sockets[2], "show services").raw.find("down (override)") !=
               std::string::npos;
      },
      1s, 5ms))
      << control(rig.sockets[2], "show services").raw;
  ASSERT_TRUE(control(rig.sockets[0], "set health app-v2/app " + rig.v2.address() + " auto").ok());
  EXPECT_TRUE(wait_until(
      [&] {
        return control(rig.sockets[1], "show services").raw.find("(override)") ==
                   std::string::npos &&
               control(rig.sockets[2], "show services").raw.find("(override)") == std::string::npos;
      },
      1s, 5ms))
      << control(rig.sockets[1], "show services").raw;
  ASSERT_TRUE(control(rig.sockets[1], "clear weight r").ok());
  EXPECT_TRUE(wait_until(
      [&] {
        return live_weight(rig.sockets[0], "r", "app-v2/app") == 0 &&
               live_weight(rig.sockets[2], "r", "app-v2/app") == 0;
      },
      1s, 5ms));

  // `weirctl fleet` on one replica: every replica, the leader, and what each serves per route
  // and backend (traffic sent to weir-1 alone, seen from weir-0).
  for (int i = 0; i < 50; ++i)
    ASSERT_EQ(http_request(rig.replicas[1].port(), "GET", "/").status, 200);
  EXPECT_TRUE(wait_until(
      [&] {
        Reply fleet = control(rig.sockets[0], "show fleet");
        for (const auto& r : fleet.value["fleet"]["replicas"].as_array())
          if (r.get_string("name") == "weir-1")
            for (const auto& b : r["routes"].as_array())
              if (b.get_string("route") == "r" && b.get_string("service") == "app-v1/app" &&
                  b.get_number("rps") > 0)
                return true;
        return false;
      },
      // The workers' figures are merged once a second, then published every 2 s (no rollout runs).
      6s, 50ms))
      << control(rig.sockets[0], "show fleet").raw;
  RunResult table = run_command({WEIRCTL_BIN, "-s", rig.sockets[0], "fleet"});
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_NE(table.out.find("fleet f1   replica weir-0   leader weir-"), std::string::npos)
      << table.out;
  EXPECT_NE(table.out.find("REPLICA"), std::string::npos) << table.out;
  for (const char* name : {"weir-0 (this)", "weir-1", "weir-2"})
    EXPECT_NE(table.out.find(name), std::string::npos) << table.out;

  // /metrics on any replica: three replicas, and this one leads or not.
  int leader = rig.leader();
  ASSERT_GE(leader, 0);
  for (size_t i = 0; i < 3; ++i) {
    HttpResponse m = http_request(rig.replicas[i].admin_port(), "GET", "/metrics");
    EXPECT_NE(m.body.find("weir_fleet_replicas{fleet=\"f1\",replica=\"weir-" + std::to_string(i) +
                          "\"} 3"),
              std::string::npos)
        << m.body.substr(0, 400);
    EXPECT_NE(m.body.find("weir_fleet_leader{fleet=\"f1\",replica=\"weir-" + std::to_string(i) +
                          "\"} " + (static_cast<int>(i) == leader ? "1" : "0")),
              std::string::npos);
  }
}

TEST_P(FleetOnStore, ARolloutStartedOnAnyReplicaIsRunByTheLeaderAndSeenOnAll) {
  FleetRig rig;
  ASSERT_TRUE(rig.prepare(GetParam()));
  rig.plan = gated_plan();
  rig.start(3);
  ASSERT_TRUE(rig.wait_leader(10s));
  int leader = rig.leader();
  size_t follower = leader == 0 ? 1 : 0;
  size_t other = 3 - static_cast<size_t>(leader) - follower;

  Reply start = control(rig.sockets[follower], "rollout start r");
  ASSERT_TRUE(start.ok()) << start.raw;
  // The answer is the leader's: the rollout runs there.
  EXPECT_EQ(start.value["rollout"].get_string("phase"), "Paused") << start.raw;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(wait_gate(rig.sockets[i], 1, 2s)) << i << ": " << status_raw(rig.sockets[i]);
    EXPECT_TRUE(
        wait_until([&] { return live_weight(rig.sockets[i], "r", "app-v2/app") == 20; }, 1s, 5ms))
        << i;
  }
  json::Value followed = status(rig.sockets[follower]);
  EXPECT_NE(
      followed.get_string("fleet").find("run by the fleet's leader weir-" + std::to_string(leader)),
      std::string::npos)
      << status_raw(rig.sockets[follower]);
  EXPECT_TRUE(followed["held"].is_null()) << "nothing is held while a leader runs it";

  // A gate passed from the third replica: the next step's split everywhere within a second.
  auto promoted_at = Clock::now();
  Reply promote = control(rig.sockets[other], "rollout promote r");
  ASSERT_TRUE(promote.ok()) << promote.raw;
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(
        wait_until([&] { return live_weight(rig.sockets[i], "r", "app-v2/app") == 50; }, 1s, 5ms))
        << i << " after " << ms_since(promoted_at) << " ms";
  ASSERT_TRUE(control(rig.sockets[follower], "rollout promote r --full").ok());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(wait_phase(rig.sockets[i], "Healthy", 2s)) << i << status_raw(rig.sockets[i]);
    EXPECT_TRUE(
        wait_until([&] { return live_weight(rig.sockets[i], "r", "app-v2/app") == 100; }, 1s, 5ms));
  }
  // The history is the leader's, on every replica.
  EXPECT_GE(count_events(history(rig.sockets[follower]), "promoted"), 1u)
      << history_raw(rig.sockets[follower]);
}

TEST_P(FleetOnStore, ARestartedReplicaCatchesUpFromTheStoreBeforeItIsReady) {
  FleetRig rig;
  ASSERT_TRUE(rig.prepare(GetParam()));
  rig.plan = gated_plan();
  rig.start(2);
  ASSERT_TRUE(rig.wait_leader(10s));
  ASSERT_TRUE(control(rig.sockets[1], "set weight r app-v1/app=40 app-v2/app=60").ok());
  ASSERT_TRUE(wait_until([&] { return live_weight(rig.sockets[0], "r", "app-v2/app") == 60; }, 2s));
  // A third replica, new: ready means it serves the fleet's weights, not its file's.
  rig.sockets.push_back(temp_path("fleet", ".sock"));
  rig.replicas.push_back(Weir::start(rig.config(2)));
  uint16_t admin = rig.replicas[2].admin_port();
  ASSERT_TRUE(wait_until([&] { return http_request(admin, "GET", "/ready").status == 200; }, 10s))
      << http_request(admin, "GET", "/ready").body;
  EXPECT_EQ(live_weight(rig.sockets[2], "r", "app-v2/app"), 60);
}

// A follower's workers see the canary's run of errors: it stops sending users there at once,
// every replica follows through the shared rollout weights, and the leader records the abort.
TEST_P(FleetOnStore, AFastAbortOnAFollowerIsLocalFirstAndAbortsTheFleetsRollout) {
  FleetRig rig;
  ASSERT_TRUE(rig.prepare(GetParam(), {"--status", "500"})); // every answer fails
  rig.plan.steps = {"set_weight: 50", "pause: {}"};
  rig.plan.analysis = "{ interval: 60s, min_requests: 1000000 }";
  rig.plan.extra = "      fast_abort: { consecutive_errors: 5 }\n";
  rig.start(3);
  ASSERT_TRUE(rig.wait_leader(10s));
  int leader = rig.leader();
  size_t follower = leader == 2 ? 1 : 2;
  ASSERT_TRUE(control(rig.sockets[leader], "rollout start r").ok());
  ASSERT_TRUE(
      wait_until([&] { return live_weight(rig.sockets[follower], "r", "app-v2/app") == 50; }, 2s));
  // Requests to the follower alone, until the canary stops answering them.
  int errors = 0, sent = 0;
  while (sent < 200 && errors < 1000) {
    HttpResponse r = http_request(rig.replicas[follower].port(), "GET", "/");
    ++sent;
    if (r.status == 500) ++errors;
    if (live_weight(rig.sockets[follower], "r", "app-v2/app") == 0) break;
  }
  EXPECT_EQ(live_weight(rig.sockets[follower], "r", "app-v2/app"), 0)
      << "sent " << sent << ", errors " << errors;
  EXPECT_LE(errors, 8)
      << "the follower stopped the canary after its run of 5 (and a few in flight)";
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(wait_phase(rig.sockets[i], "Degraded", 3s)) << i << status_raw(rig.sockets[i]);
    EXPECT_EQ(live_weight(rig.sockets[i], "r", "app-v2/app"), 0) << i;
  }
  std::string why = history_raw(rig.sockets[leader]);
  EXPECT_NE(why.find("fast abort on a follower"), std::string::npos) << why;
  EXPECT_NE(why.find("replica weir-" + std::to_string(follower)), std::string::npos) << why;
}

// A replica whose config lacks a route (a config rolled out replica by replica) neither erases
// that route's live weights for the others, nor misses them once its config has the route.
TEST(Fleet, AReplicaWithoutARouteLeavesItsWeightsToTheOthersAndTakesThemWhenItHasIt) {
  FleetRig rig;
  ASSERT_TRUE(rig.prepare("etcd"));
  rig.plan = gated_plan();
  const std::string r2 = "  - name: r2\n    listener: public\n    match: { path_prefix: /two }\n"
                         "    backends:\n      - { service: app-v1/app, weight: 100 }\n"
                         "      - { service: app-v2/app, weight: 0 }\n";
  rig.more_routes[0] = r2;
  rig.start(2);
  ASSERT_TRUE(rig.wait_leader(10s));
  ASSERT_TRUE(control(rig.sockets[0], "set weight r2 app-v1/app=10 app-v2/app=90").ok());
  // weir-1 reloads (a drain on it, too, so it writes something of its own meanwhile).
  ASSERT_TRUE(control(rig.sockets[1], "reload").ok());
  ASSERT_TRUE(control(rig.sockets[1], "drain app-v1/app " + rig.v1.address()).ok());
  ASSERT_TRUE(wait_until(
      [&] {
        return control(rig.sockets[0], "show services").raw.find("\"drained\":true") !=
               std::string::npos;
      },
      2s));
  EXPECT_EQ(live_weight(rig.sockets[0], "r2", "app-v2/app"), 90)
      << "weir-1's config has no r2: its reload must not erase r2's weights for weir-0";
  ASSERT_TRUE(control(rig.sockets[1], "undrain app-v1/app " + rig.v1.address()).ok());
  // weir-1's config gets r2: its reload takes r2's weights from the store.
  ASSERT_TRUE(write_file(
      rig.replicas[1].config_path,
      rig.config(0).replace(rig.config(0).find("replica: weir-0"), 15, "replica: weir-1")));
  Reply reload = control(rig.sockets[1], "reload");
  ASSERT_TRUE(reload.ok()) << reload.raw;
  EXPECT_TRUE(wait_until([&] { return live_weight(rig.sockets[1], "r2", "app-v2/app") == 90; }, 2s))
      << control(rig.sockets[1], "show routes").raw;
}

// The store unreachable when a replica starts: /ready says why, then, after lease_ttl, the
// replica serves what it knows (its file) rather than stay out of service with the store.
TEST(Fleet, AReplicaStartedWithoutItsStoreIsReadyAfterTheLeaseTtl) {
  FleetRig rig;
  ASSERT_TRUE(rig.prepare("etcd"));
  rig.plan = gated_plan();
  rig.store->stop_server();
  auto started = Clock::now();
  rig.start(1);
  uint16_t admin = rig.replicas[0].admin_port();
  HttpResponse first = http_request(admin, "GET", "/ready");
  if (ms_since(started) < 1500) {
    EXPECT_EQ(first.status, 503);
    EXPECT_NE(first.body.find("not caught up from its store"), std::string::npos) << first.body;
  }
  EXPECT_TRUE(wait_until([&] { return http_request(admin, "GET", "/ready").status == 200; }, 5s));
  EXPECT_GE(ms_since(started), 1500);
  EXPECT_EQ(http_request(rig.replicas[0].port(), "GET", "/").status, 200);
  // The store back: the replica catches up and leads (it is alone).
  rig.store->start_server();
  EXPECT_TRUE(rig.wait_leader(10s)) << control(rig.sockets[0], "show fleet").raw;
}

// The leader killed in the middle of a timed step: another replica takes the rollout over and
// ends the step on time (± lease_ttl + 1 s), and the plan finishes with no failed request.
TEST(Fleet, TheLeaderKilledInATimedStepTheStepEndsOnTimeAndThePlanFinishes) {
  WEIR_RELEASE_ONLY();
  FleetRig rig;
  ASSERT_TRUE(rig.prepare("etcd3"));
  rig.plan.steps = {"set_weight: 20", "pause: { duration: 6s }", "set_weight: 60",
                    "pause: { duration: 1s }"};
  rig.plan.analysis = "{ interval: 1s, min_requests: 1000000, inconclusive_limit: 1000 }";
  rig.start(3);
  ASSERT_TRUE(rig.wait_leader(10s));
  int leader = rig.leader();
  std::vector<size_t> survivors;
  for (size_t i = 0; i < 3; ++i)
    if (static_cast<int>(i) != leader) survivors.push_back(i);
  LoadGen load_a(rig.replicas[survivors[0]].port(), 2, 100);
  LoadGen load_b(rig.replicas[survivors[1]].port(), 2, 100);

  ASSERT_TRUE(control(rig.sockets[leader], "rollout start r").ok());
  auto step_start = Clock::now(); // the 6 s pause starts with the start (its first step is instant)
  ASSERT_TRUE(
      wait_until([&] { return status(rig.sockets[survivors[0]]).get_number("step") == 1; }, 2s));
  std::this_thread::sleep_for(1500ms); // a point inside the timed step: the kill's moment
  rig.replicas[leader].proc->signal(SIGKILL);
  rig.replicas[leader].proc->wait_exit(5s);

  long at = -1;
  ASSERT_TRUE(wait_until(
      [&] {
        if (live_weight(rig.sockets[survivors[0]], "r", "app-v2/app") != 60) return false;
        at = ms_since(step_start);
        return true;
      },
      15s, 10ms))
      << status_raw(rig.sockets[survivors[0]]);
  std::printf("[ fleet    ] the 6 s step ended %ld ms after it started (leader killed at 1.5 s, "
              "lease_ttl 2 s)\n",
              at);
  EXPECT_GE(at, 6000 - 3000);
  EXPECT_LE(at, 6000 + 3000);
  // The new leader says it took the step over, with the time the step had left.
  std::string events = history_raw(rig.sockets[survivors[0]]);
  EXPECT_NE(events.find("taken over by weir-"), std::string::npos) << events;
  EXPECT_NE(events.find("at step 2 with "), std::string::npos) << events;
  EXPECT_TRUE(wait_phase(rig.sockets[survivors[1]], "Healthy", 10s))
      << status_raw(rig.sockets[survivors[1]]);
  EXPECT_TRUE(wait_until(
      [&] { return live_weight(rig.sockets[survivors[1]], "r", "app-v2/app") == 100; }, 2s));
  load_a.stop();
  load_b.stop();
  EXPECT_EQ(load_a.failures() + load_b.failures(), 0u) << load_a.report() << load_b.report();
  EXPECT_GT(load_a.responses() + load_b.responses(), 500u);
}

// The store gone: every replica serves on with 0 failed requests, the rollout holds (its timed
// step does not end while nobody leads) and goes on when the store is back.
TEST(Fleet, TheStoreDownTrafficGoesOnTheRolloutHoldsAndResumesWhenItReturns) {
  WEIR_RELEASE_ONLY();
  FleetRig rig;
  ASSERT_TRUE(rig.prepare("etcd3"));
  rig.plan.steps = {"set_weight: 20", "pause: { duration: 2s }", "set_weight: 60",
                    "pause: { duration: 1s }"};
  rig.plan.analysis = "{ interval: 1s, min_requests: 1000000, inconclusive_limit: 1000 }";
  rig.start(3);
  ASSERT_TRUE(rig.wait_leader(10s));
  std::vector<std::unique_ptr<LoadGen>> loads;
  for (auto& r : rig.replicas)
    loads.push_back(std::make_unique<LoadGen>(r.port(), 1, 60));

  ASSERT_TRUE(control(rig.sockets[0], "rollout start r").ok());
  // Every replica has the weights and the rollout's state (two entries, written one after the
  // other) before the store goes.
  for (size_t i = 0; i < 3; ++i)
    ASSERT_TRUE(wait_until(
        [&] {
          return live_weight(rig.sockets[i], "r", "app-v2/app") == 20 &&
                 status(rig.sockets[i]).get_number("step") == 1;
        },
        2s))
        << i << ": " << status_raw(rig.sockets[i]);
  rig.store->stop_server();
  auto down_at = Clock::now();
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(wait_until(
        [&] {
          return status(rig.sockets[i]).get_string("held").find("unreachable") != std::string::npos;
        },
        3s))
        << i << ": " << status_raw(rig.sockets[i]);
  // Twice the step's time with the store down: nobody moves the weights on.
  std::this_thread::sleep_for(4000ms - (Clock::now() - down_at));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(live_weight(rig.sockets[i], "r", "app-v2/app"), 20) << i;
    EXPECT_EQ(status(rig.sockets[i]).get_number("step"), 1) << status_raw(rig.sockets[i]);
  }
  rig.store->start_server();
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(wait_phase(rig.sockets[i], "Healthy", 15s)) << i << status_raw(rig.sockets[i]);
  for (auto& l : loads) {
    l->stop();
    EXPECT_EQ(l->failures(), 0u) << l->report();
    EXPECT_GT(l->responses(), 300u);
  }
}

// A canary failing 3 % of its requests, traffic spread over three replicas so that no replica
// alone reaches min_requests in an interval: the fleet's analysis sees them all and aborts.
TEST(Fleet, ACanaryFailingThreePercentOverThreeReplicasIsAbortedByTheFleetsAnalysis) {
  WEIR_RELEASE_ONLY();
  FleetRig rig;
  ASSERT_TRUE(rig.prepare("etcd", {"--fail-rate", "0.03", "--seed", "7"}));
  rig.plan.steps = {"set_weight: 50", "pause: { duration: 30s }"};
  // 2 s intervals, 150 canary requests needed: each replica sends the canary about 60 in one
  // (60 req/s at 50 %), the three together about 180.
  rig.plan.analysis = "{ interval: 2s, min_requests: 150, max_error_rate: 1%, "
                      "max_error_rate_increase: 100%, failure_limit: 2, inconclusive_limit: 100 }";
  rig.start(3);
  ASSERT_TRUE(rig.wait_leader(10s));
  std::vector<std::unique_ptr<LoadGen>> loads;
  for (auto& r : rig.replicas)
    loads.push_back(std::make_unique<LoadGen>(r.port(), 1, 60));
  auto started = Clock::now();
  ASSERT_TRUE(control(rig.sockets[1], "rollout start r").ok());
  int leader = rig.leader();
  ASSERT_GE(leader, 0);
  // failure_limit 2 intervals of 2 s, plus the first interval's wait and the store's second.
  EXPECT_TRUE(wait_phase(rig.sockets[leader], "Degraded", 12s)) << status_raw(rig.sockets[leader]);
  std::printf("[ fleet    ] aborted %ld ms after the start\n", ms_since(started));
  std::string why = history_raw(rig.sockets[leader]);
  EXPECT_NE(why.find("analysis failed 2 intervals"), std::string::npos) << why;
  // What one replica alone saw of the canary in an interval stayed under min_requests.
  for (size_t i = 0; i < 3; ++i)
    EXPECT_LT(loads[i]->rate() * 0.5 * 2, 150) << "replica " << i << " alone had enough";
  for (size_t i = 0; i < 3; ++i)
    EXPECT_TRUE(
        wait_until([&] { return live_weight(rig.sockets[i], "r", "app-v2/app") == 0; }, 2s));
}

} // namespace
} // namespace weir::test
