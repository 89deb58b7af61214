#include "weir/health/prober.h"

#include "weir/base/log.h"
#include "weir/http/head.h"
#include "weir/tls/contexts.h"

#include <boost/asio/ip/address.hpp>

namespace weir::health {

namespace asio = boost::asio;

struct Prober::Runner {
  explicit Runner(asio::io_context& io) : timer(io) {}
  std::string service;
  config::Probe probe;
  bool tls = false; // the service speaks TLS: probes do too
  std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> endpoints;
  size_t next = 0;
  ProbeStatus status;
  asio::steady_timer timer;
  bool stopped = false;
};

Prober::Prober(asio::io_context& io, OnChange on_change)
    : io_(io), on_change_(std::move(on_change)) {}

Prober::~Prober() {
  stop();
}

void Prober::stop() {
  for (auto& [svc, list] : runners_)
    for (auto& r : list) {
      r->stopped = true;
      r->timer.cancel();
    }
  runners_.clear();
}

void Prober::configure(const config::Config& config) {
  std::map<std::string, std::vector<std::shared_ptr<Runner>>> next;
  for (const auto& svc : config.services) {
    std::vector<std::pair<std::string, asio::ip::tcp::endpoint>> endpoints;
    for (const auto& ep : svc.endpoints) {
      boost::system::error_code ec;
      endpoints.emplace_back(ep.text(),
                             asio::ip::tcp::endpoint(asio::ip::make_address(ep.host, ec), ep.port));
    }
    auto& list = next[svc.id()];
    auto old = runners_.find(svc.id());
    for (const auto& probe : svc.probes) {
      std::shared_ptr<Runner> r;
      if (old != runners_.end()) {
        for (auto& candidate : old->second)
          if (candidate->probe == probe && !candidate->stopped) r = candidate;
      }
      if (r) {
        r->endpoints = endpoints; // keep results of an unchanged probe
        r->tls = svc.tls.enabled;
      } else {
        r = std::make_shared<Runner>(io_);
        r->service = svc.id();
        r->probe = probe;
        r->tls = svc.tls.enabled;
        r->endpoints = endpoints;
        r->status.name = probe.name;
        r->status.ready_after = probe.ready_after;
        schedule(r, std::chrono::milliseconds(0));
      }
      list.push_back(r);
    }
  }
  for (auto& [svc, list] : runners_)
    for (auto& r : list) {
      bool kept = false;
      for (auto& [nsvc, nlist] : next)
        for (auto& n : nlist)
          kept = kept || n == r;
      if (!kept) {
        r->stopped = true;
        r->timer.cancel();
      }
    }
  runners_ = std::move(next);
}

void Prober::schedule(const std::shared_ptr<Runner>& r, std::chrono::milliseconds delay) {
  r->timer.expires_after(delay);
  r->timer.async_wait([this, r](const boost::system::error_code& ec) {
    if (ec || r->stopped) return;
    run(r);
  });
}

std::string Prober::build_request(const config::Probe& p, const std::string& host) {
  std::string out = p.method + " " + p.path + " HTTP/1.1\r\nHost: " + host + "\r\n";
  bool has_host = false;
  for (const auto& [name, value] : p.headers) {
    if (http::iequals(name, "host")) {
      has_host = true;
      continue;
    }
    if (http::iequals(name, "content-length") || http::iequals(name, "connection")) continue;
    out += name + ": " + value + "\r\n";
  }
  if (has_host) {
    for (const auto& [name, value] : p.headers)
      if (http::iequals(name, "host"))
        out.replace(out.find("Host: "), 6 + host.size(), "Host: " + value);
  }
  out += "User-Agent: weir-probe\r\nx-weir-synthetic: 1\r\nConnection: close\r\n";
  if (!p.body.empty() || p.method == "POST" || p.method == "PUT" || p.method == "PATCH")
    out += "Content-Length: " + std::to_string(p.body.size()) + "\r\n";
  out += "\r\n" + p.body;
  return out;
}

std::string Prober::evaluate(const config::Probe& p, const CheckResult& r) {
  if (r.timed_out) return "timeout after " + std::to_string(p.timeout.count()) + "ms";
  if (!r.error.empty()) return r.error;
  bool status_ok = false;
  for (const auto& range : p.expect_status)
    status_ok = status_ok || (r.status >= range.low && r.status <= range.high);
  if (!status_ok) return "status " + std::to_string(r.status);
  if (!p.expect_body_contains.empty() && r.body.find(p.expect_body_contains) == std::string::npos)
    return "body does not contain \"" + p.expect_body_contains + "\"";
  for (const auto& [name, value] : p.expect_headers) {
    const std::string* got = nullptr;
    for (const auto& [n, v] : r.headers)
      if (http::iequals(n, name)) got = &v;
    if (!got) return "header " + name + " missing";
    if (*got != value) return "header " + name + " is \"" + *got + "\", expected \"" + value + "\"";
  }
  if (p.max_latency.count() > 0 && r.latency > p.max_latency)
    return "latency " +
           std::to_string(
               std::chrono::duration_cast<std::chrono::milliseconds>(r.latency).count()) +
           "ms over " + std::to_string(p.max_latency.count()) + "ms";
  return "";
}

void Prober::run(const std::shared_ptr<Runner>& r) {
  if (r->endpoints.empty()) return;
  const auto& [key, address] = r->endpoints[r->next++ % r->endpoints.size()];
  std::string endpoint = key;
  // The timeout covers max_latency too, so a slow answer fails as slow, not as a hang.
  auto timeout = std::max(r->probe.timeout, r->probe.max_latency);
  const tls::ClientContext* tls = nullptr;
  if (r->tls) {
    if (tls_) {
      auto it = tls_->services.find(r->service);
      if (it != tls_->services.end()) tls = it->second.get();
    }
    if (!tls) {
      CheckResult missing;
      missing.error = "tls: no TLS settings loaded for the service";
      return record(r, endpoint, std::move(missing));
    }
  }
  HttpCheck::run(
      io_, address, build_request(r->probe, key), timeout, tls,
      [this, r, endpoint](CheckResult result) { record(r, endpoint, std::move(result)); });
}

void Prober::record(const std::shared_ptr<Runner>& r, const std::string& endpoint,
                    CheckResult result) {
  if (r->stopped) return;
  ProbeStatus& s = r->status;
  bool was_ready = ready(r->service);
  std::string why = evaluate(r->probe, result);
  s.ran = true;
  s.last_endpoint = endpoint;
  s.last_latency_ms = std::chrono::duration<double, std::milli>(result.latency).count();
  if (why.empty()) {
    ++s.passes;
    ++s.consecutive_passes;
    s.last_passed = true;
  } else {
    ++s.failures;
    s.consecutive_passes = 0;
    s.last_passed = false;
    s.last_failure = why;
  }
  bool now_ready = ready(r->service);
  if (now_ready != was_ready) {
    log::info("probe: " + r->service + (now_ready ? " is ready" : " is not ready") +
              (why.empty() ? "" : " (" + s.name + ": " + why + ")"));
    on_change_(r->service, now_ready);
  }
  schedule(r, r->probe.interval);
}

bool Prober::ready(const std::string& service) const {
  auto it = runners_.find(service);
  if (it == runners_.end()) return true;
  for (const auto& r : it->second)
    if (!r->status.ready()) return false;
  return true;
}

std::vector<ProbeStatus> Prober::status(const std::string& service) const {
  std::vector<ProbeStatus> out;
  auto it = runners_.find(service);
  if (it == runners_.end()) return out;
  for (const auto& r : it->second)
    out.push_back(r->status);
  return out;
}

} // namespace weir::health
