#include "weir/runtime/worker.h"

#include "weir/base/log.h"
#include "weir/runtime/client_connection.h"

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <cstring>
#include <fcntl.h>
#include <pthread.h>
#include <random>
#include <unistd.h>

namespace weir::runtime {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto kSweepInterval = std::chrono::milliseconds(100);
// After accept() fails for want of descriptors or memory, retrying at once would spin: wait a
// little for connections to close (HAProxy and nginx pause the same way).
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);
constexpr size_t kMaxFreeStreams = 256;

http::ParserLimits request_limits(const config::Limits& l) {
  return {l.max_request_head_bytes, l.max_request_line_bytes, l.max_headers};
}
http::ParserLimits response_limits(const config::Limits& l) {
  return {l.max_response_head_bytes, l.max_response_head_bytes, l.max_headers * 2};
}
size_t buffer_size(const config::Limits& l) {
  size_t head = std::max(l.max_request_head_bytes, l.max_response_head_bytes);
  return std::max<size_t>(l.buffer_bytes, head); // a whole head must fit in one
}

} // namespace

Worker::Worker(unsigned index, AccessLog* access_log)
    : index_(index), io_(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO),
      access_log_buffer_(access_log, &metrics_.access_log_dropped), sweep_timer_(io_) {
  std::random_device rd;
  uint64_t prefix = (static_cast<uint64_t>(rd()) << 32) ^ rd() ^ index;
  for (int i = 15; i >= 0; --i, prefix >>= 4)
    request_id_prefix_[i] = "0123456789abcdef"[prefix & 15];
  bucket_state_ ^= (static_cast<uint64_t>(rd()) << 32) | rd();
}

Worker::~Worker() {
  join();
}

void Worker::start(std::shared_ptr<const Snapshot> snapshot, std::vector<ListenerSpec> listeners) {
  install(std::move(snapshot));
  const auto& limits = snapshot_->config->limits;
  streams_ = std::make_unique<StreamPool>(buffer_size(limits), request_limits(limits),
                                          response_limits(limits), kMaxFreeStreams);
  thread_ = std::thread([this, listeners = std::move(listeners)] {
    if (ring_) ring_->enable(); // this thread is the ring's only submitter
    // Named for top, perf and bench/alloc_per_request.sh (at most 15 characters).
    std::string name = "weir-worker-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    update_listeners(listeners);
    sweep();
    io_.run();
    // Stopped after a drain: the handlers of the sockets closed on the way out are ready now;
    // run them so every connection object is freed before the thread ends.
    io_.restart();
    io_.poll();
    // An upstream connection that went back to its pool after the drain closed the idle ones
    // (its exchange's last handler ran in the poll above) is closed here, on this thread, while
    // the loop can still deliver the aborted operations that free it: the pools' destructor runs
    // on the owner's thread, after this loop is gone (LeakSanitizer caught one left so).
    for (auto& [key, pool] : pools_)
      pool->close_idle();
    // Their aborted operations are posted, or come back through the ring's eventfd, which one
    // poll may not see yet (LeakSanitizer caught pooled connections left so): short turns until
    // every upstream connection of this thread is freed and two turns in a row found nothing
    // to run, for at most 2 s by the clock. A stopped context returns from run_for at once
    // without running anything, so it is restarted first.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    for (int quiet = 0; (quiet < 2 || upstream::Connection::alive_on_this_thread() > 0) &&
                        std::chrono::steady_clock::now() < give_up;) {
      if (io_.stopped()) io_.restart();
      quiet = io_.run_for(std::chrono::milliseconds(2)) == 0 ? quiet + 1 : 0;
    }
    upstream_connections_left_ = upstream::Connection::alive_on_this_thread();
    // What is destroyed after this thread (pools, on the owner's thread) submits nothing more.
    if (ring_) ring_->stop();
    finished_.store(true, std::memory_order_release);
  });
}

void Worker::use_io_uring(net::Ring::Options options) {
  ring_ = std::make_unique<net::Ring>(io_, options);
}

void Worker::publish(std::shared_ptr<const Snapshot> snapshot,
                     std::optional<std::vector<ListenerSpec>> listeners,
                     std::function<void()> done) {
  asio::post(io_, [this, snapshot = std::move(snapshot), listeners = std::move(listeners),
                   done = std::move(done)]() mutable {
    const auto& limits = snapshot->config->limits;
    if (limits != snapshot_->config->limits)
      streams_->reconfigure(buffer_size(limits), request_limits(limits), response_limits(limits));
    install(std::move(snapshot));
    if (listeners) update_listeners(*listeners);
    // A raised max_client_connections lets paused acceptors take what waits in the backlog now,
    // not only when the next connection closes.
    resume_accepting();
    index_listeners();
    if (done) done();
  });
}

void Worker::update_listeners(const std::vector<ListenerSpec>& specs) {
  // Close what is gone.
  for (auto& slot : listeners_) {
    bool kept = false;
    for (const auto& spec : specs)
      kept = kept || spec.address == slot->address;
    if (!kept && slot->open) {
      slot->close();
      slot->snapshot_index = -1;
    }
  }
  for (const auto& spec : specs) {
    if (spec.fd < 0) {
      // A kept address: its sockets stay, under the listener's (maybe new) name.
      for (auto& s : listeners_)
        if (s->open && s->address == spec.address) s->name = spec.name;
      continue;
    }
    // A socket to adopt: a new address, or one more socket of an address (an upgrade may hand
    // a worker several of the old process's sockets).
    auto fresh = std::make_unique<ListenerSlot>(this, spec.fd);
    fresh->name = spec.name;
    fresh->address = spec.address;
    int flags = ::fcntl(spec.fd, F_GETFL);
    if (flags >= 0) ::fcntl(spec.fd, F_SETFL, flags | O_NONBLOCK);
    fresh->acceptor = std::make_unique<net::PolledAcceptor>(poller_, io_, spec.fd, fresh.get());
    if (holding_) {
      fresh->acceptor->pause(); // before start(): not one accept until release_accepting()
      fresh->paused = true;
    }
    error_code ec;
    if (!fresh->acceptor->start(ec)) {
      log::error("worker: cannot adopt listener socket " + spec.address + ": " + ec.message());
      continue; // the slot closes the socket
    }
    fresh->backoff = std::make_unique<asio::steady_timer>(io_);
    fresh->open = true;
    listeners_.push_back(std::move(fresh));
    if (!holding_) accept(listeners_.back().get());
  }
  index_listeners();
}

void Worker::index_listeners() {
  for (auto& slot : listeners_) {
    slot->snapshot_index = -1;
    for (size_t i = 0; i < snapshot_->listeners.size(); ++i)
      if (snapshot_->listeners[i].name == slot->name && slot->open)
        slot->snapshot_index = static_cast<int>(i);
    const int i = slot->snapshot_index;
    slot->tls_cells = i >= 0 && snapshot_->listeners[static_cast<size_t>(i)].tls
                          ? metrics_.tls_listener(slot->name)
                          : nullptr;
  }
}

void Worker::install(std::shared_ptr<const Snapshot> snapshot) {
  // Requests still running on the previous generation keep it through their refs; the last
  // one to end frees this worker's holder of it (SnapshotRef).
  snapshot_ = SnapshotRef::adopt(std::move(snapshot));
  const Snapshot& s = *snapshot_;
  splits_.clear();
  splits_.reserve(s.routes.size());
  for (const auto& r : s.routes)
    splits_.emplace_back(r.weights);
  endpoint_cursor_.assign(s.services.size(), index_);
  // max_upstream_connections is per endpoint; each worker keeps its share (at least one).
  const unsigned workers = std::max(1u, s.config->workers);
  const uint32_t upstream_share =
      std::max<uint32_t>(1, (s.config->limits.max_upstream_connections + workers - 1) / workers);
  pools_by_service_.clear();
  for (const auto& svc : s.services) {
    std::vector<upstream::Pool*> pools;
    for (const auto& ep : svc.endpoints) {
      const std::string key = pool_key(svc, ep);
      auto& pool = pools_[key];
      if (!pool) {
        pool = std::make_unique<upstream::Pool>(io_, poller_, ep.address, ep.key,
                                                svc.max_idle_connections, handler_allocator(),
                                                ring_.get());
        pool->set_cells(metrics_.upstream_pool(key));
      } else {
        pool->set_max_idle(svc.max_idle_connections);
      }
      pool->set_max_connections(upstream_share);
      pool->set_tls(svc.tls);
      pools.push_back(pool.get());
    }
    pools_by_service_.push_back(std::move(pools));
  }
  backend_cells_.assign(s.routes.size(), {});
  endpoint_cells_.assign(s.routes.size(), {});
  for (size_t r = 0; r < s.routes.size(); ++r) {
    for (const auto& b : s.routes[r].backends) {
      const auto& svc = s.services[b.service];
      backend_cells_[r].push_back(metrics_.backend({s.routes[r].name, svc.id}));
      std::vector<metrics::EndpointCells*> eps;
      for (const auto& ep : svc.endpoints)
        eps.push_back(metrics_.endpoint({s.routes[r].name, svc.id, ep.key}));
      endpoint_cells_[r].push_back(std::move(eps));
    }
  }
}

void Worker::log_tls_failure(std::string_view endpoint, std::string_view reason) {
  const auto now = this->now();
  if (tls_failure_logged_.time_since_epoch().count() != 0 &&
      now - tls_failure_logged_ < std::chrono::seconds(1)) {
    ++tls_failures_unlogged_;
    return;
  }
  std::string line = "upstream " + std::string(endpoint) + ": TLS handshake failed: " +
                     std::string(reason.empty() ? "unknown reason" : reason);
  if (tls_failures_unlogged_ > 0)
    line += " (and " + std::to_string(tls_failures_unlogged_) + " more in the last second)";
  log::warn(line);
  tls_failure_logged_ = now;
  tls_failures_unlogged_ = 0;
}

int Worker::pick_backend(uint32_t route) {
  return splits_[route].pick();
}

upstream::Pool* Worker::pick_endpoint(uint32_t service, uint32_t& endpoint_index, int skip) {
  const auto& available = snapshot_->services[service].available;
  if (available.empty()) return nullptr;
  uint32_t& cursor = endpoint_cursor_[service];
  if (skip < 0) {
    uint32_t i = available[cursor++ % available.size()];
    endpoint_index = i;
    return pools_by_service_[service][i];
  }
  // A retry takes the next endpoint but leaves the round robin where it is: if it moved it, the
  // next request would start on the endpoint that just failed, and a dead or frozen endpoint
  // would get every first attempt instead of its share.
  uint32_t i = available[cursor % available.size()];
  if (static_cast<int>(i) == skip && available.size() > 1)
    i = available[(cursor + 1) % available.size()];
  endpoint_index = i;
  return pools_by_service_[service][i];
}

void Worker::format_request_id(char* out) {
  // The first half, this worker's random prefix, was formatted once; the counter goes two hex
  // digits per byte.
  static constexpr auto kPairs = [] {
    std::array<char, 512> t{};
    for (int i = 0; i < 256; ++i) {
      t[2 * i] = "0123456789abcdef"[i >> 4];
      t[2 * i + 1] = "0123456789abcdef"[i & 15];
    }
    return t;
  }();
  std::memcpy(out, request_id_prefix_, 16);
  uint64_t b = ++request_counter_;
  for (int i = 30; i >= 16; i -= 2, b >>= 8)
    std::memcpy(out + i, &kPairs[(b & 0xff) * 2], 2);
}

void ListenerSlot::close() {
  if (fd < 0) return;
  if (acceptor) acceptor->stop();
  ::close(fd);
  fd = -1;
  open = false;
}

void ListenerSlot::on_accepted(int client_fd, const sockaddr* peer, socklen_t) {
  worker->on_accepted(this, client_fd, peer);
}

void ListenerSlot::on_accept_error(const error_code& ec) {
  worker->on_accept_error(this, ec);
}

void Worker::release_accepting() {
  asio::post(io_, [this] {
    holding_ = false;
    for (auto& slot : listeners_)
      accept(slot.get());
  });
}

void Worker::accept(ListenerSlot* slot) {
  if (!slot->open || draining_ || holding_) return;
  if (connection_count_ >= snapshot_->config->limits.max_client_connections) {
    // At the cap: leave connections in the backlog until one closes (unlink resumes).
    slot->paused = true;
    slot->acceptor->pause();
    return;
  }
  slot->paused = false;
  slot->acceptor->resume();
}

void Worker::on_accepted(ListenerSlot* slot, int fd, const sockaddr* peer) {
  if (draining_ || !slot->open) {
    ::close(fd);
    return;
  }
  tick(); // the new connection's first deadline is set from now()
  auto* c = new ClientConnection(*this, slot);
  c->start(fd, peer);
  if (connection_count_ >= snapshot_->config->limits.max_client_connections) {
    slot->paused = true;
    slot->acceptor->pause();
  }
}

void Worker::on_accept_error(ListenerSlot* slot, const error_code& ec) {
  // EMFILE, ENFILE, ENOBUFS, ENOMEM: the pending connection stays in the backlog and would fail
  // again at once (the acceptor paused itself). Back off; closing connections free what is
  // missing meanwhile.
  (void)ec;
  metrics_.accept_errors.add();
  slot->paused = true;
  slot->backoff->expires_after(kAcceptBackoff);
  slot->backoff->async_wait([this, slot](const error_code& wec) {
    if (wec || draining_ || !slot->open || !slot->paused) return;
    accept(slot);
  });
}

void Worker::resume_accepting() {
  for (auto& slot : listeners_) {
    if (!slot->open || !slot->paused || draining_) continue;
    slot->backoff->cancel();
    accept(slot.get());
  }
}

void Worker::link(ClientConnection* c) {
  c->prev = nullptr;
  c->next = connections_;
  if (connections_) connections_->prev = c;
  connections_ = c;
  ++connection_count_;
}

void Worker::unlink(ClientConnection* c) {
  if (c->prev)
    c->prev->next = c->next;
  else if (connections_ == c)
    connections_ = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  --connection_count_;
  if (connection_count_ < snapshot_->config->limits.max_client_connections) resume_accepting();
}

size_t Worker::drain_tunnels(const metrics::BackendKey& key, std::chrono::milliseconds delay,
                             std::chrono::milliseconds over, double phase) {
  const metrics::BackendCells* cells = metrics_.find_backend(key);
  if (!cells) return 0; // this worker never served the route × service: no tunnel of it
  std::vector<ClientConnection*> picked;
  for (ClientConnection* c = connections_; c; c = c->next)
    if (c->tunnel_cells() == cells && !c->tunnel_draining()) picked.push_back(c);
  // The list has the newest first: the oldest tunnels close first.
  std::reverse(picked.begin(), picked.end());
  const size_t n = picked.size();
  tunnel_drains_.start(cells, std::move(picked), DrainSchedule(tick(), delay, over, n, phase));
  return n;
}

void Worker::stop_tunnel_drain(const metrics::BackendKey& key) {
  if (const metrics::BackendCells* cells = metrics_.find_backend(key)) tunnel_drains_.stop(cells);
}

void Worker::sweep() {
  auto now = tick();
  steady_base_ = now;
  wall_base_ = std::chrono::system_clock::now();
  for (ClientConnection* c = connections_; c;) {
    ClientConnection* next = c->next; // check_deadline may unlink c
    c->check_deadline(now);
    c = next;
  }
  access_log_buffer_.flush(true);
  if (draining_) {
    for (ClientConnection* c = connections_; c;) {
      ClientConnection* next = c->next; // drain may unlink c
      c->drain(now);
      c = next;
    }
    if (now >= drain_deadline_) {
      while (connections_) {
        ClientConnection* c = connections_;
        c->abort();
        if (connections_ == c) unlink(c); // defensive: never loop forever
      }
    }
    maybe_finish_drain();
    if (connection_count_ == 0) return;
  }
  sweep_timer_.expires_after(kSweepInterval);
  sweep_timer_.async_wait([this](const error_code& ec) {
    if (!ec && !drain_finished_) sweep(); // an expiry queued before the drain ended is late
  });
}

void Worker::drain(std::chrono::steady_clock::time_point deadline,
                   std::chrono::steady_clock::duration idle_after) {
  asio::post(io_, [this, deadline, idle_after] {
    draining_ = true;
    drain_deadline_ = deadline;
    drain_idle_after_ = idle_after;
    for (auto& slot : listeners_) {
      slot->close();
      if (slot->backoff) slot->backoff->cancel();
    }
    const auto now = tick();
    for (ClientConnection* c = connections_; c;) {
      ClientConnection* next = c->next;
      c->drain(now);
      c = next;
    }
    maybe_finish_drain();
  });
}

void Worker::maybe_finish_drain() {
  // Once: a sweep whose timer expired in the same turn as the drain still runs after the
  // cancel, and a second io_.stop() would end the exit's poll before the aborted operations of
  // the connections closed here are handed over (LeakSanitizer caught such a Connection).
  if (!draining_ || connection_count_ != 0 || drain_finished_) return;
  drain_finished_ = true;
  access_log_buffer_.flush(true);
  sweep_timer_.cancel();
  tunnel_drains_.clear();
  for (auto& [key, pool] : pools_)
    pool->close_idle();
  io_.stop();
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::close_idle_connections(const std::string& service) {
  const int i = snapshot_ ? snapshot_->service_index(service) : -1;
  if (i < 0 || static_cast<size_t>(i) >= pools_by_service_.size()) return;
  for (upstream::Pool* pool : pools_by_service_[static_cast<size_t>(i)])
    pool->close_idle();
}

} // namespace weir::runtime
