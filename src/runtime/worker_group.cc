#include "weir/runtime/worker_group.h"

#include "weir/net/listener.h"

#include <atomic>
#include <unistd.h>

namespace weir::runtime {

WorkerGroup::~WorkerGroup() {
  drain_and_join(std::chrono::milliseconds(0));
}

Result<bool> WorkerGroup::start(std::shared_ptr<const Snapshot> snapshot) {
  const config::Config& config = *snapshot->config;
  if (config.access_log.enabled) {
    std::string error;
    access_log_ = std::make_unique<AccessLog>(config.access_log.path, &error);
    if (!error.empty()) return Error{ErrorSource::config, error};
  }
  unsigned n = config.workers == 0 ? 1 : config.workers;
  // fds[worker][listener]. With port 0 the first bind picks the port and the rest follow it.
  std::vector<std::vector<int>> fds(n);
  auto close_all = [&] {
    for (auto& per_worker : fds)
      for (int fd : per_worker)
        ::close(fd);
  };
  for (const auto& listener : snapshot->listeners) {
    config::Address address = listener.address;
    for (unsigned w = 0; w < n; ++w) {
      auto sock = net::open_listener(address);
      if (!sock.ok()) {
        close_all();
        return sock.error();
      }
      address.port = sock->port;
      fds[w].push_back(sock->fd);
    }
    bound_.push_back(listener.name + " " + address.text());
  }
  for (unsigned w = 0; w < n; ++w) {
    workers_.push_back(std::make_unique<Worker>(w, access_log_.get()));
    workers_.back()->start(snapshot, fds[w]);
  }
  return true;
}

void WorkerGroup::publish(std::shared_ptr<const Snapshot> snapshot, std::function<void()> done) {
  auto remaining = std::make_shared<std::atomic<size_t>>(workers_.size());
  auto shared_done = std::make_shared<std::function<void()>>(std::move(done));
  for (auto& w : workers_) {
    w->publish(snapshot, [remaining, shared_done] {
      if (remaining->fetch_sub(1) == 1 && *shared_done) (*shared_done)();
    });
  }
}

void WorkerGroup::drain_and_join(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (auto& w : workers_)
    w->drain(deadline);
  for (auto& w : workers_)
    w->join();
  workers_.clear();
  access_log_.reset();
}

} // namespace weir::runtime
