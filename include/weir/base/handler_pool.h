#pragma once

#include <cstddef>
#include <cstdint>
#include <new>

namespace weir {

// Memory for Asio's operation objects (a pending read, wait or write with its completion
// handler), recycled per event loop so that steady traffic allocates nothing. Asio's own
// per-thread cache keeps two blocks: with more connections than that in flight, every request
// took two or three trips to malloc (bench/alloc_per_request.sh). This pool keeps every block it
// ever handed out, on a free list per 64-byte size class (up to kMaxPooled bytes; larger ones go
// to the heap each time), so it grows to the peak number of operations in flight and then only
// reuses. An idle keep-alive connection holds only the block of its pending read, as before.
//
// Use: bind a completion handler to it with
//   boost::asio::bind_allocator(HandlerAllocator<void>(&pool), handler)
// and Asio allocates the operation (and, for composed operations such as async_write, every
// intermediate one) from the pool.
//
// Thread contract: one thread at a time — the event loop's. Asio frees an operation on the
// thread that runs its handler, or where the io_context is destroyed; so the pool must outlive
// the io_context whose operations it holds (declare it before the io_context).
class HandlerPool {
public:
  static constexpr size_t kClassBytes = 64;
  static constexpr size_t kClasses = 32;
  static constexpr size_t kMaxPooled = kClassBytes * kClasses; // 2 KiB

  HandlerPool() = default;
  HandlerPool(const HandlerPool&) = delete;
  HandlerPool& operator=(const HandlerPool&) = delete;
  ~HandlerPool();

  void* allocate(size_t size, size_t align);
  void deallocate(void* p, size_t size, size_t align) noexcept;

  // Blocks taken from the heap so far (pooled classes and the large ones), and blocks now on
  // the free lists. For tests and the allocation benchmark.
  uint64_t heap_allocations() const { return heap_allocations_; }
  uint64_t free_blocks() const { return free_blocks_; }

private:
  struct FreeBlock {
    FreeBlock* next;
  };
  static size_t class_of(size_t size) { return (size + kClassBytes - 1) / kClassBytes - 1; }

  FreeBlock* free_[kClasses] = {};
  uint64_t heap_allocations_ = 0;
  uint64_t free_blocks_ = 0;
};

// A standard allocator over a HandlerPool, for boost::asio::bind_allocator.
template <typename T> class HandlerAllocator {
public:
  using value_type = T;

  explicit HandlerAllocator(HandlerPool* pool) noexcept : pool_(pool) {}
  template <typename U>
  HandlerAllocator(const HandlerAllocator<U>& other) noexcept : pool_(other.pool()) {}

  T* allocate(size_t n) { return static_cast<T*>(pool_->allocate(n * sizeof(T), alignof(T))); }
  void deallocate(T* p, size_t n) noexcept { pool_->deallocate(p, n * sizeof(T), alignof(T)); }

  HandlerPool* pool() const noexcept { return pool_; }
  template <typename U> bool operator==(const HandlerAllocator<U>& other) const noexcept {
    return pool_ == other.pool();
  }
  template <typename U> bool operator!=(const HandlerAllocator<U>& other) const noexcept {
    return pool_ != other.pool();
  }

private:
  HandlerPool* pool_;
};

} // namespace weir
