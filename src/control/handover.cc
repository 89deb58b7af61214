#include "weir/control/handover.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::control::handover {

namespace {

using Clock = std::chrono::steady_clock;

int poll_ms(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

Error failure(const std::string& what) {
  return Error{ErrorSource::internal, what};
}

} // namespace

void close_fds(Message& m) {
  for (int fd : m.fds)
    ::close(fd);
  m.fds.clear();
}

Result<bool> send(int fd, const Message& m, Clock::time_point deadline) {
  size_t text_at = 0, fds_at = 0;
  do {
    const size_t text_n = std::min(kFrameText, m.json.size() - text_at);
    const size_t fds_n = std::min(kFrameFds, m.fds.size() - fds_at);
    const bool last = text_at + text_n == m.json.size() && fds_at + fds_n == m.fds.size();
    char flag = last ? 'E' : 'C';
    iovec iov[2] = {{&flag, 1}, {const_cast<char*>(m.json.data() + text_at), text_n}};
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    std::vector<char> control;
    if (fds_n > 0) {
      control.assign(CMSG_SPACE(sizeof(int) * fds_n), 0);
      msg.msg_control = control.data();
      msg.msg_controllen = control.size();
      cmsghdr* c = CMSG_FIRSTHDR(&msg);
      c->cmsg_level = SOL_SOCKET;
      c->cmsg_type = SCM_RIGHTS;
      c->cmsg_len = CMSG_LEN(sizeof(int) * fds_n);
      std::memcpy(CMSG_DATA(c), m.fds.data() + fds_at, sizeof(int) * fds_n);
    }
    for (;;) {
      if (::sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) break;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        return failure(std::string("cannot send to the other weir: ") + std::strerror(errno));
      pollfd p{fd, POLLOUT, 0};
      int ready = ::poll(&p, 1, poll_ms(deadline));
      if (ready == 0) return failure("the other weir reads nothing (timed out)");
      if (ready < 0 && errno != EINTR) return failure(std::string("poll: ") + std::strerror(errno));
    }
    text_at += text_n;
    fds_at += fds_n;
  } while (text_at < m.json.size() || fds_at < m.fds.size());
  return true;
}

Receiver::Status Receiver::read(int fd, Message& out, std::string& error) {
  for (;;) {
    // One frame: the flag byte and up to kFrameText bytes (a longer datagram is an error:
    // MSG_TRUNC).
    std::string frame(kFrameText + 1, '\0');
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kFrameFds)];
    iovec iov{frame.data(), frame.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::more;
      error = std::string("cannot read from the other weir: ") + std::strerror(errno);
      return Status::error;
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      const auto* data = reinterpret_cast<const unsigned char*>(CMSG_DATA(c));
      for (size_t i = 0; i < count; ++i) {
        int received = -1;
        std::memcpy(&received, data + i * sizeof(int), sizeof(int));
        partial_.fds.push_back(received);
      }
    }
    if (n == 0) {
      close_fds(partial_);
      partial_.json.clear();
      return Status::closed;
    }
    if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || (frame[0] != 'C' && frame[0] != 'E')) {
      close_fds(partial_);
      partial_.json.clear();
      error = "the other weir sent a malformed frame";
      return Status::error;
    }
    partial_.json.append(frame.data() + 1, static_cast<size_t>(n) - 1);
    if (partial_.json.size() > kMaxMessage || partial_.fds.size() > kMaxFds) {
      close_fds(partial_);
      partial_.json.clear();
      error = "the other weir sent a message larger than the handover allows";
      return Status::error;
    }
    if (frame[0] == 'E') {
      out = std::move(partial_);
      partial_ = Message{};
      return Status::message;
    }
  }
}

Result<Message> receive(int fd, Clock::time_point deadline) {
  Receiver receiver;
  for (;;) {
    Message m;
    std::string error;
    switch (receiver.read(fd, m, error)) {
    case Receiver::Status::message:
      return m;
    case Receiver::Status::closed:
      return failure("the other weir closed the connection");
    case Receiver::Status::error:
      return failure(error);
    case Receiver::Status::more:
      break;
    }
    pollfd p{fd, POLLIN, 0};
    int ready = ::poll(&p, 1, poll_ms(deadline));
    if (ready == 0) return failure("no word from the other weir in time");
    if (ready < 0 && errno != EINTR) return failure(std::string("poll: ") + std::strerror(errno));
  }
}

} // namespace weir::control::handover
