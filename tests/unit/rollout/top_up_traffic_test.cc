// Top-up traffic on a ManualClock with a fake `send`: pacing (rate, even spacing, no burst after a
// stall), the split between versions and the round robin over endpoints, the in-flight cap,
// start/stop, and how results are recorded. No sockets: `send` keeps each call until the test
// answers it.
#include "weir/base/clock.h"
#include "weir/rollout/top_up_traffic.h"
#include "weir/tls/client_context.h"

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <gtest/gtest.h>
#include <map>
#include <string>
#include <vector>

namespace weir::rollout {
namespace {

using namespace std::chrono_literals;
using Ms = std::chrono::milliseconds;
namespace asio = boost::asio;

constexpr const char* kStable = "app-v1/app";
constexpr const char* kCanary = "app-v2/app";

class TopUpTrafficTest : public ::testing::Test {
protected:
  // Carries the wake-up timers; never run. First, so it goes last: the calls kept below hold
  // routes whose timers belong to it.
  asio::io_context io;
  struct Call {
    Clock::Steady::time_point at;
    uint16_t port = 0;
    std::string request;
    Ms timeout{0};
    const tls::ClientContext* tls = nullptr;
    health::HttpCheck::Done done;
  };
  std::vector<Call> calls;
  // service → ports of its endpoints that take traffic now
  std::map<std::string, std::vector<uint16_t>> endpoints{{kStable, {9001, 9002}},
                                                         {kCanary, {9101}}};
  // service → its TLS settings (none: plain)
  std::map<std::string, std::shared_ptr<const tls::ClientContext>> tls_of;

  ManualClock clock;
  metrics::Registry cells;
  TopUpTraffic traffic{io, cells,
                       [this](const std::string& service) {
                         std::vector<TopUpTraffic::Target> out;
                         for (uint16_t p : endpoints[service])
                           out.push_back({"127.0.0.1:" + std::to_string(p),
                                          {asio::ip::make_address("127.0.0.1"), p},
                                          tls_of[service]});
                         return out;
                       },
                       clock,
                       [this](const asio::ip::tcp::endpoint& to, std::string request, Ms timeout,
                              const tls::ClientContext* tls, health::HttpCheck::Done done) {
                         calls.push_back({clock.now(), to.port(), std::move(request), timeout, tls,
                                          std::move(done)});
                       }};

  static config::TopUp top_up(double rate) {
    config::TopUp t;
    t.enabled = true;
    t.rate = rate;
    t.path = "/health/deep";
    t.timeout = Ms(500);
    return t;
  }

  // Steps the clock 1 ms at a time for `length`, running what is due, as the timers would.
  void run_for(Ms length) {
    for (Ms t{0}; t < length; t += 1ms) {
      clock.advance(1ms);
      traffic.run_due();
    }
  }
  // Answers every call not answered yet with `status` (0: a connect failure) after 3 ms.
  void answer_all(int status) {
    for (auto& c : calls) {
      if (!c.done) continue;
      health::CheckResult r;
      r.connected = status != 0;
      r.status = status;
      r.latency = 3ms;
      if (status == 0) r.error = "connect: Connection refused";
      auto done = std::move(c.done);
      c.done = nullptr;
      done(r);
    }
  }
  bool is_canary(const Call& c) const { return c.port >= 9100; }
  const metrics::BackendCells& cells_of(const std::string& service) {
    return *cells.backend({"r", service});
  }
};

TEST_F(TopUpTrafficTest, SendsTheRateEvenlySpacedAndSplitEvenly) {
  traffic.start("r", kStable, kCanary, top_up(20));
  run_for(1000ms - 1ms); // the first at once, then one every 50 ms: 20 within the second
  ASSERT_EQ(calls.size(), 20u);
  for (size_t i = 1; i < calls.size(); ++i)
    EXPECT_EQ(calls[i].at - calls[i - 1].at, 50ms) << "send " << i;
  int canary = 0;
  for (size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(is_canary(calls[i]), i % 2 == 1) << "versions alternate";
    canary += is_canary(calls[i]);
  }
  EXPECT_EQ(canary, 10);
  // Round robin over the stable's two endpoints.
  std::map<uint16_t, int> per_port;
  for (const auto& c : calls)
    ++per_port[c.port];
  EXPECT_EQ(per_port[9001], 5);
  EXPECT_EQ(per_port[9002], 5);
  EXPECT_EQ(per_port[9101], 10);
  EXPECT_EQ(calls[0].timeout, Ms(500));
}

TEST_F(TopUpTrafficTest, KeepsTheRateOverManySecondsWithUnevenRates) {
  traffic.start("r", kStable, kCanary, top_up(7));
  for (int second = 0; second < 30; ++second) {
    run_for(1000ms);
    answer_all(200);
  }
  // 1/7 s rounds down to whole nanoseconds: never fewer than 7 a second.
  EXPECT_GE(calls.size(), 7u * 30);
  EXPECT_LE(calls.size(), 7u * 30 + 1);
}

TEST_F(TopUpTrafficTest, AStalledClockDropsMissedSendsInsteadOfBursting) {
  traffic.start("r", kStable, kCanary, top_up(20));
  ASSERT_EQ(calls.size(), 1u);
  clock.advance(5s); // the control thread was busy: 100 sends are overdue
  traffic.run_due();
  traffic.run_due();
  EXPECT_EQ(calls.size(), 2u);
  ASSERT_TRUE(traffic.next_due());
  EXPECT_EQ(*traffic.next_due(), clock.now() + 50ms);
  run_for(100ms);
  EXPECT_EQ(calls.size(), 4u);
}

TEST_F(TopUpTrafficTest, AFrozenVersionHoldsAtMostItsCapInFlight) {
  // 40/s: 20 a second per version, so at most 20 of them in flight.
  ASSERT_EQ(TopUpTraffic::max_in_flight(40), 20u);
  ASSERT_EQ(TopUpTraffic::max_in_flight(2), TopUpTraffic::kMinInFlightPerVersion);
  traffic.start("r", kStable, kCanary, top_up(40));
  run_for(3000ms);
  // Nobody answers: each version reaches its cap and stays there.
  int stable = 0, canary = 0;
  for (const auto& c : calls)
    (is_canary(c) ? canary : stable)++;
  EXPECT_EQ(stable, 20);
  EXPECT_EQ(canary, 20);
  auto counts = traffic.counts("r");
  ASSERT_TRUE(counts);
  EXPECT_EQ(counts->sent, 40u);
  EXPECT_EQ(counts->skipped_in_flight, 121u - 40u); // one at the start, then one per 25 ms
  // Once the timeouts end them, sending resumes at the rate.
  answer_all(0);
  size_t before = calls.size();
  run_for(1000ms);
  EXPECT_EQ(calls.size() - before, 40u);
}

TEST_F(TopUpTrafficTest, AVersionWithoutEndpointsIsSkippedNotReplaced) {
  endpoints[kCanary].clear();
  traffic.start("r", kStable, kCanary, top_up(20));
  run_for(1000ms - 1ms);
  EXPECT_EQ(calls.size(), 10u); // the stable's half only
  for (const auto& c : calls)
    EXPECT_FALSE(is_canary(c));
  EXPECT_EQ(traffic.counts("r")->skipped_no_endpoint, 10u);
}

TEST_F(TopUpTrafficTest, RecordsLikeTheWorkers) {
  traffic.start("r", kStable, kCanary, top_up(20));
  run_for(1000ms - 1ms);
  ASSERT_EQ(calls.size(), 20u);
  // Canary calls are the odd ones: 200, 503, 404, connect failure, timeout, then 200s.
  std::vector<health::CheckResult> canary_results(10);
  for (auto& r : canary_results) {
    r.connected = true;
    r.status = 200;
    r.latency = 2ms;
  }
  canary_results[1].status = 503;
  canary_results[2].status = 404;
  canary_results[3] = {};
  canary_results[3].error = "connect: Connection refused";
  canary_results[4] = {};
  canary_results[4].connected = true;
  canary_results[4].timed_out = true;
  canary_results[4].error = "timed out";
  canary_results[4].latency = 500ms;
  for (size_t i = 0; i < calls.size(); ++i) {
    health::CheckResult r;
    if (is_canary(calls[i])) {
      r = canary_results[i / 2];
    } else {
      r.connected = true;
      r.status = 200;
      r.latency = 1ms;
    }
    calls[i].done(r);
  }
  const auto& canary = cells_of(kCanary);
  EXPECT_EQ(canary.requests.get(), 10u);
  EXPECT_EQ(canary.upstream_errors.get(), 3u); // 503, refused, timed out
  EXPECT_EQ(canary.client_errors.get(), 1u);   // 404
  EXPECT_EQ(canary.total.count(), 10u);
  EXPECT_EQ(canary.total.sum_ns(), uint64_t{8 * 2'000'000 + 500'000'000});
  const auto& stable = cells_of(kStable);
  EXPECT_EQ(stable.requests.get(), 10u);
  EXPECT_EQ(stable.upstream_errors.get(), 0u);
  EXPECT_EQ(traffic.counts("r")->recorded, 20u);
}

TEST_F(TopUpTrafficTest, StartingTwiceChangesNothingAndNewSettingsStartOver) {
  traffic.start("r", kStable, kCanary, top_up(20));
  run_for(20ms);
  auto due = traffic.next_due();
  traffic.start("r", kStable, kCanary, top_up(20));
  EXPECT_EQ(calls.size(), 1u);
  EXPECT_EQ(traffic.next_due(), due);
  // Another rate starts over: a send at once, then the new spacing.
  traffic.start("r", kStable, kCanary, top_up(10));
  EXPECT_EQ(calls.size(), 2u);
  EXPECT_EQ(*traffic.next_due(), clock.now() + 100ms);
}

TEST_F(TopUpTrafficTest, StopEndsSendingAndCallsInFlightAreNotRecorded) {
  traffic.start("r", kStable, kCanary, top_up(20));
  run_for(200ms);
  size_t sent = calls.size();
  ASSERT_GT(sent, 0u);
  traffic.stop("r");
  EXPECT_FALSE(traffic.running("r"));
  EXPECT_FALSE(traffic.next_due());
  run_for(1000ms);
  EXPECT_EQ(calls.size(), sent);
  answer_all(200);
  EXPECT_EQ(cells_of(kStable).requests.get(), 0u);
  EXPECT_EQ(cells_of(kCanary).requests.get(), 0u);
  // Started again: the old calls' answers still do not count in the new run.
  calls.clear();
  traffic.start("r", kStable, kCanary, top_up(20));
  traffic.stop("nosuch"); // harmless
  EXPECT_TRUE(traffic.running("r"));
  answer_all(200);
  EXPECT_EQ(cells_of(kStable).requests.get(), 1u);
}

TEST_F(TopUpTrafficTest, RoutesRunApart) {
  traffic.start("r", kStable, kCanary, top_up(20));
  traffic.start("s", kStable, kCanary, top_up(10));
  run_for(1000ms - 1ms);
  EXPECT_EQ(calls.size(), 30u);
  traffic.stop_all();
  EXPECT_FALSE(traffic.running("r"));
  EXPECT_FALSE(traffic.running("s"));
}

TEST_F(TopUpTrafficTest, AVersionWithTlsIsSentItsSettings) {
  config::UpstreamTls settings;
  settings.enabled = true;
  settings.verify = false; // no CA file needed: the fake never handshakes
  std::string error;
  tls_of[kCanary] = tls::ClientContext::build(settings, &error);
  ASSERT_TRUE(tls_of[kCanary]) << error;
  traffic.start("r", kStable, kCanary, top_up(20));
  run_for(200ms);
  ASSERT_GE(calls.size(), 4u);
  for (const Call& c : calls)
    EXPECT_EQ(c.tls, is_canary(c) ? tls_of[kCanary].get() : nullptr) << "port " << c.port;
}

TEST(TopUpRequest, TaggedFramedAndClosed) {
  config::TopUp t;
  t.method = "POST";
  t.path = "/orders?dry_run=1";
  t.headers = {{"authorization", "Bearer x"}, {"content-type", "application/json"}};
  t.body = R"({"n":1})";
  EXPECT_EQ(TopUpTraffic::request_text(t, "shop.example"), "POST /orders?dry_run=1 HTTP/1.1\r\n"
                                                           "Host: shop.example\r\n"
                                                           "x-weir-synthetic: top-up\r\n"
                                                           "user-agent: weir-top-up\r\n"
                                                           "authorization: Bearer x\r\n"
                                                           "content-type: application/json\r\n"
                                                           "content-length: 7\r\n"
                                                           "connection: close\r\n\r\n"
                                                           R"({"n":1})");
  config::TopUp g;
  g.headers = {{"User-Agent", "probe/1"}};
  EXPECT_EQ(TopUpTraffic::request_text(g, "127.0.0.1:9001"),
            "GET / HTTP/1.1\r\nHost: 127.0.0.1:9001\r\nx-weir-synthetic: top-up\r\n"
            "User-Agent: probe/1\r\nconnection: close\r\n\r\n");
}

} // namespace
} // namespace weir::rollout
