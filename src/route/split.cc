#include "weir/route/split.h"

namespace weir::route {

Split::Split(std::span<const uint32_t> weights) {
  reset(weights);
}

void Split::reset(std::span<const uint32_t> weights) {
  slots_.assign(weights.size(), Slot{});
  total_ = 0;
  for (size_t i = 0; i < weights.size(); ++i) {
    slots_[i].weight = weights[i];
    total_ += weights[i];
  }
}

// nginx's smooth weighted round robin: every pick adds each weight to its slot's credit, takes
// the slot with the most credit and charges it the total. Credits always sum to zero after a
// pick, so after sum(weights) picks every slot has been chosen exactly `weight` times and the
// state is back at zero: the sequence is periodic, exact over any window of that length.
// |current| stays below total_ (< 2^63 for any realistic backend count).
int Split::pick() {
  if (total_ == 0) return -1;
  int best = -1;
  int64_t best_current = 0;
  for (size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.weight == 0) continue;
    s.current += s.weight;
    if (best < 0 || s.current > best_current) {
      best = static_cast<int>(i);
      best_current = s.current;
    }
  }
  slots_[static_cast<size_t>(best)].current -= total_;
  return best;
}

} // namespace weir::route
