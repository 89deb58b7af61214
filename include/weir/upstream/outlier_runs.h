#pragma once

#include "weir/config/config.h"

#include <cstdint>

namespace weir::upstream {

// Passive outlier detection on a worker: its two runs for one endpoint (README, "Outlier
// ejection"), kept in the endpoint's metric cells. note_attempt() is the whole rule as a pure
// function of the runs, the service's settings and the attempt's outcome; it returns true when
// the endpoint is to be reported for ejection (the control thread decides, with its cap, for all
// workers). Any thread; the runs belong to their worker.
struct AttemptOutcome {
  int status = 0;       // the status answered for the attempt (0: none)
  bool local = false;   // weir's own answer, not the endpoint's
  bool failure = false; // a connect failure, reset, timeout or bad response
};

inline bool note_attempt(uint32_t& consecutive_failures, uint32_t& consecutive_gateway_failures,
                         const config::OutlierDetection& od, const AttemptOutcome& a) {
  bool upstream_error = a.failure || (a.status >= 500 && !a.local);
  // consecutive_failures counts every upstream error (any 5xx from the endpoint, every
  // failure); consecutive_gateway_failures only what says the endpoint is unreachable or stuck
  // (502/503/504 from it, every failure, a per-try timeout among them), so an application's 500s
  // do not eject with it. A run is ended by an answer of the endpoint that is not in it; weir's
  // own answers (local, no failure) leave the gateway run as it is.
  bool gateway_failure =
      a.failure || (!a.local && (a.status == 502 || a.status == 503 || a.status == 504));
  bool eject = false;
  if (upstream_error) {
    eject = od.enabled && ++consecutive_failures >= od.consecutive_failures;
  } else if (a.status != 0) {
    consecutive_failures = 0;
  }
  if (gateway_failure) {
    eject = (od.enabled && od.consecutive_gateway_failures > 0 &&
             ++consecutive_gateway_failures >= od.consecutive_gateway_failures) ||
            eject;
  } else if (a.status != 0 && !a.local) {
    consecutive_gateway_failures = 0;
  }
  if (eject) {
    consecutive_failures = 0;
    consecutive_gateway_failures = 0;
  }
  return eject;
}

} // namespace weir::upstream
