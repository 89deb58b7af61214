#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <unordered_map>

namespace weir::upstream {

// A worker's retry budget (Finagle's RetryBudget), as README's retries section documents it:
// every request of a route with retries deposits `routes[].retries.budget` percent of a token,
// every retry takes a whole one, and the balance is capped, so retries stay a bounded share of
// requests even in a total outage. One bucket per worker, for all its routes; retries in flight
// are counted per route (by name, stable across reloads, so a request that started on an older
// snapshot gives back what it took): below the route's min_concurrency the budget does not apply
// (Envoy's min_retry_concurrency). Worker thread only.
class RetryBudget {
public:
  static constexpr uint64_t kMaxTokens = 100 * 100;    // in hundredths: 100 retries banked
  static constexpr uint64_t kInitialTokens = 10 * 100; // a few retries are allowed from start

  void deposit(uint32_t percent) { tokens_ = std::min(kMaxTokens, tokens_ + percent); }
  bool take() {
    if (tokens_ < 100) return false;
    tokens_ -= 100;
    return true;
  }
  // A retry may start: below `min_concurrency` retries of the route in flight it needs no token.
  bool allow(uint32_t in_flight, uint32_t min_concurrency) {
    return in_flight < min_concurrency || take();
  }
  uint64_t tokens() const { return tokens_; }
  // The route's retries in flight on this worker; the reference stays valid (nodes are never
  // erased, and routes are few).
  uint32_t& in_flight(const std::string& route) { return in_flight_[route]; }

private:
  uint64_t tokens_ = kInitialTokens;
  std::unordered_map<std::string, uint32_t> in_flight_;
};

} // namespace weir::upstream
