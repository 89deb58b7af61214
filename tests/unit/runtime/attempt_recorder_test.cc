// What one attempt adds to the worker's cells, what it reports for fast abort and outlier
// ejection (upstream/outlier_runs.h's rule, README's table), and the access log line.
#include "weir/runtime/access_line.h"
#include "weir/runtime/attempt_recorder.h"
#include "weir/upstream/outlier_runs.h"

#include <gtest/gtest.h>

namespace weir::runtime {
namespace {

using Clock = AttemptRecorder::Clock;
using Report = AttemptRecorder::FastAbortReport;

struct Cells {
  metrics::BackendCells backend;
  metrics::EndpointCells endpoint;
  Snapshot::Route route;
  Snapshot::Service service;
  Clock::time_point t0 = Clock::time_point() + std::chrono::seconds(100);

  AttemptRecorder::Reports attempt(int status, bool local = false,
                                   std::optional<metrics::UpstreamFailure> failure = {}) {
    AttemptRecorder r;
    r.begin(&backend, &endpoint, t0);
    EXPECT_EQ(endpoint.active.get(), 1u);
    if (failure) r.fail(*failure);
    AttemptRecorder::Facts f;
    f.status = status;
    f.local = local;
    f.bytes_in = 10;
    f.bytes_out = 20;
    f.now = t0 + std::chrono::milliseconds(5);
    f.route = &route;
    f.service = &service;
    AttemptRecorder::Reports out = r.end(f);
    EXPECT_EQ(endpoint.active.get(), 0u);
    EXPECT_FALSE(r.counting());
    return out;
  }
};

TEST(AttemptRecorder, CountsByWhoCausedIt) {
  Cells c;
  c.attempt(200);
  c.attempt(404);
  c.attempt(0); // the client went away
  c.attempt(503);
  c.attempt(503, true); // weir's own 503 (the queue): not the version's error
  c.attempt(0, false, metrics::UpstreamFailure::reset);
  EXPECT_EQ(c.backend.requests.get(), 6u);
  EXPECT_EQ(c.backend.upstream_errors.get(), 2u);
  EXPECT_EQ(c.backend.client_errors.get(), 2u);
  EXPECT_EQ(c.backend.bytes_in.get(), 60u);
  EXPECT_EQ(c.backend.bytes_out.get(), 120u);
  EXPECT_EQ(c.endpoint.status[1].get(), 1u);
  EXPECT_EQ(c.endpoint.status[3].get(), 1u);
  EXPECT_EQ(c.endpoint.status[4].get(), 2u);
  EXPECT_EQ(c.endpoint.failures[static_cast<size_t>(metrics::UpstreamFailure::reset)].get(), 1u);
  EXPECT_EQ(c.backend.total.count(), 6u);
}

TEST(AttemptRecorder, ForcedAttemptsAreCountedApart) {
  Cells c;
  AttemptRecorder r;
  r.set_forced(true);
  r.begin(&c.backend, &c.endpoint, c.t0);
  AttemptRecorder::Facts f;
  f.status = 500;
  f.route = &c.route;
  f.service = &c.service;
  c.route.fast_abort_errors = 1;
  AttemptRecorder::Reports rep = r.end(f);
  EXPECT_EQ(c.backend.forced_requests.get(), 1u);
  EXPECT_EQ(c.backend.requests.get(), 0u);
  EXPECT_EQ(c.backend.upstream_errors.get(), 0u);
  EXPECT_EQ(c.endpoint.status[4].get(), 1u);
  EXPECT_EQ(rep.fast_abort, Report::none);
  EXPECT_FALSE(rep.eject);
}

TEST(AttemptRecorder, UnassignedAttemptCountsNothing) {
  Cells c;
  AttemptRecorder r;
  r.begin(&c.backend, &c.endpoint, c.t0);
  r.unassign();
  EXPECT_EQ(c.endpoint.active.get(), 0u);
  AttemptRecorder::Facts f;
  f.status = 200;
  r.end(f);
  EXPECT_EQ(c.backend.requests.get(), 0u);
}

TEST(AttemptRecorder, FastAbortReportsErrorsAndTheSuccessThatEndsTheRun) {
  Cells c;
  EXPECT_EQ(c.attempt(500).fast_abort, Report::none); // no rollout running
  c.route.fast_abort_errors = 3;
  c.route.rollout_epoch = 2;
  EXPECT_EQ(c.attempt(200).fast_abort, Report::none); // no run to end
  EXPECT_EQ(c.attempt(502).fast_abort, Report::error);
  EXPECT_EQ(c.attempt(0, false, metrics::UpstreamFailure::connect_refused).fast_abort,
            Report::error);
  EXPECT_EQ(c.backend.fast_abort_run, 2u);
  EXPECT_EQ(c.attempt(404).fast_abort, Report::run_ended);
  EXPECT_EQ(c.attempt(200).fast_abort, Report::none);
  EXPECT_EQ(c.attempt(500).fast_abort, Report::error);
  // An older epoch's request counts for nothing; a newer epoch starts the run anew.
  c.route.rollout_epoch = 1;
  EXPECT_EQ(c.attempt(500).fast_abort, Report::none);
  c.route.rollout_epoch = 3;
  EXPECT_EQ(c.attempt(0).fast_abort, Report::none); // status 0 ends no run
  EXPECT_EQ(c.backend.fast_abort_run, 0u);
  EXPECT_EQ(c.backend.fast_abort_epoch, 3u);
}

TEST(AttemptRecorder, OutlierEjectionAfterTheRun) {
  Cells c;
  c.service.outlier.consecutive_failures = 3;
  EXPECT_FALSE(c.attempt(500).eject);
  EXPECT_FALSE(c.attempt(0, false, metrics::UpstreamFailure::reset).eject);
  EXPECT_TRUE(c.attempt(503).eject);
  EXPECT_EQ(c.endpoint.consecutive_failures, 0u); // the run starts again after a report
}

// A retry on the upstream's status passes kCount, which names no failure: it must index no
// failure counter (failures[kCount] is the next field, the active gauge) and make no gateway
// failure of a 500.
TEST(AttemptRecorder, KCountIsNoFailure) {
  Cells c;
  c.service.outlier.consecutive_failures = 100;
  c.service.outlier.consecutive_gateway_failures = 100;
  c.attempt(500, false, metrics::UpstreamFailure::kCount);
  EXPECT_EQ(c.endpoint.active.get(), 0u);
  for (const auto& f : c.endpoint.failures)
    EXPECT_EQ(f.get(), 0u);
  EXPECT_EQ(c.endpoint.consecutive_failures, 1u);
  EXPECT_EQ(c.endpoint.consecutive_gateway_failures, 0u) << "a 500 counted as a gateway failure";
  EXPECT_EQ(c.backend.upstream_errors.get(), 1u); // still the version's error
}

// A failure noted after the attempt was counted (a late give-up) is no later attempt's: the next
// request on the same recorder (the same keep-alive connection) starts clean.
TEST(AttemptRecorder, ALateFailureIsNotChargedToTheNextAttempt) {
  Cells c;
  c.service.outlier.consecutive_failures = 100;
  c.service.outlier.consecutive_gateway_failures = 100;
  AttemptRecorder r;
  AttemptRecorder::Facts f;
  f.route = &c.route;
  f.service = &c.service;
  f.now = c.t0;
  f.status = 200;
  r.begin(&c.backend, &c.endpoint, c.t0);
  r.end(f);
  r.fail(metrics::UpstreamFailure::reset); // after end(): not counting
  r.begin(&c.backend, &c.endpoint, c.t0);
  r.end(f);
  EXPECT_EQ(c.backend.upstream_errors.get(), 0u);
  EXPECT_EQ(c.endpoint.failures[static_cast<size_t>(metrics::UpstreamFailure::reset)].get(), 0u);
  EXPECT_EQ(c.endpoint.consecutive_failures, 0u);

  // Nor a failure noted after an unassign, nor a first byte of an attempt counted before.
  r.begin(&c.backend, &c.endpoint, c.t0);
  r.unassign();
  r.fail(metrics::UpstreamFailure::connect_refused);
  r.begin(&c.backend, &c.endpoint, c.t0);
  r.end(f);
  EXPECT_EQ(c.backend.upstream_errors.get(), 0u);
  EXPECT_EQ(
      c.endpoint.failures[static_cast<size_t>(metrics::UpstreamFailure::connect_refused)].get(),
      0u);
  EXPECT_EQ(c.backend.requests.get(), 3u);
}

// README's table, row by row: how each outcome moves the two runs.
TEST(OutlierRuns, ReadmeTable) {
  struct Row {
    const char* name;
    upstream::AttemptOutcome outcome;
    int failures;         // +1, 0 = ends the run, -1 = no change
    int gateway_failures; // same
  };
  const Row rows[] = {
      {"connect refused", {0, false, true}, 1, 1},
      {"response timed out after a 504 status", {504, false, true}, 1, 1},
      {"502 from the endpoint", {502, false, false}, 1, 1},
      {"503", {503, false, false}, 1, 1},
      {"504", {504, false, false}, 1, 1},
      {"500", {500, false, false}, 1, 0},
      {"501", {501, false, false}, 1, 0},
      {"599", {599, false, false}, 1, 0},
      {"200", {200, false, false}, 0, 0},
      {"101", {101, false, false}, 0, 0},
      {"404", {404, false, false}, 0, 0},
      {"weir's own 503", {503, true, false}, 0, -1},
      {"weir's own 408", {408, true, false}, 0, -1},
      {"no status at all", {0, false, false}, -1, -1},
  };
  config::OutlierDetection od;
  od.consecutive_failures = 100;
  od.consecutive_gateway_failures = 100;
  for (const Row& r : rows) {
    SCOPED_TRACE(r.name);
    uint32_t f = 5, g = 5;
    EXPECT_FALSE(upstream::note_attempt(f, g, od, r.outcome));
    EXPECT_EQ(f, r.failures == 1 ? 6u : r.failures == 0 ? 0u : 5u);
    EXPECT_EQ(g, r.gateway_failures == 1 ? 6u : r.gateway_failures == 0 ? 0u : 5u);
  }
}

TEST(OutlierRuns, EitherRunEjectsAndBothStartAgain) {
  config::OutlierDetection od;
  od.consecutive_failures = 5;
  od.consecutive_gateway_failures = 2;
  uint32_t f = 0, g = 0;
  EXPECT_FALSE(upstream::note_attempt(f, g, od, {502, false, false}));
  EXPECT_TRUE(upstream::note_attempt(f, g, od, {0, false, true}));
  EXPECT_EQ(f, 0u);
  EXPECT_EQ(g, 0u);
  od.consecutive_gateway_failures = 0; // off
  for (int i = 0; i < 4; ++i)
    EXPECT_FALSE(upstream::note_attempt(f, g, od, {500, false, false}));
  EXPECT_TRUE(upstream::note_attempt(f, g, od, {500, false, false}));
  od.enabled = false;
  for (int i = 0; i < 10; ++i)
    EXPECT_FALSE(upstream::note_attempt(f, g, od, {0, false, true}));
  EXPECT_EQ(f, 0u); // a disabled detector does not count
}

TEST(AccessLine, RoutedUnroutedAndEscaped) {
  AccessLine l;
  l.time = "2026-11-30T04:00:00.000Z";
  l.method = "GET";
  l.target = "/a\"b";
  l.status = 404;
  l.bytes_in = 12;
  l.bytes_out = 34;
  l.duration_ns = 1'500'000;
  std::string out;
  append_access_line(l, out);
  EXPECT_EQ(out, "{\"time\":\"2026-11-30T04:00:00.000Z\",\"route\":null,\"backend\":null,"
                 "\"endpoint\":null,\"method\":\"GET\",\"path\":\"/a\\\"b\",\"status\":404,"
                 "\"bytes_in\":12,\"bytes_out\":34,\"duration_ms\":1.500}\n");
  l.routed = true;
  l.route = "app";
  out.clear();
  append_access_line(l, out);
  EXPECT_NE(out.find("\"route\":\"app\",\"backend\":null,\"endpoint\":null,"), std::string::npos);
  l.has_backend = true;
  l.backend = "v1/app";
  l.endpoint = "127.0.0.1:8080";
  out.clear();
  append_access_line(l, out);
  EXPECT_NE(out.find("\"route\":\"app\",\"backend\":\"v1/app\",\"endpoint\":\"127.0.0.1:8080\","),
            std::string::npos);
}

TEST(AccessLine, DurationAsPrintfWouldWriteIt) {
  for (uint64_t ns :
       {0ull, 499ull, 500ull, 1'234'567ull, 999'999'499ull, 999'999'500ull, 12'345'678'901ull}) {
    SCOPED_TRACE(ns);
    AccessLine l;
    l.duration_ns = ns;
    l.status = 200;
    std::string out;
    append_access_line(l, out);
    char want[64];
    std::snprintf(want, sizeof want, "\"duration_ms\":%.3f}\n", static_cast<double>(ns) / 1e6);
    EXPECT_NE(out.find(want), std::string::npos) << out << " vs " << want;
  }
}

} // namespace
} // namespace weir::runtime
