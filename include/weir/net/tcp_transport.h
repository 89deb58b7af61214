#pragma once

#include "weir/base/handler_pool.h"
#include "weir/net/transport.h"

#include <boost/asio/ip/tcp.hpp>

namespace weir::net {

// Plain TCP over Asio's reactor: each operation is the one Asio call (and syscall pattern) it
// stands for — wait_readable() an async_wait, read_now() one non-blocking recv, read() an
// async_read_some, write() an async_write of the gather list, quiet() one MSG_PEEK recv — so the
// seam costs a virtual call and nothing else. Every completion handler is bound to the worker's
// HandlerPool, so steady traffic allocates no operation from the heap. Worker thread only.
class TcpTransport final : public Transport {
public:
  TcpTransport(boost::asio::ip::tcp::socket socket, TransportOwner* owner,
               HandlerAllocator<void> alloc)
      : socket_(std::move(socket)), owner_(owner), alloc_(alloc) {}
  TcpTransport(boost::asio::io_context& io, TransportOwner* owner, HandlerAllocator<void> alloc)
      : socket_(io), owner_(owner), alloc_(alloc) {}
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;
  ~TcpTransport() = default;

  // An accepted socket: TCP_NODELAY, non-blocking; the peer's address (unspecified on error).
  boost::asio::ip::address start_accepted();

  void read(boost::asio::mutable_buffer buffer) override;
  size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void wait_readable() override;
  void write(BufferView buffers) override;
  bool quiet() override;
  void connect(const boost::asio::ip::tcp::endpoint& endpoint) override;
  void shutdown_send() override;
  void reset_on_close() override;
  void close() override;

private:
  boost::asio::ip::tcp::socket socket_;
  TransportOwner* owner_;
  HandlerAllocator<void> alloc_;
};

} // namespace weir::net
