#include "weir/runtime/worker_group.h"

#include "weir/base/log.h"
#include "weir/net/listener.h"
#include "weir/net/ring.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string_view>
#include <unistd.h>

namespace weir::runtime {

Result<bool> WorkerGroup::resolve_io(config::IoBackend configured, const char* env) {
  std::string unavailable;
  if (configured == config::IoBackend::auto_ && env && *env) {
    // The operator's override of auto, without editing the config (and how the tests run the
    // whole suite on each backend).
    std::string_view e(env);
    if (e == "epoll")
      configured = config::IoBackend::epoll;
    else if (e == "io_uring")
      configured = config::IoBackend::io_uring;
    else if (e != "auto")
      return Error{ErrorSource::config,
                   "WEIR_IO=" + std::string(e) + ": expected auto, epoll or io_uring"};
  }
  switch (configured) {
  case config::IoBackend::epoll:
    return false;
  case config::IoBackend::auto_:
    return net::Ring::available(&unavailable);
  case config::IoBackend::io_uring:
    if (!net::Ring::available(&unavailable))
      return Error{ErrorSource::config, "io: io_uring is not available on this system (" +
                                            unavailable + "); use io: auto or io: epoll"};
    return true;
  }
  return false;
}

WorkerGroup::~WorkerGroup() {
  drain_and_join(std::chrono::milliseconds(0));
}

Result<bool> WorkerGroup::plan_listeners(const Snapshot& snapshot, std::vector<Bound>& next,
                                         std::vector<std::vector<ListenerSpec>>& specs,
                                         std::vector<ListenerSockets>* inherited) {
  size_t n = specs.size();
  std::vector<int> opened; // closed again on an error (inherited ones included: they are ours)
  auto fail = [&](Error e) -> Result<bool> {
    for (int fd : opened)
      ::close(fd);
    if (inherited)
      for (auto& i : *inherited)
        for (int fd : i.fds)
          ::close(fd);
    if (inherited) inherited->clear();
    return e;
  };
  for (const auto& listener : snapshot.listeners) {
    const Bound* running = nullptr;
    for (const auto& b : bound_)
      if (b.requested == listener.address) running = &b;
    bool v6 = listener.address.host.find(':') != std::string::npos;
    if (running) {
      next.push_back(*running);
      next.back().name = listener.name;
      for (size_t w = 0; w < n; ++w)
        specs[w].push_back({listener.name, running->actual.text(), v6, -1});
      continue;
    }
    ListenerSockets* handed = nullptr;
    if (inherited)
      for (auto& i : *inherited)
        if (i.requested == listener.address && !i.fds.empty()) handed = &i;
    if (handed) {
      // The old process's sockets, every one of them (closing one would reset the connections
      // in its queue), round robin over the workers. More workers than sockets share them (a
      // duplicate each) rather than open new ones: a socket joins the SO_REUSEPORT group, and
      // gets its share of connections, the moment it listens, and those would be reset if this
      // upgrade were called off.
      Bound b{listener.name, listener.address, handed->actual, {}};
      const size_t handed_count = handed->fds.size();
      const size_t count = std::max(n, handed_count);
      for (size_t k = 0; k < count; ++k) {
        int fd = -1;
        if (k < handed_count) {
          fd = handed->fds[k];
          handed->fds[k] = -1;
        } else {
          fd = ::fcntl(b.fds[k % handed_count], F_DUPFD_CLOEXEC, 0);
          if (fd < 0)
            return fail(Error{ErrorSource::config,
                              "listener " + handed->actual.text() +
                                  ": cannot share a socket handed over: " + std::strerror(errno)});
        }
        opened.push_back(fd);
        b.fds.push_back(fd);
        specs[k % n].push_back({listener.name, handed->actual.text(), v6, fd});
      }
      handed->fds.clear();
      next.push_back(std::move(b));
      continue;
    }
    // With port 0 the first bind picks the port and the other workers follow it.
    config::Address address = listener.address;
    Bound b{listener.name, listener.address, {}, {}};
    for (size_t w = 0; w < n; ++w) {
      auto sock = net::open_listener(address, w == 0);
      if (!sock.ok()) return fail(sock.error());
      opened.push_back(sock->fd);
      b.fds.push_back(sock->fd);
      address.port = sock->port;
      specs[w].push_back({listener.name, address.text(), v6, sock->fd});
    }
    b.actual = address;
    next.push_back(std::move(b));
  }
  if (inherited) {
    // Addresses the new config no longer has: their sockets close with the old process too.
    for (auto& i : *inherited)
      for (int fd : i.fds)
        if (fd >= 0) ::close(fd);
    inherited->clear();
  }
  return true;
}

Result<bool> WorkerGroup::start(std::shared_ptr<const Snapshot> snapshot,
                                Worker::OutlierSink outlier_sink,
                                Worker::FastAbortSink fast_abort_sink,
                                std::vector<ListenerSockets> inherited, bool hold_accepting) {
  const config::Config& config = *snapshot->config;
  if (config.access_log.enabled) {
    std::string error;
    access_log_ = std::make_unique<AccessLog>(config.access_log.path, &error,
                                              config.limits.max_access_log_queue_bytes);
    if (!error.empty()) return Error{ErrorSource::config, error};
  }
  auto chosen = resolve_io(config.io, std::getenv("WEIR_IO"));
  if (!chosen.ok()) {
    for (auto& i : inherited)
      for (int fd : i.fds)
        ::close(fd);
    return chosen.error();
  }
  io_uring_ = *chosen;
  unsigned n = config.workers == 0 ? 1 : config.workers;
  std::vector<Bound> next;
  std::vector<std::vector<ListenerSpec>> specs(n);
  auto planned = plan_listeners(*snapshot, next, specs, &inherited);
  if (!planned.ok()) return planned.error();
  bound_ = std::move(next);
  net::Ring::Options ring;
  ring.buffer_size =
      std::max<size_t>({config.limits.buffer_bytes, config.limits.max_request_head_bytes,
                        config.limits.max_response_head_bytes});
  // Every worker is set up before any starts, so a failure leaves nothing running. With io:
  // auto, a ring the kernel offered but would not set up now (out of descriptors or memory
  // locked for rings) means epoll, not a failed start.
  const char* env = std::getenv("WEIR_IO");
  bool may_fall_back = io_uring_ && config.io == config::IoBackend::auto_ &&
                       !(env && std::string_view(env) == "io_uring");
  for (;;) {
    bool in_ring = false;
    try {
      for (unsigned w = 0; w < n; ++w) {
        workers_.push_back(std::make_unique<Worker>(w, access_log_.get()));
        if (!io_uring_) continue;
        in_ring = true;
        workers_.back()->use_io_uring(ring);
        in_ring = false;
      }
      break;
    } catch (const std::exception& e) {
      workers_.clear();
      if (in_ring && may_fall_back) {
        log::warn(std::string("io: auto: io_uring could not be set up (") + e.what() +
                  "); the workers use epoll");
        io_uring_ = may_fall_back = false;
        continue;
      }
      for (const auto& worker_specs : specs)
        for (const auto& spec : worker_specs)
          if (spec.fd >= 0) ::close(spec.fd);
      bound_.clear();
      return Error{ErrorSource::config,
                   std::string(in_ring ? "io: io_uring: " : "cannot set up the workers: ") +
                       e.what()};
    }
  }
  mirror_ = std::make_unique<mirror::Sender>(n);
  mirror_->install(snapshot);
  mirror_->start();
  for (unsigned w = 0; w < n; ++w) {
    workers_[w]->set_mirror_lane(&mirror_->lane(w));
    workers_[w]->set_outlier_sink(outlier_sink);
    workers_[w]->set_fast_abort_sink(fast_abort_sink);
    if (hold_accepting) workers_[w]->hold_accepting();
    workers_[w]->start(snapshot, std::move(specs[w]));
  }
  return true;
}

Result<bool> WorkerGroup::publish(std::shared_ptr<const Snapshot> snapshot,
                                  std::function<void()> done) {
  std::vector<Bound> next;
  std::vector<std::vector<ListenerSpec>> specs(workers_.size());
  auto planned = plan_listeners(*snapshot, next, specs);
  if (!planned.ok()) return planned.error();
  bool listeners_changed = next.size() != bound_.size();
  for (size_t i = 0; !listeners_changed && i < next.size(); ++i)
    listeners_changed = next[i].name != bound_[i].name || next[i].actual != bound_[i].actual;
  bound_ = std::move(next);
  if (access_log_)
    access_log_->set_max_queue_bytes(snapshot->config->limits.max_access_log_queue_bytes);
  if (mirror_) mirror_->install(snapshot);
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (size_t w = 0; w < workers_.size(); ++w) {
    std::optional<std::vector<ListenerSpec>> listeners;
    if (listeners_changed) listeners = std::move(specs[w]);
    workers_[w]->publish(snapshot, std::move(listeners), [remaining, shared_done] {
      if (remaining->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
    });
  }
  return true;
}

void WorkerGroup::for_each_worker(std::function<void(Worker&)> fn, std::function<void()> done) {
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto shared_fn = std::make_shared<std::function<void(Worker&)>>(std::move(fn));
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& w : workers_) {
    Worker* worker = w.get();
    boost::asio::post(worker->io(), [worker, remaining, shared_fn, shared_done] {
      (*shared_fn)(*worker);
      if (remaining->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
    });
  }
}

void WorkerGroup::release_accepting() {
  for (auto& w : workers_)
    w->release_accepting();
}

std::vector<ListenerSockets> WorkerGroup::listening_sockets() const {
  std::vector<ListenerSockets> out;
  for (const auto& b : bound_)
    out.push_back({b.requested, b.actual, b.fds});
  return out;
}

std::vector<std::string> WorkerGroup::bound() const {
  std::vector<std::string> out;
  for (const auto& b : bound_)
    out.push_back(b.name + " " + b.actual.text());
  return out;
}

void WorkerGroup::start_drain(std::chrono::milliseconds timeout,
                              std::chrono::milliseconds idle_after) {
  if (drain_started_) return;
  drain_started_ = true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& w : workers_)
    w->drain(deadline, idle_after);
}

bool WorkerGroup::drained() const {
  for (const auto& w : workers_)
    if (!w->finished()) return false;
  return true;
}

void WorkerGroup::drain_and_join(std::chrono::milliseconds timeout) {
  start_drain(timeout);
  for (auto& w : workers_)
    w->join();
  workers_.clear();
  if (mirror_) mirror_->stop(); // kept: /metrics may still read its counts
  access_log_.reset();
}

} // namespace weir::runtime
