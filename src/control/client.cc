#include "weir/control/client.h"

#include <cerrno>
#include <climits>
#include <fcntl.h>
#include <optional>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <system_error>
#include <unistd.h>

namespace weir::control {

namespace {

using Clock = std::chrono::steady_clock;

std::string errno_text(int err) {
  return std::generic_category().message(err);
}

// Milliseconds left until `deadline` for poll(): -1 for no deadline, never below 0.
int poll_ms(std::optional<Clock::time_point> deadline) {
  if (!deadline) return -1;
  auto left = std::chrono::ceil<std::chrono::milliseconds>(*deadline - Clock::now()).count();
  if (left <= 0) return 0;
  return left > INT_MAX ? INT_MAX : static_cast<int>(left);
}

std::optional<Clock::time_point> deadline_after(std::chrono::milliseconds timeout) {
  if (timeout < std::chrono::milliseconds(0)) return std::nullopt;
  return Clock::now() + timeout;
}

} // namespace

Result<Client> Client::connect(const std::string& path, std::chrono::milliseconds timeout) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty()) return Error{ErrorSource::internal, "empty socket path"};
  if (path.size() >= sizeof addr.sun_path)
    return Error{ErrorSource::internal, "socket path is longer than " +
                                            std::to_string(sizeof addr.sun_path - 1) + " bytes"};
  path.copy(addr.sun_path, path.size());
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Error{ErrorSource::internal, errno_text(errno)};
  // A Unix stream connect blocks only while the server's backlog is full; SO_SNDTIMEO bounds it.
  if (timeout > std::chrono::milliseconds(0)) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
    tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno;
    ::close(fd);
    if (err == EAGAIN || err == EINPROGRESS)
      return Error{ErrorSource::internal, "timed out (the server accepts no connections)"};
    return Error{ErrorSource::internal, errno_text(err)};
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return Error{ErrorSource::internal, errno_text(err)};
  }
  return Client(fd);
}

Client::Client(Client&& other) noexcept
    : fd_(other.fd_), buffer_(std::move(other.buffer_)), scanned_(other.scanned_),
      error_(std::move(other.error_)) {
  other.fd_ = -1;
  other.scanned_ = 0;
}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    scanned_ = other.scanned_;
    error_ = std::move(other.error_);
    other.fd_ = -1;
    other.scanned_ = 0;
  }
  return *this;
}

Client::~Client() {
  close();
}

void Client::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Result<bool> Client::send_line(std::string_view line, std::chrono::milliseconds timeout) {
  auto fail = [&](std::string message) {
    error_ = message;
    return Error{ErrorSource::internal, std::move(message)};
  };
  if (fd_ < 0) return fail("not connected");
  if (line.find('\n') != std::string_view::npos) return fail("a command cannot contain a newline");
  std::string out;
  out.reserve(line.size() + 1);
  out.append(line).push_back('\n');
  auto deadline = deadline_after(timeout);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return fail(errno_text(errno));
    pollfd p{fd_, POLLOUT, 0};
    int ms = poll_ms(deadline);
    if (ms == 0) return fail("timed out sending the command");
    if (::poll(&p, 1, ms) < 0 && errno != EINTR) return fail(errno_text(errno));
  }
  return true;
}

Client::Status Client::read_line(std::string& line, std::chrono::milliseconds timeout,
                                 int wake_fd) {
  if (fd_ < 0) {
    error_ = "not connected";
    return Status::error;
  }
  auto deadline = deadline_after(timeout);
  for (;;) {
    size_t nl = buffer_.find('\n', scanned_);
    if (nl != std::string::npos) {
      line.assign(buffer_, 0, nl);
      buffer_.erase(0, nl + 1);
      scanned_ = 0;
      return Status::line;
    }
    scanned_ = buffer_.size();
    if (buffer_.size() > kMaxReplyLine) {
      error_ = "reply line longer than " + std::to_string(kMaxReplyLine) + " bytes";
      return Status::error;
    }
    pollfd p[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int ms = poll_ms(deadline);
    int ready = ::poll(p, wake_fd >= 0 ? 2 : 1, ms);
    if (ready < 0) {
      if (errno == EINTR) continue; // the handler's byte in wake_fd is seen on the next poll
      error_ = errno_text(errno);
      return Status::error;
    }
    if (wake_fd >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) return Status::interrupted;
    if (ready == 0) {
      if (poll_ms(deadline) == 0) return Status::timeout;
      continue;
    }
    char chunk[65536];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n > 0) {
      buffer_.append(chunk, static_cast<size_t>(n));
    } else if (n == 0) {
      return Status::closed;
    } else if (errno == ECONNRESET) {
      return Status::closed;
    } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
      error_ = errno_text(errno);
      return Status::error;
    }
  }
}

Result<std::string> Client::call(std::string_view line, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  if (auto sent = send_line(line, timeout); !sent) return sent.error();
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  if (left < std::chrono::milliseconds(0)) left = std::chrono::milliseconds(0);
  std::string reply;
  switch (read_line(reply, left)) {
  case Status::line:
    return reply;
  case Status::closed:
    error_ = "the server closed the connection without a reply";
    break;
  case Status::timeout:
    error_ = "no reply within " + std::to_string(timeout.count()) + "ms";
    break;
  case Status::interrupted:
    error_ = "interrupted";
    break;
  case Status::error:
    break;
  }
  return Error{ErrorSource::internal, error_};
}

} // namespace weir::control
