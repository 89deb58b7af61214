#pragma once

#include "weir/base/clock.h"
#include "weir/config/config.h"
#include "weir/health/http_check.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace weir::tls {
class ClientContext;
struct Contexts;
} // namespace weir::tls

namespace weir::health {

enum class State { unknown, up, down };
enum class Override { automatic, up, down };
const char* state_name(State s);
const char* override_name(Override o);

// Status of one endpoint as the checker sees it.
struct EndpointStatus {
  State state = State::unknown;
  Override override_state = Override::automatic;
  uint32_t successes = 0; // consecutive
  uint32_t failures = 0;  // consecutive
  uint64_t checks = 0;
  std::string last_error;
  // A discovered endpoint that appeared (config::Service::discovered) waits for its first
  // check: its result alone makes it up or down (Envoy's ignore_new_hosts_until_first_hc).
  bool awaiting_first_check = false;
  // What routing uses: an override wins; otherwise only a failed endpoint is out (an endpoint
  // of a listed service not yet checked takes traffic, as in Envoy without "wait for first
  // check").
  bool available() const {
    if (override_state != Override::automatic) return override_state == Override::up;
    return !awaiting_first_check && state != State::down;
  }
};

// Active health checks: every endpoint of every service with `health_check`, each on its own
// jittered timer, over its own short connection. Control thread only. Calls `on_change` when
// the availability of some endpoint changed, so the controller publishes a new snapshot.
//
// Time: each endpoint's next check is a due time on `clock`; its asio timer only wakes
// run_due(). Tests pass a ManualClock and a fake `connect` and step through the rounds.
class Checker {
public:
  using OnChange = std::function<void(const std::string& service, const std::string& endpoint,
                                      const EndpointStatus& status)>;
  // How a check reaches its endpoint (HttpCheck::run in weir): `request` empty = TCP connect;
  // `tls` the service's TLS settings, null for plain TCP (valid only during the call).
  using Connect = std::function<void(const boost::asio::ip::tcp::endpoint& address,
                                     std::string request, std::chrono::milliseconds timeout,
                                     const tls::ClientContext* tls, HttpCheck::Done done)>;
  using TimePoint = Clock::Steady::time_point;

  Checker(boost::asio::io_context& io, OnChange on_change);
  // `clock` outlives the checker; `random_seed` fixes the jitter (tests).
  Checker(boost::asio::io_context& io, OnChange on_change, Clock& clock, Connect connect,
          uint32_t random_seed);
  ~Checker();

  // Starts, keeps or stops checks to match `config`. Endpoints that stay keep their state.
  void configure(const config::Config& config);
  void stop();
  // Where the TLS settings of services with `tls` are found: the controller's contexts, which
  // outlive the checker. Looked up at every check, so certificates reloaded into them are used
  // from the next check on. A TLS service checked without them fails its checks (speaking
  // plaintext to a TLS port would not tell anything).
  void set_tls(const tls::Contexts* contexts) { tls_ = contexts; }

  // nullptr when the endpoint is not checked and has no override.
  const EndpointStatus* status(const std::string& service, const std::string& endpoint) const;
  bool available(const std::string& service, const std::string& endpoint) const;
  // Manual override from the control socket; returns false for an unknown endpoint.
  bool set_override(const std::string& service, const std::string& endpoint, Override o,
                    const config::Config& config);
  // Every manual override in force (what an upgrade hands to the new process).
  struct OverrideEntry {
    std::string service;
    std::string endpoint;
    Override state;
  };
  std::vector<OverrideEntry> overrides() const;
  // What the checks found so far (endpoints checked up or down), and taking it over: an
  // upgrade's new process starts from the old one's view, not from "unknown" (which takes
  // traffic) for an endpoint known to be down. seed() ignores endpoints not checked here.
  struct Finding {
    std::string service;
    std::string endpoint;
    State state;
    uint32_t successes;
    uint32_t failures;
  };
  std::vector<Finding> findings() const;
  void seed(const Finding& f);

  // The earliest check due on any endpoint (nullopt: none scheduled, e.g. all in flight).
  std::optional<TimePoint> next_due() const;
  // Starts every check due at clock.now(): what the timers call.
  void run_due();

private:
  struct Target;
  void schedule(const std::shared_ptr<Target>& t, std::chrono::milliseconds delay);
  void run_due(const std::shared_ptr<Target>& t);
  void run(const std::shared_ptr<Target>& t);
  void finish(const std::shared_ptr<Target>& t, CheckResult r);
  const tls::ClientContext* context_of(const std::string& service) const;
  void record(const std::shared_ptr<Target>& t, bool ok, std::string error);

  boost::asio::io_context& io_;
  OnChange on_change_;
  Clock& clock_;
  Connect connect_;
  const tls::Contexts* tls_ = nullptr;
  std::map<std::string, std::shared_ptr<Target>> targets_; // "service|endpoint"
  std::mt19937 random_;
};

} // namespace weir::health
