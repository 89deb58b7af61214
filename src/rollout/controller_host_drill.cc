// A rollback drill's synthetic requests (Host::drill_requests): each probe request of the
// rollback target (GET / when it has none) to every endpoint of it that takes traffic, paired
// with the same request to the live version, over fresh connections as health checks and top-up
// send them (HttpCheck: the service's TLS settings, never the workers' pools).
#include "weir/control/controller.h"
#include "weir/health/http_check.h"
#include "weir/rollout/controller_host.h"
#include "weir/rollout/top_up_traffic.h"

#include <boost/asio/post.hpp>

namespace weir::rollout {

namespace asio = boost::asio;

namespace {
constexpr std::string_view kTag = "drill"; // x-weir-synthetic: drill
constexpr std::string_view kAgent = "weir-drill";

// The probe as top-up's request shape, so both are written the same way (TopUpTraffic::
// request_text: tagged x-weir-synthetic, connection: close).
config::TopUp as_request(const config::Probe& p) {
  config::TopUp t;
  t.method = p.method;
  t.path = p.path;
  t.headers = p.headers;
  t.body = p.body;
  t.timeout = p.timeout;
  return t;
}
} // namespace

void ControllerHost::drill_requests(const std::string& route, const std::string& target,
                                    const std::string& live,
                                    std::function<void(std::vector<DrillAnswer>)> done) {
  struct Pending {
    std::vector<DrillAnswer> answers;
    size_t left = 0;
    std::function<void(std::vector<DrillAnswer>)> done;
  };
  auto pending = std::make_shared<Pending>();
  pending->done = std::move(done);
  // One count for the setup itself, released by a post at the end: `done` runs once, after
  // every request answered, and never inside this call.
  pending->left = 1;
  auto finish_one = [pending] {
    if (--pending->left == 0) pending->done(std::move(pending->answers));
  };

  // GET and HEAD probes only: a drill must not repeat a write, on either version.
  std::vector<std::pair<std::string, config::TopUp>> requests; // name → request
  for (const auto& svc : c_.config().services)
    if (svc.ns + "/" + svc.name == target)
      for (const auto& probe : svc.probes)
        if (probe.method == "GET" || probe.method == "HEAD")
          requests.emplace_back("probe " + probe.name + ": " + probe.method + " " + probe.path,
                                as_request(probe));
  if (requests.empty()) requests.emplace_back("GET /", config::TopUp{});
  std::string host;
  for (const auto& r : c_.config().routes)
    if (r.name == route && r.matches[0].host.find('*') == std::string::npos)
      host = r.matches[0].host;

  const auto& snap = c_.snapshot();
  int t = snap ? snap->service_index(target) : -1;
  int l = snap ? snap->service_index(live) : -1;
  const runtime::Snapshot::Service* ts = t >= 0 ? &snap->services[static_cast<size_t>(t)] : nullptr;
  const runtime::Snapshot::Service* ls = l >= 0 ? &snap->services[static_cast<size_t>(l)] : nullptr;
  // No endpoint to ask: no answers, and the report says none takes traffic.
  if (ts)
    for (uint32_t e : ts->available)
      for (const auto& [name, request] : requests) {
        size_t index = pending->answers.size();
        pending->answers.push_back({name, ts->endpoints[e].key, 0, "", 0, ""});
        const std::string& target_host = host.empty() ? ts->endpoints[e].key : host;
        ++pending->left;
        health::HttpCheck::run(io_, ts->endpoints[e].address,
                               TopUpTraffic::request_text(request, target_host, kTag, kAgent),
                               request.timeout, ts->tls.get(),
                               [pending, index, finish_one](health::CheckResult r) {
                                 pending->answers[index].target_status = r.status;
                                 pending->answers[index].target_error = r.error;
                                 finish_one();
                               });
        if (!ls || ls->available.empty()) {
          pending->answers[index].live_error = "no endpoint of " + live + " takes traffic";
          continue;
        }
        const auto& le = ls->endpoints[ls->available[index % ls->available.size()]];
        ++pending->left;
        health::HttpCheck::run(
            io_, le.address,
            TopUpTraffic::request_text(request, host.empty() ? le.key : host, kTag, kAgent),
            request.timeout, ls->tls.get(), [pending, index, finish_one](health::CheckResult r) {
              pending->answers[index].live_status = r.status;
              pending->answers[index].live_error = r.error;
              finish_one();
            });
      }
  asio::post(io_, finish_one);
}

} // namespace weir::rollout
