#include "weir/net/epoll_transport.h"

#include "weir/net/socket_ops.h"

#include <boost/asio/bind_allocator.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <utility>

namespace weir::net {

namespace asio = boost::asio;
using boost::system::error_code;

using socket_ops::errno_code;
using Sent = socket_ops::GatherWrite::Sent;

EpollTransport::~EpollTransport() {
  if (fd_ >= 0) {
    poller_.forget(this);
    ::close(fd_);
  }
}

bool EpollTransport::adopt(int fd, error_code& ec) {
  // TCP_NODELAY and the delayed first ACK come from weir's listening socket (net/listener.cc).
  // Registered only once an operation has to wait (watch()): a connection whose request is
  // there by the time it is accepted, and whose response goes out whole, costs no epoll_ctl at
  // all (HAProxy's speculative I/O). Until then both directions are presumed ready, so the
  // first read asks the kernel at once instead of waiting a turn of the loop for an edge.
  ec.clear();
  fd_ = fd;
  readable_ = writable_ = true;
  return true;
}

bool EpollTransport::watch(error_code& ec) {
  if (registered_) return true;
  // ADD reports what is due already, as an edge at the next batch: nothing that came while
  // unregistered is missed.
  if (!poller_.add(fd_, this, ec)) return false;
  registered_ = true;
  return true;
}

// --- reading -----------------------------------------------------------------------------------

size_t EpollTransport::read_now(asio::mutable_buffer buffer, error_code& ec) {
  if (fd_ < 0) {
    ec = asio::error::bad_descriptor;
    return 0;
  }
  if (!readable_ && registered_) {
    // Drained by the last read, and no edge since: nothing to ask the kernel.
    ec = asio::error::would_block;
    return 0;
  }
  if (buffer.size() == 0) {
    ec.clear(); // as Asio: an empty read reads nothing (recv would say 0, an end)
    return 0;
  }
  for (;;) {
    ssize_t n = ::recv(fd_, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      ec.clear();
      // Less than asked for: drained, unless the peer's end (or an error) is known to wait
      // behind the bytes, which a later recv returns and no new edge would announce.
      if (static_cast<size_t>(n) < buffer.size() && !end_seen_) {
        readable_ = false;
        drained_at_ = poller_.waits();
      }
      return static_cast<size_t>(n);
    }
    if (n == 0) {
      ec = asio::error::eof; // stays readable: the end is there for every later read too
      return 0;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!end_seen_) {
        readable_ = false;
        drained_at_ = poller_.waits();
      }
      ec = asio::error::would_block;
    } else {
      ec = errno_code(errno);
    }
    return 0;
  }
}

bool EpollTransport::receive(error_code& ec, size_t& n) {
  n = read_now(read_buffer_, ec);
  return ec != asio::error::would_block;
}

void EpollTransport::read(asio::mutable_buffer buffer) {
  read_buffer_ = buffer;
  error_code ec;
  size_t n = 0;
  if (fd_ < 0) return post_read(asio::error::bad_descriptor, 0);
  if (readable_ && receive(ec, n)) return post_read(ec, n);
  if (!watch(ec)) return post_read(ec, 0);
  read_pending_ = true; // the next edge completes it
}

void EpollTransport::wait_readable() {
  if (fd_ < 0) return post_readable(asio::error::bad_descriptor);
  if (readable_) return post_readable({});
  error_code ec;
  if (!watch(ec)) return post_readable(ec);
  wait_pending_ = true;
}

bool EpollTransport::quiet() {
  if (fd_ < 0 || end_seen_) return false;
  if (!readable_ && registered_) return true; // unregistered: no edge would have said

  return peek_quiet();
}

bool EpollTransport::quiet_now() {
  if (fd_ < 0 || end_seen_) return false;
  if (!readable_ && registered_ && poller_.settled() > drained_at_) return true;
  return peek_quiet();
}

bool EpollTransport::peek_quiet() {
  if (!socket_ops::peek_quiet(fd_)) return false;
  readable_ = false;
  return true;
}

// --- writing -----------------------------------------------------------------------------------

Sent EpollTransport::send_some(error_code& ec) {
  Sent sent = out_.send(fd_, ec);
  if (sent == Sent::blocked) writable_ = false; // the next output edge says when it takes more
  return sent;
}

void EpollTransport::write_last(BufferView buffers) {
  start_write(buffers, true);
}

void EpollTransport::write(BufferView buffers) {
  start_write(buffers, false);
}

void EpollTransport::start_write(BufferView buffers, bool end) {
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
  if (error_code ec; !watch(ec)) return post_written(ec, out_.written());
  write_pending_ = true;
}

// --- connecting and closing ----------------------------------------------------------------------

void EpollTransport::connect(const asio::ip::tcp::endpoint& endpoint) {
  bool in_progress = false;
  error_code ec;
  int fd = socket_ops::start_connect(endpoint, in_progress, ec);
  if (fd < 0) return post_connected(ec);
  if (!poller_.add(fd, this, ec)) {
    ::close(fd);
    return post_connected(ec);
  }
  fd_ = fd;
  registered_ = true;
  if (!in_progress) return post_connected({});
  connect_pending_ = true; // the output edge (or an error) ends it
}

void EpollTransport::shutdown_send() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
}

void EpollTransport::reset_on_close() {
  reset_on_close_ = true;
}

void EpollTransport::close() {
  if (fd_ < 0) return;
  poller_.forget(this);
  if (reset_on_close_) {
    linger l{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(fd_);
  fd_ = -1;
  readable_ = writable_ = false;
  if (std::exchange(connect_pending_, false)) post_connected(asio::error::operation_aborted);
  if (std::exchange(write_pending_, false)) post_written(asio::error::operation_aborted, 0);
  if (std::exchange(read_pending_, false)) post_read(asio::error::operation_aborted, 0);
  if (std::exchange(wait_pending_, false)) post_readable(asio::error::operation_aborted);
}

// --- edges -------------------------------------------------------------------------------------

void EpollTransport::on_ready(uint32_t events) {
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) readable_ = true;
  if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) end_seen_ = true;
  if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR)) writable_ = true;
  // Each owner callback may end with the owner deleting this transport, unless another
  // operation is still pending (the owner counts it; close() turns it into a posted
  // completion). So a step that calls back goes on only if one was.
  if (connect_pending_ && writable_) {
    connect_pending_ = false;
    error_code result = socket_ops::connect_result(fd_);
    if (result) writable_ = false;
    bool more = read_pending_ || wait_pending_ || write_pending_;
    owner_->on_transport_connected(result);
    if (!more) return;
  }
  if (write_pending_ && writable_) {
    error_code ec;
    Sent sent = send_some(ec);
    if (sent != Sent::blocked) {
      write_pending_ = false;
      bool more = read_pending_ || wait_pending_;
      owner_->on_transport_written(ec, out_.written());
      if (!more) return;
    }
  }
  if (read_pending_ && readable_) {
    error_code ec;
    size_t n = 0;
    if (receive(ec, n)) {
      read_pending_ = false;
      return owner_->on_transport_read(ec, n);
    }
  } else if (wait_pending_ && readable_) {
    wait_pending_ = false;
    return owner_->on_transport_readable({});
  }
}

// --- completions that finished at once
// ------------------------------------------------------------

void EpollTransport::post_read(error_code ec, size_t n) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::read, ec, n);
}

void EpollTransport::post_written(error_code ec, size_t n) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::written, ec, n);
}

void EpollTransport::post_readable(error_code ec) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::readable, ec);
}

void EpollTransport::post_connected(error_code ec) {
  socket_ops::post_to_owner(io_, alloc_, owner_, socket_ops::Done::connected, ec);
}

} // namespace weir::net
