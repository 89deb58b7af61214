#pragma once

#include "weir/base/result.h"
#include "weir/config/config.h"
#include "weir/discovery/source.h"
#include "weir/discovery/watch_stream.h"
#include "weir/net/http_client.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace weir::discovery {

// Where and how the API server is reached, the in-cluster defaults filled in.
struct ApiAccess {
  net::Url url;
  std::string token_file;
  std::string ca_file;
};
// From the config's `kubernetes` block, else KUBERNETES_SERVICE_HOST/_PORT and the pod's
// ServiceAccount files (`env` looks a variable up: getenv in weir). An error says what is missing.
Result<ApiAccess> api_access(const config::Kubernetes& config,
                             const std::function<const char*(const char*)>& env);

// The bearer token from `token_file`, read without blocking (a FIFO or a device in its place is
// refused, not waited on), at most 64 KiB, and refused when it holds a line break or a control
// character (it would end the Authorization header and start another of the file's making).
// "" and `error` set when it cannot be used.
std::string read_token(const std::string& token_file, std::string& error);

// A request to the API server for `target` (a path and query, after api_server's own path
// prefix), with the bearer token read now; `error` set when the token cannot be read.
net::HttpRequest api_request(const ApiAccess& api, const std::string& target, std::string& error);

// One collection of the Kubernetes API kept current: LIST, then WATCH from the list's
// resourceVersion (with bookmarks), again from the last version seen when a watch ends, a new
// LIST when the server says the version is too old (410 Gone), and a growing pause (0.2 s to
// 10 s, ±20 %) after errors; a watch that ends before it was up for 30 s is one. The bearer
// token is read from its file for every request, so a rotated token is used as soon as the file
// has it. The objects go to the owner's handlers as JSON; what they mean is the owner's business
// (EndpointSlices: KubernetesWatch; Gateway API objects: gateway::ObjectCache).
// Control thread only; the handlers run on it, never inside start().
class ResourceWatch {
public:
  struct What {
    std::string collection;     // "/apis/discovery.k8s.io/v1/namespaces/app/endpointslices"
    std::string label_selector; // "" for none
    std::string resource;       // for messages: "endpointslices in app", "httproutes"
    std::string log_prefix;     // "discovery: kubernetes service app/app port http"
  };
  struct Handlers {
    // A complete list, which replaces every object known before; "" or why it cannot be used
    // (the list is retried after a pause).
    std::function<std::string(const json::Value::Array& items)> listed;
    // One ADDED, MODIFIED or DELETED object; true when it changed something. `error` set: the
    // object cannot be used, and the watch starts over after a pause.
    std::function<bool(WatchType type, const json::Value& object, std::string& error)> event;
    // After a list (`first`: the first complete one), or after a piece of the stream whose
    // events changed something.
    std::function<void(bool first)> changed;
  };

  // `status` (the owner's, outliving this) gets answered, last_error and failures.
  ResourceWatch(boost::asio::io_context& io, ApiAccess api, What what, SourceStatus& status,
                Handlers handlers);
  ~ResourceWatch();
  ResourceWatch(const ResourceWatch&) = delete;
  ResourceWatch& operator=(const ResourceWatch&) = delete;

  void start();
  const ApiAccess& api() const { return api_; }

private:
  void list();
  void on_list(net::HttpResponse r);
  void watch();
  bool on_watch_head(int status);
  bool on_watch_bytes(std::string_view piece);
  void on_watch_end(net::HttpResponse r);
  // What to do after a failure: wait (backing off), then `next`.
  void fail(std::string error, bool relist);
  void retry_later(bool relist);
  net::HttpRequest request(bool watch, std::string& error) const;
  std::string refusal(const char* verb, int status) const;

  boost::asio::io_context& io_;
  ApiAccess api_;
  What what_;
  SourceStatus& status_;
  Handlers handlers_;
  std::string resource_version_;
  std::string line_;        // a watch event line not yet complete
  bool relist_ = false;     // set by an event: the watch must start over with a LIST
  bool watch_ok_ = false;   // the current watch was accepted (200)
  std::string watch_error_; // why the current watch ended, seen in its stream
  std::chrono::steady_clock::time_point watch_started_;
  int errors_in_a_row_ = 0;
  net::HttpClient::Abort abort_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<bool> alive_;
};

} // namespace weir::discovery
