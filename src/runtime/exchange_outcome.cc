// What an upstream exchange came to, once it ends: the version's and the endpoint's metrics, the
// outlier and fast-abort reports, a retry when it is safe (and the per-try timeout that may
// cause one), and the access log line. Worker thread only, like the rest of ClientConnection.
#include "weir/base/buffer_view.h"
#include "weir/base/clock.h"
#include "weir/base/json.h"
#include "weir/metrics/cells.h"
#include "weir/runtime/client_connection.h"
#include "weir/runtime/worker.h"

#include <cstdio>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

void ClientConnection::record_attempt(int status, bool local) {
  end_retry_in_flight();
  if (!cells_) return;
  bool upstream_error = failure_.has_value() || (status >= 500 && !local);
  if (forced_) {
    // A forced request says nothing about how the version does with real traffic: it is counted
    // apart and feeds neither the canary analysis nor fast abort.
    cells_->forced_requests.add();
    cells_ = nullptr;
    if (ep_cells_) {
      ep_cells_->active.sub();
      if (status >= 100 && status < 600) ep_cells_->status[status / 100 - 1].add();
      if (failure_) ep_cells_->failures[static_cast<size_t>(*failure_)].add();
    }
    ep_cells_ = nullptr;
    failure_.reset();
    ttfb_ns_ = 0;
    return;
  }
  // Only what the upstream caused counts against the version; the client's own mistakes and
  // disconnects are counted apart.
  cells_->requests.add();
  if (upstream_error)
    cells_->upstream_errors.add();
  else if ((status >= 400 && status < 500) || status == 0)
    cells_->client_errors.add();
  if (snap_ && route_ >= 0 && backend_ >= 0) {
    // Rollout fast abort: every error of a rollout's version, and the success that ends this
    // worker's run of them, goes to the control thread, which adds up the workers' runs
    // (rollout/fast_abort.h). Errors are the exception, so this posts rarely. A request that ran
    // on a snapshot of an older rollout epoch counts for nothing.
    const Snapshot::Route& r = snap_->routes[static_cast<size_t>(route_)];
    // Any backend of the route: the canary may be one named at `rollout start` rather than the
    // plan's; the manager judges only the running rollout's canary.
    if (r.fast_abort_errors > 0 && r.rollout_epoch >= cells_->fast_abort_epoch) {
      if (r.rollout_epoch != cells_->fast_abort_epoch) {
        cells_->fast_abort_epoch = r.rollout_epoch;
        cells_->fast_abort_run = 0;
      }
      const std::string& service =
          snap_->services[r.backends[static_cast<size_t>(backend_)].service].id;
      if (upstream_error) {
        ++cells_->fast_abort_run;
        worker_.report_fast_abort(r.name, service, r.rollout_epoch, true);
      } else if (status != 0 && cells_->fast_abort_run > 0) {
        cells_->fast_abort_run = 0;
        worker_.report_fast_abort(r.name, service, r.rollout_epoch, false);
      }
    }
  }
  cells_->bytes_in.add(bytes_in_);
  cells_->bytes_out.add(bytes_out_);
  auto now = Clock::now();
  cells_->total.record(static_cast<uint64_t>((now - attempt_started_).count()));
  if (ttfb_ns_) cells_->ttfb.record(ttfb_ns_);
  if (ep_cells_ && snap_ && backend_ >= 0) {
    // Passive outlier detection: this worker's run of failures for the endpoint; the control
    // thread decides on ejection (and its cap) for all workers.
    const auto& svc = snap_->services[snap_->routes[static_cast<size_t>(route_)]
                                          .backends[static_cast<size_t>(backend_)]
                                          .service];
    // Two runs: consecutive_failures counts every upstream error (any 5xx from the endpoint,
    // every failure); consecutive_gateway_failures only what says the endpoint is unreachable or
    // stuck (502/503/504 from it, every failure, a per-try timeout among them), so an
    // application's 500s do not eject with it. A run is ended by an answer of the endpoint that
    // is not in it; weir's own answers (local, no failure) leave both runs as they are.
    bool gateway_failure =
        failure_.has_value() || (!local && (status == 502 || status == 503 || status == 504));
    bool eject = false;
    if (upstream_error) {
      eject = svc.outlier.enabled &&
              ++ep_cells_->consecutive_failures >= svc.outlier.consecutive_failures;
    } else if (status != 0) {
      ep_cells_->consecutive_failures = 0;
    }
    if (gateway_failure) {
      eject =
          (svc.outlier.enabled && svc.outlier.consecutive_gateway_failures > 0 &&
           ++ep_cells_->consecutive_gateway_failures >= svc.outlier.consecutive_gateway_failures) ||
          eject;
    } else if (status != 0 && !local) {
      ep_cells_->consecutive_gateway_failures = 0;
    }
    if (eject) {
      ep_cells_->consecutive_failures = 0;
      ep_cells_->consecutive_gateway_failures = 0;
      if (endpoint_ < svc.endpoints.size())
        worker_.report_outlier(svc.id, svc.endpoints[endpoint_].key);
    }
  }
  if (ep_cells_) {
    ep_cells_->active.sub();
    if (status >= 100 && status < 600) ep_cells_->status[status / 100 - 1].add();
    if (failure_) ep_cells_->failures[static_cast<size_t>(*failure_)].add();
  }
  cells_ = nullptr;
  ep_cells_ = nullptr;
  failure_.reset();
  ttfb_ns_ = 0;
}

void ClientConnection::finish_request() {
  if (!request_open_) return;
  request_open_ = false;
  record_attempt(status_, local_status_);
  if (status_ != 0 || route_ >= 0) log_access();
  local_status_ = false;
  attempts_ = 0;
}

namespace {
bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}
} // namespace

bool ClientConnection::retry(metrics::UpstreamFailure cause, int upstream_status) {
  if (!snap_ || route_ < 0 || backend_ < 0 || closed_) return false;
  // The request's snapshot stays alive here even if the retry moves to a newer one.
  std::shared_ptr<const Snapshot> started_with = snap_;
  const config::Retries rr = snap_->routes[static_cast<size_t>(route_)].retries;
  if (rr.attempts == 0 || attempts_ >= rr.attempts) return false;
  // Never once a byte of the response reached the client.
  if (response_started_ || client_writing_) return false;
  bool wanted = false;
  switch (cause) {
  case metrics::UpstreamFailure::connect_refused:
  case metrics::UpstreamFailure::connect_timeout:
    wanted = rr.on_connect_failure;
    break;
  case metrics::UpstreamFailure::reset:
    wanted = rr.on_reset;
    break;
  case metrics::UpstreamFailure::response_timeout:
  case metrics::UpstreamFailure::bad_response:
  case metrics::UpstreamFailure::kCount: {
    int status = upstream_status
                     ? upstream_status
                     : (cause == metrics::UpstreamFailure::response_timeout ? 504 : 502);
    for (int code : rr.on_status)
      wanted = wanted || code == status;
    break;
  }
  }
  if (!wanted) return false;
  // The upstream never saw the request when nothing was written yet: any method may go again,
  // and the body is still unread on the client side. Otherwise only idempotent requests whose
  // whole body weir still holds are replayed.
  bool nothing_sent = !request_sent_;
  if (!nothing_sent) {
    const http::Head& head = s_->request.head();
    if (!idempotent(head.method_name) || !request_done_) return false;
    if (request_has_body_ && (head.framing != http::Framing::length ||
                              head.content_length > rr.max_body_bytes || in_buffer_reset_))
      return false;
  }
  // The failed attempt is over whatever happens next. Below min_concurrency retries in flight
  // on this worker for the route, a retry needs no token (Envoy's min_retry_concurrency): a
  // handful of retries at a time cannot amplify an outage, and a drained budget must not turn
  // the few requests caught by a dying endpoint into errors.
  end_retry_in_flight();
  uint32_t& in_flight = worker_.retries_in_flight(snap_->routes[static_cast<size_t>(route_)].name);
  if (in_flight >= rr.min_concurrency && !worker_.take_retry_token(rr.budget_percent)) return false;
  ++attempts_;
  // The failed attempt counts against its version and endpoint, even if the client never
  // sees it: a canary masked by retries must still show its errors.
  failure_ = cause;
  record_attempt(upstream_status, false);
  drop_upstream();

  // A live change (a weight step, an abort) may have published a new snapshot meanwhile: the
  // retry follows it, found by names, since indices may differ.
  std::string skip_key;
  {
    const Snapshot::Service& failed_svc =
        snap_->services[snap_->routes[static_cast<size_t>(route_)]
                            .backends[static_cast<size_t>(backend_)]
                            .service];
    if (endpoint_ < failed_svc.endpoints.size()) skip_key = failed_svc.endpoints[endpoint_].key;
    if (snap_ != worker_.snapshot()) {
      std::shared_ptr<const Snapshot> current = worker_.snapshot();
      int r = current->route_index(snap_->routes[static_cast<size_t>(route_)].name);
      if (r < 0) return false;
      int b = -1;
      const auto& backends = current->routes[static_cast<size_t>(r)].backends;
      for (size_t i = 0; i < backends.size(); ++i)
        if (current->services[backends[i].service].id == failed_svc.id) b = static_cast<int>(i);
      if (b < 0) return false;
      snap_ = std::move(current);
      route_ = r;
      backend_ = b;
    }
  }
  const Snapshot::Route& route = snap_->routes[static_cast<size_t>(route_)];
  int backend = backend_;
  int skip_endpoint = -1;
  {
    const auto& eps =
        snap_->services[route.backends[static_cast<size_t>(backend_)].service].endpoints;
    for (size_t i = 0; i < eps.size(); ++i)
      if (eps[i].key == skip_key) skip_endpoint = static_cast<int>(i);
  }
  if (rr.retry_other_backend) {
    // The best other version: the highest live weight among those that can take requests.
    int best = -1;
    for (size_t i = 0; i < route.backends.size(); ++i) {
      if (static_cast<int>(i) == backend_ || route.backends[i].effective_weight == 0) continue;
      if (best < 0 || route.backends[i].effective_weight >
                          route.backends[static_cast<size_t>(best)].effective_weight)
        best = static_cast<int>(i);
    }
    if (best >= 0) backend = best;
  }
  const Snapshot::Backend& b = route.backends[static_cast<size_t>(backend)];
  upstream::Pool* pool = worker_.pick_endpoint(
      b.service, endpoint_, backend == backend_ ? static_cast<int>(skip_endpoint) : -1);
  if (!pool) return false;
  backend_ = backend;
  cells_ = worker_.backend_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_));
  ep_cells_ = worker_.endpoint_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_),
                                     endpoint_);
  ep_cells_->active.add();
  cells_->retries.add();
  retry_in_flight_ = &in_flight;
  ++in_flight;
  attempt_started_ = Clock::now();
  resend_ = !nothing_sent;
  request_sent_ = false;
  status_ = 0;
  if (attach_upstream(pool, false)) start_sending();
  return true;
}

void ClientConnection::resend_request() {
  // The whole request is in hand: the rewritten head and, for a replayable body, its bytes
  // still in the read buffer.
  resend_ = false;
  request_head_queued_ = false;
  auto& iov = s_->request_iov;
  iov.clear();
  iov.emplace_back(asio::buffer(s_->request_out));
  const http::Head& head = s_->request.head();
  if (request_has_body_ && head.framing == http::Framing::length)
    iov.emplace_back(s_->in.get() + body_offset_, static_cast<size_t>(head.content_length));
  request_sent_ = true;
  upstream_writing_ = true;
  up_->write(BufferView(iov));
}

void ClientConnection::arm_try_timer() {
  disarm_try_timer();
  const config::Duration per_try =
      snap_->routes[static_cast<size_t>(route_)].retries.per_try_timeout;
  if (per_try.count() <= 0) return;
  try_armed_ = true;
  ++pending_;
  try_timer_.expires_after(per_try);
  try_timer_.async_wait([this, seq = try_seq_](const error_code& ec) {
    bool closed = closed_;
    finish_op();
    if (closed || ec || seq != try_seq_ || !try_armed_) return;
    on_try_timeout();
  });
}

void ClientConnection::disarm_try_timer() {
  if (!try_armed_) return;
  try_armed_ = false;
  ++try_seq_; // an expiry already queued finds another number and does nothing
  try_timer_.cancel();
}

void ClientConnection::on_try_timeout() {
  try_armed_ = false;
  ++try_seq_;
  if (!up_ || phase_ != Phase::exchange || response_started_) return;
  // The attempt is abandoned: its connection closes (it may still answer, out of step) and the
  // endpoint is charged with a response timeout. retry() decides whether another attempt is
  // safe; otherwise the client gets 504.
  fail_upstream(504, "upstream attempt timed out (retries.per_try_timeout)",
                metrics::UpstreamFailure::response_timeout);
}

void ClientConnection::end_retry_in_flight() {
  if (!retry_in_flight_) return;
  --*retry_in_flight_;
  retry_in_flight_ = nullptr;
}

void ClientConnection::log_access() {
  AccessLogBuffer& log = worker_.access_log();
  if (!log.enabled() || !s_) {
    status_ = 0;
    return;
  }
  std::string& out = log.line_buffer();
  char stamp[32];
  format_utc(std::chrono::system_clock::now(), stamp);
  out.append("{\"time\":\"").append(stamp).append("\",\"route\":");
  const Snapshot* snap = snap_.get();
  if (snap && route_ >= 0) {
    const Snapshot::Route& r = snap->routes[static_cast<size_t>(route_)];
    json::escape_to(out, r.name);
    if (backend_ >= 0) {
      const Snapshot::Service& svc =
          snap->services[r.backends[static_cast<size_t>(backend_)].service];
      out.append(",\"backend\":");
      json::escape_to(out, svc.id);
      out.append(",\"endpoint\":");
      json::escape_to(out, endpoint_ < svc.endpoints.size() ? svc.endpoints[endpoint_].key : "");
    } else {
      out.append(",\"backend\":null,\"endpoint\":null");
    }
  } else {
    out.append("null,\"backend\":null,\"endpoint\":null");
  }
  out.append(",\"method\":");
  json::escape_to(out, s_->logged_method);
  out.append(",\"path\":");
  json::escape_to(out, s_->logged_target);
  char num[96];
  double duration_ms =
      started_.time_since_epoch().count() == 0
          ? 0.0
          : std::chrono::duration<double, std::milli>(Clock::now() - started_).count();
  std::snprintf(num, sizeof num,
                ",\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,\"duration_ms\":%.3f}\n",
                status_, static_cast<unsigned long long>(bytes_in_),
                static_cast<unsigned long long>(bytes_out_), duration_ms);
  out.append(num);
  log.flush(false);
  status_ = 0;
}

} // namespace weir::runtime
