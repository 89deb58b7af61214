// The mirror thread: sends the workers' copies to the mirror service, pairs the mirror's answer
// with the client's (and, for a share, a second stable endpoint's as noise), keeps the tally.
#include "weir/mirror/sender.h"

#include "mirror_client.h"
#include "weir/base/log.h"
#include "weir/metrics/prometheus.h"
#include "weir/mirror/fingerprint.h"
#include "weir/mirror/tap.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <pthread.h>
#include <sched.h>
#include <unordered_set>

namespace weir::mirror {

namespace asio = boost::asio;

namespace {

// A compared copy whose client answer has not come by then is given up (the connection that
// owes it is gone without a word, which should not happen; this only bounds memory).
constexpr auto kPendingLimit = std::chrono::minutes(5);

bool safe_method(std::string_view m) {
  return m == "GET" || m == "HEAD" || m == "OPTIONS";
}

// The whole exchange of a mirrored request: the route's request timeout, else its
// backend_request timeout, else the upstream read timeout (30 s).
std::chrono::milliseconds exchange_timeout(const config::Timeouts& t) {
  if (t.request.count() > 0) return t.request;
  if (t.backend_request.count() > 0) return t.backend_request;
  return t.upstream_read;
}

} // namespace

struct Sender::Pending {
  std::unique_ptr<Copy> copy;
  std::string bytes; // the mirrored request as sent: head and body
  std::string mirror_service;
  config::Compare compare;
  std::chrono::milliseconds connect_timeout{1000};
  std::chrono::milliseconds timeout{30000};
  std::chrono::steady_clock::time_point since;
  bool mirror_done = false;
  Answer mirror;
  std::string mirror_result; // the mirror's status class, or why it gave no answer
  std::unique_ptr<ClientAnswer> client;
  bool noise_pending = false;
};

class Sender::Client : public MirrorClient {
public:
  using MirrorClient::MirrorClient;
};

Sender::Sender(unsigned workers) : sweep_timer_(io_) {
  for (unsigned w = 0; w < workers; ++w)
    lanes_.push_back(std::make_unique<Lane>(*this, w));
  client_ = std::make_unique<Client>(io_);
}

Sender::~Sender() {
  stop();
}

void Sender::start() {
  if (thread_.joinable()) return;
  sweep();
  thread_ = std::thread([this] {
    // The copies are never urgent, the clients' requests always are: SCHED_BATCH keeps a woken
    // mirror thread from preempting a worker on a shared core (bench/mirror.sh measured one or
    // two forced switches of the worker per copy without it). Its share of the CPU stays a
    // fair one (a lower priority starved it on a busy machine until max_in_flight dropped a
    // third of the copies). Named, so `top -H` shows it apart.
    pthread_setname_np(pthread_self(), "weir-mirror");
    sched_param batch{};
    pthread_setschedparam(pthread_self(), SCHED_BATCH, &batch);
    auto guard = asio::make_work_guard(io_);
    try {
      io_.run();
    } catch (const std::exception& e) {
      log::error(std::string("mirror: the mirror thread stopped: ") + e.what());
    }
  });
}

void Sender::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

void Sender::install(std::shared_ptr<const runtime::Snapshot> snapshot) {
  asio::post(io_, [this, snapshot = std::move(snapshot)]() mutable {
    snapshot_ = std::move(snapshot);
    // Idle connections to endpoints that left every service would stay open for good (a
    // Kubernetes service's pods come and go with each deploy).
    std::unordered_set<std::string_view> keys;
    for (const auto& svc : snapshot_->services)
      for (const auto& ep : svc.endpoints)
        keys.insert(ep.key);
    client_->forget_idle_except([&](const std::string& key) { return keys.count(key) > 0; });
    std::erase_if(backing_off_, [&](const auto& b) { return keys.count(b.first) == 0; });
  });
}

// The posts own what they carry: one still queued when the thread stops is freed with the
// io_context, not leaked.
void Sender::submit(std::unique_ptr<Copy> copy) {
  // One post per mirrored request (Asio's queue takes a lock): only sampled requests pay it.
  asio::post(io_, [this, c = std::move(copy)]() mutable { on_copy(std::move(c)); });
}

void Sender::answered(std::unique_ptr<ClientAnswer> answer) {
  asio::post(io_, [this, a = std::move(answer)]() mutable { on_answer(std::move(a)); });
}

void Sender::on_copy(std::unique_ptr<Copy> copy) {
  {
    std::lock_guard lock(counts_mutex_);
    counts_[copy->route]; // the route shows in /metrics from its first copy on
  }
  auto release = [&] { copy->in_flight->fetch_sub(1, std::memory_order_relaxed); };
  const int ri = snapshot_ ? snapshot_->route_index(copy->route) : -1;
  const runtime::Snapshot::Route* route =
      ri < 0 ? nullptr : &snapshot_->routes[static_cast<size_t>(ri)];
  if (!route || route->mirror.service < 0) {
    // A reload took the route's mirror away meanwhile.
    count_drop(copy->route, DropReason::no_endpoint);
    return release();
  }
  const runtime::Snapshot::Service& svc =
      snapshot_->services[static_cast<size_t>(route->mirror.service)];
  if (svc.tls) {
    count_drop(copy->route, DropReason::tls);
    return release();
  }
  const bool no_endpoint = svc.available.empty();
  if (no_endpoint) {
    count_drop(copy->route, DropReason::no_endpoint);
    // Compared, the copy is still judged against the client's answer: a mirror with no
    // endpoint to answer gives no answer, which diverges (a dead canary fails its analysis
    // rather than leaving it inconclusive for want of comparisons).
    if (!copy->compare) return release();
  }
  auto p = std::make_unique<Pending>();
  p->bytes = mirror_request_head(copy->head, copy->body.size());
  p->bytes += copy->body;
  copy->head.clear();
  copy->body.clear();
  p->mirror_service = svc.id;
  if (copy->compare) {
    p->compare = route->mirror.settings;
    p->compare.headers = std::move(copy->compared_headers);
  }
  p->connect_timeout = route->timeouts.connect;
  p->timeout = exchange_timeout(route->timeouts);
  p->since = std::chrono::steady_clock::now();
  p->copy = std::move(copy);
  const uint64_t seq = p->copy->seq;
  Pending& pending = *pending_.emplace(seq, std::move(p)).first->second;
  if (no_endpoint) {
    pending.mirror_done = true;
    pending.mirror_result = "no endpoint available";
    return; // settled once the client's answer is in (on_answer)
  }
  send(pending, false, route->mirror.service, {});
}

void Sender::send(Pending& p, bool noise, int service, std::string_view avoid_endpoint) {
  const runtime::Snapshot::Service& svc = snapshot_->services[static_cast<size_t>(service)];
  uint32_t& cursor = cursors_[svc.id];
  const size_t n = svc.available.size();
  const runtime::Snapshot::Endpoint* ep = nullptr;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < n; ++i) {
    const auto& candidate = svc.endpoints[svc.available[cursor++ % n]];
    if (candidate.key == avoid_endpoint) continue;
    if (auto b = backing_off_.find(candidate.key); b != backing_off_.end()) {
      if (now < b->second) continue;
      backing_off_.erase(b); // this copy tries it again
    }
    ep = &candidate;
    break;
  }
  if (!ep) {
    if (noise) return; // no second endpoint to ask this time
    // Compared, the copy is judged as the failed connect it would have been.
    count_drop(p.copy->route, DropReason::backing_off);
    return on_sent(p.copy->seq, false, Answer{}, "connect");
  }
  MirrorClient::Request req;
  req.endpoint = ep->address;
  req.key = ep->key;
  req.bytes = p.bytes;
  req.head_request = p.copy->method == "HEAD";
  req.headers = p.compare.headers;
  req.keep_body = p.copy->compare && p.compare.body != config::Compare::Body::none;
  req.connect_timeout = p.connect_timeout;
  req.timeout = p.timeout;
  if (noise) p.noise_pending = true;
  client_->send(std::move(req),
                [this, seq = p.copy->seq, noise, service = svc.id, route = p.copy->route,
                 key = ep->key](Answer answer, std::string result) {
                  count_request(route, service, noise, result);
                  if (result == "connect")
                    backing_off_[key] = std::chrono::steady_clock::now() + kConnectBackOff;
                  on_sent(seq, noise, std::move(answer), std::move(result));
                });
}

void Sender::on_sent(uint64_t seq, bool noise, Answer answer, std::string result) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  if (noise) {
    p.noise_pending = false;
    if (p.client && p.client->answered) judge(p, answer, true);
  } else {
    p.mirror_done = true;
    p.mirror = std::move(answer);
    p.mirror_result = std::move(result);
    if (p.copy->compare && p.client && p.client->answered && p.client->service != p.mirror_service)
      judge(p, p.mirror, false);
  }
  settle(seq);
}

void Sender::on_answer(std::unique_ptr<ClientAnswer> answer) {
  auto it = pending_.find(answer->seq);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  p.client = std::move(answer);
  const ClientAnswer& c = *p.client;
  if (!c.answered) {
    count_uncompared(p.copy->route, "client_no_answer");
  } else if (c.service == p.mirror_service) {
    // The mirror service answered the client itself (a canary's share of the split): nothing
    // to compare it with.
    count_uncompared(p.copy->route, "served_by_mirror");
  } else {
    if (p.mirror_done) judge(p, p.mirror, false);
    // Noise: a second endpoint of the service that answered, for a share of the compared
    // requests, never a request with side effects.
    const int served = snapshot_ ? snapshot_->service_index(c.service) : -1;
    if (served >= 0 && safe_method(p.copy->method)) {
      const auto& svc = snapshot_->services[static_cast<size_t>(served)];
      size_t others = 0;
      for (uint32_t i : svc.available)
        others += svc.endpoints[i].key != c.endpoint;
      if (others > 0 && !svc.tls) {
        double& credit = noise_credit_[p.copy->route];
        credit += kNoiseShare;
        if (credit >= 1) {
          credit -= 1;
          send(p, true, served, c.endpoint);
        }
      }
    }
  }
  settle(p.copy->seq);
}

void Sender::judge(Pending& p, const Answer& other, bool noise) {
  const Fingerprint client = fingerprint(p.compare, p.client->answer);
  const Fingerprint theirs = fingerprint(p.compare, other);
  const Difference d = differences(p.compare, client, theirs);
  if (!d.comparable) return count_uncompared(p.copy->route, "answer_too_large");
  Divergence sample;
  if (!d.what.empty() && !noise) {
    sample.method = p.copy->method;
    sample.path = p.copy->target;
    sample.what = d.what;
    // Why there was no answer (connect, timeout, reset, bad_response, no endpoint available).
    if (other.status == 0 && !p.mirror_result.empty()) sample.what += " (" + p.mirror_result + ")";
    sample.at = std::chrono::system_clock::now();
  }
  book_.add(p.copy->route, noise, !d.what.empty(), std::move(sample));
}

void Sender::settle(uint64_t seq) {
  auto it = pending_.find(seq);
  if (it == pending_.end()) return;
  Pending& p = *it->second;
  const bool done = p.mirror_done && !p.noise_pending && (!p.copy->compare || p.client);
  if (!done) return;
  p.copy->in_flight->fetch_sub(1, std::memory_order_relaxed);
  pending_.erase(it);
}

void Sender::sweep() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    Pending& p = *it->second;
    if (now - p.since < kPendingLimit) {
      ++it;
      continue;
    }
    count_uncompared(p.copy->route, "expired");
    p.copy->in_flight->fetch_sub(1, std::memory_order_relaxed);
    it = pending_.erase(it);
  }
  sweep_timer_.expires_after(std::chrono::seconds(1));
  sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) sweep();
  });
}

void Sender::count_request(const std::string& route, const std::string& service, bool noise,
                           const std::string& result) {
  std::lock_guard lock(counts_mutex_);
  ++counts_[route].requests[{service, noise ? "noise" : "mirror", result}];
}

void Sender::count_uncompared(const std::string& route, const std::string& reason) {
  std::lock_guard lock(counts_mutex_);
  ++counts_[route].uncompared[reason];
}

void Sender::count_drop(const std::string& route, DropReason reason) {
  std::lock_guard lock(counts_mutex_);
  ++counts_[route].dropped[static_cast<size_t>(reason)];
}

void Sender::write_metrics(std::string& out) const {
  std::map<std::string, std::vector<uint64_t>> dropped;
  for (const auto& lane : lanes_)
    lane->add_dropped(dropped);
  std::lock_guard lock(counts_mutex_);
  for (const auto& [route, c] : counts_) {
    auto& sums = dropped[route];
    sums.resize(static_cast<size_t>(DropReason::kCount));
    for (size_t i = 0; i < sums.size(); ++i)
      sums[i] += c.dropped[i];
  }
  if (dropped.empty()) return;
  auto labels = [&](std::initializer_list<std::pair<std::string_view, std::string_view>> kv) {
    out.push_back('{');
    bool first = true;
    for (const auto& [k, v] : kv) {
      if (!first) out.push_back(',');
      first = false;
      out.append(k).append("=\"");
      metrics::append_label_value(out, v);
      out.push_back('"');
    }
    out.append("} ");
  };
  out += "# HELP weir_mirror_requests_total Mirrored requests weir sent itself, by route, the "
         "service they went to, role (mirror: the route's mirror; noise: a second stable "
         "endpoint) and result (status class, or connect, timeout, reset, bad_response); in none "
         "of the client figures.\n# TYPE weir_mirror_requests_total counter\n";
  for (const auto& [route, c] : counts_)
    for (const auto& [key, n] : c.requests) {
      out += "weir_mirror_requests_total";
      labels({{"route", route},
              {"service", std::get<0>(key)},
              {"role", std::get<1>(key)},
              {"result", std::get<2>(key)}});
      out += std::to_string(n) + "\n";
    }
  out += "# HELP weir_mirror_dropped_total Requests sampled for mirroring but not mirrored, by "
         "reason (in_flight: max_in_flight reached; body_too_large: max_body_bytes; "
         "no_endpoint: the mirror service had none available; tls: not supported).\n"
         "# TYPE weir_mirror_dropped_total counter\n";
  for (const auto& [route, sums] : dropped)
    for (size_t i = 0; i < sums.size(); ++i) {
      out += "weir_mirror_dropped_total";
      labels({{"route", route}, {"reason", drop_reason_name(static_cast<DropReason>(i))}});
      out += std::to_string(sums[i]) + "\n";
    }
  out += "# HELP weir_mirror_comparisons_total Shadow comparisons of an answer with the one the "
         "client got, by role (mirror: the mirror service's; noise: a second stable endpoint's) "
         "and result (same, diverged).\n# TYPE weir_mirror_comparisons_total counter\n";
  for (const auto& [route, sums] : dropped) {
    const DivergenceCounts d = book_.counts(route);
    const std::pair<const char*, uint64_t> rows[][2] = {
        {{"same", d.compared - d.diverged}, {"diverged", d.diverged}},
        {{"same", d.noise_compared - d.noise_diverged}, {"diverged", d.noise_diverged}}};
    for (int role = 0; role < 2; ++role)
      for (const auto& [result, n] : rows[role]) {
        out += "weir_mirror_comparisons_total";
        labels({{"route", route}, {"role", role ? "noise" : "mirror"}, {"result", result}});
        out += std::to_string(n) + "\n";
      }
  }
  out += "# HELP weir_mirror_uncompared_total Mirrored requests with compare whose answers were "
         "not compared, by reason (client_no_answer, served_by_mirror, answer_too_large, "
         "expired).\n# TYPE weir_mirror_uncompared_total counter\n";
  for (const auto& [route, c] : counts_)
    for (const auto& [reason, n] : c.uncompared) {
      out += "weir_mirror_uncompared_total";
      labels({{"route", route}, {"reason", reason}});
      out += std::to_string(n) + "\n";
    }
}

} // namespace weir::mirror
