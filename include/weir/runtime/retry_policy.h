#pragma once

#include "weir/config/config.h"
#include "weir/http/head.h"
#include "weir/metrics/cells.h"
#include "weir/runtime/snapshot.h"

#include <cstdint>
#include <string_view>

namespace weir::runtime {

// Whether a failed attempt may go again and where: pure functions of the route's retries block
// and what the attempt had done. The budget (a worker's token bucket, upstream::RetryBudget) is
// asked only after these say yes. Any thread; no state.

// GET, HEAD, OPTIONS, TRACE, PUT, DELETE (RFC 9110 9.2.2).
bool idempotent(std::string_view method);

// The route asks for a retry on this failure. `upstream_status` is the 5xx the upstream answered
// (0 for a failure without an answer; a response timeout counts as 504, the others as 502).
bool retry_wanted(const config::Retries& retries, metrics::UpstreamFailure cause,
                  int upstream_status);

// What the failed attempt and its request had come to.
struct AttemptFacts {
  uint32_t retries_made = 0;     // retries already made for this request
  bool response_started = false; // a byte of the response reached (or is going to) the client
  bool request_sent = false;     // a byte of the attempt's request went upstream
  bool request_done = false;     // every byte of the request was read from the client
  bool body_still_held = true;   // the read buffer still holds the whole body (not reused)
  std::string_view method;
  bool has_body = false;
  http::Framing framing = http::Framing::none;
  uint64_t content_length = 0;
};

enum class RetryVerdict : uint8_t {
  no,     // answer the client with the failure
  again,  // the upstream never saw the request: send it as if for the first time
  replay, // send the whole request again from what weir holds (head and body)
};

RetryVerdict decide_retry(const config::Retries& retries, metrics::UpstreamFailure cause,
                          int upstream_status, const AttemptFacts& facts);

// The backend a retry goes to: the failed one, or with retry_other_backend the other backend with
// the highest live weight (the failed one when none other has weight).
int retry_backend(const Snapshot::Route& route, int failed_backend, bool other_backend);

} // namespace weir::runtime
