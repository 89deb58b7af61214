#pragma once

#include "weir/metrics/cells.h"
#include "weir/upstream/connection.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>

namespace weir::upstream {

// Keep-alive connections to one endpoint, owned by one worker (no locking). Connections are
// lent to one request at a time and come back when their response was complete.
class Pool {
public:
  // `alloc`: the worker's HandlerPool, for every operation of the pool and its connections.
  // `ring`: the worker's io_uring when its backend is io_uring (else the Poller carries them).
  Pool(boost::asio::io_context& io, net::Poller& poller, boost::asio::ip::tcp::endpoint endpoint,
       std::string key, uint32_t max_idle, HandlerAllocator<void> alloc, net::Ring* ring = nullptr);
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // An idle connection (most recently used first), or a new unconnected one (fresh). nullptr
  // when the pool holds max_connections already: the owner waits in line and is told by
  // on_upstream_granted (never from inside this call), unless it cancel_wait()s first.
  // `unreplayable`: the request cannot be sent again on a fresh connection if the idle one
  // turns out closed (it has a body), so the idle one is checked with the kernel when the
  // worker cannot be sure yet (Connection::still_clean); a request without a body that meets
  // a connection the upstream just closed is replayed instead (no syscall on the common path).
  Connection* acquire(ConnectionOwner* owner, bool& fresh, bool unreplayable = false);
  void cancel_wait(ConnectionOwner* owner);
  // A new unconnected connection, never an idle one.
  Connection* connect_new(ConnectionOwner* owner);
  // The response was complete and the connection may carry another request.
  void release(Connection* c);

  const boost::asio::ip::tcp::endpoint& endpoint() const { return endpoint_; }
  const std::string& key() const { return key_; }
  void set_max_idle(uint32_t n) { max_idle_ = n; }
  // TLS for the connections made from now on (null: plain TCP). Idle ones made with other
  // settings (another CA, verify off) are closed: none is lent out under the old trust again.
  void set_tls(std::shared_ptr<const tls::ClientContext> tls) {
    if (tls == tls_) return;
    tls_ = std::move(tls);
    close_idle();
  }
  // Where the pool counts its open connections for the control thread (set once, before the
  // first connection; null: not counted). They must outlive the pool's connections.
  void set_cells(metrics::UpstreamPoolCells* cells) { cells_ = cells; }
  // Connections (lent out, connecting and idle) this worker keeps to the endpoint at most.
  void set_max_connections(uint32_t n);
  size_t waiting() const { return waiters_.size(); }
  uint32_t idle_count() const { return idle_count_; }
  uint32_t active_count() const { return active_count_; }
  // Closes idle connections (reload removed the endpoint, or shutdown).
  void close_idle();

private:
  friend class Connection;
  void on_idle_event(Connection* c);
  void unlink_idle(Connection* c);
  // The most recently used idle connection that is still clean (others are closed), counted
  // active; nullptr when none is left. `sure`: see acquire's `unreplayable`.
  Connection* take_idle(bool sure);
  // A connection came back or went away: the first waiters get what is free now. Posted, so a
  // waiter never runs inside the finishing request's call stack.
  void schedule_grant();
  void grant();

  boost::asio::io_context& io_;
  net::Poller& poller_; // the worker's, with ring_: where every connection's socket waits
  net::Ring* ring_;
  HandlerAllocator<void> alloc_;
  boost::asio::ip::tcp::endpoint endpoint_;
  std::string key_;
  std::string ip_; // the endpoint's address as text: what TLS verifies when no SNI is set
  std::shared_ptr<const tls::ClientContext> tls_;
  uint32_t max_idle_;
  Connection* idle_head_ = nullptr;
  uint32_t idle_count_ = 0;
  uint32_t active_count_ = 0;
  uint32_t max_connections_ = UINT32_MAX;
  metrics::UpstreamPoolCells* cells_ = nullptr;
  std::deque<ConnectionOwner*> waiters_;
  bool grant_scheduled_ = false;
};

} // namespace weir::upstream
