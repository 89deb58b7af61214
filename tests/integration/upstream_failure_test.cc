// Upstream failures and shutdown, end to end with the real weir and weir-demo-upstream: a
// dead endpoint, a truncated response, a slow upstream, a connect that never completes, and
// SIGTERM draining in-flight requests within drain_timeout.
#include "support/client.h"
#include "support/process.h"
#include "support/upstream.h"
#include "support/wait.h"
#include "support/weir.h"

#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <gtest/gtest.h>
#include <memory>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

namespace weir::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// One listener, one service with `endpoint`, one route named `route` with `timeouts`.
std::string config(const std::string& endpoint, const std::string& route,
                   const std::string& timeouts, const std::string& drain_timeout = "10s") {
  std::ostringstream yaml;
  yaml << "workers: 1\n"
       << "listeners: [{ name: public, address: 127.0.0.1:0 }]\n"
       << "services: [{ namespace: failure, name: app, endpoints: [" << endpoint << "] }]\n"
       << "routes:\n"
       << "  - name: " << route << "\n"
       << "    listener: public\n"
       << "    backends: [{ service: failure/app }]\n"
       << "    timeouts: " << timeouts << "\n"
       << "drain_timeout: " << drain_timeout << "\n";
  return yaml.str();
}

std::string get_request(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: failure.test\r\n\r\n";
}

// True if a TCP connect to 127.0.0.1:port is refused (nothing accepts there any more).
bool connection_refused(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr = loopback_address(port);
  bool refused =
      ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == ECONNREFUSED;
  ::close(fd);
  return refused;
}

// Established TCP connections whose local port is `port` (an upstream's accepted side):
// how many requests weir has in flight to it, without asking either process.
int established_to(uint16_t port) {
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // header
  int count = 0;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state;
    fields >> slot >> local >> remote >> state;
    size_t colon = local.find(':');
    if (colon == std::string::npos || state != "01") continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) ++count;
  }
  return count;
}

int elapsed_ms(Clock::time_point since) {
  return static_cast<int>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - since).count());
}

TEST(UpstreamFailureTest, UpstreamDownAnswers503Quickly) {
  const ClosedPort closed;
  const uint16_t dead = closed.port();
  ASSERT_NE(dead, 0);
  Weir weir = Weir::start(
      config("127.0.0.1:" + std::to_string(dead), "down-route", "{ connect: 1s, request: 5s }"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  auto start = Clock::now();
  ASSERT_TRUE(client->send(get_request("/")));
  std::optional<HttpResponse> response = client->read_response(5s);
  int took = elapsed_ms(start);
  ASSERT_TRUE(response.has_value()) << "no answer within 5 s";
  EXPECT_EQ(response->status, 503);
  EXPECT_LT(took, 2000);
  EXPECT_NE(response->body.find("down-route"), std::string::npos)
      << "the body does not name the route: " << response->body;
}

TEST(UpstreamFailureTest, UpstreamClosingMidResponseIsNeverCompleteForTheClient) {
  DemoUpstream upstream = DemoUpstream::start("failure-truncating");
  Weir weir = Weir::start(config(upstream.address(), "truncated-route", "{ request: 5s }"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(get_request("/?bytes=100000&close_after_bytes=100")));
  // The head and the first 100 bytes are relayed as they arrive; then weir must close rather
  // than let the client take the short body for the whole one.
  std::optional<HttpResponse> response = client->read_response(5s);
  ASSERT_TRUE(response.has_value()) << "no response head within 5 s";
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->header("content-length"), "100000");
  EXPECT_FALSE(response->complete)
      << "status " << response->status << ", " << response->body.size()
      << " body bytes: a truncated upstream response reached the client as a complete one";
  EXPECT_LT(response->body.size(), 100000u);
  EXPECT_TRUE(client->closed_by_peer(3s)) << "weir kept the client connection open";
  // Still serving.
  auto next = RawClient::connect(weir.port());
  ASSERT_TRUE(next);
  ASSERT_TRUE(next->send(get_request("/")));
  std::optional<HttpResponse> ok = next->read_response(5s);
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
}

TEST(UpstreamFailureTest, SlowUpstreamAnswers504AfterRequestTimeout) {
  DemoUpstream upstream = DemoUpstream::start("failure-slow");
  Weir weir =
      Weir::start(config(upstream.address(), "slow-route", "{ connect: 1s, request: 300ms }"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  auto start = Clock::now();
  ASSERT_TRUE(client->send(get_request("/?delay_ms=2000")));
  std::optional<HttpResponse> response = client->read_response(5s);
  int took = elapsed_ms(start);
  ASSERT_TRUE(response.has_value()) << "no answer within 5 s";
  EXPECT_EQ(response->status, 504) << response->body;
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 1500) << "504 should come after about 300 ms, not when the upstream answers";
  EXPECT_NE(response->body.find("slow-route"), std::string::npos) << response->body;
}

// A loopback listener whose accept queue is full and never drained: the kernel drops further
// SYNs, so a connect to it neither succeeds nor fails until the client gives up.
class BlackHoleListener {
public:
  BlackHoleListener() {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr = loopback_address(0);
    socklen_t len = sizeof addr;
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 0) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
      return;
    port_ = ntohs(addr.sin_port);
    // With a backlog of 0 one connection fills the queue; a few more make sure of it.
    for (int i = 0; i < 4; ++i) {
      int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      sockaddr_in to = loopback_address(port_);
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
      fillers_.push_back(fd);
    }
  }
  ~BlackHoleListener() {
    for (int fd : fillers_)
      ::close(fd);
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  uint16_t port() const { return port_; }

  // True if a fresh connect gets no answer within `wait` (its SYN was dropped).
  bool swallows_connects(std::chrono::milliseconds wait) const {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    sockaddr_in to = loopback_address(port_);
    bool pending =
        ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno == EINPROGRESS;
    bool answered = false;
    if (pending) {
      answered = wait_until(
          [&] {
            int err = 0;
            socklen_t len = sizeof err;
            sockaddr_in peer{};
            socklen_t plen = sizeof peer;
            // Connected (peer known) or failed (SO_ERROR set).
            return ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &plen) == 0 ||
                   (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err != 0);
          },
          wait);
    }
    ::close(fd);
    return pending && !answered;
  }

private:
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::vector<int> fillers_;
};

TEST(UpstreamFailureTest, ConnectTimeoutAnswers503) {
  BlackHoleListener hole;
  ASSERT_NE(hole.port(), 0) << "cannot make a listener";
  if (!hole.swallows_connects(200ms))
    GTEST_SKIP() << "this kernel completes connects to a full accept queue; connect timeouts "
                    "cannot be provoked on loopback here";
  Weir weir = Weir::start(config("127.0.0.1:" + std::to_string(hole.port()), "blackhole-route",
                                 "{ connect: 300ms, request: 5s }"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  auto start = Clock::now();
  ASSERT_TRUE(client->send(get_request("/")));
  std::optional<HttpResponse> response = client->read_response(5s);
  int took = elapsed_ms(start);
  ASSERT_TRUE(response.has_value()) << "no answer within 5 s";
  EXPECT_EQ(response->status, 503) << response->body;
  EXPECT_GE(took, 250);
  EXPECT_LT(took, 1500);
  EXPECT_NE(response->body.find("blackhole-route"), std::string::npos) << response->body;
}

TEST(UpstreamFailureTest, SigtermDrainsInFlightRequests) {
  constexpr int kInFlight = 4;
  DemoUpstream upstream = DemoUpstream::start("failure-drain");
  Weir weir = Weir::start(config(upstream.address(), "drain-route", "{ request: 10s }", "10s"));
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < kInFlight; ++i) {
    clients.push_back(RawClient::connect(weir.port()));
    ASSERT_TRUE(clients.back());
    ASSERT_TRUE(clients.back()->send(get_request("/?delay_ms=1500")));
  }
  // In flight = weir has opened its upstream connection for each of them.
  ASSERT_TRUE(wait_until([&] { return established_to(upstream.port) >= kInFlight; }, 5s))
      << "only " << established_to(upstream.port) << " requests reached the upstream";
  auto sigterm = Clock::now();
  weir.proc->signal(SIGTERM);

  EXPECT_TRUE(wait_until([&] { return connection_refused(weir.port()); }, 1s))
      << "weir still accepts connections after SIGTERM";
  EXPECT_LT(elapsed_ms(sigterm), 1000);
  EXPECT_TRUE(weir.proc->running()) << "weir exited before its in-flight requests finished";

  for (int i = 0; i < kInFlight; ++i) {
    std::optional<HttpResponse> response = clients[i]->read_response(5s);
    ASSERT_TRUE(response.has_value()) << "in-flight request " << i << " got no answer";
    EXPECT_EQ(response->status, 200) << "request " << i;
    EXPECT_TRUE(response->complete) << "request " << i;
    EXPECT_EQ(response->header("x-served-by"), "failure-drain");
    EXPECT_EQ(response->header("connection"), "close") << "a draining weir keeps connections open";
  }
  std::optional<int> code = weir.proc->wait_exit(10s);
  ASSERT_TRUE(code.has_value()) << "weir still running 10 s (drain_timeout) after SIGTERM";
  EXPECT_EQ(*code, 0) << weir.proc->output();
  EXPECT_LT(elapsed_ms(sigterm), 10000);
}

TEST(UpstreamFailureTest, SigtermExitsByDrainDeadlineDespiteSlowRequest) {
  DemoUpstream upstream = DemoUpstream::start("failure-drain-slow");
  Weir weir =
      Weir::start(config(upstream.address(), "drain-slow-route", "{ request: 30s }", "500ms"));
  auto client = RawClient::connect(weir.port());
  ASSERT_TRUE(client);
  ASSERT_TRUE(client->send(get_request("/?delay_ms=10000")));
  ASSERT_TRUE(wait_until([&] { return established_to(upstream.port) >= 1; }, 5s))
      << "the request did not reach the upstream";
  auto sigterm = Clock::now();
  weir.proc->signal(SIGTERM);
  std::optional<int> code = weir.proc->wait_exit(3s);
  int took = elapsed_ms(sigterm);
  ASSERT_TRUE(code.has_value()) << "weir did not exit within 3 s of SIGTERM (drain_timeout 500ms)";
  EXPECT_EQ(*code, 0) << weir.proc->output();
  EXPECT_GE(took, 400) << "weir cut the in-flight request before drain_timeout";
  EXPECT_LT(took, 1500) << "weir exited " << took << " ms after SIGTERM; drain_timeout is 500ms";
  std::optional<HttpResponse> response = client->read_response(2s);
  if (response) {
    EXPECT_FALSE(response->complete) << "status " << response->status;
  }
  EXPECT_TRUE(client->closed_by_peer(2s));
}

} // namespace
} // namespace weir::test
