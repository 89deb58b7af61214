// What an accepted socket inherits from weir's listening socket, so that accepting costs no
// setsockopt: TCP_NODELAY, and no quick ACK (the request is ACKed with the response, not by a
// bare ACK of its own: one packet less per connection).
#include "weir/net/listener.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace weir::net {
namespace {

int option(int fd, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  ::getsockopt(fd, IPPROTO_TCP, name, &value, &len);
  return value;
}

TEST(Listener, AcceptedSocketsInheritNoDelayAndNoQuickAck) {
  auto listener = open_listener(config::Address{"127.0.0.1", 0}, true);
  ASSERT_TRUE(listener.ok()) << listener.error().message;
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(listener->port);
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&to), sizeof to), 0);
  ASSERT_EQ(::send(client, "GET / HTTP/1.1\r\n\r\n", 18, 0), 18);
  pollfd ready{listener->fd, POLLIN, 0}; // the listener is non-blocking
  ASSERT_EQ(::poll(&ready, 1, 5000), 1);
  int accepted = ::accept4(listener->fd, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  EXPECT_EQ(option(accepted, TCP_NODELAY), 1);
  EXPECT_EQ(option(accepted, TCP_QUICKACK), 0);
  ::close(accepted);
  ::close(client);
  ::close(listener->fd);
}

} // namespace
} // namespace weir::net
