#include "weir/runtime/attempt_recorder.h"

#include "weir/upstream/outlier_runs.h"

namespace weir::runtime {

void AttemptRecorder::begin(metrics::BackendCells* cells, metrics::EndpointCells* endpoint,
                            Clock::time_point now) {
  cells_ = cells;
  endpoint_ = endpoint;
  started_ = now;
  failure_.reset();
  ttfb_ns_ = 0;
  if (endpoint_) endpoint_->active.add();
}

void AttemptRecorder::unassign() {
  if (endpoint_) endpoint_->active.sub();
  cells_ = nullptr;
  endpoint_ = nullptr;
  failure_.reset();
  ttfb_ns_ = 0;
}

AttemptRecorder::Reports AttemptRecorder::end(const Facts& f) {
  Reports reports;
  if (!cells_) return reports;
  bool upstream_error = failure_.has_value() || (f.status >= 500 && !f.local);
  if (forced_) {
    cells_->forced_requests.add();
  } else {
    // Only what the upstream caused counts against the version; the client's own mistakes and
    // disconnects are counted apart.
    cells_->requests.add();
    if (upstream_error)
      cells_->upstream_errors.add();
    else if ((f.status >= 400 && f.status < 500) || f.status == 0)
      cells_->client_errors.add();
    // Rollout fast abort: every error of a rollout's version, and the success that ends this
    // worker's run of them, goes to the control thread, which adds up the workers' runs
    // (rollout/fast_abort.h). Errors are the exception, so this reports rarely. A request that
    // ran on a snapshot of an older rollout epoch counts for nothing. Any backend of the route:
    // the canary may be one named at `rollout start`; the manager judges only the running one.
    const Snapshot::Route* r = f.route;
    if (r && r->fast_abort_errors > 0 && r->rollout_epoch >= cells_->fast_abort_epoch) {
      if (r->rollout_epoch != cells_->fast_abort_epoch) {
        cells_->fast_abort_epoch = r->rollout_epoch;
        cells_->fast_abort_run = 0;
      }
      if (upstream_error) {
        ++cells_->fast_abort_run;
        reports.fast_abort = FastAbortReport::error;
      } else if (f.status != 0 && cells_->fast_abort_run > 0) {
        cells_->fast_abort_run = 0;
        reports.fast_abort = FastAbortReport::run_ended;
      }
    }
    cells_->bytes_in.add(f.bytes_in);
    cells_->bytes_out.add(f.bytes_out);
    cells_->total.record(static_cast<uint64_t>((f.now - started_).count()));
    if (ttfb_ns_) cells_->ttfb.record(ttfb_ns_);
    if (endpoint_ && f.service)
      reports.eject = upstream::note_attempt(
          endpoint_->consecutive_failures, endpoint_->consecutive_gateway_failures,
          f.service->outlier, {f.status, f.local, failure_.has_value()});
  }
  if (endpoint_) {
    endpoint_->active.sub();
    if (f.status >= 100 && f.status < 600) endpoint_->status[f.status / 100 - 1].add();
    if (failure_ && *failure_ < metrics::UpstreamFailure::kCount)
      endpoint_->failures[static_cast<size_t>(*failure_)].add();
  }
  cells_ = nullptr;
  endpoint_ = nullptr;
  failure_.reset();
  ttfb_ns_ = 0;
  return reports;
}

} // namespace weir::runtime
