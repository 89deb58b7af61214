#include "weir/discovery/kubernetes_watch.h"

#include "weir/base/log.h"

#include <algorithm>

namespace weir::discovery {

namespace asio = boost::asio;

namespace {

SourceStatus status_of(const std::string& ns, const config::KubernetesRef& ref) {
  SourceStatus s;
  s.kind = "kubernetes";
  s.what = "kubernetes service " + ns + "/" + ref.service + " port " + ref.port_text();
  return s;
}

} // namespace

KubernetesWatch::KubernetesWatch(asio::io_context& io, ApiAccess api, std::string ns,
                                 config::KubernetesRef ref, Changed changed)
    : ns_(std::move(ns)), ref_(std::move(ref)), changed_(std::move(changed)), grace_timer_(io),
      status_(status_of(ns_, ref_)), alive_(std::make_shared<bool>(true)),
      watch_(
          io, std::move(api),
          {"/apis/discovery.k8s.io/v1/namespaces/" + net::percent_encode(ns_) + "/endpointslices",
           "kubernetes.io/service-name=" + ref_.service, "endpointslices in " + ns_,
           "discovery: " + status_.what},
          status_,
          {[this](const json::Value::Array& items) { return on_list(items); },
           [this](WatchType type, const json::Value& object, std::string& error) {
             return on_event(type, object, error);
           },
           [this](bool first) { recompute(first); }}) {}

KubernetesWatch::~KubernetesWatch() {
  *alive_ = false;
  grace_timer_.cancel();
}

void KubernetesWatch::start() {
  watch_.start();
}

std::string KubernetesWatch::on_list(const json::Value::Array& items) {
  std::map<std::string, Slice> listed;
  for (const auto& item : items) {
    auto s = parse_slice(item);
    if (!s.slice) return s.error;
    std::string name = s.slice->name;
    listed[name] = std::move(*s.slice);
  }
  slices_ = std::move(listed);
  return "";
}

bool KubernetesWatch::on_event(WatchType type, const json::Value& object, std::string& error) {
  auto s = parse_slice(object);
  if (!s.slice) {
    error = s.error;
    return false;
  }
  if (type == WatchType::deleted) return slices_.erase(s.slice->name) > 0;
  std::string name = s.slice->name;
  slices_[name] = std::move(*s.slice);
  return true;
}

void KubernetesWatch::recompute(bool first_answer) {
  Merged next = merge_slices(slices_, ref_);
  const auto now = std::chrono::steady_clock::now();
  // Addresses gone from every slice without terminating first linger (see kMoveGrace); one
  // still in a slice but not serving (a readiness failure, a pod shutting down) is out at once.
  const std::set<std::string>& present = next.present;
  for (const auto& a : published_.endpoints) {
    std::string key = a.text();
    if (present.count(key) || published_.terminating.count(key)) continue;
    lingering_.emplace(std::move(key), Lingering{a, now + kMoveGrace});
  }
  for (auto it = lingering_.begin(); it != lingering_.end();) {
    if (present.count(it->first) || it->second.until <= now) {
      it = lingering_.erase(it);
      continue;
    }
    next.endpoints.push_back(it->second.address);
    ++it;
  }
  std::sort(next.endpoints.begin(), next.endpoints.end(), address_less);
  if (!next.problem.empty() && next.problem != published_.problem)
    log::warn("discovery: " + status_.what + ": " + next.problem);
  if (!lingering_.empty()) {
    auto first = lingering_.begin()->second.until;
    for (const auto& [k, l] : lingering_)
      first = std::min(first, l.until);
    grace_timer_.expires_at(first);
    grace_timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
      if (!ec && *alive) recompute();
    });
  }
  const bool same =
      next.endpoints == published_.endpoints && next.terminating == published_.terminating;
  published_ = std::move(next);
  status_.endpoints = published_.endpoints.size();
  status_.problem = published_.problem;
  // The first answer is news even when it is empty: what was handed over is replaced by it.
  if (same && !first_answer) return;
  ++status_.updates;
  changed_();
}

} // namespace weir::discovery
