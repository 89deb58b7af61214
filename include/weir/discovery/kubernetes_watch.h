#pragma once

#include "weir/config/config.h"
#include "weir/discovery/endpoint_slices.h"
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

// The EndpointSlices of one Kubernetes Service, kept current: LIST, then WATCH from the list's
// resourceVersion (with bookmarks), again from the last version seen when a watch ends, a new
// LIST when the server says the version is too old (410 Gone), and a growing pause (0.2 s to
// 10 s, ±20 %) after errors; a watch that ends before it was up for 30 s is one. The bearer
// token is read from its file for every request, so a rotated token is used as soon as the file has
// it. An address that leaves every slice without having been terminating stays for a short grace:
// moving between slices (gone from one, then in another) never drops it. Control thread only;
// `changed` runs on it when endpoints() changed.
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
  void list();
  void on_list(net::HttpResponse r);
  void watch();
  bool on_watch_head(int status);
  bool on_watch_bytes(std::string_view piece);
  void on_watch_end(net::HttpResponse r);
  // What to do after a failure: wait (backing off), then `next`.
  void fail(std::string error, bool relist);
  void retry_later(bool relist);
  std::string read_token(std::string& error) const;
  net::HttpRequest request(bool watch, std::string& error) const;
  // `first_answer`: tell the owner even when nothing changed (the first list).
  void recompute(bool first_answer = false);

  boost::asio::io_context& io_;
  ApiAccess api_;
  std::string ns_;
  config::KubernetesRef ref_;
  Changed changed_;
  std::map<std::string, Slice> slices_;
  std::string resource_version_;
  Merged published_;
  struct Lingering {
    config::Address address;
    std::chrono::steady_clock::time_point until;
  };
  std::map<std::string, Lingering> lingering_; // by Address::text()
  std::string line_;                           // a watch event line not yet complete
  bool relist_ = false;     // set by an event: the watch must start over with a LIST
  bool watch_ok_ = false;   // the current watch was accepted (200)
  std::string watch_error_; // why the current watch ended, seen in its stream
  std::chrono::steady_clock::time_point watch_started_;
  int errors_in_a_row_ = 0;
  net::HttpClient::Abort abort_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer grace_timer_;
  SourceStatus status_;
  std::shared_ptr<bool> alive_;
};

} // namespace weir::discovery
