#pragma once

#include "weir/base/handler_pool.h"
#include "weir/net/ring.h"
#include "weir/net/socket_ops.h"
#include "weir/net/socket_transport.h"

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>

namespace weir::net {

// Plain TCP on the worker's io_uring (io: io_uring). Reads are recv operations that take a
// provided buffer from the Ring when bytes arrive, so a connection waiting for a request holds
// no buffer, and the bytes are copied into the owner's buffer when it reads (they wait in the
// provided buffer until then). One recv is armed at a time, only while the owner waits or reads:
// a peer that sends faster than the owner reads fills the socket, not the worker's memory.
// Writes go out with sendmsg at once, as in EpollTransport; when the socket's send buffer is
// full a one-shot poll on the ring says when it takes more. So the kernel never reads from or
// writes into memory of the owner's after an operation was handed to it: close() can complete
// the owner's pending operations (aborted) right away, as EpollTransport does.
//
// The syscalls this saves against EpollTransport: the two recv per proxied exchange, and the
// epoll_ctl of a socket's first wait; a wake-up of the worker costs three (see Ring).
//
// Completions of operations that finish at once are posted, never run inside the initiating
// call; the rest run from the Ring's reaping. Worker thread only.
class UringTransport final : public SocketTransport, private RingClient {
public:
  UringTransport(Ring& ring, boost::asio::io_context& io, TransportOwner* owner,
                 HandlerAllocator<void> alloc)
      : ring_(ring), io_(io), owner_(owner), alloc_(alloc) {}
  ~UringTransport();
  UringTransport(const UringTransport&) = delete;
  UringTransport& operator=(const UringTransport&) = delete;

  bool adopt(int fd, boost::system::error_code& ec) override;
  int native_handle() const { return fd_; }

  void read(boost::asio::mutable_buffer buffer) override;
  size_t read_now(boost::asio::mutable_buffer buffer, boost::system::error_code& ec) override;
  void wait_readable() override;
  void write(BufferView buffers) override;
  void write_last(BufferView buffers) override;
  // Nothing held, no end or error seen, and the socket asked (MSG_PEEK) when the last recv
  // left bytes behind. A recv whose completion the Ring has not reaped yet, or bytes that came
  // after the last recv while none was armed, are not seen (as EpollTransport's edge not yet
  // handled).
  bool quiet() override;
  // quiet(), and the kernel asked (MSG_PEEK): bytes wait in the socket until the Ring's next
  // io_uring_enter runs the armed recv (DEFER_TASKRUN), so they are seen.
  bool quiet_now() override;
  void connect(const boost::asio::ip::tcp::endpoint& endpoint) override;
  void shutdown_send() override;
  void reset_on_close() override;
  void close() override;

private:
  enum Op : uint8_t { kRecv = 1, kPollOut = 2 };

  void on_completion(uint8_t op, int res, uint32_t flags) override;
  void on_buffer_free() override;
  void on_recv(int res, uint32_t flags);
  void on_writable(int res);
  void arm_recv();
  bool arm_poll_out(); // false: the ring takes nothing more
  // Copies held bytes into `buffer`, recycling the provided buffer once emptied.
  size_t take(boost::asio::mutable_buffer buffer);
  bool holding() const { return held_id_ >= 0 || spill_len_ != 0; }
  bool input_ready() const { return holding() || end_ || input_error_; }
  // What read_now() says when nothing is held: an end, an error, or would_block.
  boost::system::error_code input_state() const;
  void start_write(BufferView buffers, bool end);
  socket_ops::GatherWrite::Sent send_some(boost::system::error_code& ec);
  // Cancels the recv and poll in flight (close, destruction).
  void cancel_armed();
  void release_held();
  void post_read(boost::system::error_code ec, size_t n);
  void post_written(boost::system::error_code ec, size_t n);
  void post_readable(boost::system::error_code ec);
  void post_connected(boost::system::error_code ec);

  Ring& ring_;
  boost::asio::io_context& io_;
  TransportOwner* owner_;
  HandlerAllocator<void> alloc_;
  int fd_ = -1;
  uint32_t slot_ = Ring::kNoSlot;
  // The provided buffer with bytes not yet read (-1: none).
  int32_t held_id_ = -1;
  uint32_t held_pos_ = 0;
  uint32_t held_len_ = 0;
  // Bytes a read had no room for, moved out of the provided buffer (rare; freed once read).
  std::unique_ptr<char[]> spill_;
  uint32_t spill_pos_ = 0;
  uint32_t spill_len_ = 0;
  boost::system::error_code input_error_;
  bool end_ = false;
  // The last recv said more bytes were left in the socket, or filled its buffer.
  bool maybe_more_ = false;
  boost::asio::mutable_buffer read_buffer_;
  socket_ops::GatherWrite out_; // the pending write
  bool writable_ = true;
  bool recv_armed_ = false;
  bool starving_ = false; // a recv found no provided buffer and waits for one
  bool poll_armed_ = false;
  bool read_pending_ = false;
  bool wait_pending_ = false;
  bool write_pending_ = false;
  bool connect_pending_ = false;
  bool reset_on_close_ = false;
};

} // namespace weir::net
