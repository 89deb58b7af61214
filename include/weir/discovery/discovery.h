#pragma once

#include "weir/config/config.h"
#include "weir/discovery/dns_resolver.h"
#include "weir/discovery/dns_watch.h"
#include "weir/discovery/kubernetes_watch.h"
#include "weir/discovery/source.h"

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace weir::discovery {

// Service discovery on the control thread: for every service with DNS names or a Kubernetes
// Service, the sources that keep its endpoints current, and what they found, handed to
// `publish` (the controller, which publishes a snapshot) whenever it changes. Sources whose
// settings a reload keeps go on running, their endpoints kept.
// Control thread only; `publish` runs on it, never inside configure().
class Discovery {
public:
  using Publish = std::function<void(const std::string& service, const Found& found)>;
  using Env = std::function<const char*(const char*)>;
  Discovery(boost::asio::io_context& io, Publish publish, Env env);
  ~Discovery();

  // Starts, keeps or stops sources to match `config` (as loaded from the file). `inherited`
  // (an upgrade's handover, by service id): what the old process had found, used until the
  // sources answer, and counted as answered (the old process was ready with it).
  void configure(const config::Config& config, const std::map<std::string, Found>& inherited = {});
  void stop();
  // An upgrade's commit: the old process's last word replaces what it handed over before, for
  // the services whose own sources have not answered yet.
  void refresh_inherited(const std::map<std::string, Found>& latest);

  // "" once every discovered service had its first answer (every DNS name resolved once, a
  // first complete list of each Kubernetes Service); else why not, one line per source. Once
  // ready, weir stays ready: a service a reload adds later, or an outage, is reported by
  // status() and the metrics, not by taking every replica out of its load balancer at once
  // (Envoy's init manager does the same with clusters added after start).
  std::string not_ready() const;
  // Whether `service` has discovery sources.
  bool discovers(const std::string& service) const { return entries_.count(service) > 0; }
  // The sources of a service (empty: it has none).
  std::vector<SourceStatus> status(const std::string& service) const;
  // What was found for every discovered service now.
  std::map<std::string, Found> found() const;
  // weir_dns_failures_total, weir_kubernetes_failures_total, weir_discovered_endpoints.
  void write_metrics(std::string& out) const;

private:
  struct Entry;
  Found found_of(const std::string& service, const Entry& e) const;
  std::string waiting_for() const;
  void update_ready();
  void changed(const std::string& service);

  boost::asio::io_context& io_;
  Publish publish_;
  Env env_;
  config::Resolver resolver_settings_;
  std::unique_ptr<DnsResolver> resolver_;
  std::map<std::string, std::unique_ptr<Entry>> entries_; // by service id
  bool ready_ = false;                                    // every source answered once (latched)
};

} // namespace weir::discovery
