#pragma once

#include "case_file.h"
#include "fake_upstream.h"

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

// Runs one case against a proxy and judges what it did. The proxy is a black box on a loopback
// port in front of the FakeUpstream; nothing here knows which proxy it is.
namespace weir::conformance {

struct RunOptions {
  uint16_t proxy_port = 0;
  // Longest wait for any one answer. Only a proxy that does not answer costs this long: every
  // other wait ends on its condition.
  std::chrono::milliseconds timeout{3000};
};

struct ObservedResponse {
  int status = 0;
  bool forwarded = false; // carries the fake upstream's X-Conformance marker
  std::string target;     // the target the upstream echoed (X-Conformance-Target)
  std::string text;       // status line, headers and de-chunked body as received
  bool complete = false;
};

enum class ConnectionState {
  closed, // the proxy closed the client connection after its answers
  open,   // a keep-alive probe on the same connection got its own answer
  silent, // neither closed nor answering the probe within the timeout
  none,   // could not connect
};

struct Observation {
  std::vector<ObservedResponse> responses; // in order, interim (1xx) ones included
  std::string unparsed;                    // bytes after the answers that were no response
  ConnectionState connection = ConnectionState::none;
  // Answers that arrived where the keep-alive probe's answer should have: a request the case
  // smuggled, or bytes of an earlier response served again.
  std::vector<ObservedResponse> extra;
  // The request sent on a new connection after the case got no answer or someone else's.
  std::string barrier_problem;
  Recording upstream;
};

Observation run_case(const Case& c, FakeUpstream& upstream, const RunOptions& options,
                     int sequence);

// What differs from the case's expectations; empty when the proxy did what the case expects.
std::vector<std::string> mismatches(const Case& c, const Observation& o);

// Short forms for reports and tables.
std::string expected_answers(const Case& c); // "400", "fwd 200, fwd 200", "no answer"
std::string describe_expected(const Case& c);
std::string describe_responses(const Observation& o);
std::string describe_connection(const Observation& o);
std::string describe_upstream(const Observation& o);

} // namespace weir::conformance
