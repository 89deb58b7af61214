#pragma once

#include "weir/base/clock.h"
#include "weir/config/config.h"
#include "weir/health/http_check.h"
#include "weir/metrics/registry.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace weir::tls {
class ClientContext;
}

namespace weir::rollout {

// Synthetic requests for thin services (rollout.analysis.top_up): while a rollout's canary gets
// too few real requests to judge, the rollout manager starts this for the route, and it sends
// tagged requests (`x-weir-synthetic: top-up`) to both versions so the analysis compares like with
// like. Per route: `rate` requests per second in total, alternating stable and canary (each gets
// half), evenly spaced (one request per 1/rate s, never a burst to catch up), round robin over each
// version's endpoints that take traffic now, each over a fresh connection with the configured
// timeout — over TLS with the version's settings when it has `tls`, as user traffic reaches it. A
// version has at most one second of its share in flight (at least 4), so a frozen endpoint cannot
// pile requests up: sends beyond that are skipped.
//
// Results go into `cells` under the same key as user traffic (metrics::BackendKey{route,
// service}) and with the workers' definition of a version's error: a 5xx answer, or no complete
// answer (connect failure, reset, timeout, bad response); 4xx are client errors. The controller
// samples those cells into their own aggregator, apart from user traffic.
//
// Time: each route's next send is a due time on `clock`; its asio timer only wakes run_due().
// Tests pass a ManualClock and a fake `send` and step through the sends. Control thread only.
class TopUpTraffic {
public:
  // An endpoint of a version that takes traffic now.
  struct Target {
    std::string key; // "host:port"
    boost::asio::ip::tcp::endpoint address;
    // The service's TLS settings (in weir: the snapshot's, which the workers use); null: plain.
    std::shared_ptr<const tls::ClientContext> tls;
  };
  // The endpoints of a service that take traffic now (in weir: the controller's snapshot).
  using Endpoints = std::function<std::vector<Target>(const std::string& service)>;
  // How one request reaches its endpoint (health::HttpCheck::run in weir). `tls` is the
  // target's (null: plain TCP), valid during the call. `done` may run inside the call or later,
  // on the control thread.
  using Send = std::function<void(const boost::asio::ip::tcp::endpoint& address,
                                  std::string request, std::chrono::milliseconds timeout,
                                  const tls::ClientContext* tls, health::HttpCheck::Done done)>;
  using TimePoint = Clock::Steady::time_point;

  // What a route's generator did since it started (for tests and logs).
  struct Counts {
    uint64_t sent = 0;
    uint64_t skipped_in_flight = 0;   // the version had its cap of requests in flight
    uint64_t skipped_no_endpoint = 0; // the version had no endpoint taking traffic
    uint64_t recorded = 0;            // completed and counted
  };

  static constexpr uint32_t kMinInFlightPerVersion = 4;
  static constexpr std::string_view kTagHeader = "x-weir-synthetic";
  static constexpr std::string_view kTagValue = "top-up";
  static constexpr std::string_view kUserAgent = "weir-top-up";

  // weir: real time, requests over HttpCheck on `io`.
  TopUpTraffic(boost::asio::io_context& io, metrics::Registry& cells, Endpoints endpoints);
  // `clock` and `cells` outlive this.
  TopUpTraffic(boost::asio::io_context& io, metrics::Registry& cells, Endpoints endpoints,
               Clock& clock, Send send);
  ~TopUpTraffic();
  TopUpTraffic(const TopUpTraffic&) = delete;
  TopUpTraffic& operator=(const TopUpTraffic&) = delete;

  // Starts sending for `route` (the first request at once). Calling it again with the same
  // versions and settings changes nothing; with others it starts over with them. `route_host` is
  // the Host header when top_up.host is empty (the route's exact match host; "" = the endpoint).
  void start(const std::string& route, const std::string& stable, const std::string& canary,
             const config::TopUp& top_up, const std::string& route_host = "");
  // Stops sending for `route`: no more sends; calls in flight end without being recorded.
  void stop(const std::string& route);
  void stop_all();
  bool running(const std::string& route) const;
  // nullopt for a route that is not running.
  std::optional<Counts> counts(const std::string& route) const;

  // The earliest send due on any route (nullopt: none running).
  std::optional<TimePoint> next_due() const;
  // Sends every request due at clock.now(): what the timers call.
  void run_due();

  // The request line, headers and body sent for `top_up` to an endpoint with Host `host`,
  // tagged `x-weir-synthetic: TAG` with `user-agent: AGENT` (unless it names its own).
  static std::string request_text(const config::TopUp& top_up, const std::string& host,
                                  std::string_view tag = kTagValue,
                                  std::string_view agent = kUserAgent);
  // Requests in flight a version may have at `rate` (total, both versions).
  static uint32_t max_in_flight(double rate);

private:
  struct Route;
  struct Version;
  void schedule(const std::shared_ptr<Route>& r);
  void run_due(const std::shared_ptr<Route>& r);
  void send(const std::shared_ptr<Route>& r, Version& v);

  boost::asio::io_context& io_;
  metrics::Registry& cells_;
  Endpoints endpoints_;
  Clock& clock_;
  Send send_;
  std::map<std::string, std::shared_ptr<Route>> routes_;
};

} // namespace weir::rollout
