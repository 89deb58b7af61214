#pragma once

#include "weir/base/handler_pool.h"
#include "weir/net/poller.h"
#include "weir/net/socket_ops.h"
#include "weir/net/socket_transport.h"

#include <boost/asio/io_context.hpp>
#include <cstdint>

namespace weir::net {

// Plain TCP on the worker's own edge-triggered Poller instead of Asio's reactor: each operation
// costs the data syscall it needs and nothing else. Waiting costs none: the socket is registered
// once, and the transport remembers what the last edge and the last read said. A read that
// returned less than it asked for drained the socket (as nginx reasons with epoll, unless the
// peer's end was seen: then the end waits behind the bytes), so until the
// next edge the socket is known empty: wait_readable() waits without asking the kernel, and
// quiet() answers without a MSG_PEEK. Only after a read that filled its buffer, or an edge, is
// the kernel asked.
//
// The one thing this gives up against asking the kernel every time: bytes whose edge is still
// in the Poller's queue (they came within the current turn of the event loop) are not seen by
// quiet(); the wait armed next reports them. nginx's keep-alive pool makes the same call.
//
// Completions of operations that finish at once are posted, never run inside the initiating
// call; the rest run from the Poller's batch. Worker thread only.
class EpollTransport final : public SocketTransport, public PollClient {
public:
  EpollTransport(Poller& poller, boost::asio::io_context& io, TransportOwner* owner,
                 HandlerAllocator<void> alloc)
      : poller_(poller), io_(io), owner_(owner), alloc_(alloc) {}
  ~EpollTransport();
  EpollTransport(const EpollTransport&) = delete;
  EpollTransport& operator=(const EpollTransport&) = delete;

  // Takes a connected, non-blocking socket: an accepted one (accept4 made it non-blocking; it
  // inherits TCP_NODELAY and the delayed first ACK from weir's listening socket). It is
  // registered with the Poller only when an operation first has to wait; until then reads and
  // writes are tried at once.
  bool adopt(int fd, boost::system::error_code& ec) override;
  int native_handle() const { return fd_; }

  void read(boost::asio::mutable_buffer buffer) override;
  size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void wait_readable() override;
  void write(BufferView buffers) override;
  void write_last(BufferView buffers) override;
  bool quiet() override;
  // quiet(), sure even of bytes whose edge may still wait in the kernel's event queue: without a
  // syscall once the Poller has emptied that queue since the read that drained the socket,
  // else with a MSG_PEEK. For re-using a connection that was quiet() when it went idle, in case
  // it is taken again within the same turn of the loop (pipelined requests).
  bool quiet_now() override;
  void connect(const boost::asio::ip::tcp::endpoint& endpoint) override;
  void shutdown_send() override;
  void reset_on_close() override;
  void close() override;

  void on_ready(uint32_t events) override;

private:
  using Sent = socket_ops::GatherWrite::Sent;
  // Registers the socket with the Poller if it is not yet (the first operation that waits).
  bool watch(boost::system::error_code& ec);
  void start_write(BufferView buffers, bool end);
  // Sends what the socket takes of the pending write; `ec` set when it failed.
  Sent send_some(boost::system::error_code& ec);
  // recv into the pending read's buffer: false when the socket had nothing (read stays pending).
  bool receive(boost::system::error_code& ec, size_t& n);
  // Asks the kernel (MSG_PEEK): nothing unread and no end.
  bool peek_quiet();
  void post_read(boost::system::error_code ec, size_t n);
  void post_written(boost::system::error_code ec, size_t n);
  void post_readable(boost::system::error_code ec);
  void post_connected(boost::system::error_code ec);

  Poller& poller_;
  boost::asio::io_context& io_;
  TransportOwner* owner_;
  HandlerAllocator<void> alloc_; // the worker's recycled memory for the posted completions
  int fd_ = -1;
  boost::asio::mutable_buffer read_buffer_;
  socket_ops::GatherWrite out_; // the pending write
  // What the last edge or operation said: bytes (or an end) may wait / the socket takes bytes.
  bool readable_ = false;
  bool writable_ = false;
  // The peer ended its stream (or the socket failed): reads go to the kernel from now on, since
  // the end waits behind any bytes and no edge will announce it again (nginx's pending_eof).
  bool end_seen_ = false;
  uint64_t drained_at_ = 0; // the Poller's waits() when a read last found the socket empty
  bool read_pending_ = false;
  bool wait_pending_ = false;
  bool write_pending_ = false;
  bool connect_pending_ = false;
  bool reset_on_close_ = false;
  bool registered_ = false; // with the Poller: until then no edge tells readable_ or writable_
};

} // namespace weir::net
