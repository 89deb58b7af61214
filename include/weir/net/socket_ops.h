#pragma once

#include "weir/base/buffer_view.h"
#include "weir/base/handler_pool.h"
#include "weir/net/transport.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>
#include <cstddef>
#include <cstdint>

// The socket calls both socket transports (EpollTransport, UringTransport) make the same way.
namespace weir::net::socket_ops {

boost::system::error_code errno_code(int e);

void set_no_delay(int fd);

// Asks the kernel, without consuming: nothing unread and no end (MSG_PEEK).
bool peek_quiet(int fd);

// A non-blocking TCP socket for `endpoint`, TCP_NODELAY set, connect() started: the socket
// (in_progress: the connection completes later), or -1 with `ec`.
int start_connect(const boost::asio::ip::tcp::endpoint& endpoint, bool& in_progress,
                  boost::system::error_code& ec);

// connect()'s outcome once the socket is writable (SO_ERROR).
boost::system::error_code connect_result(int fd);

// What is left of a gather write, and the sendmsg loop that sends it.
class GatherWrite {
public:
  enum class Sent : uint8_t { all, blocked, failed };

  // `end_stream`: once every byte went out, shut the sending side down right behind them
  // (Transport::write_last).
  void start(BufferView buffers, bool end_stream = false) {
    pos_ = buffers.begin();
    end_ = buffers.end();
    offset_ = 0;
    written_ = 0;
    end_stream_ = end_stream;
  }
  // Sends what the socket takes: all of it, or blocked (the send buffer is full), or failed.
  Sent send(int fd, boost::system::error_code& ec);
  size_t written() const { return written_; }

private:
  const boost::asio::const_buffer* pos_ = nullptr;
  const boost::asio::const_buffer* end_ = nullptr;
  size_t offset_ = 0; // bytes of *pos_ already sent
  size_t written_ = 0;
  bool end_stream_ = false;
};

// Posts a completion to a transport's owner (the operation finished at once: never inside the
// initiating call), on the worker's recycled handler memory.
enum class Done : uint8_t { read, written, readable, connected, handshake };
inline void post_to_owner(boost::asio::io_context& io, HandlerAllocator<void> alloc,
                          TransportOwner* owner, Done what, boost::system::error_code ec,
                          size_t n = 0) {
  boost::asio::post(io, boost::asio::bind_allocator(alloc, [owner, what, ec, n] {
                      switch (what) {
                      case Done::read:
                        return owner->on_transport_read(ec, n);
                      case Done::written:
                        return owner->on_transport_written(ec, n);
                      case Done::readable:
                        return owner->on_transport_readable(ec);
                      case Done::connected:
                        return owner->on_transport_connected(ec);
                      case Done::handshake:
                        return owner->on_transport_handshake(ec);
                      }
                    }));
}

} // namespace weir::net::socket_ops
