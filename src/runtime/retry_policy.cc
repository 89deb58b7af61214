#include "weir/runtime/retry_policy.h"

namespace weir::runtime {

bool idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "OPTIONS" || method == "TRACE" ||
         method == "PUT" || method == "DELETE";
}

bool retry_wanted(const config::Retries& rr, metrics::UpstreamFailure cause, int upstream_status) {
  switch (cause) {
  case metrics::UpstreamFailure::connect_refused:
  case metrics::UpstreamFailure::connect_timeout:
  case metrics::UpstreamFailure::tls: // the request never went: as a failed connect
    return rr.on_connect_failure;
  case metrics::UpstreamFailure::reset:
    return rr.on_reset;
  case metrics::UpstreamFailure::response_timeout:
  case metrics::UpstreamFailure::bad_response:
  case metrics::UpstreamFailure::kCount: {
    int status = upstream_status
                     ? upstream_status
                     : (cause == metrics::UpstreamFailure::response_timeout ? 504 : 502);
    for (int code : rr.on_status)
      if (code == status) return true;
    return false;
  }
  }
  return false;
}

RetryVerdict decide_retry(const config::Retries& rr, metrics::UpstreamFailure cause,
                          int upstream_status, const AttemptFacts& f) {
  if (rr.attempts == 0 || f.retries_made >= rr.attempts) return RetryVerdict::no;
  // Never once a byte of the response reached the client.
  if (f.response_started) return RetryVerdict::no;
  if (!retry_wanted(rr, cause, upstream_status)) return RetryVerdict::no;
  // The upstream never saw the request when nothing was written yet: any method may go again,
  // and the body is still unread on the client side. Otherwise only idempotent requests whose
  // whole body weir still holds are replayed.
  if (!f.request_sent) return RetryVerdict::again;
  if (!idempotent(f.method) || !f.request_done) return RetryVerdict::no;
  if (f.has_body && (f.framing != http::Framing::length || f.content_length > rr.max_body_bytes ||
                     !f.body_still_held))
    return RetryVerdict::no;
  return RetryVerdict::replay;
}

int retry_backend(const Snapshot::Route& route, int failed, bool other_backend) {
  if (!other_backend) return failed;
  // The best other version: the highest live weight among those that can take requests.
  int best = -1;
  for (size_t i = 0; i < route.backends.size(); ++i) {
    if (static_cast<int>(i) == failed || route.backends[i].effective_weight == 0) continue;
    if (best < 0 || route.backends[i].effective_weight >
                        route.backends[static_cast<size_t>(best)].effective_weight)
      best = static_cast<int>(i);
  }
  return best >= 0 ? best : failed;
}

} // namespace weir::runtime
