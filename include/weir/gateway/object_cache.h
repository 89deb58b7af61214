#pragma once

#include "weir/base/json.h"
#include "weir/discovery/resource_watch.h"
#include "weir/gateway/translate.h"

#include <boost/asio/io_context.hpp>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

namespace weir::gateway {

// The kinds of object the in-cluster controller watches, cluster-wide.
enum class Kind { gateway_class, gateway, http_route, reference_grant, service, namespace_ };
inline constexpr Kind kWatchedKinds[] = {Kind::gateway_class,   Kind::gateway, Kind::http_route,
                                         Kind::reference_grant, Kind::service, Kind::namespace_};
// The API path of a kind's collection ("/apis/gateway.networking.k8s.io/v1/httproutes").
std::string collection_of(Kind kind);
// The path of one object's status subresource (cluster-scoped kinds ignore `ns`).
std::string status_path_of(Kind kind, const std::string& ns, const std::string& name);
// "HTTPRoute", ...; its apiVersion.
const char* kind_name(Kind kind);
const char* api_version_of(Kind kind);

// The Gateway API objects of the cluster (and the Services and Namespaces they point at), kept
// current by one ResourceWatch per kind; the objects are kept as the API server sent them
// (status included: the status writer gives other controllers' entries back unchanged).
// `changed` runs when something the routes depend on changed, not when only an object's status
// or resourceVersion did (weir's own status writes would otherwise come back as work).
// Control thread only; `changed` runs on it, never inside start().
class ObjectCache {
public:
  using Changed = std::function<void()>;
  ObjectCache(boost::asio::io_context& io, discovery::ApiAccess api, Changed changed);
  ~ObjectCache();
  ObjectCache(const ObjectCache&) = delete;
  ObjectCache& operator=(const ObjectCache&) = delete;

  void start();
  // Every kind had its first complete list.
  bool listed() const;
  // The objects as the translator reads them; `problems` gets what could not be read.
  Objects objects(std::vector<Problem>& problems) const;
  // The object as last sent (nullptr when unknown).
  const json::Value* find(Kind kind, const std::string& ns, const std::string& name) const;
  // Every object of a kind, by (ns, name).
  std::vector<std::pair<std::string, std::string>> names(Kind kind) const;
  // An object as a write of ours returned it (the PATCH's answer), which was built from the
  // object at `based_on` (its resourceVersion): kept until the watch brings it or a newer one,
  // without calling `changed` for a status-only difference. Ignored when the cache holds another
  // version by now: the watch brought a newer object (a client's change made while the write
  // was on its way), which the answer's older spec must not replace.
  void update(Kind kind, const json::Value& object, const std::string& based_on);
  // For /ready, `show`, the log: the watch of each kind.
  std::vector<discovery::SourceStatus> status() const;

private:
  struct Entry {
    json::Value object;
    std::string shape; // the object without status and resourceVersion, as JSON: what counts
    Objects parsed;    // the object as the translator reads it (one element)
    std::vector<Problem> problems;
  };
  struct Watched;
  // Stores `object` of `kind`; true when its shape changed.
  bool put(Kind kind, const json::Value& object);
  bool erase(Kind kind, const json::Value& object);

  Changed changed_;
  std::map<std::tuple<Kind, std::string, std::string>, Entry> objects_;
  std::vector<std::unique_ptr<Watched>> watches_;
};

} // namespace weir::gateway
