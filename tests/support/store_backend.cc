#include "store_backend.h"

#include <gtest/gtest.h>

namespace weir::test {

std::unique_ptr<StoreBackend> start_store_backend(const std::string& kind) {
  if (kind == "etcd") return start_etcd_store_backend();
  if (kind == "etcd3") return start_etcd_store_backend(3);
  if (kind == "kubernetes") return start_kubernetes_store_backend();
  ADD_FAILURE() << "no store backend " << kind << " (etcd, kubernetes)";
  return nullptr;
}

// Stands in until store_backend_kubernetes.cc is in the build, whose definition replaces it.
__attribute__((weak)) std::unique_ptr<StoreBackend> start_kubernetes_store_backend() {
  ADD_FAILURE() << "the kubernetes store backend is not built (store_backend_kubernetes.cc)";
  return nullptr;
}

} // namespace weir::test
