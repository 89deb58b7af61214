#include "weir/health/checker.h"

#include "weir/base/log.h"
#include "weir/tls/contexts.h"

#include <boost/asio/ip/address.hpp>

namespace weir::health {

namespace asio = boost::asio;

const char* state_name(State s) {
  switch (s) {
  case State::unknown:
    return "unknown";
  case State::up:
    return "up";
  case State::down:
    return "down";
  }
  return "unknown";
}

const char* override_name(Override o) {
  switch (o) {
  case Override::automatic:
    return "auto";
  case Override::up:
    return "up";
  case Override::down:
    return "down";
  }
  return "auto";
}

struct Checker::Target {
  Target(asio::io_context& io) : timer(io) {}
  std::string service;
  std::string endpoint;
  asio::ip::tcp::endpoint address;
  config::HealthCheck check; // enabled == false: override only, no checks run
  bool tls = false;          // the service speaks TLS: checks do too
  EndpointStatus status;
  std::optional<Checker::TimePoint> due; // the next check; timer wakes run_due() then
  asio::steady_timer timer;
  bool stopped = false;
};

namespace {
std::string key_of(const std::string& service, const std::string& endpoint) {
  return service + "|" + endpoint;
}
bool status_matches(int status, const std::vector<config::StatusRange>& ranges) {
  for (const auto& r : ranges)
    if (status >= r.low && status <= r.high) return true;
  return false;
}
} // namespace

Checker::Checker(asio::io_context& io, OnChange on_change)
    : Checker(
          io, std::move(on_change), Clock::system(),
          [&io](const asio::ip::tcp::endpoint& address, std::string request,
                std::chrono::milliseconds timeout, const tls::ClientContext* tls,
                HttpCheck::Done done) {
            HttpCheck::run(io, address, std::move(request), timeout, tls, std::move(done));
          },
          std::random_device{}()) {}

Checker::Checker(asio::io_context& io, OnChange on_change, Clock& clock, Connect connect,
                 uint32_t random_seed)
    : io_(io), on_change_(std::move(on_change)), clock_(clock), connect_(std::move(connect)),
      random_(random_seed) {}

Checker::~Checker() {
  stop();
}

void Checker::stop() {
  for (auto& [key, t] : targets_) {
    t->stopped = true;
    t->due.reset();
    t->timer.cancel();
  }
  targets_.clear();
}

void Checker::configure(const config::Config& config) {
  std::map<std::string, std::shared_ptr<Target>> next;
  for (const auto& svc : config.services) {
    for (size_t i = 0; i < svc.endpoints.size(); ++i) {
      const config::Address& ep = svc.endpoints[i];
      std::string key = key_of(svc.id(), ep.text());
      auto it = targets_.find(key);
      std::shared_ptr<Target> t;
      if (it != targets_.end()) {
        t = it->second;
        bool changed = !(t->check == svc.health_check);
        t->check = svc.health_check;
        t->tls = svc.tls.enabled;
        if (changed) {
          t->due.reset();
          t->timer.cancel();
          if (!t->check.enabled) {
            t->status.state = State::unknown;
            t->status.awaiting_first_check = false;
          }
          if (t->check.enabled) schedule(t, std::chrono::milliseconds(0));
        }
      } else {
        t = std::make_shared<Target>(io_);
        t->service = svc.id();
        t->endpoint = ep.text();
        boost::system::error_code ec;
        t->address = {asio::ip::make_address(ep.host, ec), ep.port};
        t->check = svc.health_check;
        t->tls = svc.tls.enabled;
        if (t->check.enabled && svc.found_by_discovery(i)) {
          // A pod or address that just appeared: checked at once, and out until then.
          t->status.awaiting_first_check = true;
          schedule(t, std::chrono::milliseconds(0));
        } else if (t->check.enabled) {
          // Spread the first round over one interval so checks do not come in bursts.
          std::uniform_int_distribution<int64_t> d(0, t->check.interval.count());
          schedule(t, std::chrono::milliseconds(d(random_) / 4));
        }
      }
      next[key] = t;
    }
  }
  for (auto& [key, t] : targets_) {
    if (!next.count(key)) {
      t->stopped = true;
      t->due.reset();
      t->timer.cancel();
    }
  }
  targets_ = std::move(next);
}

void Checker::schedule(const std::shared_ptr<Target>& t, std::chrono::milliseconds delay) {
  t->due = clock_.now() + delay;
  t->timer.expires_after(delay);
  t->timer.async_wait([this, t](const boost::system::error_code& ec) {
    if (ec || t->stopped) return;
    run_due(t);
  });
}

std::optional<Checker::TimePoint> Checker::next_due() const {
  std::optional<TimePoint> next;
  for (const auto& [key, t] : targets_)
    if (t->due && (!next || *t->due < *next)) next = t->due;
  return next;
}

void Checker::run_due() {
  // A check may complete at once (and schedule the next): iterate over a copy.
  std::vector<std::shared_ptr<Target>> targets;
  for (const auto& [key, t] : targets_)
    targets.push_back(t);
  for (const auto& t : targets)
    run_due(t);
}

void Checker::run_due(const std::shared_ptr<Target>& t) {
  if (t->stopped || !t->due || clock_.now() < *t->due) return;
  t->due.reset();
  run(t);
}

void Checker::run(const std::shared_ptr<Target>& t) {
  std::string request;
  if (t->check.type == config::HealthCheck::Type::http) {
    request = "GET " + t->check.path + " HTTP/1.1\r\nHost: " + t->endpoint +
              "\r\nUser-Agent: weir-health-check\r\nAccept: */*\r\nConnection: close\r\n\r\n";
  }
  config::Duration timeout = t->check.timeout;
  const tls::ClientContext* tls = nullptr;
  if (t->tls) {
    tls = context_of(t->service);
    if (!tls) {
      CheckResult missing;
      missing.error = "tls: no TLS settings loaded for the service";
      return finish(t, std::move(missing));
    }
  }
  connect_(t->address, std::move(request), timeout, tls,
           [this, t](CheckResult r) { finish(t, std::move(r)); });
}

const tls::ClientContext* Checker::context_of(const std::string& service) const {
  if (!tls_) return nullptr;
  auto it = tls_->services.find(service);
  return it == tls_->services.end() ? nullptr : it->second.get();
}

void Checker::finish(const std::shared_ptr<Target>& t, CheckResult r) {
  if (t->stopped) return;
  bool ok = r.error.empty();
  std::string error = std::move(r.error);
  if (ok && t->check.type == config::HealthCheck::Type::http &&
      !status_matches(r.status, t->check.expected_status)) {
    ok = false;
    error = "unexpected status " + std::to_string(r.status);
  }
  record(t, ok, std::move(error));
  // Jitter ±10 % keeps checks of many endpoints from lining up.
  auto interval = t->check.interval.count();
  std::uniform_int_distribution<int64_t> jitter(-interval / 10, interval / 10);
  schedule(t, std::chrono::milliseconds(std::max<int64_t>(1, interval + jitter(random_))));
}

void Checker::record(const std::shared_ptr<Target>& t, bool ok, std::string error) {
  EndpointStatus& s = t->status;
  bool was_available = s.available();
  State before = s.state;
  ++s.checks;
  if (s.awaiting_first_check) {
    s.awaiting_first_check = false;
    if (ok) {
      s.successes = 1;
      s.state = State::up;
    } else {
      s.failures = 1;
      s.last_error = std::move(error);
      s.state = State::down;
    }
  } else if (ok) {
    ++s.successes;
    s.failures = 0;
    if (s.state != State::up && s.successes >= t->check.healthy_threshold) s.state = State::up;
  } else {
    ++s.failures;
    s.successes = 0;
    s.last_error = std::move(error);
    if (s.state != State::down && s.failures >= t->check.unhealthy_threshold) s.state = State::down;
  }
  if (s.state != before) {
    log::info(std::string("health: ") + t->service + " " + t->endpoint + " is " +
              state_name(s.state) + (s.state == State::down ? " (" + s.last_error + ")" : ""));
  }
  if (s.available() != was_available || s.state != before) on_change_(t->service, t->endpoint, s);
}

const EndpointStatus* Checker::status(const std::string& service,
                                      const std::string& endpoint) const {
  auto it = targets_.find(key_of(service, endpoint));
  return it == targets_.end() ? nullptr : &it->second->status;
}

bool Checker::available(const std::string& service, const std::string& endpoint) const {
  const EndpointStatus* s = status(service, endpoint);
  return !s || s->available();
}

bool Checker::set_override(const std::string& service, const std::string& endpoint, Override o,
                           const config::Config&) {
  auto it = targets_.find(key_of(service, endpoint));
  if (it == targets_.end()) return false;
  EndpointStatus& s = it->second->status;
  s.override_state = o;
  on_change_(service, endpoint, s);
  return true;
}

std::vector<Checker::Finding> Checker::findings() const {
  std::vector<Finding> out;
  for (const auto& [key, t] : targets_)
    if (t->check.enabled && !t->stopped && t->status.state != State::unknown)
      out.push_back(
          {t->service, t->endpoint, t->status.state, t->status.successes, t->status.failures});
  return out;
}

void Checker::seed(const Finding& f) {
  auto it = targets_.find(key_of(f.service, f.endpoint));
  if (it == targets_.end() || !it->second->check.enabled) return;
  EndpointStatus& s = it->second->status;
  s.state = f.state;
  s.awaiting_first_check = false; // the old process's checks count as this one's
  s.successes = f.successes;
  s.failures = f.failures;
}

std::vector<Checker::OverrideEntry> Checker::overrides() const {
  std::vector<OverrideEntry> out;
  for (const auto& [key, t] : targets_)
    if (t->status.override_state != Override::automatic)
      out.push_back({t->service, t->endpoint, t->status.override_state});
  return out;
}

} // namespace weir::health
