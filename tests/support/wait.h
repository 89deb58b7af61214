#pragma once

#include <chrono>
#include <functional>
#include <thread>

// Waiting on a condition with a deadline: the only way tests synchronise with other processes.
namespace weir::test {

using namespace std::chrono_literals;

// Polls cond every `poll` until it returns true (→ true) or `timeout` passes (→ false). cond is
// evaluated once more at the deadline, so a condition that became true just in time counts.
inline bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds poll = 5ms) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (cond()) return true;
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(poll, deadline - now));
  }
}

} // namespace weir::test
