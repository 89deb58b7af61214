#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace weir::route {

// Weighted choice among a route's backends by smooth weighted round robin (as nginx).
//
// Deterministic; over any window of sum(weights) consecutive picks each backend is chosen
// exactly `weight` times, and picks are spread out (weights 90/10 never give the light backend
// twice in a row). A weight of 0 is never picked.
//
// Per-worker state: one instance per worker and route, touched only on that worker's thread.
// Not thread-safe. pick() never allocates.
class Split {
public:
  Split() = default;
  explicit Split(std::span<const uint32_t> weights);

  // Index of the chosen backend, or -1 when every weight is 0 (or there are no backends).
  int pick();

  // Replace the weights and reset the rotation.
  void reset(std::span<const uint32_t> weights);

  size_t size() const { return slots_.size(); }

private:
  // Weights up to UINT32_MAX over many backends overflow 32 bits, hence int64 throughout.
  struct Slot {
    int64_t weight = 0;
    int64_t current = 0;
  };

  std::vector<Slot> slots_;
  int64_t total_ = 0;
};

} // namespace weir::route
