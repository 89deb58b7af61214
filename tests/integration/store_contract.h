#pragma once

#include "support/store_backend.h"
#include "support/store_replica.h"

#include <chrono>
#include <gtest/gtest.h>
#include <memory>
#include <string>

// The contract every cluster::Store keeps (store.h), as tests run against each backend: the
// TEST_Ps are in store_test.cc; each backend instantiates the suite with its kind, e.g.
//   INSTANTIATE_TEST_SUITE_P(Etcd, StoreContract, ::testing::Values("etcd"));
namespace weir::test {

class StoreContract : public ::testing::TestWithParam<std::string> {
protected:
  void SetUp() override {
    backend_ = start_store_backend(GetParam());
    ASSERT_TRUE(backend_) << "no " << GetParam() << " backend";
  }

  // A replica of the fleet "edge" started on the backend.
  std::unique_ptr<StoreReplica> replica(const std::string& name,
                                        std::chrono::milliseconds lease_ttl) {
    StoreBackend& backend = *backend_;
    return std::make_unique<StoreReplica>([&](boost::asio::io_context& io) {
      return backend.make_store(io, "edge", name, lease_ttl);
    });
  }

  std::unique_ptr<StoreBackend> backend_;
};

} // namespace weir::test
