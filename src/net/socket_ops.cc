#include "weir/net/socket_ops.h"

#include <cerrno>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

namespace weir::net::socket_ops {

namespace asio = boost::asio;
using boost::system::error_code;

error_code errno_code(int e) {
  return error_code(e, boost::system::system_category());
}

void set_no_delay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

bool peek_quiet(int fd) {
  char byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

int start_connect(const asio::ip::tcp::endpoint& endpoint, bool& in_progress, error_code& ec) {
  in_progress = false;
  int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = errno_code(errno);
    return -1;
  }
  set_no_delay(fd);
  ec.clear();
  if (::connect(fd, endpoint.data(), static_cast<socklen_t>(endpoint.size())) == 0) return fd;
  if (errno == EINPROGRESS) {
    in_progress = true;
    return fd;
  }
  ec = errno_code(errno);
  ::close(fd);
  return -1;
}

error_code connect_result(int fd) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
  return err ? errno_code(err) : error_code();
}

GatherWrite::Sent GatherWrite::send(int fd, error_code& ec) {
  constexpr int kMaxIov = 64;
  while (pos_ != end_) {
    iovec iov[kMaxIov];
    int count = 0;
    size_t wanted = 0;
    size_t offset = offset_;
    for (const asio::const_buffer* b = pos_; b != end_ && count < kMaxIov; ++b) {
      if (b->size() > offset) {
        iov[count].iov_base = const_cast<char*>(static_cast<const char*>(b->data()) + offset);
        iov[count].iov_len = b->size() - offset;
        wanted += iov[count].iov_len;
        ++count;
      }
      offset = 0;
    }
    if (count == 0) break; // only empty buffers were left
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = static_cast<size_t>(count);
    ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Sent::blocked;
      ec = errno_code(errno);
      return Sent::failed;
    }
    written_ += static_cast<size_t>(n);
    // Step past what went out.
    size_t left = static_cast<size_t>(n);
    while (pos_ != end_ && left >= pos_->size() - offset_) {
      left -= pos_->size() - offset_;
      ++pos_;
      offset_ = 0;
    }
    offset_ += left;
    // Less than offered: the socket's send buffer is full, the rest waits for room.
    if (static_cast<size_t>(n) < wanted && pos_ != end_) return Sent::blocked;
  }
  if (end_stream_) ::shutdown(fd, SHUT_WR);
  return Sent::all;
}

} // namespace weir::net::socket_ops
