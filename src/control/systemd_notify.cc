#include "weir/control/systemd_notify.h"

#include "weir/base/log.h"

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace weir::control {

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  if (!socket || (socket[0] != '/' && socket[0] != '@')) return;
  if (std::strlen(socket) >= sizeof(sockaddr_un::sun_path)) return;
  address_ = socket;
}

SystemdNotifier::~SystemdNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

bool SystemdNotifier::send(std::string_view message) {
  if (!enabled() || muted_) return false;
  if (fd_ < 0) fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un to{};
  to.sun_family = AF_UNIX;
  std::memcpy(to.sun_path, address_.data(), address_.size());
  if (address_[0] == '@') to.sun_path[0] = '\0'; // an abstract socket: no trailing NUL counts
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + address_.size() +
                                             (address_[0] == '@' ? 0 : 1));
  const bool sent = fd_ >= 0 && ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL,
                                         reinterpret_cast<const sockaddr*>(&to),
                                         length) == static_cast<ssize_t>(message.size());
  if (!sent && !failure_logged_) {
    failure_logged_ = true;
    log::warn("cannot notify systemd at " + address_ + ": " + std::strerror(errno));
  }
  return sent;
}

void SystemdNotifier::ready() {
  if (stopping_) return; // a reload during shutdown_delay: weir is still on its way out
  send("READY=1\nSTATUS=serving\n");
}

void SystemdNotifier::reloading() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=reloading\n");
}

void SystemdNotifier::stopping() {
  stopping_ = true;
  send("STOPPING=1\nSTATUS=draining\n");
}

void SystemdNotifier::took_over() {
  send("MAINPID=" + std::to_string(::getpid()) + "\nREADY=1\nSTATUS=serving\n");
}

} // namespace weir::control
