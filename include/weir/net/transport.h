#pragma once

#include "weir/base/buffer_view.h"

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>

namespace weir::net {

// Who is told when a transport's operations complete. An owner callback interface rather than a
// std::function per operation: nothing is allocated per read or write, and the transport's own
// completion handlers (a `this` capture) stay small enough for Asio's recycling allocator.
class TransportOwner {
public:
  // A read() completed: n bytes are in the buffer it was given (n 0 or ec: end or error).
  virtual void on_transport_read(const boost::system::error_code& ec, size_t n) = 0;
  // A write() completed: every byte went out, or ec says why not.
  virtual void on_transport_written(const boost::system::error_code& ec, size_t n) = 0;
  // A wait_readable() completed: bytes, an end or an error wait (read them with read_now()).
  virtual void on_transport_readable(const boost::system::error_code& ec) = 0;
  virtual void on_transport_connected(const boost::system::error_code&) {}
  // A TLS server handshake ended (ec: it failed, tls_error), before the completion of the read
  // or wait that carried it. Plain transports never call it.
  virtual void on_transport_handshake(const boost::system::error_code&) {}

protected:
  ~TransportOwner() = default;
};

// The byte stream under a connection: the one seam through which the engine (ClientConnection,
// upstream::Connection) reads and writes, so TLS or an HTTP/2 stream can stand where plain TCP
// (EpollTransport, on the worker's own poller) stands today. No engine code touches a socket. Every
// operation started completes exactly once with a call to the owner; the transport touches
// nothing of its own after that call, so the owner may delete it (and itself) from inside the
// callback once it counts no pending operation. At most one read or wait and one write are
// pending at a time; the owner keeps its buffers unchanged until they complete. A transport adds
// no syscall to what its operations need (see EpollTransport).
// Thread contract: one thread (the worker's) makes every call and receives every callback.
class Transport {
public:
  // Reads what is there, at most buffer.size() bytes, waiting for it if need be.
  virtual void read(boost::asio::mutable_buffer buffer) = 0;
  // Reads what is there now, without waiting: would_block when nothing is.
  virtual size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) = 0;
  // Tells the owner when bytes, an end or an error arrive, consuming nothing: how an idle
  // connection holds no buffer (it borrows one once the bytes are there).
  virtual void wait_readable() = 0;
  // Writes every byte of `buffers`.
  virtual void write(BufferView buffers) = 0;
  // write(), then the end of the stream (as shutdown_send) right behind the last byte, before
  // the completion: for the last response of a connection, so the peer reads the end with it,
  // not a turn of the loop later, and the proxy, not the client, is the side that ends first
  // and keeps the TIME_WAIT (a client's own TIME_WAITs slow its next connects; HAProxy shuts
  // down its side the same way). On a failed write nothing is shut down.
  virtual void write_last(BufferView buffers) = 0;
  // Nothing unread waits and the peer has not ended the stream (asks without consuming).
  virtual bool quiet() = 0;
  virtual void connect(const boost::asio::ip::tcp::endpoint& endpoint) = 0;
  // No more bytes from us (the peer reads an end); reads go on.
  virtual void shutdown_send() = 0;
  // From now on, closing resets the connection: unsent bytes are dropped instead of being held
  // by the kernel for a peer that does not read (nginx's reset_timedout_connection).
  virtual void reset_on_close() = 0;
  // Closes at once; pending operations complete with operation_aborted.
  virtual void close() = 0;

protected:
  ~Transport() = default;
};

} // namespace weir::net
