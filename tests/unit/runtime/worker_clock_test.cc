// The worker's clock for the request path: read once per tick(), kept for now(), with wall time
// following it, and the access log's stamp formatted from it.
#include "weir/runtime/worker.h"
#include "worker_test_helpers.h"

#include <boost/asio/post.hpp>
#include <future>
#include <gtest/gtest.h>
#include <thread>

namespace weir::runtime {
namespace {

TEST(WorkerClock, NowHoldsWhatTheLastTickRead) {
  Worker worker(0, nullptr);
  worker.start(make_snapshot(), {});
  run_on(worker, [&] {
    auto before = std::chrono::steady_clock::now();
    auto ticked = worker.tick();
    auto after = std::chrono::steady_clock::now();
    EXPECT_LE(before, ticked);
    EXPECT_LE(ticked, after);
    EXPECT_EQ(worker.now(), ticked);
    // Without a tick, now() does not move, however long the handler runs.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(2);
    while (std::chrono::steady_clock::now() < deadline) {
    }
    EXPECT_EQ(worker.now(), ticked);
    EXPECT_GT(worker.tick(), ticked);
  });
  worker.drain(std::chrono::steady_clock::now());
  worker.join();
}

TEST(WorkerClock, WallTimeFollowsTheSteadyClockAndTheStampMatchesFormatUtc) {
  Worker worker(0, nullptr);
  worker.start(make_snapshot(), {});
  run_on(worker, [&] {
    auto wall_before = std::chrono::system_clock::now();
    worker.tick();
    auto wall = worker.wall_now();
    // The base is at most one sweep (100 ms) old; steady and wall time run at the same rate.
    EXPECT_LT(std::chrono::abs(wall - wall_before), std::chrono::seconds(1));
    char stamp[32], expected[32];
    size_t n = worker.format_wall_now(stamp);
    ASSERT_EQ(n, format_utc(worker.wall_now(), expected));
    EXPECT_EQ(std::string(stamp, n), std::string(expected, n));
    auto t0 = worker.now();
    auto w0 = worker.wall_now();
    while (worker.tick() - t0 < std::chrono::milliseconds(3)) {
    }
    EXPECT_EQ(worker.wall_now() - w0,
              std::chrono::duration_cast<std::chrono::system_clock::duration>(worker.now() - t0));
  });
  worker.drain(std::chrono::steady_clock::now());
  worker.join();
}

// Request ids: this worker's random prefix, then a counter, 32 lowercase hex digits.
TEST(WorkerRequestId, PrefixThenCounterInHex) {
  Worker worker(3, nullptr);
  char a[33] = {}, b[33] = {};
  worker.format_request_id(a);
  for (int i = 0; i < 255; ++i)
    worker.format_request_id(b);
  std::string first(a, 32), last(b, 32);
  for (char c : first + last)
    EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << c;
  EXPECT_EQ(first.substr(0, 16), last.substr(0, 16));
  EXPECT_EQ(first.substr(16), "0000000000000001");
  EXPECT_EQ(last.substr(16), "0000000000000100");
  Worker other(4, nullptr);
  other.format_request_id(b);
  EXPECT_NE(std::string(b, 16), first.substr(0, 16)); // 2^-64 to collide
}

} // namespace
} // namespace weir::runtime
