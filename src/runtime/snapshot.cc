#include "weir/runtime/snapshot.h"

#include <boost/asio/ip/address.hpp>
#include <unordered_map>

namespace weir::runtime {

std::shared_ptr<const Snapshot> Snapshot::build(std::shared_ptr<const config::Config> config,
                                                uint64_t generation, std::string* error) {
  auto snap = std::make_shared<Snapshot>();
  snap->config = config;
  snap->generation = generation;
  std::unordered_map<std::string, uint32_t> service_index;
  for (const config::Service& s : config->services) {
    Service out;
    out.id = s.id();
    out.max_idle_connections = s.max_idle_connections;
    for (const config::Address& a : s.endpoints) {
      boost::system::error_code ec;
      auto ip = boost::asio::ip::make_address(a.host, ec);
      if (ec) {
        if (error) *error = "service " + out.id + ": bad endpoint address " + a.text();
        return nullptr;
      }
      out.endpoints.push_back({a.text(), {ip, a.port}});
    }
    service_index.emplace(out.id, static_cast<uint32_t>(snap->services.size()));
    snap->services.push_back(std::move(out));
  }
  for (const config::Route& r : config->routes) {
    Route out;
    out.name = r.name;
    out.timeouts = r.timeouts;
    out.unavailable_body = "no upstream available for route " + r.name + "\n";
    for (const config::Backend& b : r.backends) {
      auto it = service_index.find(b.service);
      if (it == service_index.end()) {
        if (error) *error = "route " + r.name + ": unknown service " + b.service;
        return nullptr;
      }
      out.backends.push_back({it->second, b.weight});
      out.weights.push_back(b.weight);
    }
    snap->routes.push_back(std::move(out));
  }
  for (const config::Listener& l : config->listeners)
    snap->listeners.push_back({l.name, l.address, route::Table::build(config->routes, l.name)});
  return snap;
}

} // namespace weir::runtime
