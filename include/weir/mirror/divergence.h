#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace weir::mirror {

// One mirrored request whose answer differed from the one the client got.
struct Divergence {
  std::string method;
  std::string path; // as requested, query included, at most 256 bytes
  std::string what; // e.g. "status 2xx vs 5xx", "header content-type", "json field price"
  std::chrono::system_clock::time_point at;
};

// Cumulative counts of one route's shadow comparisons. `compared`/`diverged`: the mirror
// service's answers against the client's; `noise_*`: a second stable endpoint's answers
// against the client's (what differs between two copies of the same version).
struct DivergenceCounts {
  uint64_t compared = 0;
  uint64_t diverged = 0;
  uint64_t noise_compared = 0;
  uint64_t noise_diverged = 0;
};

// The tally of every route's shadow comparisons: the mirror sender adds to it (its own thread),
// the control thread reads it (rollout analysis takes differences of counts between intervals,
// `rollout status` shows the recent divergences). Thread-safe: one mutex, touched once per
// compared pair, never on a client's request path.
class DivergenceBook {
public:
  static constexpr size_t kRecent = 20;

  void add(std::string_view route, bool noise, bool diverged, Divergence sample = {}) {
    std::lock_guard lock(mutex_);
    Entry& e = entries_[std::string(route)];
    (noise ? e.counts.noise_compared : e.counts.compared)++;
    if (!diverged) return;
    (noise ? e.counts.noise_diverged : e.counts.diverged)++;
    if (noise) return;
    e.recent.push_back(std::move(sample));
    if (e.recent.size() > kRecent) e.recent.pop_front();
  }
  DivergenceCounts counts(std::string_view route) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(route);
    return it == entries_.end() ? DivergenceCounts{} : it->second.counts;
  }
  // Newest last.
  std::vector<Divergence> recent(std::string_view route) const {
    std::lock_guard lock(mutex_);
    auto it = entries_.find(route);
    if (it == entries_.end()) return {};
    return {it->second.recent.begin(), it->second.recent.end()};
  }

private:
  struct Entry {
    DivergenceCounts counts;
    std::deque<Divergence> recent;
  };
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> entries_;
};

} // namespace weir::mirror
