// Active health checks on a ManualClock with a fake connection: thresholds over rounds of
// checks, the jittered interval, the first round's spread, overrides. No sockets: `connect`
// answers at once from what the test says each endpoint does.
#include "weir/base/clock.h"
#include "weir/health/checker.h"
#include "weir/tls/contexts.h"

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

namespace weir::health {
namespace {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;

// Out of line: GCC 12 at -O3 warns (wrongly) about the default expected_status list when a
// config::Service is built inline in a test body.
[[gnu::noinline]] config::Config two_endpoints(config::HealthCheck::Type type) {
  config::Service s;
  s.ns = "app-v1";
  s.name = "app";
  s.endpoints = {{"127.0.0.1", 9001}, {"127.0.0.1", 9002}};
  s.health_check.enabled = true;
  s.health_check.type = type;
  s.health_check.interval = 200ms;
  s.health_check.timeout = 150ms;
  s.health_check.healthy_threshold = 2;
  s.health_check.unhealthy_threshold = 3;
  config::Config c;
  c.services = {s};
  return c;
}

class CheckerTest : public ::testing::Test {
protected:
  const std::string svc = "app-v1/app";
  const std::string a = "127.0.0.1:9001";
  const std::string b = "127.0.0.1:9002";

  // What an endpoint answers: 0 = connection refused, else an HTTP status.
  std::map<uint16_t, int> answer{{9001, 200}, {9002, 200}};
  std::map<uint16_t, std::vector<Clock::Steady::time_point>> checked;
  std::vector<std::string> changes; // "endpoint state available"

  boost::asio::io_context io; // carries the wake-up timers; never run
  ManualClock clock;
  Checker checker{io,
                  [this](const std::string&, const std::string& ep, const EndpointStatus& s) {
                    changes.push_back(ep + " " + state_name(s.state) + " " +
                                      (s.available() ? "available" : "out"));
                  },
                  clock,
                  [this](const boost::asio::ip::tcp::endpoint& to, std::string request, Ms,
                         const tls::ClientContext* tls, HttpCheck::Done done) {
                    checked[to.port()].push_back(clock.now());
                    tls_seen.push_back(tls);
                    requests.push_back(std::move(request));
                    CheckResult r;
                    int status = answer[to.port()];
                    if (status == 0) {
                      r.error = "connection refused";
                    } else {
                      r.connected = true;
                      r.status = status;
                    }
                    done(r);
                  },
                  42};
  std::vector<std::string> requests;
  std::vector<const tls::ClientContext*> tls_seen; // what each check was given

  void advance(Clock::Steady::duration d) {
    auto target = clock.now() + d;
    while (auto next = checker.next_due()) {
      if (*next > target) break;
      clock.advance_to(*next);
      checker.run_due();
    }
    clock.advance_to(target);
  }
  // Advances check by check until `done` holds; the time it took (or -1 ms after 10 s).
  template <typename F> Ms until(F done) {
    auto start = clock.now();
    while (!done()) {
      auto next = checker.next_due();
      if (!next || *next - start > 10s) return Ms(-1);
      clock.advance_to(*next);
      checker.run_due();
    }
    return std::chrono::duration_cast<Ms>(clock.now() - start);
  }
  State state(const std::string& ep) { return checker.status(svc, ep)->state; }
};

TEST_F(CheckerTest, FirstRoundIsSpreadOverAQuarterIntervalThenUpAfterHealthyThreshold) {
  checker.configure(two_endpoints(config::HealthCheck::Type::http));
  EXPECT_EQ(state(a), State::unknown);
  EXPECT_TRUE(checker.available(svc, a)) << "not checked yet still takes traffic";
  ASSERT_TRUE(checker.next_due());
  EXPECT_LE(*checker.next_due() - clock.now(), 50ms);
  advance(50ms);
  EXPECT_EQ(checked[9001].size(), 1u);
  EXPECT_EQ(checked[9002].size(), 1u);
  EXPECT_EQ(state(a), State::unknown) << "one success is below healthy_threshold 2";
  advance(220ms);
  EXPECT_EQ(state(a), State::up);
  EXPECT_EQ(state(b), State::up);
  std::sort(changes.begin(), changes.end()); // the jitter decides which comes first
  EXPECT_EQ(changes, (std::vector<std::string>{a + " up available", b + " up available"}));
  EXPECT_EQ(requests.front().rfind("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:900", 0), 0u)
      << requests.front();
}

TEST_F(CheckerTest, EveryIntervalIsWithinTenPercentJitter) {
  checker.configure(two_endpoints(config::HealthCheck::Type::http));
  advance(60s);
  for (const auto& [port, times] : checked) {
    ASSERT_GE(times.size(), 270u) << port; // 60 s / 220 ms
    ASSERT_LE(times.size(), 334u) << port; // 60 s / 180 ms + the first
    Ms shortest = 1h, longest = 0ms;
    for (size_t i = 1; i < times.size(); ++i) {
      Ms gap = std::chrono::duration_cast<Ms>(times[i] - times[i - 1]);
      shortest = std::min(shortest, gap);
      longest = std::max(longest, gap);
    }
    EXPECT_GE(shortest, 180ms) << port;
    EXPECT_LE(longest, 220ms) << port;
    EXPECT_LT(shortest, longest) << "no jitter: checks of many endpoints would line up";
  }
}

TEST_F(CheckerTest, DownAfterUnhealthyThresholdFailuresAndBackAfterHealthyThreshold) {
  checker.configure(two_endpoints(config::HealthCheck::Type::http));
  advance(1s);
  ASSERT_EQ(state(a), State::up);
  changes.clear();

  answer[9001] = 0; // killed
  size_t before = checked[9001].size();
  Ms down = until([&] { return state(a) == State::down; });
  // The next round comes within one interval (+10 %), then two more rounds.
  EXPECT_GT(down, 2 * 180ms);
  EXPECT_LE(down, 3 * 220ms);
  EXPECT_EQ(checked[9001].size() - before, 3u) << "down on exactly the third failure";
  EXPECT_FALSE(checker.available(svc, a));
  EXPECT_TRUE(checker.available(svc, b));
  const EndpointStatus* s = checker.status(svc, a);
  EXPECT_EQ(s->failures, 3u);
  EXPECT_EQ(s->last_error, "connection refused");
  EXPECT_EQ(changes, (std::vector<std::string>{a + " down out"}));

  // Two failures are not enough: b flaps once and stays up.
  answer[9002] = 0;
  until([&] { return checker.status(svc, b)->failures == 2; });
  answer[9002] = 200;
  advance(1s);
  EXPECT_EQ(state(b), State::up);

  answer[9001] = 200; // back on the same port
  before = checked[9001].size();
  Ms up = until([&] { return state(a) == State::up; });
  EXPECT_GT(up, 180ms);
  EXPECT_LE(up, 2 * 220ms);
  EXPECT_EQ(checked[9001].size() - before, 2u);
  EXPECT_TRUE(checker.available(svc, a));
  EXPECT_EQ(changes, (std::vector<std::string>{a + " down out", a + " up available"}));
}

TEST_F(CheckerTest, UnexpectedStatusFailsAnHttpCheckButNotATcpOne) {
  answer[9001] = 503;
  checker.configure(two_endpoints(config::HealthCheck::Type::http));
  advance(1s);
  EXPECT_EQ(state(a), State::down);
  EXPECT_EQ(checker.status(svc, a)->last_error, "unexpected status 503");

  // The same answer under a TCP check (connect only) is up: a reload changes the check kind,
  // and the endpoint is checked again at once.
  checker.configure(two_endpoints(config::HealthCheck::Type::tcp));
  EXPECT_EQ(checker.next_due(), clock.now());
  advance(1s);
  EXPECT_EQ(state(a), State::up);
  EXPECT_EQ(requests.back(), "") << "a TCP check sends nothing";
}

TEST_F(CheckerTest, OverrideWinsOverChecksAndAutoHandsBack) {
  checker.configure(two_endpoints(config::HealthCheck::Type::http));
  advance(1s);
  config::Config c = two_endpoints(config::HealthCheck::Type::http);
  ASSERT_TRUE(checker.set_override(svc, a, Override::down, c));
  EXPECT_FALSE(checker.available(svc, a));
  advance(5s); // passing checks do not bring it back
  EXPECT_FALSE(checker.available(svc, a));
  EXPECT_EQ(state(a), State::up);
  ASSERT_TRUE(checker.set_override(svc, a, Override::automatic, c));
  EXPECT_TRUE(checker.available(svc, a));
  answer[9002] = 0;
  ASSERT_TRUE(checker.set_override(svc, b, Override::up, c));
  advance(5s);
  EXPECT_EQ(state(b), State::down);
  EXPECT_TRUE(checker.available(svc, b)) << "forced up";
  EXPECT_FALSE(checker.set_override(svc, "127.0.0.1:1", Override::down, c));
}

TEST_F(CheckerTest, StoppedCheckerSchedulesNothing) {
  checker.configure(two_endpoints(config::HealthCheck::Type::http));
  checker.stop();
  EXPECT_FALSE(checker.next_due());
  advance(10s);
  EXPECT_TRUE(checked.empty());
}

TEST_F(CheckerTest, ATlsServiceIsCheckedWithItsContextAndFailsWithoutOne) {
  config::Config c = two_endpoints(config::HealthCheck::Type::http);
  c.services[0].tls.enabled = true;
  c.services[0].tls.verify = false; // no CA file needed: the fake never handshakes
  // Without the contexts a TLS service's checks fail without connecting: plaintext to a TLS port
  // would tell nothing about it.
  checker.configure(c);
  advance(1s);
  EXPECT_EQ(state(a), State::down);
  EXPECT_EQ(checker.status(svc, a)->last_error, "tls: no TLS settings loaded for the service");
  EXPECT_TRUE(checked.empty());

  std::string error;
  tls::Contexts contexts;
  contexts.services[svc] = tls::ClientContext::build(c.services[0].tls, &error);
  ASSERT_TRUE(contexts.services[svc]) << error;
  checker.set_tls(&contexts);
  advance(1s);
  EXPECT_EQ(state(a), State::up);
  ASSERT_FALSE(tls_seen.empty());
  for (const tls::ClientContext* seen : tls_seen)
    EXPECT_EQ(seen, contexts.services[svc].get());

  // Contexts rebuilt (a certificate reload) are used from the next check on.
  contexts.services[svc] = tls::ClientContext::build(c.services[0].tls, &error);
  advance(1s);
  EXPECT_EQ(tls_seen.back(), contexts.services[svc].get());
  checker.stop(); // before `contexts` goes
}

} // namespace
} // namespace weir::health

namespace weir::health {
namespace {

// A service whose endpoints discovery found (a DNS name here): an endpoint that appears is out
// until its first check, which is run at once and alone decides up or down.
[[gnu::noinline]] config::Config discovered(std::vector<config::Address> endpoints) {
  config::Config c = two_endpoints(config::HealthCheck::Type::http);
  c.services[0].dns_names = {{"app.internal", 9001}};
  c.services[0].endpoints = std::move(endpoints);
  c.services[0].listed_endpoints = 0; // all of them found by discovery
  return c;
}

TEST_F(CheckerTest, ADiscoveredEndpointIsOutUntilItsFirstCheckWhichRunsAtOnce) {
  checker.configure(discovered({{"127.0.0.1", 9001}}));
  EXPECT_FALSE(checker.available(svc, a)) << "appeared, not checked yet";
  ASSERT_TRUE(checker.next_due());
  EXPECT_EQ(*checker.next_due(), clock.now()) << "checked at once, not spread over the interval";
  advance(0ms);
  EXPECT_EQ(state(a), State::up) << "one success is enough for a new endpoint";
  EXPECT_TRUE(checker.available(svc, a));

  // One that fails its first check is down at once, and needs healthy_threshold to come back.
  answer[9002] = 503;
  checker.configure(discovered({{"127.0.0.1", 9001}, {"127.0.0.1", 9002}}));
  EXPECT_FALSE(checker.available(svc, b));
  EXPECT_TRUE(checker.available(svc, a)) << "the endpoint that stays keeps its state";
  advance(0ms);
  EXPECT_EQ(state(b), State::down);
  EXPECT_FALSE(checker.available(svc, b));
  answer[9002] = 200;
  advance(250ms);
  EXPECT_EQ(state(b), State::down) << "one success after a failure is below the threshold";
  advance(250ms);
  EXPECT_EQ(state(b), State::up);
}

TEST_F(CheckerTest, AListedEndpointOfADiscoveredServiceDoesNotWait) {
  config::Config c = discovered({{"127.0.0.1", 9001}, {"127.0.0.1", 9002}});
  c.services[0].listed_endpoints = 1; // 9001 is in the file, 9002 was found
  checker.configure(c);
  EXPECT_TRUE(checker.available(svc, a));
  EXPECT_FALSE(checker.available(svc, b));
}

TEST_F(CheckerTest, AnOverrideWinsOverWaitingForTheFirstCheck) {
  config::Config c = discovered({{"127.0.0.1", 9001}});
  checker.configure(c);
  EXPECT_FALSE(checker.available(svc, a));
  ASSERT_TRUE(checker.set_override(svc, a, Override::up, c));
  EXPECT_TRUE(checker.available(svc, a));
}

} // namespace
} // namespace weir::health
