#pragma once

#include "weir/base/clock.h"
#include "weir/base/handler_pool.h"
#include "weir/metrics/registry.h"
#include "weir/net/polled_acceptor.h"
#include "weir/net/poller.h"
#include "weir/net/ring.h"
#include "weir/route/split.h"
#include "weir/runtime/access_log.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/stream.h"
#include "weir/runtime/tunnel_drains.h"
#include "weir/upstream/pool.h"
#include "weir/upstream/retry_budget.h"

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace weir::mirror {
class Lane;
}

namespace weir::runtime {

class ClientConnection;

// A listening socket handed to a worker: by address, so a reload that keeps an address keeps
// the socket (no connection is ever refused), even if the listener was renamed.
struct ListenerSpec {
  std::string name;
  std::string address; // as bound, "host:port"
  bool v6 = false;
  int fd = -1; // a new socket for this worker to adopt; -1: keep the one it has
};

class Worker;

// Worker-side state of one listener. Lives as long as the worker (connections point to it).
// The listening socket is registered with the worker's Poller only (not with Asio's reactor),
// and its acceptor hands each new connection to the worker.
struct ListenerSlot final : net::AcceptOwner {
  ListenerSlot(Worker* w, int listen_fd) : worker(w), fd(listen_fd) {}
  ~ListenerSlot() { close(); }
  // Stops accepting and closes the listening socket (connections already taken go on).
  void close();
  void on_accepted(int fd, const sockaddr* peer, socklen_t peer_len) override;
  void on_accept_error(const boost::system::error_code& ec) override;

  Worker* worker;
  int fd; // the listening socket, owned; -1 once closed
  std::string name;
  std::string address;
  std::unique_ptr<net::PolledAcceptor> acceptor;
  std::unique_ptr<boost::asio::steady_timer> backoff; // re-accepts after an EMFILE and the like
  int snapshot_index = -1; // index in the worker's current snapshot, -1 when removed
  metrics::TlsListenerCells* tls_cells = nullptr; // a TLS listener's handshake counters
  bool open = false;
  // Not accepting: the worker holds max_client_connections (new connections wait in the
  // kernel's backlog) or backs off after an accept error.
  bool paused = false;
};

// What a worker tells the control thread for rollout fast abort (rollout::FastAbort counts it).
struct FastAbortReport {
  std::string route;
  std::string service;
  uint64_t epoch = 0; // the route's rollout epoch in the snapshot the request ran on
  unsigned worker = 0;
  bool error = true; // false: a success that ended this worker's run of errors
};

// One event loop on one thread: accepts on its own SO_REUSEPORT sockets, proxies, and owns its
// upstream pools, split cursors and buffers. Other threads talk to it only through post().
// Cache-line aligned: the workers are allocated one after another, and the fields one worker
// writes per request must not share a line with the next worker's.
class alignas(64) Worker {
public:
  Worker(unsigned index, AccessLog* access_log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  unsigned index() const { return index_; }
  boost::asio::io_context& io() { return io_; }
  // Worker thread only: the edge-triggered epoll set every socket of the data plane is in.
  net::Poller& poller() { return poller_; }
  // Worker thread only: the io_uring the data plane's sockets use when the backend is
  // io_uring (listeners stay on the Poller); nullptr with epoll.
  net::Ring* ring() { return ring_.get(); }
  // Any thread, before start(): the data plane's sockets go through an io_uring (throws
  // boost::system::system_error when it cannot be set up).
  void use_io_uring(net::Ring::Options options);
  // Worker thread only: memory for the worker's Asio operations, recycled (base/handler_pool.h).
  // Bind a completion handler with boost::asio::bind_allocator(worker.handler_allocator(), h).
  HandlerAllocator<void> handler_allocator() { return HandlerAllocator<void>(&handler_pool_); }
  const HandlerPool& handler_pool() const { return handler_pool_; }

  // Any thread. Starts the thread; the listener fds (one per snapshot listener, same order)
  // are bound and listening already; the worker owns them from now on.
  void start(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSpec> listeners);
  // Any thread: installs a new snapshot; `done` runs on the worker thread once it is in use.
  // With `listeners`, the listener set changes in the same step: sockets not named any more
  // stop accepting (their connections finish), new ones start.
  void publish(std::shared_ptr<const Snapshot> snapshot,
               std::optional<std::vector<ListenerSpec>> listeners, std::function<void()> done);
  // Any thread: stop accepting, finish in-flight requests, then leave the loop (bounded by
  // `deadline`, after which remaining connections are closed).
  // `idle_after`: how long a connection must have been idle to be ended meanwhile.
  void drain(std::chrono::steady_clock::time_point deadline,
             std::chrono::steady_clock::duration idle_after = std::chrono::seconds(1));
  void join();
  // Before start(): the listening sockets are taken but nothing is accepted until
  // release_accepting() (an upgrade's new process, until the old one has let go: whatever it
  // accepted would be lost if the upgrade were called off).
  void hold_accepting() { holding_ = true; }
  // Draining: how long a connection must have been idle to be ended (ClientConnection::drain).
  // Closing a keep-alive connection races with the client's next request on it, which then
  // fails: a client still using its connection sends within moments and is told
  // Connection: close with the answer, so only one idle a while is ended (HAProxy 2.4+ and nginx
  // close idle ones at once).
  std::chrono::steady_clock::duration drain_idle_after() const { return drain_idle_after_; }
  // Any thread: the worker's loop has ended (after a drain); join() returns at once.
  bool finished() const { return finished_.load(std::memory_order_acquire); }
  // Worker thread only: client connections open now.
  size_t client_connections() const { return connection_count_; }
  // Once finished(): upstream connections of this worker's thread that were never freed (0
  // unless an operation's completion was lost on the way out).
  size_t upstream_connections_left() const { return upstream_connections_left_; }
  // Any thread: accept from now on.
  void release_accepting();

  // Before start(): where outlier reports go (the sink posts to the control thread).
  using OutlierSink = std::function<void(const std::string& service, const std::string& endpoint)>;
  void set_outlier_sink(OutlierSink sink) { outlier_sink_ = std::move(sink); }
  // Before start(): where rollout fast-abort reports go (the sink posts to the control thread).
  using FastAbortSink = std::function<void(FastAbortReport report)>;
  void set_fast_abort_sink(FastAbortSink sink) { fast_abort_sink_ = std::move(sink); }
  // Before start(): this worker's side of request mirroring (mirror/sender.h); null: none.
  void set_mirror_lane(mirror::Lane* lane) { mirror_lane_ = lane; }

  // --- worker thread only (used by ClientConnection) ---
  void report_outlier(const std::string& service, const std::string& endpoint) {
    if (outlier_sink_) outlier_sink_(service, endpoint);
  }
  // An upstream error of a rollout's version (error), or the success that ends this worker's
  // run of them; `epoch` is the route's rollout epoch in the request's snapshot.
  void report_fast_abort(const std::string& route, const std::string& service, uint64_t epoch,
                         bool error) {
    if (fast_abort_sink_) fast_abort_sink_({route, service, epoch, index_, error});
  }
  // The snapshot in use. A request keeps the one it started with by copying snapshot_ref() (a
  // worker-local count, see SnapshotRef); snapshot() is for reading it now, without keeping it.
  const std::shared_ptr<const Snapshot>& snapshot() const { return snapshot_.shared(); }
  const SnapshotRef& snapshot_ref() const { return snapshot_; }
  // Weighted pick of a backend of `route`, -1 when every weight is 0.
  int pick_backend(uint32_t route);
  // Round-robin pick of an endpoint of `service`; its pool.
  // `skip`: an endpoint index to avoid when another is available (a retry, which does not move
  // the round robin), -1 for none.
  upstream::Pool* pick_endpoint(uint32_t service, uint32_t& endpoint_index, int skip = -1);
  // The worker's retry budget and its routes' retries in flight (upstream/retry_budget.h).
  upstream::RetryBudget& retry_budget() { return retry_budget_; }
  StreamPool& streams() { return *streams_; }
  mirror::Lane* mirror_lane() { return mirror_lane_; }
  metrics::BackendCells* backend_cells(uint32_t route, uint32_t backend) {
    return backend_cells_[route][backend];
  }
  metrics::EndpointCells* endpoint_cells(uint32_t route, uint32_t backend, uint32_t endpoint) {
    return endpoint_cells_[route][backend][endpoint];
  }
  // Any thread (cells are single-writer atomics; the maps are locked).
  const metrics::Registry& metrics() const { return metrics_; }
  metrics::Registry& metrics() { return metrics_; }
  AccessLogBuffer& access_log() { return access_log_buffer_; }
  bool draining() const { return draining_; }
  void format_request_id(char* out32);
  // Logs why a TLS handshake with an endpoint failed: the first in a second, then how many
  // more there were (a bad certificate under load fails every connect).
  void log_tls_failure(std::string_view endpoint, std::string_view reason);
  // A uniformly random bucket 0..9999 for sticky versions.
  uint32_t random_bucket() {
    bucket_state_ ^= bucket_state_ << 13;
    bucket_state_ ^= bucket_state_ >> 7;
    bucket_state_ ^= bucket_state_ << 17;
    return static_cast<uint32_t>(bucket_state_ % 10000);
  }
  void link(ClientConnection* c);
  void unlink(ClientConnection* c);
  // The tunnels of `key`'s route × service open now (and not closing already) close on a
  // DrainSchedule from now: `delay`, then spread over `over`, at `phase` (0..1) of a slot, this
  // worker's share of the workers' interleaving. Replaces this worker's drain of the same key;
  // returns how many tunnels it picked.
  size_t drain_tunnels(const metrics::BackendKey& key, std::chrono::milliseconds delay,
                       std::chrono::milliseconds over, double phase);
  // Cancels the closes of `key`'s drain not made yet.
  void stop_tunnel_drain(const metrics::BackendKey& key);
  // Closes this worker's idle keep-alive connections to the endpoints of `service` (a version
  // nothing sends traffic to any more: what would keep it from being deleted); lent-out ones
  // return to the pool and stay until it closes them.
  void close_idle_connections(const std::string& service);
  TunnelDrains& tunnel_drains() { return tunnel_drains_; }
  // Time on the request path, read once per handler instead of at every use (a request read
  // the clock 11 times: six deadlines, start, first byte, end, the access log's duration and
  // its wall time). tick() reads the steady clock and keeps the value; now() returns the value
  // the last tick() read. The worker ticks in its own handlers (accept, the sweep); the
  // connection's completion handlers tick once on entry, and everything that handler does —
  // deadlines, TTFB, durations, the access log — takes now(). Worker thread only.
  std::chrono::steady_clock::time_point now() const { return now_; }
  std::chrono::steady_clock::time_point tick() { return now_ = std::chrono::steady_clock::now(); }
  // Calendar time of now(): the system clock is read once per sweep (every 100 ms) and now()'s
  // progress since is added, so a clock step is followed within 100 ms.
  std::chrono::system_clock::time_point wall_now() const {
    return wall_base_ +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(now_ - steady_base_);
  }
  // "2026-11-30T04:07:32.123Z" (format_utc) of wall_now(), into a 32-byte buffer; the date and
  // time of day are formatted once per second. Returns the length.
  size_t format_wall_now(char* out32) { return utc_.format(wall_now(), out32); }

private:
  void install(std::shared_ptr<const Snapshot> snapshot);
  void update_listeners(const std::vector<ListenerSpec>& listeners);
  void index_listeners();
  // Takes connections off the slot's backlog unless at max_client_connections.
  void accept(ListenerSlot* slot);
  void resume_accepting();
  friend struct ListenerSlot;
  void on_accepted(ListenerSlot* slot, int fd, const sockaddr* peer);
  void on_accept_error(ListenerSlot* slot, const boost::system::error_code& ec);
  void sweep();
  void maybe_finish_drain();

  unsigned index_;
  HandlerPool handler_pool_; // before io_: its operations are freed into it when io_ is destroyed
  boost::asio::io_context io_;
  // After io_ (its wait is an Asio operation), before everything whose sockets it holds.
  net::Poller poller_{io_};
  std::unique_ptr<net::Ring> ring_; // io: io_uring; before everything whose sockets use it
  SnapshotRef snapshot_;            // this worker's ref to the generation in use
  std::vector<std::unique_ptr<ListenerSlot>> listeners_;
  // Before the pools: a pool's connections give their count back to its cells as they close,
  // the last of them when the pools go.
  metrics::Registry metrics_;
  std::vector<route::Split> splits_;                           // per route
  std::vector<uint32_t> endpoint_cursor_;                      // per service
  std::vector<std::vector<upstream::Pool*>> pools_by_service_; // [service][endpoint]
  std::unordered_map<std::string, std::unique_ptr<upstream::Pool>> pools_;
  std::unique_ptr<StreamPool> streams_;
  std::chrono::steady_clock::time_point tls_failure_logged_{};
  uint64_t tls_failures_unlogged_ = 0;
  std::vector<std::vector<metrics::BackendCells*>> backend_cells_; // [route][backend]
  std::vector<std::vector<std::vector<metrics::EndpointCells*>>> endpoint_cells_; // +[endpoint]
  AccessLogBuffer access_log_buffer_;
  boost::asio::steady_timer sweep_timer_;
  TunnelDrains tunnel_drains_{*this};
  ClientConnection* connections_ = nullptr; // intrusive list, for timeouts and drain
  size_t connection_count_ = 0;
  bool draining_ = false;
  bool drain_finished_ = false; // maybe_finish_drain() stopped the loop
  bool holding_ = false;        // hold_accepting(): sockets taken, nothing accepted yet
  std::atomic<bool> finished_{false};
  size_t upstream_connections_left_ = 0; // written before finished_
  std::chrono::steady_clock::duration drain_idle_after_{};
  std::chrono::steady_clock::time_point drain_deadline_;
  std::chrono::steady_clock::time_point now_ = std::chrono::steady_clock::now(); // tick()
  std::chrono::steady_clock::time_point steady_base_ = now_; // now() when wall_base_ was read
  std::chrono::system_clock::time_point wall_base_ = std::chrono::system_clock::now();
  UtcFormatter utc_;
  uint64_t request_counter_ = 0;
  char request_id_prefix_[16] = {}; // the first half of every request id, in hex
  uint64_t bucket_state_ = 0x9e3779b97f4a7c15ULL;
  OutlierSink outlier_sink_;
  FastAbortSink fast_abort_sink_;
  mirror::Lane* mirror_lane_ = nullptr;
  upstream::RetryBudget retry_budget_;
  std::thread thread_;
};

} // namespace weir::runtime
