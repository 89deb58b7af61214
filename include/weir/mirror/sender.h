#pragma once

#include "weir/http/head.h"
#include "weir/mirror/divergence.h"
#include "weir/runtime/snapshot.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <vector>

// Request mirroring (HTTPRoute's RequestMirror) and weir's shadow comparison.
//
// How it fits together:
// - Snapshot::Route::mirror (compiled in snapshot.cc) says whether and where a route mirrors:
//   the route's `mirror:` filter, or a live override (Snapshot::Overrides::mirrors, route →
//   {service, percent}) that wins over the file's. The rollout step set_mirror writes that
//   override (rollout::Manager through the Controller's live state, like rollout weights), so a
//   live percent reaches the workers in the next snapshot; the route's `mirror:` block still
//   gives max_body_bytes, max_in_flight and compare when it has one.
// - On a worker, Lane::sample picks the requests to mirror (a deterministic credit per route:
//   percent 10 mirrors every tenth request) and gives the connection a Tap (tap.h), which copies
//   the request as sent upstream (the rewritten head, Host kept, and its de-chunked body) and,
//   with compare, the answer the client got. Nothing on the client's path waits for the mirror.
// - The mirror thread (Sender: its own thread and io_context) sends each copy to an available
//   endpoint of the mirror service (round robin) with `x-weir-mirror: 1`, within the route's
//   timeouts, counts the outcome, and with compare pairs the mirror's answer with the client's
//   (by sequence number) and adds the pair to the DivergenceBook. For a share of the compared
//   requests (kNoiseShare, safe methods only) it also asks a second endpoint of the service that
//   answered the client, and adds that pair as noise.
// - The control thread reaches the tally through WorkerGroup::mirror().divergences()
//   (controller.workers().mirror().divergences(): counts per route for rollout analysis,
//   recent() for `rollout status`), and the admin server writes the mirror metrics with
//   write_metrics().
namespace weir::mirror {

class Sender;
class Tap;

// The header every mirrored (and noise) request carries, so the mirror can tell it apart.
inline constexpr std::string_view kMirrorHeader = "x-weir-mirror";
// Bodies compared at most this long (as relayed, de-chunked): a longer answer is not compared.
inline constexpr size_t kMaxComparedBody = 1 << 20;
// Of the compared requests whose stable service has two or more endpoints available, the share
// also sent to a second stable endpoint to measure noise (GET, HEAD and OPTIONS only: weir never
// repeats a request with side effects against the service that serves clients).
inline constexpr double kNoiseShare = 0.25;
// An endpoint whose connect failed is not tried again for this long: a down mirror would
// otherwise cost a socket, a connect and a close per copy on a core the workers share (bench:
// p99 +13 % at 10 % mirrored to a refusing port). Health checks do not cover it: a mirror
// service is often no backend at all.
inline constexpr std::chrono::milliseconds kConnectBackOff{1000};

// Why a sampled request was not mirrored (weir_mirror_dropped_total{reason}).
enum class DropReason : uint8_t {
  in_flight,      // max_in_flight copies of the route were in flight from this worker
  body_too_large, // the request body was longer than max_body_bytes
  no_endpoint,    // the mirror service had no endpoint available
  tls,            // the mirror service wants TLS, which the mirror does not speak yet
  backing_off,    // every available endpoint failed a connect within kConnectBackOff
  kCount
};
const char* drop_reason_name(DropReason r);

// An answer reduced to what a comparison may look at.
struct Answer {
  int status = 0; // 0: no complete answer
  // The values of Compare::headers, in order; "" when absent, repeated headers joined by ", ".
  std::vector<std::string> headers;
  std::string body; // de-chunked, at most kMaxComparedBody
  bool body_too_large = false;
};

// One sampled request, from a worker to the mirror thread.
struct Copy {
  uint64_t seq = 0; // unique per process: the worker's index in the top 16 bits
  std::string route;
  std::string method;
  std::string target;   // as requested, at most 256 bytes (what a divergence shows)
  std::string head;     // the request head weir sent upstream
  std::string body;     // de-chunked
  bool compare = false; // the client's answer follows (Sender::answered), or a cancel
  // Compare::headers as the request was sampled: the client's answer is reduced with this list,
  // so the mirror's must be too, whatever a reload changed meanwhile.
  std::vector<std::string> compared_headers;
  // The worker's count of the route's copies in flight; the mirror thread releases it.
  std::atomic<uint32_t>* in_flight = nullptr;
};

// The answer the client got to a compared copy (same seq); answered == false: none to compare
// (the exchange failed, weir answered itself, or the client left).
struct ClientAnswer {
  uint64_t seq = 0;
  bool answered = false;
  Answer answer;
  std::string service;  // the service that answered, "namespace/name"
  std::string endpoint; // its endpoint, "host:port"
};

// One worker's side of mirroring: the sampling credit and the copies in flight of each route.
// Worker thread only, except the counters (atomics), which the mirror thread releases and the
// control thread reads for /metrics. Routes are keyed by name (a reload keeps their state); the
// map only grows, under a mutex the worker takes only to add a route.
class Lane {
public:
  Lane(Sender& sender, unsigned worker) : sender_(sender), worker_(worker) {}
  Lane(const Lane&) = delete;
  Lane& operator=(const Lane&) = delete;

  // Worker thread: a Tap when this request on `route` (index in `snap`) is to be mirrored,
  // nullptr otherwise (no mirror, not sampled, or dropped and counted). `head` is the client's
  // request head; `upgrade`: a WebSocket or other upgrade, never mirrored.
  std::unique_ptr<Tap> sample(const runtime::Snapshot& snap, uint32_t route, const http::Head& head,
                              bool upgrade);

  struct RouteState {
    double credit = 0;                  // worker only
    std::atomic<uint32_t> in_flight{0}; // worker adds, mirror thread releases
    std::atomic<uint64_t> dropped[static_cast<size_t>(DropReason::kCount)] = {};
  };
  // Any thread: adds every route's drop counts into `out` (route → per reason).
  void add_dropped(std::map<std::string, std::vector<uint64_t>>& out) const;

private:
  RouteState& state(const std::string& route);

  Sender& sender_;
  unsigned worker_;
  uint64_t next_seq_ = 0;
  mutable std::mutex routes_mutex_; // held by the worker only to add a route
  std::unordered_map<std::string, std::unique_ptr<RouteState>> routes_;
  friend class Tap;
};

// The mirror thread: sends the copies, pairs the answers, keeps the tally. Built and started by
// WorkerGroup before the workers (they hold its Lanes), stopped after they are joined.
// install/submit/answered may be called from any thread (they post to the mirror thread);
// divergences() and write_metrics() from any thread (locked).
class Sender {
public:
  explicit Sender(unsigned workers);
  ~Sender(); // stop()
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  void start();
  // Ends the thread; copies still queued or in flight are abandoned.
  void stop();
  // The snapshot in force (its routes' mirrors and timeouts, the services' available endpoints).
  void install(std::shared_ptr<const runtime::Snapshot> snapshot);
  Lane& lane(unsigned worker) { return *lanes_[worker]; }

  DivergenceBook& divergences() { return book_; }
  const DivergenceBook& divergences() const { return book_; }
  // weir_mirror_requests_total, weir_mirror_dropped_total, weir_mirror_comparisons_total,
  // weir_mirror_uncompared_total (families only once a route mirrors).
  void write_metrics(std::string& out) const;

  // Worker thread, through a Tap.
  void submit(std::unique_ptr<Copy> copy);
  void answered(std::unique_ptr<ClientAnswer> answer);

private:
  struct Pending;
  class Client;
  void on_copy(std::unique_ptr<Copy> copy);
  void on_answer(std::unique_ptr<ClientAnswer> answer);
  // Sends `p`'s request to an available endpoint of `service` (round robin), other than
  // `avoid_endpoint` (noise: not the one that answered the client) and those backing off; with
  // none left, the mirror's copy ends at once as a failed connect, a noise request is not sent.
  void send(Pending& p, bool noise, int service, std::string_view avoid_endpoint);
  void on_sent(uint64_t seq, bool noise, Answer answer, std::string result);
  // Compares `other` (the mirror's or the noise endpoint's answer) with the client's.
  void judge(Pending& p, const Answer& other, bool noise);
  // Forgets `seq` once every answer it waits for is in, and frees its place in max_in_flight.
  void settle(uint64_t seq);
  void sweep();
  void count_request(const std::string& route, const std::string& service, bool noise,
                     const std::string& result);
  void count_uncompared(const std::string& route, const std::string& reason);
  void count_drop(const std::string& route, DropReason reason);

  boost::asio::io_context io_;
  std::vector<std::unique_ptr<Lane>> lanes_;
  DivergenceBook book_;
  boost::asio::steady_timer sweep_timer_;
  // Mirror thread only.
  std::shared_ptr<const runtime::Snapshot> snapshot_;
  std::unique_ptr<Client> client_;
  std::map<uint64_t, std::unique_ptr<Pending>> pending_;
  std::unordered_map<std::string, uint32_t> cursors_;    // service id → round robin
  std::unordered_map<std::string, double> noise_credit_; // route → credit toward kNoiseShare
  // endpoint key → until when it is not tried (its connect failed; kConnectBackOff)
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> backing_off_;
  // What /metrics shows, by route (the mirror thread writes, the admin server reads).
  mutable std::mutex counts_mutex_;
  struct RouteCounts {
    // (service, role, result) → requests
    std::map<std::tuple<std::string, std::string, std::string>, uint64_t> requests;
    std::map<std::string, uint64_t> uncompared; // reason → count
    uint64_t dropped[static_cast<size_t>(DropReason::kCount)] = {};
  };
  std::map<std::string, RouteCounts> counts_;
  std::thread thread_; // last: started after everything it uses, joined first (stop())
};

} // namespace weir::mirror
