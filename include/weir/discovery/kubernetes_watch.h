#pragma once

#include "weir/config/config.h"
#include "weir/discovery/endpoint_slices.h"
#include "weir/discovery/resource_watch.h"
#include "weir/discovery/source.h"
#include "weir/net/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

namespace weir::discovery {

// The EndpointSlices of one Kubernetes Service, kept current by a ResourceWatch (LIST, WATCH,
// 410 relist, back-off, the token read for every request: resource_watch.h). An address that leaves
// every slice without having been terminating stays for a short grace: moving between slices (gone
// from one, then in another) never drops it. Control thread only; `changed` runs on it when
// endpoints() changed.
class KubernetesWatch {
public:
  using Changed = std::function<void()>;
  static constexpr std::chrono::milliseconds kMoveGrace{2000};

  KubernetesWatch(boost::asio::io_context& io, ApiAccess api, std::string ns,
                  config::KubernetesRef ref, Changed changed);
  ~KubernetesWatch();
  KubernetesWatch(const KubernetesWatch&) = delete;
  KubernetesWatch& operator=(const KubernetesWatch&) = delete;

  void start();
  const Merged& endpoints() const { return published_; }
  const SourceStatus& status() const { return status_; }

private:
  std::string on_list(const json::Value::Array& items);
  bool on_event(WatchType type, const json::Value& object, std::string& error);
  // `first_answer`: tell the owner even when nothing changed (the first list).
  void recompute(bool first_answer = false);

  std::string ns_;
  config::KubernetesRef ref_;
  Changed changed_;
  std::map<std::string, Slice> slices_;
  Merged published_;
  struct Lingering {
    config::Address address;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Lingering> lingering_; // by Address::text()
  boost::asio::steady_timer grace_timer_;
  SourceStatus status_;
  std::shared_ptr<bool> alive_;
  ResourceWatch watch_; // last: its handlers reach the members above
};

} // namespace weir::discovery
