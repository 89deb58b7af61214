// The end of a worker's drain: every upstream connection it closed on the way out is freed
// before its thread ends, however the drain and the sweep's timer fall in the loop's turns.
#include "weir/config/loader.h"
#include "weir/runtime/worker.h"
#include "worker_test_helpers.h"

#include <arpa/inet.h>
#include <boost/asio/post.hpp>
#include <chrono>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <thread>
#include <unistd.h>

namespace weir::runtime {
namespace {

using namespace std::chrono_literals;

// A TCP socket listening on 127.0.0.1 on a port the kernel picks.
int listen_loopback(uint16_t& port, bool nonblocking) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0), 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(fd, 16) != 0 || ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    return -1;
  port = ntohs(a.sin_port);
  return fd;
}

// Reads from `fd` until `end` has been seen, the peer closes or 10 s pass; what was read.
std::string read_until(int fd, std::string_view end) {
  timeval limit{10, 0}; // a regression must fail the test, not hang the binary
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  std::string got;
  char buf[4096];
  while (end.empty() || got.find(end) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

// LeakSanitizer found an upstream Connection at the exit of the sanitized weir, now and then:
// a sweep whose timer expired in the same turn as the drain ran after it, stopped the loop a
// second time, and the aborted read of the pooled connection the drain had closed was never
// handed over, so the connection was never freed. Here the worker is kept busy past a sweep
// interval (100 ms) while the drain is posted, which puts both in one turn every time.
TEST(WorkerDrain, APooledConnectionIsFreedWhenTheSweepFiresInTheDrainsTurn) {
  // The upstream answers one request and keeps its connection open: weir pools it, idle, with
  // a read armed, until the drain closes it.
  struct Upstream {
    uint16_t port = 0;
    int fd = listen_loopback(port, false);
    std::thread thread{[this] {
      int c = ::accept(fd, nullptr, nullptr);
      if (c < 0) return;
      read_until(c, "\r\n\r\n");
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
      (void)!::send(c, answer.data(), answer.size(), MSG_NOSIGNAL);
      read_until(c, ""); // until weir closes it
      ::close(c);
    }};
    ~Upstream() {
      ::shutdown(fd, SHUT_RDWR); // an accept() still waiting returns
      thread.join();
      ::close(fd);
    }
  } upstream;
  ASSERT_GE(upstream.fd, 0);
  const uint16_t upstream_port = upstream.port;
  const std::string yaml = "workers: 1\nlisteners:\n  - name: public\n    address: 127.0.0.1:0\n"
                           "services:\n  - namespace: app-v1\n    name: app\n"
                           "    endpoints: [127.0.0.1:" +
                           std::to_string(upstream_port) +
                           "]\nroutes:\n  - name: r\n    listener: public\n    backends:\n"
                           "      - service: app-v1/app\n";
  config::LoadResult loaded = config::load_string(yaml, "weir.yaml");
  ASSERT_TRUE(std::holds_alternative<config::Config>(loaded))
      << config::format_errors(std::get<std::vector<config::ConfigError>>(loaded));
  std::string error;
  auto snapshot = Snapshot::build(
      std::make_shared<config::Config>(std::get<config::Config>(std::move(loaded))), 1, &error);
  ASSERT_TRUE(snapshot) << error;

  uint16_t port = 0;
  const int listener = listen_loopback(port, true);
  ASSERT_GE(listener, 0);
  Worker worker(0, nullptr);
  worker.start(snapshot,
               {ListenerSpec{"public", "127.0.0.1:" + std::to_string(port), false, listener}});
  struct DrainOnFailure { // an ASSERT below leaves: the worker's thread must still end
    Worker& w;
    ~DrainOnFailure() {
      if (!w.finished()) w.drain(std::chrono::steady_clock::now());
      w.join();
    }
  } drain_on_failure{worker};
  int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  ASSERT_EQ(::connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string request = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  ASSERT_EQ(::send(client, request.data(), request.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(request.size()));
  const std::string response = read_until(client, ""); // weir closes after the answer
  ::close(client);
  EXPECT_TRUE(response.starts_with("HTTP/1.1 200")) << response;
  // The client's connection is gone on the worker too: the drain finishes in its own turn.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  size_t open = 1;
  while (open != 0 && std::chrono::steady_clock::now() < deadline)
    run_on(worker, [&] { open = worker.client_connections(); });
  ASSERT_EQ(open, 0u);

  // Posted from the worker's own turn, after the sleep: the loop collects the expired timer
  // before it runs the drain, so the sweep runs after the drain stopped the loop (posted from
  // here, the drain would run first and cancel the timer in time).
  boost::asio::post(worker.io(), [&worker] {
    std::this_thread::sleep_for(150ms);
    worker.drain(std::chrono::steady_clock::now() + 1s);
  });
  worker.join();
  EXPECT_EQ(worker.upstream_connections_left(), 0u);
}

} // namespace
} // namespace weir::runtime
