#pragma once

#include "weir/base/buffer_view.h"
#include "weir/net/any_socket_transport.h"
#include "weir/net/tls_transport.h"
#include "weir/tls/client_context.h"

#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

namespace weir::upstream {

class Pool;

// Who is using an upstream connection: told when the socket becomes readable.
class ConnectionOwner {
public:
  virtual void on_upstream_readable(const boost::system::error_code& ec) = 0;
  virtual void on_upstream_written(const boost::system::error_code& ec) = 0;
  virtual void on_upstream_connected(const boost::system::error_code& ec) = 0;
  // A request queued by Pool::acquire gets its connection (fresh: it must connect first).
  virtual void on_upstream_granted(class Connection* c, bool fresh) = 0;

protected:
  ~ConnectionOwner() = default;
};

// One connection to an endpoint, over a net::Transport: plain TCP, or TLS when the service asks
// for it (then connected means the handshake is done and the endpoint verified). Worker thread
// only. It always has at most one readiness wait pending: while idle
// in its pool the wait notices the upstream closing it; once lent out the same wait reports the
// response. Deleted only when no operation is pending any more.
class Connection final : private net::TransportOwner {
public:
  // Connection objects alive on this thread (a worker's are created and freed on it): a
  // stopping worker turns its loop until the aborted operations of the last ones came back and
  // freed them, so none outlives the thread (LeakSanitizer caught some left under load).
  static size_t alive_on_this_thread() { return alive_; }

  // `tls`: the service's TLS settings (null: plain TCP), verified against `endpoint_ip` when
  // they name no SNI.
  Connection(boost::asio::io_context& io, net::Poller& poller, Pool* pool,
             HandlerAllocator<void> alloc, net::Ring* ring = nullptr,
             const tls::ClientContext* tls = nullptr, const std::string& endpoint_ip = {});
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  Pool* pool() const { return pool_; }
  // The connection carried a request before the current one (count_request() is called once
  // per request, before it is sent).
  bool reused() const { return requests_ > 1; }
  void count_request() { ++requests_; }

  void set_owner(ConnectionOwner* owner) { owner_ = owner; }
  ConnectionOwner* owner() const { return owner_; }

  void connect(const boost::asio::ip::tcp::endpoint& endpoint);
  // Arms the readiness wait unless one is pending.
  void wait_readable();
  // Reads what the upstream sent so far without waiting (would_block: nothing yet).
  size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) {
    return t_->read_now(buffer, ec);
  }
  // Writes every byte of `buffers` (unchanged until owner->on_upstream_written).
  void write(BufferView buffers);
  // A write is pending (cleared before owner->on_upstream_written runs).
  bool writing() const { return write_pending_; }
  // No more bytes to the upstream (a tunnel whose client ended); its answers still come.
  void shutdown_send() { t_->shutdown_send(); }
  // Closes the socket; the object deletes itself once its pending operations have completed.
  void close_and_release();
  bool closed() const { return closed_; }
  // Nothing unread waits in the socket and the peer has not closed it: the only state in which
  // a connection may carry another request. Bytes past a response's framing, sent late or
  // early, would otherwise be read as the next client's response.
  bool clean_for_reuse() { return !closed_ && t_->quiet(); }
  // Still clean when taken from the pool: also sure of bytes or an end that came just before
  // it went idle and whose edge the worker has not handled yet (net::SocketTransport::quiet_now).
  bool still_clean() { return !closed_ && t_->quiet_now(); }
  // Why the TLS handshake failed, in OpenSSL's words ("" for plain TCP or none).
  const std::string& tls_failure() const;

private:
  static inline thread_local size_t alive_ = 0;
  friend class Pool;
  ~Connection();
  void on_transport_read(const boost::system::error_code&, size_t) override {}
  void on_transport_written(const boost::system::error_code& ec, size_t n) override;
  void on_transport_readable(const boost::system::error_code& ec) override;
  void on_transport_connected(const boost::system::error_code& ec) override;
  void finish_op();

  net::AnySocketTransport transport_; // plain TCP (unused under TLS)
  net::TlsTransport* tls_ = nullptr;  // TLS over its own socket transport; released, not deleted
  net::SocketTransport* t_;           // the one in use
  Pool* pool_;
  ConnectionOwner* owner_ = nullptr;
  uint64_t requests_ = 0;
  int pending_ = 0;
  bool wait_pending_ = false;
  bool write_pending_ = false;
  bool closed_ = false;

public:
  // Intrusive link for the pool's idle list.
  Connection* next_idle = nullptr;
};

} // namespace weir::upstream
