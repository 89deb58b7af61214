#pragma once

#include "weir/base/result.h"
#include "weir/mirror/sender.h"
#include "weir/runtime/access_log.h"
#include "weir/runtime/snapshot.h"
#include "weir/runtime/worker.h"

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace weir::runtime {

// A listener's sockets, one per worker of the process that opened them (SO_REUSEPORT): what an
// upgrade hands to the new binary, which accepts on the very same sockets, so nothing waiting in
// their queues is lost.
struct ListenerSockets {
  config::Address requested; // as configured (port 0 allowed)
  config::Address actual;    // as bound
  std::vector<int> fds;
};

// The workers and the listening sockets they share by SO_REUSEPORT. Control thread only.
class WorkerGroup {
public:
  WorkerGroup() = default;
  ~WorkerGroup();

  // Opens every listener once per worker, starts the workers. On error nothing keeps running.
  // `inherited`: sockets handed over by the weir this one upgrades (taken, owned from here): a
  // listener whose configured address is among them accepts on those sockets, spread over the
  // workers (a worker may get more than one; more workers than sockets share them); the sockets
  // of addresses no longer configured are closed. `hold_accepting`: nothing is accepted until
  // release_accepting().
  Result<bool> start(std::shared_ptr<const Snapshot> snapshot,
                     Worker::OutlierSink outlier_sink = nullptr,
                     Worker::FastAbortSink fast_abort_sink = nullptr,
                     std::vector<ListenerSockets> inherited = {}, bool hold_accepting = false);
  // After start(..., hold_accepting): every worker accepts from now on.
  void release_accepting();
  // Installs a snapshot on every worker; `done` runs (on some worker thread) once all have it.
  // When the snapshot's listeners differ from the running ones, new sockets are opened first
  // (an error leaves everything as it was); a listener whose address is unchanged keeps its
  // socket, removed ones stop accepting.
  Result<bool> publish(std::shared_ptr<const Snapshot> snapshot, std::function<void()> done);
  // Runs `fn` on every worker thread, then `done` (on the last worker's thread).
  void for_each_worker(std::function<void(Worker&)> fn, std::function<void()> done);
  // Stop accepting, finish in-flight requests within `timeout`, then return. A connection idle
  // for 1 s meanwhile is ended (its client sends no more, or would have).
  void drain_and_join(std::chrono::milliseconds timeout);
  // The same without waiting: the workers stop accepting now and drain by `timeout` from now
  // (a later drain_and_join waits for them and keeps this deadline); a connection idle for
  // `idle_after` is ended meanwhile.
  void start_drain(std::chrono::milliseconds timeout,
                   std::chrono::milliseconds idle_after = std::chrono::seconds(1));
  // Every worker's loop has ended (a drain started by start_drain is over).
  bool drained() const;

  // Every listener's sockets now (still the workers'; dup what must outlive them).
  std::vector<ListenerSockets> listening_sockets() const;
  // "name address" of every listener as bound (the real port when the config said 0).
  std::vector<std::string> bound() const;
  size_t size() const { return workers_.size(); }
  // The data plane's I/O backend as started: "epoll" or "io_uring" (io: auto resolved).
  const char* io_backend() const { return io_uring_ ? "io_uring" : "epoll"; }
  // Whether the data plane uses io_uring: `configured` (the config's io), with auto overridden
  // by `env` (the WEIR_IO variable: auto, epoll or io_uring) when set; auto means io_uring where
  // the kernel has what weir needs (net::Ring::available), else epoll. An explicit io_uring the
  // kernel cannot give is an error.
  static Result<bool> resolve_io(config::IoBackend configured, const char* env);
  const std::vector<std::unique_ptr<Worker>>& workers() const { return workers_; }
  // Request mirroring and shadow comparison (started with the workers): the control thread
  // reads its DivergenceBook and metrics. Only after start().
  mirror::Sender& mirror() { return *mirror_; }
  const mirror::Sender& mirror() const { return *mirror_; }
  bool mirroring() const { return mirror_ != nullptr; }

private:
  bool io_uring_ = false;
  bool drain_started_ = false;
  struct Bound {
    std::string name;
    config::Address requested; // as configured (port 0 allowed)
    config::Address actual;    // as bound
    std::vector<int> fds;      // the sockets, the workers' (open while listed here)
  };
  // Opens sockets for listeners not bound yet (or takes them from `inherited`); fills per-worker
  // specs.
  Result<bool> plan_listeners(const Snapshot& snapshot, std::vector<Bound>& next,
                              std::vector<std::vector<ListenerSpec>>& specs,
                              std::vector<ListenerSockets>* inherited = nullptr);

  std::unique_ptr<AccessLog> access_log_;
  // Before workers_: the workers hold its lanes, so it goes after them.
  std::unique_ptr<mirror::Sender> mirror_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<Bound> bound_;
};

} // namespace weir::runtime
