#pragma once

#include "weir/net/transport.h"

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>

namespace weir::net {

// Plain TCP: each operation is the one Asio operation (and syscall) it needs. Reads and the
// watch are both reads for Asio's reactor, so the socket stays registered with epoll once for
// input (a readiness wait, async_wait, would re-register it on every call); the watch is a
// 1-byte MSG_PEEK receive, cancelled without a syscall when a read takes over; has_unread() asks
// the kernel (MSG_PEEK) only when the last read filled its buffer. Worker thread only.
class TcpTransport final : public Transport {
public:
  TcpTransport(boost::asio::ip::tcp::socket socket, TransportOwner* owner)
      : socket_(std::move(socket)), owner_(owner) {}
  TcpTransport(boost::asio::io_context& io, TransportOwner* owner) : socket_(io), owner_(owner) {}
  TcpTransport(const TcpTransport&) = delete;
  TcpTransport& operator=(const TcpTransport&) = delete;
  ~TcpTransport() = default;

  // An accepted socket: TCP_NODELAY, non-blocking; the peer's address (unspecified on error).
  boost::asio::ip::address start_accepted();

  void read(boost::asio::mutable_buffer buffer) override;
  void write(BufferView buffers) override;
  bool watch() override;
  bool has_unread() override;
  void connect(const boost::asio::ip::tcp::endpoint& endpoint) override;
  void shutdown_send() override;
  void reset_on_close() override;
  void close() override;

private:
  void cancel_watch();

  boost::asio::ip::tcp::socket socket_;
  TransportOwner* owner_;
  boost::asio::cancellation_signal watch_cancel_;
  uint32_t watch_generation_ = 0; // bumped on cancel: a completion already queued is stale
  bool last_read_full_ = false;   // the last read filled its buffer: bytes may be left
  char peek_byte_ = 0;
};

} // namespace weir::net
