#pragma once

// What the socket transports' tests share: an owner that records its callbacks, loopback socket
// pairs, and the checks that hold for every socket transport.
#include "weir/base/buffer_view.h"
#include "weir/net/transport.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <functional>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
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

// Transport::write_last, the same for both socket transports: by the time the owner hears
// "written", the peer has the bytes and the end behind them, so the proxy is the side that ends
// first; also when the write had to wait for room. `adopt(owner, fd)` gives a transport (a
// unique_ptr) owning the accepted end; `run_until` runs the loop.
template <class Adopt, class RunUntil>
void check_write_last_ends_the_stream(Loopback& net, Adopt adopt, RunUntil run_until) {
  using namespace std::chrono_literals;
  auto [client, server] = net.pair();
  Recorder owner;
  auto t = adopt(owner, server);
  std::vector<boost::asio::const_buffer> out{boost::asio::buffer("HTTP/1.1 200 OK\r\n\r\n", 19)};
  t->write_last(BufferView(out));
  ASSERT_TRUE(run_until([&] { return !owner.calls.empty(); }));
  EXPECT_EQ(owner.calls, std::vector<std::string>{"written 19"});
  char in[65536];
  EXPECT_EQ(::recv(client, in, sizeof in, MSG_DONTWAIT), 19);
  EXPECT_EQ(::recv(client, in, sizeof in, MSG_DONTWAIT), 0) << "the end is there already";

  auto [client2, server2] = net.pair();
  int small = 4096;
  ::setsockopt(server2, SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
  Recorder owner2;
  auto t2 = adopt(owner2, server2);
  std::string big(300000, 'b');
  std::vector<boost::asio::const_buffer> out2{boost::asio::buffer(big)};
  t2->write_last(BufferView(out2));
  size_t got = 0;
  ASSERT_TRUE(run_until([&] {
    ssize_t n = ::recv(client2, in, sizeof in, MSG_DONTWAIT);
    if (n > 0) got += static_cast<size_t>(n);
    return !owner2.calls.empty();
  }));
  // Heard: what the peer has not read yet is in the kernel, and the end behind it.
  bool ended = false;
  for (auto deadline = std::chrono::steady_clock::now() + 5s;
       !ended && std::chrono::steady_clock::now() < deadline;) {
    pollfd p{client2, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    ssize_t n = ::recv(client2, in, sizeof in, MSG_DONTWAIT);
    if (n > 0) got += static_cast<size_t>(n);
    if (n == 0) ended = true;
  }
  EXPECT_EQ(owner2.calls, std::vector<std::string>{"written 300000"});
  EXPECT_EQ(got, big.size());
  EXPECT_TRUE(ended);
  ::close(client);
  ::close(client2);
}

} // namespace weir::net
