// What an upstream exchange came to, once it ends: the attempt counted (AttemptRecorder) and its
// reports posted, a retry when it is safe (retry_policy.h decides, upstream::RetryBudget allows)
// and the per-try timeout that may cause one, and the access log line (access_line.h). Worker
// thread only, like the rest of ClientConnection.
#include "weir/base/buffer_view.h"
#include "weir/base/clock.h"
#include "weir/metrics/cells.h"
#include "weir/mirror/tap.h"
#include "weir/runtime/access_line.h"
#include "weir/runtime/client_connection.h"
#include "weir/runtime/retry_policy.h"
#include "weir/runtime/worker.h"

#include <boost/asio/bind_allocator.hpp>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

void ClientConnection::record_attempt(int status, bool local) {
  end_retry_in_flight();
  if (!attempt_.counting()) return;
  AttemptRecorder::Facts f;
  f.status = status;
  f.local = local;
  f.bytes_in = bytes_in_;
  f.bytes_out = bytes_out_;
  f.now = worker_.now();
  const Snapshot::Route* route = nullptr;
  const Snapshot::Service* service = nullptr;
  if (snap_ && route_ >= 0 && backend_ >= 0) {
    route = &snap_->routes[static_cast<size_t>(route_)];
    service = &snap_->services[route->backends[static_cast<size_t>(backend_)].service];
    f.route = route;
    f.service = service;
  }
  AttemptRecorder::Reports reports = attempt_.end(f);
  // The control thread hears of a rollout version's errors (fast abort) and of an endpoint's
  // runs of failures (outlier ejection) by a post; both are rare.
  if (reports.fast_abort != AttemptRecorder::FastAbortReport::none)
    worker_.report_fast_abort(route->name, service->id, route->rollout_epoch,
                              reports.fast_abort == AttemptRecorder::FastAbortReport::error);
  if (reports.eject && endpoint_ < service->endpoints.size())
    worker_.report_outlier(service->id, service->endpoints[endpoint_].key);
}

void ClientConnection::finish_request(uint64_t handed_bytes) {
  if (!request_open_) return;
  request_open_ = false;
  tap_.reset(); // a mirrored request's copy or answer not handed over yet never will be
  // The last write's bytes count as sent: the client may read them before the transport
  // reports the write (a posted completion), and a client that got its whole response and
  // then reads /metrics must find its request counted.
  bytes_out_ += handed_bytes;
  record_attempt(status_, local_status());
  if (status_ != 0 || route_ >= 0) log_access();
  bytes_out_ -= handed_bytes; // the write's completion adds what it wrote
  attempts_ = 0;
}

bool ClientConnection::retry(metrics::UpstreamFailure cause, int upstream_status) {
  if (!snap_ || route_ < 0 || backend_ < 0 || closed()) return false;
  const config::Retries rr = snap_->routes[static_cast<size_t>(route_)].retries;
  const http::Head& head = s_->request.head();
  AttemptFacts facts;
  facts.retries_made = attempts_;
  facts.response_started = response_started_ || client_writing();
  facts.request_sent = request_sent_;
  facts.request_done = request_done();
  facts.body_still_held = !in_buffer_reset_;
  facts.method = head.method_name;
  facts.has_body = request_has_body_;
  facts.framing = head.framing;
  facts.content_length = head.content_length;
  RetryVerdict verdict = decide_retry(rr, cause, upstream_status, facts);
  if (verdict == RetryVerdict::no) return false;
  // The failed attempt no longer counts as a retry in flight, whatever happens next.
  end_retry_in_flight();

  // Where the retry goes is settled before anything of the failed attempt is touched: when
  // there is nowhere to go (a reload removed the route or the service, the endpoint that failed
  // was drained or ejected and it was the only one), the attempt goes on as if no retry had been
  // wanted, its connection and its answer still in hand.
  //
  // A live change (a weight step, an abort) may have published a new snapshot meanwhile: the
  // retry follows it, found by names, since indices may differ.
  SnapshotRef target = snap_;
  int target_route = route_;
  int target_backend = backend_;
  std::string_view skip_key;
  {
    const Snapshot::Service& failed_svc =
        snap_->services[snap_->routes[static_cast<size_t>(route_)]
                            .backends[static_cast<size_t>(backend_)]
                            .service];
    if (endpoint_ < failed_svc.endpoints.size()) skip_key = failed_svc.endpoints[endpoint_].key;
    if (!(snap_ == worker_.snapshot_ref())) {
      target = worker_.snapshot_ref();
      target_route = target->route_index(snap_->routes[static_cast<size_t>(route_)].name);
      if (target_route < 0) return false;
      target_backend = -1;
      const auto& backends = target->routes[static_cast<size_t>(target_route)].backends;
      for (size_t i = 0; i < backends.size(); ++i)
        if (target->services[backends[i].service].id == failed_svc.id)
          target_backend = static_cast<int>(i);
      if (target_backend < 0) return false;
    }
  }
  const Snapshot::Route& route = target->routes[static_cast<size_t>(target_route)];
  int skip_endpoint = -1;
  {
    const auto& eps =
        target->services[route.backends[static_cast<size_t>(target_backend)].service].endpoints;
    for (size_t i = 0; i < eps.size(); ++i)
      if (eps[i].key == skip_key) skip_endpoint = static_cast<int>(i);
  }
  int backend = retry_backend(route, target_backend, rr.retry_other_backend);
  const Snapshot::Backend& b = route.backends[static_cast<size_t>(backend)];
  uint32_t endpoint = endpoint_;
  // Worker::pick_endpoint reads the worker's current snapshot, which is `target`.
  upstream::Pool* pool = worker_.pick_endpoint(
      b.service, endpoint, backend == target_backend ? static_cast<int>(skip_endpoint) : -1);
  if (!pool) return false;
  // Below min_concurrency retries in flight on this worker for the route, a retry needs no
  // token (Envoy's min_retry_concurrency): a handful of retries at a time cannot amplify an
  // outage, and a drained budget must not turn the few requests caught by a dying endpoint into
  // errors.
  upstream::RetryBudget& budget = worker_.retry_budget();
  uint32_t& in_flight = budget.in_flight(route.name);
  if (!budget.allow(in_flight, rr.min_concurrency)) return false;

  // Committed: the failed attempt counts against its version and endpoint, even if the client
  // never sees it (a canary masked by retries must still show its errors). A retry on the
  // upstream's status (cause kCount) is no failure of the connection: the status says it all.
  ++attempts_;
  if (cause != metrics::UpstreamFailure::kCount) attempt_.fail(cause);
  record_attempt(upstream_status, false);
  drop_upstream();
  // Another backend (or the same in a newer snapshot) may have other filters: the head is
  // written again for it, while the request's head is still in the read buffer (it always is
  // when a retry is safe; a head the buffer lost keeps the first backend's).
  const bool other_filters = !(target == snap_) || backend != target_backend;
  snap_ = std::move(target);
  route_ = target_route;
  endpoint_ = endpoint;
  backend_ = backend;
  if (other_filters && !in_buffer_reset_) write_request_head(pool->key(), peer_trusted());
  attempt_.begin(
      worker_.backend_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_)),
      worker_.endpoint_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_),
                             endpoint_),
      worker_.now());
  worker_.backend_cells(static_cast<uint32_t>(route_), static_cast<uint32_t>(backend_))
      ->retries.add();
  retry_in_flight_ = &in_flight;
  ++in_flight;
  resend_ = verdict == RetryVerdict::replay;
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
  try_timer_.async_wait(asio::bind_allocator(
      worker_.handler_allocator(), [this, seq = try_seq_](const error_code& ec) {
        worker_.tick();
        bool was_closed = closed();
        finish_op();
        if (was_closed || ec || seq != try_seq_ || !try_armed_) return;
        on_try_timeout();
      }));
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
  if (!up_ || !exchanging() || response_started_) return;
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
  char stamp[32];
  size_t stamp_len = worker_.format_wall_now(stamp);
  AccessLine line;
  line.time = {stamp, stamp_len};
  if (snap_ && route_ >= 0) {
    const Snapshot::Route& r = snap_->routes[static_cast<size_t>(route_)];
    line.routed = true;
    line.route = r.name;
    if (backend_ >= 0) {
      const Snapshot::Service& svc =
          snap_->services[r.backends[static_cast<size_t>(backend_)].service];
      line.has_backend = true;
      line.backend = svc.id;
      // Both arms string_view: with "" the ternary's type is std::string, a temporary the view
      // would outlive (the sanitizer build caught it).
      if (endpoint_ < svc.endpoints.size()) line.endpoint = svc.endpoints[endpoint_].key;
    }
  }
  line.method = s_->logged_method;
  line.target = s_->logged_target;
  line.status = status_;
  line.bytes_in = bytes_in_;
  line.bytes_out = bytes_out_;
  if (started_.time_since_epoch().count() != 0)
    line.duration_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(worker_.now() - started_).count());
  if (tls_) {
    line.tls = true;
    line.tls_version = tls_->version();
    line.sni = tls_->server_name();
  }
  append_access_line(line, log.line_buffer());
  log.flush(false);
  status_ = 0;
}

} // namespace weir::runtime
