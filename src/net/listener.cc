#include "weir/net/listener.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::net {

namespace {
Error sys_error(const config::Address& address, const char* what) {
  return Error{ErrorSource::config, std::string("listener ") + address.text() + ": " + what + ": " +
                                        std::strerror(errno)};
}
} // namespace

Result<ListenSocket> open_listener(const config::Address& address, bool first, int backlog) {
  sockaddr_storage ss{};
  socklen_t len = 0;
  int family = AF_INET;
  if (address.host.find(':') != std::string::npos) {
    family = AF_INET6;
    auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ss);
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(address.port);
    if (inet_pton(AF_INET6, address.host.c_str(), &sin6->sin6_addr) != 1)
      return Error{ErrorSource::config, "listener " + address.text() + ": bad IPv6 address"};
    len = sizeof(sockaddr_in6);
  } else {
    auto* sin = reinterpret_cast<sockaddr_in*>(&ss);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(address.port);
    if (inet_pton(AF_INET, address.host.c_str(), &sin->sin_addr) != 1)
      return Error{ErrorSource::config, "listener " + address.text() + ": bad IPv4 address"};
    len = sizeof(sockaddr_in);
  }
  int one = 1;
  if (first && address.port != 0) {
    // A bind without SO_REUSEPORT fails while any socket listens on the address (with
    // SO_REUSEADDR, TIME_WAIT leftovers of an earlier weir do not count). The probe is closed
    // before the real sockets bind; two weirs starting in the same instant could both pass, which
    // the upgrade handover (passing the sockets themselves) is for.
    int probe = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0) return sys_error(address, "socket");
    ::setsockopt(probe, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6) ::setsockopt(probe, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(probe, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
      int err = errno;
      ::close(probe);
      errno = err;
      if (err == EADDRINUSE)
        return Error{ErrorSource::config,
                     "listener " + address.text() +
                         ": address already in use by another process (another weir?)"};
      return sys_error(address, "bind");
    }
    ::close(probe);
  }
  int fd = ::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return sys_error(address, "socket");
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  // Accepted sockets inherit TCP_NODELAY from here (so accepting costs no setsockopt for it).
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (family == AF_INET6) {
    int v6only = 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only);
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    Error e = sys_error(address, "bind");
    ::close(fd);
    return e;
  }
  if (::listen(fd, backlog) != 0) {
    Error e = sys_error(address, "listen");
    ::close(fd);
    return e;
  }
  // Accepted sockets start without quick ACKs (inherited; set after listen(), which resets the
  // ACK state): the request is ACKed with the response, not by a bare ACK the moment it
  // arrives, one packet less per connection (HAProxy's tcp-smart-accept).
  int zero = 0;
  ::setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &zero, sizeof zero);
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  uint16_t port = family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                                     : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  return ListenSocket{fd, port};
}

} // namespace weir::net
