#pragma once

#include "weir/config/config.h"
#include "weir/health/http_check.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir::tls {
class ClientContext;
struct Contexts;
} // namespace weir::tls

namespace weir::health {

// What one synthetic probe has seen so far.
struct ProbeStatus {
  std::string name;
  uint64_t passes = 0;
  uint64_t failures = 0;
  uint32_t consecutive_passes = 0;
  uint32_t ready_after = 3;
  bool last_passed = false;
  bool ran = false;
  std::string last_endpoint;
  std::string last_failure; // the reason of the last failure: status, missing text, timeout...
  double last_latency_ms = 0;
  bool ready() const { return consecutive_passes >= ready_after; }
};

// Synthetic probes: scripted requests with expectations, run per service version against its
// endpoints directly (round robin), marked with `x-weir-synthetic: 1` so upstreams and logs can
// tell them from user traffic. A service is ready when every probe passed its last `ready_after`
// runs; a service without probes is always ready. A service with `tls` is probed over TLS with
// its settings (as the workers and the health checker reach it). Control thread only.
class Prober {
public:
  using OnChange = std::function<void(const std::string& service, bool ready)>;

  Prober(boost::asio::io_context& io, OnChange on_change);
  ~Prober();

  void configure(const config::Config& config);
  void stop();
  // Where the TLS settings of services with `tls` are found: the controller's contexts, which
  // outlive the prober. Looked up at every run, so reloaded certificates are used from the next
  // run on; a TLS service probed without them fails its probes.
  void set_tls(const tls::Contexts* contexts) { tls_ = contexts; }
  bool ready(const std::string& service) const;
  // Probes of a service in config order; empty when it has none.
  std::vector<ProbeStatus> status(const std::string& service) const;

  // The expectation check, pure: "" when `result` satisfies `probe`, else why not.
  static std::string evaluate(const config::Probe& probe, const CheckResult& result);
  static std::string build_request(const config::Probe& probe, const std::string& host);

private:
  struct Runner;
  void schedule(const std::shared_ptr<Runner>& r, std::chrono::milliseconds delay);
  void run(const std::shared_ptr<Runner>& r);
  void record(const std::shared_ptr<Runner>& r, const std::string& endpoint, CheckResult result);

  boost::asio::io_context& io_;
  OnChange on_change_;
  const tls::Contexts* tls_ = nullptr;
  // service id → its probes
  std::map<std::string, std::vector<std::shared_ptr<Runner>>> runners_;
};

} // namespace weir::health
