#pragma once

#include "weir/config/config.h"
#include "weir/discovery/source.h"
#include "weir/gateway/object_cache.h"
#include "weir/gateway/status_writer.h"
#include "weir/gateway/translate.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace weir::gateway {

// What the cluster's Gateway API objects add to the file's config: routes, and the services
// they send to (found through EndpointSlices, as `kubernetes:` services are).
struct ClusterRoutes {
  std::vector<config::Service> services; // none with the id of a file's service
  std::vector<config::Route> routes;     // none with the name of a file's route
};

// weir's in-cluster Gateway API controller: it watches GatewayClasses, Gateways, HTTPRoutes,
// ReferenceGrants, Services and Namespaces cluster-wide (ObjectCache), and when the routes
// they describe change (debounced by kSettle, so a client's burst of edits is one change and a
// weight change reaches traffic well within a second) translates them (translate.h) for the
// GatewayClass named `gateway.class_name` whose spec.controllerName is kControllerName, hands
// the routes to `publish`, and writes each HTTPRoute's status.parents (StatusWriter) and the
// GatewayClass's Accepted condition.
//
// Gateway listeners are served on the file's listeners, never on ports the cluster picks: the
// file's listener on the same port, else, for the lowest such Gateway port only, the file's
// first listener without TLS that no Gateway port has by number. A cluster route
// or service whose name the file already uses is refused (Accepted False, reason NameConflict);
// a file service with the same id and the same Kubernetes Service and port is shared.
// Control thread only; `publish` runs on it, never inside configure().
class GatewayController {
public:
  static constexpr std::chrono::milliseconds kSettle{50};
  // "" once published; else why not (the routes are kept as they were, the status is still
  // written).
  using Publish = std::function<std::string(std::shared_ptr<const ClusterRoutes>)>;
  GatewayController(boost::asio::io_context& io, discovery::ApiAccess api, Publish publish);
  ~GatewayController();
  GatewayController(const GatewayController&) = delete;
  GatewayController& operator=(const GatewayController&) = delete;

  // The file's config as loaded (now or after a reload): its listeners, route names and
  // services are what the cluster's routes must fit beside. Starts the watches on first call.
  void configure(std::shared_ptr<const config::Config> file);
  // The watches and the status writes, for `show services`-like reports and /ready.
  std::vector<discovery::SourceStatus> status() const;
  bool listed() const { return cache_.listed(); }
  const std::string& api_server() const { return api_server_; }

private:
  void changed();
  void rebuild();

  boost::asio::io_context& io_;
  Publish publish_;
  std::string api_server_;
  std::shared_ptr<const config::Config> file_;
  ObjectCache cache_;
  StatusWriter writer_;
  boost::asio::steady_timer settle_;
  bool started_ = false;
  bool pending_ = false;
  std::shared_ptr<const ClusterRoutes> published_;
  std::set<std::string> problems_logged_;
  std::map<std::string, std::string> check_cache_; // Options::check_cache

  std::shared_ptr<bool> alive_;
};

} // namespace weir::gateway
