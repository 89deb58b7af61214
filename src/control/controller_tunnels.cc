// Tunnels (WebSocket and other Upgrades) and what still uses a service, read from the workers'
// cells; the drain of a route × service's tunnels on every worker, and its control commands.
// Control thread; posts to the workers.
#include "weir/config/duration.h"
#include "weir/control/arguments.h"
#include "weir/control/controller.h"

#include <atomic>
#include <boost/asio/post.hpp>

namespace weir::control {

namespace asio = boost::asio;

uint64_t Controller::tunnels_open(const std::string& route, const std::string& service) const {
  uint64_t n = 0;
  for (const auto& w : workers_.workers())
    if (const metrics::BackendCells* c = w->metrics().find_backend({route, service}))
      n += c->tunnels.get();
  return n;
}

uint64_t Controller::tunnels_open(const std::string& service) const {
  uint64_t n = 0;
  for (const auto& w : workers_.workers())
    w->metrics().visit(
        [&](const metrics::BackendKey& key, const metrics::BackendCells& c) {
          if (key.service == service) n += c.tunnels.get();
        },
        nullptr);
  return n;
}

uint64_t Controller::upstream_connections_open(const std::string& service) const {
  if (!snapshot_) return 0;
  const int i = snapshot_->service_index(service);
  if (i < 0) return 0;
  const runtime::Snapshot::Service& svc = snapshot_->services[static_cast<size_t>(i)];
  uint64_t n = 0;
  for (const auto& ep : svc.endpoints) {
    const std::string key = runtime::pool_key(svc, ep);
    for (const auto& w : workers_.workers())
      if (const metrics::UpstreamPoolCells* c = w->metrics().find_upstream_pool(key))
        n += c->open.get();
  }
  return n;
}

uint64_t Controller::requests_in_flight(const std::string& service) const {
  uint64_t n = 0;
  for (const auto& w : workers_.workers())
    w->metrics().visit(nullptr,
                       [&](const metrics::EndpointKey& key, const metrics::EndpointCells& c) {
                         if (key.service == service) n += c.active.get();
                       });
  return n;
}

void Controller::drain_tunnels(const std::string& route, const std::string& service,
                               std::chrono::milliseconds delay, std::chrono::milliseconds over,
                               std::function<void(uint64_t)> done) {
  const size_t workers = workers_.size();
  if (workers == 0) {
    if (done) asio::post(io_, [done] { done(0); });
    return;
  }
  auto picked = std::make_shared<std::atomic<uint64_t>>(0);
  workers_.for_each_worker(
      [key = metrics::BackendKey{route, service}, delay, over, workers,
       picked](runtime::Worker& w) {
        // Each worker spreads its own tunnels; its phase interleaves its slots with the others'.
        const double phase = static_cast<double>(w.index()) / static_cast<double>(workers);
        picked->fetch_add(w.drain_tunnels(key, delay, over, phase), std::memory_order_relaxed);
      },
      // `done` (it may hold a control client) moves to the control thread whole, and ends there.
      [io = &io_, picked, done = std::move(done)]() mutable {
        if (done) asio::post(*io, [picked, done = std::move(done)] { done(picked->load()); });
      });
}

void Controller::stop_tunnel_drain(const std::string& route, const std::string& service,
                                   std::function<void()> done) {
  if (workers_.size() == 0) {
    if (done) asio::post(io_, done);
    return;
  }
  workers_.for_each_worker(
      [key = metrics::BackendKey{route, service}](runtime::Worker& w) { w.stop_tunnel_drain(key); },
      [io = &io_, done = std::move(done)]() mutable {
        if (done) asio::post(*io, std::move(done));
      });
}

void Controller::close_idle_connections(const std::string& service) {
  if (workers_.size() == 0) return;
  workers_.for_each_worker([service](runtime::Worker& w) { w.close_idle_connections(service); },
                           [] {});
}

void Controller::register_tunnel_commands(CommandTable& table) {
  table.add(
      {"tunnels drain", "ROUTE NS/SVC [--over DURATION] [--after DURATION]",
       "close the route's tunnels (WebSocket and other Upgrades) to a service that are open now: "
       "none before --after, then one by one over --over (default 0s: all at once); a WebSocket "
       "gets a Close between two messages; replies with how many",
       [this](const Args& args, std::shared_ptr<Responder> r) {
         std::vector<std::string> names;
         config::Duration over{0}, after{0};
         for (size_t i = 0; i < args.size(); ++i) {
           if (args[i] != "--over" && args[i] != "--after") {
             names.push_back(args[i]);
             continue;
           }
           if (i + 1 >= args.size()) return r->reply(error_reply(args[i] + " needs a value"));
           auto d = parse_duration_argument(args[i], args[i + 1]);
           if (!d.ok()) return r->reply(error_reply(d.error().message));
           if (*d > std::chrono::hours(24))
             return r->reply(
                 error_reply(args[i] + ": at most 24h, got " + config::format_duration(*d)));
           (args[i] == "--over" ? over : after) = *d;
           ++i;
         }
         if (names.size() != 2)
           return r->reply(error_reply(
               "usage: tunnels drain ROUTE NS/SVC [--over DURATION] [--after DURATION]"));
         std::string route = names[0], service = names[1];
         bool backend = false;
         for (const auto& rt : config().routes)
           if (rt.name == route)
             for (const auto& b : rt.backends)
               backend = backend || b.service == service;
         if (!backend)
           return r->reply(error_reply("service \"" + service + "\" is not a backend of route \"" +
                                       route + "\""));
         drain_tunnels(route, service, after, over,
                       [r, route, service, over, after](uint64_t picked) {
                         r->reply(ok_reply([&](json::Writer& w) {
                           w.key("route").value(route).key("service").value(service);
                           w.key("tunnels").value(picked);
                           w.key("after").value(config::format_duration(after));
                           w.key("over").value(config::format_duration(over));
                         }));
                       });
       }});

  table.add({"tunnels stop", "ROUTE NS/SVC",
             "cancel a tunnels drain: the tunnels not closed yet stay open (those closing "
             "finish their closing handshake)",
             [this](const Args& args, std::shared_ptr<Responder> r) {
               if (args.size() != 2)
                 return r->reply(error_reply("usage: tunnels stop ROUTE NS/SVC"));
               std::string route = args[0], service = args[1];
               stop_tunnel_drain(route, service, [this, r, route, service] {
                 r->reply(ok_reply([&](json::Writer& w) {
                   w.key("route").value(route).key("service").value(service);
                   w.key("tunnels").value(tunnels_open(route, service));
                 }));
               });
             }});
}

} // namespace weir::control
