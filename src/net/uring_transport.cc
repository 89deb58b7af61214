#include "weir/net/uring_transport.h"

#include <algorithm>
#include <boost/asio/error.hpp>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

namespace weir::net {

namespace asio = boost::asio;
using boost::system::error_code;
using Sent = socket_ops::GatherWrite::Sent;

UringTransport::~UringTransport() {
  if (fd_ >= 0) {
    cancel_armed();
    ring_.close_fd(fd_);
  }
  release_held();
  if (slot_ != Ring::kNoSlot) ring_.detach(slot_);
}

bool UringTransport::adopt(int fd, error_code& ec) {
  // TCP_NODELAY and the delayed first ACK come from weir's listening socket (net/listener.cc).
  ec.clear();
  fd_ = fd;
  slot_ = ring_.attach(this);
  return true;
}

void UringTransport::cancel_armed() {
  if (std::exchange(recv_armed_, false)) ring_.cancel(slot_, kRecv);
  if (std::exchange(poll_armed_, false)) ring_.cancel(slot_, kPollOut);
}

// --- reading -----------------------------------------------------------------------------------

void UringTransport::arm_recv() {
  if (recv_armed_ || fd_ < 0) return;
  starving_ = false;
  io_uring_sqe* sqe = ring_.prepare(slot_, kRecv);
  if (!sqe) {
    // The ring takes nothing more (the kernel refuses submissions): fail the read.
    input_error_ = asio::error::no_buffer_space;
    if (std::exchange(read_pending_, false)) post_read(input_error_, 0);
    if (std::exchange(wait_pending_, false)) post_readable({});
    return;
  }
  recv_armed_ = true;
  // Up to one provided buffer, picked by the kernel when bytes are there, not before; a read
  // takes no more than its own buffer holds, so nothing is left over in the provided one.
  size_t len = ring_.buffer_size();
  if (read_pending_) len = std::min(len, read_buffer_.size());
  io_uring_prep_recv(sqe, fd_, nullptr, static_cast<unsigned>(len), 0);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = ring_.buffer_group();
}

size_t UringTransport::take(asio::mutable_buffer buffer) {
  if (spill_len_ != 0) {
    size_t n = std::min<size_t>(buffer.size(), spill_len_ - spill_pos_);
    std::memcpy(buffer.data(), spill_.get() + spill_pos_, n);
    spill_pos_ += static_cast<uint32_t>(n);
    if (spill_pos_ == spill_len_) {
      spill_.reset();
      spill_pos_ = spill_len_ = 0;
    }
    return n;
  }
  const char* held = ring_.buffer(static_cast<uint16_t>(held_id_));
  size_t n = std::min<size_t>(buffer.size(), held_len_ - held_pos_);
  std::memcpy(buffer.data(), held + held_pos_, n);
  held_pos_ += static_cast<uint32_t>(n);
  if (held_pos_ < held_len_) {
    // The owner had less room than the bytes that came (a head's second part, a response
    // while the buffer is half full): keep the rest in memory of this connection's own and
    // give the provided buffer back now. Held across the owner's next wait, 256 of them would
    // starve every recv of the worker, the upstream ones that would free them included.
    spill_len_ = held_len_ - held_pos_;
    spill_pos_ = 0;
    spill_.reset(new char[spill_len_]);
    std::memcpy(spill_.get(), held + held_pos_, spill_len_);
  }
  release_held();
  return n;
}

void UringTransport::release_held() {
  if (held_id_ < 0) return;
  ring_.recycle(static_cast<uint16_t>(held_id_));
  held_id_ = -1;
  held_pos_ = held_len_ = 0;
}

error_code UringTransport::input_state() const {
  if (input_error_) return input_error_;
  if (end_) return asio::error::eof;
  return asio::error::would_block;
}

size_t UringTransport::read_now(asio::mutable_buffer buffer, error_code& ec) {
  if (fd_ < 0) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if (holding()) {
    ec.clear();
    return buffer.size() == 0 ? 0 : take(buffer);
  }
  if (buffer.size() == 0 && !input_error_ && !end_) {
    ec.clear();
    return 0;
  }
  ec = input_state();
  return 0;
}

void UringTransport::read(asio::mutable_buffer buffer) {
  if (fd_ < 0) return post_read(asio::error::bad_descriptor, 0);
  if (input_ready() || buffer.size() == 0) { // an empty read reads nothing (as Asio)
    error_code ec;
    size_t n = read_now(buffer, ec);
    return post_read(ec, n);
  }
  read_buffer_ = buffer;
  read_pending_ = true;
  arm_recv();
}

void UringTransport::wait_readable() {
  if (fd_ < 0) return post_readable(asio::error::bad_descriptor);
  if (input_ready()) return post_readable({});
  wait_pending_ = true;
  arm_recv();
}

bool UringTransport::quiet() {
  if (fd_ < 0 || input_ready()) return false;
  // A completion of ours is reaped but not handed over yet: not sure.
  if (ring_.completion_due(slot_)) return false;
  // The last recv left bytes in the socket (or filled its buffer: maybe), or no recv could be
  // armed (starved of buffers, so no completion would have told): ask the kernel.
  if (maybe_more_ || starving_) {
    if (!socket_ops::peek_quiet(fd_)) return false;
    maybe_more_ = false;
  }
  return true;
}

bool UringTransport::quiet_now() {
  if (fd_ < 0 || input_ready() || ring_.completion_due(slot_)) return false;
  return socket_ops::peek_quiet(fd_);
}

void UringTransport::on_recv(int res, uint32_t flags) {
  recv_armed_ = false;
  if (res > 0 && (flags & IORING_CQE_F_BUFFER)) {
    held_id_ = static_cast<int32_t>(flags >> IORING_CQE_BUFFER_SHIFT);
    held_pos_ = 0;
    held_len_ = static_cast<uint32_t>(res);
    maybe_more_ = (flags & IORING_CQE_F_SOCK_NONEMPTY) != 0 ||
                  static_cast<size_t>(res) == ring_.buffer_size();
  } else if (res == 0) {
    end_ = true;
  } else if (res == -ENOBUFS) {
    // Every provided buffer is out (held by connections whose owners have not read yet): the
    // bytes stay in the socket until one comes back.
    if (ring_.wait_for_buffer(slot_))
      arm_recv();
    else
      starving_ = true;
    return;
  } else if (res < 0 && res != -ECANCELED) {
    input_error_ = socket_ops::errno_code(-res);
  } else if (res < 0) {
    return; // cancelled: only close() cancels, and it completed the owner's operations
  }
  if (read_pending_) {
    read_pending_ = false;
    error_code ec;
    size_t n = read_now(read_buffer_, ec);
    return owner_->on_transport_read(ec, n);
  }
  if (wait_pending_) {
    wait_pending_ = false;
    return owner_->on_transport_readable({});
  }
}

// --- writing -----------------------------------------------------------------------------------

bool UringTransport::arm_poll_out() {
  if (poll_armed_) return true;
  io_uring_sqe* sqe = ring_.prepare(slot_, kPollOut);
  if (!sqe) return false;
  poll_armed_ = true;
  io_uring_prep_poll_add(sqe, fd_, POLLOUT);
  return true;
}

Sent UringTransport::send_some(error_code& ec) {
  Sent sent = out_.send(fd_, ec);
  if (sent == Sent::blocked) writable_ = false;
  return sent;
}

void UringTransport::write_last(BufferView buffers) {
  start_write(buffers, true);
}

void UringTransport::write(BufferView buffers) {
  start_write(buffers, false);
}

void UringTransport::start_write(BufferView buffers, bool end) {
  out_.start(buffers, end);
  if (fd_ < 0) return post_written(asio::error::bad_descriptor, 0);
  if (writable_) {
    error_code ec;
    switch (send_some(ec)) {
    case Sent::all:
      return post_written({}, out_.written());
    case Sent::failed:
      return post_written(ec, out_.written());
    case Sent::blocked:
      break;
    }
  }
  if (!arm_poll_out()) return post_written(asio::error::no_buffer_space, out_.written());
  write_pending_ = true;
}

void UringTransport::on_writable(int res) {
  poll_armed_ = false;
  if (res == -ECANCELED) return;
  error_code failed = res < 0 ? socket_ops::errno_code(-res) : error_code();
  if (!failed) writable_ = true;
  if (connect_pending_) {
    connect_pending_ = false;
    error_code result = failed ? failed : socket_ops::connect_result(fd_);
    if (result) writable_ = false;
    bool more = read_pending_ || wait_pending_ || write_pending_;
    owner_->on_transport_connected(result);
    if (!more) return;
  }
  if (!write_pending_) return;
  error_code ec = failed;
  Sent sent = failed ? Sent::failed : send_some(ec);
  if (sent == Sent::blocked && arm_poll_out()) return;
  if (sent == Sent::blocked) ec = asio::error::no_buffer_space;
  write_pending_ = false;
  owner_->on_transport_written(ec, out_.written());
}

void UringTransport::on_buffer_free() {
  if (read_pending_ || wait_pending_) arm_recv();
}

void UringTransport::on_completion(uint8_t op, int res, uint32_t flags) {
  switch (op) {
  case kRecv:
    return on_recv(res, flags);
  case kPollOut:
    return on_writable(res);
  default:
    return;
  }
}

// --- connecting and closing ----------------------------------------------------------------------

void UringTransport::connect(const asio::ip::tcp::endpoint& endpoint) {
  bool in_progress = false;
  error_code ec;
  int fd = socket_ops::start_connect(endpoint, in_progress, ec);
  if (fd < 0) return post_connected(ec);
  fd_ = fd;
  slot_ = ring_.attach(this);
  if (!in_progress) return post_connected({});
  writable_ = false;
  if (!arm_poll_out()) return post_connected(asio::error::no_buffer_space);
  connect_pending_ = true; // writable (or failed) ends it
}

void UringTransport::shutdown_send() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void UringTransport::reset_on_close() {
  reset_on_close_ = true;
}

void UringTransport::close() {
  if (fd_ < 0) return;
  if (reset_on_close_) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  // The armed operations hold the socket open in the kernel until they end: cancel them. Their
  // completions are dropped (the slot is let go here), and they reference no memory of ours
  // but the Ring's provided buffers, which the Ring takes back.
  cancel_armed();
  ring_.close_fd(fd_);
  fd_ = -1;
  ring_.detach(slot_);
  slot_ = Ring::kNoSlot;
  release_held();
  writable_ = false;
  if (std::exchange(connect_pending_, false)) post_connected(asio::error::operation_aborted);
  if (std::exchange(write_pending_, false)) post_written(asio::error::operation_aborted, 0);
  if (std::exchange(read_pending_, false)) post_read(asio::error::operation_aborted, 0);
  if (std::exchange(wait_pending_, false)) post_readable(asio::error::operation_aborted);
}

// --- completions that finished at once
// ------------------------------------------------------------

void UringTransport::post_read(error_code ec, size_t n) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::read, ec, n);
}

void UringTransport::post_written(error_code ec, size_t n) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::written, ec, n);
}

void UringTransport::post_readable(error_code ec) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::readable, ec);
}

void UringTransport::post_connected(error_code ec) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::connected, ec);
}

} // namespace weir::net
