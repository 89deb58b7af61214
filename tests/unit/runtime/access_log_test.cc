// AccessLog: batches written in order by the writer thread, and the written buffers handed back
// to the workers (so filling the next batch allocates nothing).
#include "weir/runtime/access_log.h"

#include <chrono>
#include <fstream>
#include <gtest/gtest.h>
#include <sstream>
#include <string>
#include <unistd.h>

namespace weir::runtime {
namespace {

std::string temp_path() {
  return ::testing::TempDir() + "weir_access_log_" + std::to_string(::getpid()) + ".log";
}

TEST(AccessLog, WritesBatchesInOrderAndHandsBuffersBack) {
  const std::string path = temp_path();
  std::remove(path.c_str());
  std::string expected;
  bool recycled = false;
  {
    std::string error;
    AccessLog log(path, &error);
    ASSERT_EQ(error, "");
    std::string batch;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (int i = 0; !recycled || i < 200; ++i) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "no buffer came back";
      std::string line = "{\"n\":" + std::to_string(i) + "}\n";
      batch.append(line);
      expected.append(line);
      if (batch.capacity() < 4096) batch.reserve(4096);
      ASSERT_TRUE(log.submit(batch));
      EXPECT_TRUE(batch.empty());
      // Once the writer has emptied a batch, submit hands that buffer back, capacity and all.
      recycled = recycled || batch.capacity() >= 4096;
    }
  } // the destructor writes what is queued and joins the writer
  EXPECT_TRUE(recycled);
  std::ifstream in(path);
  std::stringstream got;
  got << in.rdbuf();
  EXPECT_EQ(got.str(), expected);
  std::remove(path.c_str());
}

} // namespace
} // namespace weir::runtime
