#pragma once

// What the socket transports' tests share: an owner that records its callbacks, and loopback
// socket pairs.
#include "weir/net/transport.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <functional>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace weir::net {

using boost::system::error_code;

struct Recorder : TransportOwner {
  std::vector<std::string> calls; // "read 5", "written 3", "readable", "connected", "+ error"
  std::function<void()> after;    // runs after each callback
  void note(std::string what, const error_code& ec) {
    if (ec) what += " " + ec.message();
    calls.push_back(std::move(what));
    if (after) after();
  }
  void on_transport_read(const error_code& ec, size_t n) override {
    note("read " + std::to_string(n), ec);
  }
  void on_transport_written(const error_code& ec, size_t n) override {
    note("written " + std::to_string(n), ec);
  }
  void on_transport_readable(const error_code& ec) override { note("readable", ec); }
  void on_transport_connected(const error_code& ec) override { note("connected", ec); }
};

// A listening socket on 127.0.0.1 and helpers to make connected pairs.
class Loopback {
public:
  Loopback() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    ::listen(listen_fd_, 16);
    socklen_t len = sizeof a;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
  }
  ~Loopback() { ::close(listen_fd_); }
  uint16_t port() const { return port_; }
  boost::asio::ip::tcp::endpoint endpoint() const {
    return {boost::asio::ip::make_address("127.0.0.1"), port_};
  }
  // A blocking client socket connected to the listener, and the accepted end.
  std::pair<int, int> pair() {
    int c = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    auto ep = endpoint();
    EXPECT_EQ(::connect(c, ep.data(), static_cast<socklen_t>(ep.size())), 0);
    int s = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    return {c, s};
  }
  int accept() { return ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC); }

private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
};

} // namespace weir::net
