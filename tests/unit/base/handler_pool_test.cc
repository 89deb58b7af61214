// HandlerPool: Asio's operation memory recycled per event loop, so that steady traffic allocates
// nothing however many operations are in flight.
#include "weir/base/handler_pool.h"

#include <array>
#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <gtest/gtest.h>
#include <memory>
#include <vector>

namespace weir {
namespace {

namespace asio = boost::asio;

TEST(HandlerPool, ReusesBlocksBySizeClass) {
  HandlerPool pool;
  void* a = pool.allocate(100, 8);
  EXPECT_EQ(pool.heap_allocations(), 1u);
  pool.deallocate(a, 100, 8);
  EXPECT_EQ(pool.free_blocks(), 1u);
  // Any size of the same 64-byte class gets the same block back.
  void* b = pool.allocate(128, 16);
  EXPECT_EQ(b, a);
  EXPECT_EQ(pool.heap_allocations(), 1u);
  // Another class: a block of its own.
  void* c = pool.allocate(129, 8);
  EXPECT_NE(c, a);
  EXPECT_EQ(pool.heap_allocations(), 2u);
  std::memset(c, 0xab, 129); // the whole size is usable
  pool.deallocate(b, 128, 16);
  pool.deallocate(c, 129, 8);
  EXPECT_EQ(pool.free_blocks(), 2u);
  // Beyond the largest class, and over-aligned blocks, go to the heap every time.
  void* big = pool.allocate(HandlerPool::kMaxPooled + 1, 8);
  pool.deallocate(big, HandlerPool::kMaxPooled + 1, 8);
  void* aligned = pool.allocate(64, 64);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(aligned) % 64, 0u);
  pool.deallocate(aligned, 64, 64);
  EXPECT_EQ(pool.heap_allocations(), 4u);
  EXPECT_EQ(pool.free_blocks(), 2u);
  pool.deallocate(nullptr, 10, 8);
  // Zero-byte requests still get a distinct block.
  void* z = pool.allocate(0, 1);
  EXPECT_NE(z, nullptr);
  pool.deallocate(z, 0, 1);
}

TEST(HandlerPool, ManyInFlightThenSteadyReuse) {
  HandlerPool pool;
  std::vector<void*> blocks;
  for (int i = 0; i < 500; ++i)
    blocks.push_back(pool.allocate(200 + i % 300, 8));
  const uint64_t peak = pool.heap_allocations();
  for (size_t i = 0; i < blocks.size(); ++i)
    pool.deallocate(blocks[i], 200 + i % 300, 8);
  blocks.clear();
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 500; ++i)
      blocks.push_back(pool.allocate(200 + i % 300, 8));
    for (size_t i = 0; i < blocks.size(); ++i)
      pool.deallocate(blocks[i], 200 + i % 300, 8);
    blocks.clear();
  }
  EXPECT_EQ(pool.heap_allocations(), peak);
}

// Real Asio operations bound to the pool: 32 socket pairs each echo messages in parallel (a
// write and a read in flight on every pair). After the first round the pool takes nothing more
// from the heap.
TEST(HandlerPool, AsioOperationsStopAllocatingAfterWarmUp) {
  HandlerPool pool; // outlives the io_context
  asio::io_context io(1);
  HandlerAllocator<void> alloc(&pool);
  struct Pair {
    asio::local::stream_protocol::socket a, b;
    std::array<char, 256> out{}, in{};
    explicit Pair(asio::io_context& io) : a(io), b(io) { asio::local::connect_pair(a, b); }
  };
  std::vector<std::unique_ptr<Pair>> pairs;
  for (int i = 0; i < 32; ++i)
    pairs.push_back(std::make_unique<Pair>(io));
  int completed = 0;
  auto round = [&] {
    for (auto& p : pairs) {
      asio::async_write(p->a, asio::buffer(p->out),
                        asio::bind_allocator(alloc, [&](boost::system::error_code ec, size_t) {
                          EXPECT_FALSE(ec);
                          ++completed;
                        }));
      asio::async_read(p->b, asio::buffer(p->in),
                       asio::bind_allocator(alloc, [&](boost::system::error_code ec, size_t n) {
                         EXPECT_FALSE(ec);
                         EXPECT_EQ(n, 256u);
                         ++completed;
                       }));
    }
    io.restart();
    io.run();
  };
  round();
  round();
  ASSERT_EQ(completed, 2 * 2 * 32);
  const uint64_t warm = pool.heap_allocations();
  EXPECT_GT(warm, 0u); // the operations did come from the pool
  for (int i = 0; i < 50; ++i)
    round();
  EXPECT_EQ(completed, 52 * 2 * 32);
  EXPECT_EQ(pool.heap_allocations(), warm);
}

} // namespace
} // namespace weir
