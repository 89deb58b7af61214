#include "weir/base/handler_pool.h"

namespace weir {

HandlerPool::~HandlerPool() {
  for (size_t c = 0; c < kClasses; ++c) {
    while (FreeBlock* b = free_[c]) {
      free_[c] = b->next;
      ::operator delete(b);
    }
  }
}

void* HandlerPool::allocate(size_t size, size_t align) {
  if (size == 0) size = 1;
  if (size > kMaxPooled || align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ++heap_allocations_;
    return ::operator new(size, std::align_val_t(align));
  }
  size_t c = class_of(size);
  if (FreeBlock* b = free_[c]) {
    free_[c] = b->next;
    --free_blocks_;
    return b;
  }
  ++heap_allocations_;
  return ::operator new((c + 1) * kClassBytes);
}

void HandlerPool::deallocate(void* p, size_t size, size_t align) noexcept {
  if (!p) return;
  if (size == 0) size = 1;
  if (size > kMaxPooled || align > __STDCPP_DEFAULT_NEW_ALIGNMENT__) {
    ::operator delete(p, std::align_val_t(align));
    return;
  }
  auto* b = static_cast<FreeBlock*>(p);
  size_t c = class_of(size);
  b->next = free_[c];
  free_[c] = b;
  ++free_blocks_;
}

} // namespace weir
