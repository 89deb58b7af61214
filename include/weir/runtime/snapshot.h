#pragma once

#include "weir/config/config.h"
#include "weir/route/table.h"

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace weir::runtime {

// Everything a worker needs to route a request, derived once from a Config (control thread)
// and never changed after it is published: a change builds a new Snapshot.
struct Snapshot {
  struct Endpoint {
    std::string key; // "host:port", also the identity of the worker's connection pool
    boost::asio::ip::tcp::endpoint address;
  };
  struct Service {
    std::string id; // "namespace/name"
    std::vector<Endpoint> endpoints;
    uint32_t max_idle_connections = 64;
  };
  struct Backend {
    uint32_t service = 0; // index into services
    uint32_t weight = 0;  // live weight (config weight unless overridden)
  };
  struct Route {
    std::string name;
    std::vector<Backend> backends;
    std::vector<uint32_t> weights; // same order as backends, for route::Split
    config::Timeouts timeouts;
    std::string unavailable_body; // 503 body naming the route
  };
  struct Listener {
    std::string name;
    config::Address address;
    route::Table table;
  };

  std::shared_ptr<const config::Config> config;
  std::vector<Service> services;
  std::vector<Route> routes; // same order as config->routes
  std::vector<Listener> listeners;
  uint64_t generation = 0;

  // Builds from a validated config. Fails only on what validation cannot see (an address that
  // does not parse as an IP address, for instance).
  static std::shared_ptr<const Snapshot> build(std::shared_ptr<const config::Config> config,
                                               uint64_t generation, std::string* error);
};

} // namespace weir::runtime
