#pragma once

#include "weir/runtime/worker.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <future>
#include <gtest/gtest.h>
#include <memory>

namespace weir::runtime {

// An empty snapshot a Worker can start on.
inline std::shared_ptr<const Snapshot> make_snapshot(uint64_t generation = 0) {
  auto s = std::make_shared<Snapshot>();
  s->config = std::make_shared<config::Config>();
  s->generation = generation;
  return s;
}

// Runs `fn` on the worker's thread and waits for it (10 s at most).
template <typename Fn> void run_on(Worker& worker, Fn fn) {
  std::promise<void> ran;
  boost::asio::post(worker.io(), [&] {
    fn();
    ran.set_value();
  });
  ASSERT_EQ(ran.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
}

} // namespace weir::runtime
