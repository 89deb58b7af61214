#pragma once

#include "weir/base/json.h"
#include "weir/discovery/resource_watch.h"
#include "weir/gateway/object_cache.h"
#include "weir/gateway/translate.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace weir::gateway {

// The controllerName weir answers for: GatewayClasses with it are weir's, and it marks weir's
// entries in an HTTPRoute's status.parents.
inline constexpr const char* kControllerName = "weir.dev/gateway-controller";

// The JSON merge patch (RFC 7386) that makes an HTTPRoute's status.parents hold `parents` as
// weir's entries (those with controllerName `controller`), every other controller's entry given
// back as it is (a merge patch replaces the whole list); nullopt when the object says so
// already. Conditions (Accepted, ResolvedRefs) carry observedGeneration `generation`, and keep
// their lastTransitionTime while their status stays; a new one gets `now` (RFC 3339); messages
// are cut at 8 KiB. The patch holds the route's metadata.resourceVersion, a precondition. Pure.
std::optional<std::string> route_status_patch(const json::Value& route,
                                              const std::vector<ParentStatus>& parents,
                                              int64_t generation, const std::string& controller,
                                              const std::string& now);
// The same for a GatewayClass's status.conditions (Accepted).
std::optional<std::string> class_status_patch(const json::Value& gateway_class,
                                              const Condition& accepted, int64_t generation,
                                              const std::string& now);
// Now as Kubernetes writes times: "2024-05-01T12:00:00Z".
std::string rfc3339_now();

// Writes what the translation says into the objects' status subresources: PATCH with
// Content-Type application/merge-patch+json, only when the status would change (read from the
// cache, which the answer of each PATCH updates), one write per object at a time, the latest
// wish written when the one in flight ends. Errors are retried after a growing pause (0.2 s to
// 10 s), 409 too (the patch holds the resourceVersion it was built from, and is built again
// from the newer object); 404 (the object is gone) drops the write. A failure is logged when its
// text differs from the last one's. Control thread only.
class StatusWriter {
public:
  StatusWriter(boost::asio::io_context& io, discovery::ApiAccess api, ObjectCache& cache);
  ~StatusWriter();
  StatusWriter(const StatusWriter&) = delete;
  StatusWriter& operator=(const StatusWriter&) = delete;

  // Every HTTPRoute's status as `statuses` says (a cached HTTPRoute not among them loses weir's
  // entries), and the GatewayClass `class_name`'s Accepted condition when `accepted` is set.
  void write(const std::vector<RouteStatus>& statuses, const std::string& class_name,
             const std::optional<Condition>& accepted);

  uint64_t writes() const { return writes_; }
  uint64_t failures() const { return failures_; }
  const std::string& last_error() const { return last_error_; }

private:
  using Key = std::tuple<Kind, std::string, std::string>;
  struct Wish {
    // Builds the patch from the object as cached now (nullopt: nothing to write).
    std::function<std::optional<std::string>(const json::Value& object)> patch;
  };
  struct Slot {
    std::optional<Wish> wish; // the latest, not yet written
    bool in_flight = false;
    bool waiting = false; // for `retry` to fire after an error
    int errors_in_a_row = 0;
    std::unique_ptr<boost::asio::steady_timer> retry;
  };
  void want(const Key& key, Wish wish);
  void send(const Key& key);

  boost::asio::io_context& io_;
  discovery::ApiAccess api_;
  ObjectCache& cache_;
  std::map<Key, Slot> slots_;
  std::vector<net::HttpClient::Abort> aborts_;
  uint64_t writes_ = 0;
  uint64_t failures_ = 0;
  std::string last_error_;
  std::shared_ptr<bool> alive_;
};

} // namespace weir::gateway
