// Which I/O backend the workers start with: the config's io, auto resolved by the kernel's
// io_uring support, and the WEIR_IO override of auto.
#include "weir/net/ring.h"
#include "weir/runtime/worker_group.h"

#include <gtest/gtest.h>

namespace weir::runtime {
namespace {

using config::IoBackend;

TEST(IoBackend, AnExplicitChoiceIsKeptAndTheEnvironmentOverridesOnlyAuto) {
  EXPECT_FALSE(*WorkerGroup::resolve_io(IoBackend::epoll, nullptr));
  EXPECT_FALSE(*WorkerGroup::resolve_io(IoBackend::epoll, "io_uring"));
  EXPECT_FALSE(*WorkerGroup::resolve_io(IoBackend::auto_, "epoll"));
  EXPECT_EQ(*WorkerGroup::resolve_io(IoBackend::auto_, nullptr), net::Ring::available());
  EXPECT_EQ(*WorkerGroup::resolve_io(IoBackend::auto_, ""), net::Ring::available());
  EXPECT_EQ(*WorkerGroup::resolve_io(IoBackend::auto_, "auto"), net::Ring::available());
}

TEST(IoBackend, ABadOverrideIsAnError) {
  auto r = WorkerGroup::resolve_io(IoBackend::auto_, "kqueue");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "WEIR_IO=kqueue: expected auto, epoll or io_uring");
}

TEST(IoBackend, IoUringWhereTheKernelHasItElseAClearError) {
  std::string why;
  bool have = net::Ring::available(&why);
  auto r = WorkerGroup::resolve_io(IoBackend::io_uring, nullptr);
  if (have) {
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(*r);
  } else {
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "io: io_uring is not available on this system (" + why +
                                     "); use io: auto or io: epoll");
  }
}

} // namespace
} // namespace weir::runtime
