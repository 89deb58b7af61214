#include "weir/rollout/top_up_traffic.h"

#include <algorithm>
#include <cmath>

namespace weir::rollout {

namespace asio = boost::asio;

struct TopUpTraffic::Version {
  std::string service;
  metrics::BackendCells* cells = nullptr;
  size_t cursor = 0; // round robin over the endpoints that take traffic
  uint32_t in_flight = 0;
};

struct TopUpTraffic::Route {
  explicit Route(asio::io_context& io) : timer(io) {}
  std::string name;
  config::TopUp top_up; // a copy: the config it came from may be replaced by a reload
  std::string route_host;
  Version versions[2]; // stable, canary
  size_t next = 0;     // which version the next send goes to
  std::chrono::nanoseconds interval{0};
  uint32_t max_in_flight = kMinInFlightPerVersion;
  std::optional<TimePoint> due;
  asio::steady_timer timer;
  bool stopped = false;
  Counts counts;
};

TopUpTraffic::TopUpTraffic(asio::io_context& io, metrics::Registry& cells, Endpoints endpoints)
    : TopUpTraffic(io, cells, std::move(endpoints), Clock::system(),
                   [&io](const asio::ip::tcp::endpoint& address, std::string request,
                         std::chrono::milliseconds timeout, const tls::ClientContext* tls,
                         health::HttpCheck::Done done) {
                     health::HttpCheck::run(io, address, std::move(request), timeout, tls,
                                            std::move(done));
                   }) {}

TopUpTraffic::TopUpTraffic(asio::io_context& io, metrics::Registry& cells, Endpoints endpoints,
                           Clock& clock, Send send)
    : io_(io), cells_(cells), endpoints_(std::move(endpoints)), clock_(clock),
      send_(std::move(send)) {}

TopUpTraffic::~TopUpTraffic() {
  stop_all();
}

uint32_t TopUpTraffic::max_in_flight(double rate) {
  // One second of a version's share: a healthy endpoint answers long before that, and a frozen
  // one holds at most this many until their timeouts end them.
  double per_version = std::ceil(rate / 2);
  return std::max(kMinInFlightPerVersion, static_cast<uint32_t>(per_version));
}

std::string TopUpTraffic::request_text(const config::TopUp& t, const std::string& host,
                                       std::string_view tag, std::string_view agent) {
  std::string out;
  out.reserve(256 + t.body.size());
  out.append(t.method).append(" ").append(t.path).append(" HTTP/1.1\r\nHost: ").append(host);
  out.append("\r\n").append(kTagHeader).append(": ").append(tag).append("\r\n");
  bool has_agent = std::any_of(t.headers.begin(), t.headers.end(), [](const auto& h) {
    return h.first.size() == 10 && std::equal(h.first.begin(), h.first.end(), "user-agent",
                                              [](char a, char b) { return (a | 0x20) == b; });
  });
  if (!has_agent) out.append("user-agent: ").append(agent).append("\r\n");
  for (const auto& [name, value] : t.headers)
    out.append(name).append(": ").append(value).append("\r\n");
  // A body is framed by its length; methods that usually carry one say 0 when empty.
  if (!t.body.empty() || t.method == "POST" || t.method == "PUT" || t.method == "PATCH")
    out.append("content-length: ").append(std::to_string(t.body.size())).append("\r\n");
  out.append("connection: close\r\n\r\n").append(t.body);
  return out;
}

void TopUpTraffic::start(const std::string& route, const std::string& stable,
                         const std::string& canary, const config::TopUp& top_up,
                         const std::string& route_host) {
  auto it = routes_.find(route);
  if (it != routes_.end()) {
    const Route& r = *it->second;
    if (r.versions[0].service == stable && r.versions[1].service == canary && r.top_up == top_up &&
        r.route_host == route_host)
      return;
    stop(route);
  }
  if (!(top_up.rate > 0)) return;
  auto r = std::make_shared<Route>(io_);
  r->name = route;
  r->top_up = top_up;
  r->route_host = route_host;
  r->versions[0].service = stable;
  r->versions[1].service = canary;
  for (Version& v : r->versions)
    v.cells = cells_.backend({route, v.service});
  r->interval = std::chrono::duration_cast<std::chrono::nanoseconds>(
      std::chrono::duration<double>(1.0 / top_up.rate));
  r->max_in_flight = max_in_flight(top_up.rate);
  r->due = clock_.now();
  routes_[route] = r;
  run_due(r);
}

void TopUpTraffic::stop(const std::string& route) {
  auto it = routes_.find(route);
  if (it == routes_.end()) return;
  Route& r = *it->second;
  r.stopped = true;
  r.due.reset();
  r.timer.cancel();
  routes_.erase(it); // calls in flight hold the Route and see `stopped`
}

void TopUpTraffic::stop_all() {
  while (!routes_.empty())
    stop(routes_.begin()->first);
}

bool TopUpTraffic::running(const std::string& route) const {
  return routes_.count(route) != 0;
}

std::optional<TopUpTraffic::Counts> TopUpTraffic::counts(const std::string& route) const {
  auto it = routes_.find(route);
  if (it == routes_.end()) return std::nullopt;
  return it->second->counts;
}

std::optional<TopUpTraffic::TimePoint> TopUpTraffic::next_due() const {
  std::optional<TimePoint> next;
  for (const auto& [name, r] : routes_)
    if (r->due && (!next || *r->due < *next)) next = r->due;
  return next;
}

void TopUpTraffic::run_due() {
  std::vector<std::shared_ptr<Route>> routes;
  for (const auto& [name, r] : routes_)
    routes.push_back(r);
  for (const auto& r : routes)
    run_due(r);
}

void TopUpTraffic::run_due(const std::shared_ptr<Route>& r) {
  if (r->stopped || !r->due) return;
  TimePoint now = clock_.now();
  if (now < *r->due) return;
  Version& v = r->versions[r->next];
  r->next ^= 1;
  // The next send one interval after this one was due, so late wake-ups do not slow the rate;
  // but never earlier than one interval from now: sends missed by a long stall are dropped, not
  // sent in a burst.
  TimePoint next = *r->due + r->interval;
  if (next <= now) next = now + r->interval;
  r->due = next;
  send(r, v);
  if (!r->stopped) schedule(r);
}

void TopUpTraffic::schedule(const std::shared_ptr<Route>& r) {
  auto delay = *r->due - clock_.now();
  r->timer.expires_after(delay);
  r->timer.async_wait([this, r](const boost::system::error_code& ec) {
    if (ec || r->stopped) return;
    run_due(r);
  });
}

void TopUpTraffic::send(const std::shared_ptr<Route>& r, Version& v) {
  if (v.in_flight >= r->max_in_flight) {
    ++r->counts.skipped_in_flight;
    return;
  }
  std::vector<Target> targets = endpoints_(v.service);
  if (targets.empty()) {
    ++r->counts.skipped_no_endpoint;
    return;
  }
  const Target& target = targets[v.cursor++ % targets.size()];
  const std::string& host = !r->top_up.host.empty()  ? r->top_up.host
                            : !r->route_host.empty() ? r->route_host
                                                     : target.key;
  ++v.in_flight;
  ++r->counts.sent;
  size_t index = static_cast<size_t>(&v - r->versions);
  send_(target.address, request_text(r->top_up, host), r->top_up.timeout, target.tls.get(),
        [r, index](health::CheckResult result) {
          Version& v = r->versions[index];
          --v.in_flight;
          if (r->stopped) return;
          // The workers' definition: what the upstream caused counts against the version; a
          // 4xx says the request was wrong, not the version.
          bool upstream_error = !result.error.empty() || result.status >= 500;
          v.cells->requests.add();
          if (upstream_error)
            v.cells->upstream_errors.add();
          else if (result.status >= 400 && result.status < 500)
            v.cells->client_errors.add();
          v.cells->total.record(
              static_cast<uint64_t>(std::max<int64_t>(0, result.latency.count())));
          ++r->counts.recorded;
        });
}

} // namespace weir::rollout
