#pragma once

#include "weir/metrics/cells.h"
#include "weir/runtime/snapshot.h"

#include <chrono>
#include <cstdint>
#include <optional>

namespace weir::runtime {

// Counts one upstream attempt, once it ends, in the worker's metric cells of its version and
// endpoint, and says what the control thread must hear of it: a fast-abort report (every error
// of a rollout's version, and the success that ends the worker's run of them) and an outlier
// report (upstream::note_attempt). The caller posts the reports; the recorder touches nothing but
// the cells, so tests give it cells and check the counts. Worker thread only (the cells are the
// worker's, single-writer).
class AttemptRecorder {
public:
  using Clock = std::chrono::steady_clock;

  // The attempt is the version's and the endpoint's from now on (its active gauge goes up).
  // A new attempt starts with no failure and no first byte, whatever came before it.
  void begin(metrics::BackendCells* cells, metrics::EndpointCells* endpoint, Clock::time_point now);
  // The request was refused before any byte of it left weir: it is no backend's request.
  void unassign();
  // An override forced the version: the attempt is counted apart and feeds neither the canary
  // analysis nor fast abort.
  void set_forced(bool forced) { forced_ = forced; }
  bool forced() const { return forced_; }
  // Why the attempt failed (kept until end()). Nothing once the attempt was counted or
  // unassigned (a late failure is no later request's), and nothing for kCount, which names no
  // failure (a retry on the upstream's status).
  void fail(metrics::UpstreamFailure f) {
    if (cells_ && f < metrics::UpstreamFailure::kCount) failure_ = f;
  }
  // The first response byte of the attempt arrived (time to first byte, once).
  void first_byte(Clock::time_point now) {
    if (ttfb_ns_ == 0 && cells_) ttfb_ns_ = static_cast<uint64_t>((now - started_).count());
  }
  bool counting() const { return cells_ != nullptr; }
  // The version's cells of the attempt being counted (null when none is).
  metrics::BackendCells* cells() const { return cells_; }
  Clock::time_point started() const { return started_; }

  struct Facts {
    int status = 0;     // what the client got for it (0: nothing)
    bool local = false; // weir's own answer
    uint64_t bytes_in = 0;
    uint64_t bytes_out = 0;
    Clock::time_point now;
    // The route and the attempt's service in the request's snapshot; null when not routed.
    const Snapshot::Route* route = nullptr;
    const Snapshot::Service* service = nullptr;
  };
  enum class FastAbortReport : uint8_t { none, error, run_ended };
  struct Reports {
    FastAbortReport fast_abort = FastAbortReport::none;
    bool eject = false; // report the endpoint as an outlier
  };
  // Counts the attempt (nothing when begin() was not called) and forgets it.
  Reports end(const Facts& facts);

private:
  metrics::BackendCells* cells_ = nullptr;
  metrics::EndpointCells* endpoint_ = nullptr;
  std::optional<metrics::UpstreamFailure> failure_;
  uint64_t ttfb_ns_ = 0;
  Clock::time_point started_;
  bool forced_ = false;
};

} // namespace weir::runtime
