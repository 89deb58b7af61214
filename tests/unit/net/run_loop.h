#pragma once

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <functional>

namespace weir::net {

// Runs `io` in 10 ms slices until `done` or `limit`; false on the limit. For tests of the
// Poller's clients, which complete from the loop and never inside the call that started them.
inline bool run_until(boost::asio::io_context& io, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(std::chrono::milliseconds(10));
  }
  return true;
}

} // namespace weir::net
