// SnapshotRef: a request's hold on the snapshot it started with, counted per worker without
// touching the shared_ptr every worker shares; and Worker keeping an old generation exactly as
// long as a request runs on it.
#include "weir/runtime/snapshot.h"
#include "weir/runtime/worker.h"
#include "worker_test_helpers.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <gtest/gtest.h>
#include <vector>

namespace weir::runtime {
namespace {

TEST(SnapshotRef, CopiesCountLocallyAndLeaveTheSharedCountAlone) {
  auto shared = make_snapshot(1);
  std::weak_ptr<const Snapshot> watch = shared;
  SnapshotRef first = SnapshotRef::adopt(std::move(shared));
  EXPECT_EQ(watch.use_count(), 1); // the holder's shared_ptr, and only it
  EXPECT_EQ(first.use_count(), 1u);
  EXPECT_EQ(first->generation, 1u);
  {
    std::vector<SnapshotRef> requests(1000, first);
    EXPECT_EQ(first.use_count(), 1001u);
    EXPECT_EQ(watch.use_count(), 1); // copies never wrote the shared control block
    EXPECT_TRUE(requests.back() == first);
    EXPECT_EQ(requests.back().get(), first.get());
  }
  EXPECT_EQ(first.use_count(), 1u);
  EXPECT_FALSE(watch.expired());
  first.reset();
  EXPECT_TRUE(watch.expired()); // the last ref freed the holder and dropped the shared_ptr
  EXPECT_FALSE(first);
  EXPECT_EQ(first.get(), nullptr);
  EXPECT_EQ(first.shared(), nullptr);
}

TEST(SnapshotRef, AssignmentMovesAndSelfAssignmentKeepTheCountsRight) {
  auto a_shared = make_snapshot(1);
  auto b_shared = make_snapshot(2);
  std::weak_ptr<const Snapshot> wa = a_shared, wb = b_shared;
  SnapshotRef a = SnapshotRef::adopt(std::move(a_shared));
  SnapshotRef b = SnapshotRef::adopt(std::move(b_shared));
  SnapshotRef r = a;
  EXPECT_EQ(a.use_count(), 2u);
  const SnapshotRef& same = r;
  r = same; // self-assignment
  EXPECT_EQ(a.use_count(), 2u);
  r = std::move(r);
  EXPECT_EQ(a.use_count(), 2u);
  r = b; // moves to another generation: a's count drops
  EXPECT_EQ(a.use_count(), 1u);
  EXPECT_EQ(b.use_count(), 2u);
  SnapshotRef moved = std::move(r);
  EXPECT_FALSE(r); // NOLINT(bugprone-use-after-move): moved-from refs are empty
  EXPECT_EQ(b.use_count(), 2u);
  a = std::move(moved); // a's generation loses its last ref
  EXPECT_TRUE(wa.expired());
  EXPECT_EQ(a->generation, 2u);
  EXPECT_EQ(b.use_count(), 2u);
  a.reset();
  b.reset();
  EXPECT_TRUE(wb.expired());
  EXPECT_EQ(SnapshotRef::adopt(nullptr).get(), nullptr);
}

TEST(SnapshotRef, WorkerKeepsAnOldGenerationWhileARequestRunsOnIt) {
  auto first = make_snapshot(1);
  std::weak_ptr<const Snapshot> old_generation = first;
  Worker worker(0, nullptr);
  worker.start(std::move(first), {});
  SnapshotRef request; // touched on the worker's thread only, like a ClientConnection's
  run_on(worker, [&] {
    request = worker.snapshot_ref();
    EXPECT_EQ(request.use_count(), 2u); // the worker's and the request's
  });

  std::promise<void> installed;
  worker.publish(make_snapshot(2), std::nullopt, [&] { installed.set_value(); });
  ASSERT_EQ(installed.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(old_generation.expired()); // the request still runs on generation 1
  run_on(worker, [&] {
    EXPECT_EQ(worker.snapshot()->generation, 2u);
    EXPECT_EQ(worker.snapshot_ref().use_count(), 1u);
    EXPECT_EQ(request->generation, 1u);
    EXPECT_EQ(request.use_count(), 1u); // the worker let go of it
    request.reset();                    // the request ends
  });
  EXPECT_TRUE(old_generation.expired());

  worker.drain(std::chrono::steady_clock::now());
  worker.join();
}

} // namespace
} // namespace weir::runtime
